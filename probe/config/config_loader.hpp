// Reads probe's YAML config into config::Config, or throws probe::Error naming the file, line,
// column and field of the first problem: "probe.yaml:12:5: targets[1].timeout: "5 seconds" is
// not a duration". Unknown keys, duplicate keys and duplicate target names are errors; bad
// config never starts half a service. Secret values never appear in a message, and neither
// does any text of a file that is not a probe config (`--config /etc/shadow` says what kind of
// thing it found and where, never what it says).
//
// Hostile files are bounded before they cost anything: only a regular file of at most 1 MiB
// is read (a FIFO, a device or a directory is refused without reading, so a reload never
// blocks on one), YAML aliases may not expand the document past 4 MiB or use more than
// 10,000 aliases, and a config is one YAML document. YAML merge keys (`<<: *defaults`) are
// applied: keys written in the mapping win, then the merged mappings in their order.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "probe/config/config.hpp"
#include "probe/util/env_expand.hpp"

namespace probe::config {

// Bounds on what a config may cost to read.
inline constexpr std::size_t k_max_config_bytes = std::size_t{1024} * 1024;
inline constexpr std::size_t k_max_expanded_bytes = std::size_t{4} * 1024 * 1024;
inline constexpr std::size_t k_max_aliases = 10'000;

// What the command that loads the config will use of it. A command that never checks a bearer
// token (or never sends a notification) should not fail because the variable such a secret
// comes from is unset where it runs: `probe deploy list --config` on a host without
// PROBE_TOKEN. With `need_tokens` false an unset ${VAR} in deploy.token (and
// deploy.heartbeat_token) leaves it empty; with `need_notify` false an unset ${VAR} in a
// notify channel leaves that channel out. Each such decision is a note. `probe serve` and
// `probe config check` keep the defaults, so the config check still reports the unset
// variable as the error it is for serve.
struct LoadOptions {
  bool need_tokens = true;
  bool need_notify = true;
};

// Loads and validates the file at `path`, expanding ${VAR} from `env`. Adds a "warning: " note
// when the file holds a secret written in it and group or others may read it.
Config load_config_file(const std::string& path, const util::EnvLookup& env,
                        const LoadOptions& options = {});

// Loads and validates YAML `text`; `name` stands for the file in messages.
Config load_config_string(const std::string& text, const std::string& name,
                          const util::EnvLookup& env, const LoadOptions& options = {});

// The config path to use: `flag` when given, else $PROBE_CONFIG, else ./probe.yaml when it
// exists, else /etc/probe/probe.yaml.
std::string resolve_config_path(const std::optional<std::string>& flag, const util::EnvLookup& env);

} // namespace probe::config
