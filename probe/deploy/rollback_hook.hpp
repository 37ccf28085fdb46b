// Where the rollback hook comes from and whether it exists, checked before a deploy starts
// (not found missing when it must roll back): from the config's deploy.rollback.command, or
// from PROBE_ROLLBACK_COMMAND when the deploy commands go through a sidecar (`--url`). Used by
// the deploy commands and by `probe serve`, which refuses a config whose hook cannot run.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "probe/config/config.hpp"

namespace probe::deploy {

// `deploy.rollback.command` with its program resolved as it will be run: a relative path with a
// '/' against the config file's directory, a bare name on `path_env`. Returns the argv to run,
// or nullopt with `error` ("deploy.rollback.command[0]: /x/rollback.sh: does not exist").
// An empty command stays empty (no hook configured).
std::optional<std::vector<std::string>>
resolve_config_hook(const config::Config& config, const std::string& path_env, std::string* error);

// The hook from PROBE_ROLLBACK_COMMAND's `value` (`--url` mode): shell-like words without a
// shell (see util/shell_words.hpp) or a JSON array; "{previous_sha}" appended unless a word is
// a placeholder already; the program resolved against the working directory or `path_env`.
// Nullopt with `error` ("PROBE_ROLLBACK_COMMAND: unterminated ' quote").
std::optional<std::vector<std::string>>
hook_from_env(const std::string& value, const std::string& path_env, std::string* error);

} // namespace probe::deploy
