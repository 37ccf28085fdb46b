// ${VAR} and ${VAR:-default} expansion for config values, the Compose way: a config written for
// `docker compose` reads the same here. `$$` is a literal `$`. Expansion happens on parsed
// scalar values, after YAML parsing, so an environment variable can never inject YAML structure.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace probe::util {

// Looks a variable up; nullopt when it is not set. The default reads the process environment.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

EnvLookup process_env();

struct ExpandResult {
  std::string value;
  std::string error;     // empty on success; says what and which variable, never a value
  std::string unset;     // the variable named when `error` is "... is not set", else empty
  bool expanded = false; // true when at least one ${...} was replaced
};

// Expands every ${VAR} / ${VAR:-default} in `text`. An unset variable without a default is an
// error (an empty DSN or token silently means something else); `${VAR:-}` allows empty.
ExpandResult expand_env(std::string_view text, const EnvLookup& lookup);

// What `text` says without any environment: each ${NAME} empty, each ${NAME:-default} and
// ${NAME-default} its default, "$$" a "$". Tells whether a config value holds a secret written
// in the file itself rather than taken from the environment.
std::string literal_text(std::string_view text);

} // namespace probe::util
