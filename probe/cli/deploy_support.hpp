// The parts of the deploy commands that decide something and can be tested without running
// one: where the rollback hook comes from and whether it exists (checked before a deploy
// starts, not found missing when it must roll back), what to say when events have no database,
// and the audit log as a terminal table that no field can break.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "probe/config/config.hpp"
#include "probe/deploy/event.hpp"

namespace probe::cli {

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

// "events are kept only in the journal FILE: deploy.dsn is not set" when `deploy` has no
// database, else empty.
std::string journal_only_note(const config::Deploy& deploy);

// The audit log for a terminal, one line per event, newest first; every field terminal-safe
// (an actor holding "\r\n" or ESC shows them escaped and cannot fake a row); "no deploy
// events" when there are none.
std::string render_event_list(const std::vector<deploy::DeployEvent>& events);

} // namespace probe::cli
