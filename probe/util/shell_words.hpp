// Splitting a command line held in an environment variable (PROBE_ROLLBACK_COMMAND) into an
// argv the way a POSIX shell splits words — blanks separate, '...' is literal, "..." keeps
// blanks and honours \" \\ \$ \`, a backslash outside quotes escapes the next character — but
// with no expansion of any kind: no variables, globs, tildes, substitutions or operators. The
// result goes to posix_spawnp as is, so the variable can name a path with a space without ever
// being run by a shell. A JSON array of strings is accepted too, for generated values.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace probe::util {

// Splits `text` into words; nullopt with `error` set on an unterminated quote or a trailing
// backslash. `text` starting with '[' is read as a JSON array of strings instead.
std::optional<std::vector<std::string>> split_shell_words(std::string_view text,
                                                          std::string* error);

} // namespace probe::util
