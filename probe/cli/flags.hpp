// What the commands share in reading their command line: durations (`--timeout 0s` is a
// duration; where zero makes no sense it is refused as such, not as "not a duration"),
// target lists (`--only a,b --only c` is their union; an empty name is a mistake, never "all"),
// and the unknown subcommand (`probe chek` names the word and the closest command). Pure: unit
// tested without running a command.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "probe/util/duration.hpp"

namespace probe::cli {

// Parses the value of `flag`; throws probe::Error (exit 2) "--timeout: \"x\" is not a duration
// (e.g. 90s, 2m)" or, when `allow_zero` is false, "--timeout: must be greater than 0".
util::Duration parse_duration_flag(const std::string& text, const std::string& flag,
                                   bool allow_zero);

// The union of every --only value, each split on commas and trimmed, in first-seen order
// without repeats; throws probe::Error (exit 2) naming an empty name.
std::vector<std::string> parse_only(const std::vector<std::string>& values);

// The name in `names` closest to `word` (at most two edits away, or a prefix either way), or
// nullopt when none is close.
std::optional<std::string> closest_name(const std::string& word,
                                        const std::vector<std::string>& names);

// For `probe WORD` (`parent` empty) or `probe PARENT WORD` where WORD is not one of `names`:
// "unknown command \"chek\" (did you mean \"check\"?); commands: check, serve, ...".
std::string unknown_command_message(const std::string& parent, const std::string& word,
                                    const std::vector<std::string>& names);

} // namespace probe::cli
