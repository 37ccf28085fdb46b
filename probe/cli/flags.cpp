// Command-line value parsing shared by the commands; see flags.hpp.
#include "probe/cli/flags.hpp"

#include <algorithm>

#include "probe/util/error.hpp"
#include "probe/util/strings.hpp"
#include "probe/util/terminal.hpp"

namespace probe::cli {
namespace {

// Levenshtein distance, small strings only (command names).
std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

} // namespace

util::Duration parse_duration_flag(const std::string& text, const std::string& flag,
                                   bool allow_zero) {
  const std::optional<util::Duration> value = util::parse_duration(text);
  if (!value) {
    throw Error(flag + ": \"" + util::terminal_safe(util::truncate(text, 60)) +
                "\" is not a duration (e.g. 500ms, 90s, 2m)");
  }
  if (!allow_zero && value->count() == 0) {
    throw Error(flag + ": must be greater than 0");
  }
  return *value;
}

std::vector<std::string> parse_only(const std::vector<std::string>& values) {
  std::vector<std::string> names;
  for (const std::string& value : values) {
    for (const std::string& part : util::split(value, ',')) {
      const std::string name(util::trim(part));
      if (name.empty()) {
        throw Error("--only: empty target name in \"" +
                    util::terminal_safe(util::truncate(value, 60)) +
                    "\" (leave --only out to select every target)");
      }
      if (std::find(names.begin(), names.end(), name) == names.end()) {
        names.push_back(name);
      }
    }
  }
  return names;
}

std::optional<std::string> closest_name(const std::string& word,
                                        const std::vector<std::string>& names) {
  std::optional<std::string> best;
  std::size_t best_distance = 3; // more than two edits away is not a typo
  for (const std::string& name : names) {
    const bool prefix = word.size() >= 2 && (name.rfind(word, 0) == 0 || word.rfind(name, 0) == 0);
    const std::size_t distance = prefix ? 1 : edit_distance(word, name);
    if (distance < best_distance) {
      best = name;
      best_distance = distance;
    }
  }
  return best;
}

std::string unknown_command_message(const std::string& parent, const std::string& word,
                                    const std::vector<std::string>& names) {
  std::string message = "unknown " + (parent.empty() ? std::string() : parent + " ") +
                        "command \"" + util::terminal_safe(util::truncate(word, 60)) + "\"";
  if (const std::optional<std::string> close = closest_name(word, names)) {
    message += " (did you mean \"" + *close + "\"?)";
  }
  return message + "; " + (parent.empty() ? "commands" : parent + " commands") + ": " +
         util::join(names, ", ");
}

} // namespace probe::cli
