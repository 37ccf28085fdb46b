// Reads probe's YAML config into config::Config, or throws probe::Error naming the file, line,
// column and field of the first problem: "probe.yaml:12:5: targets[1].timeout: "5 seconds" is
// not a duration". Unknown keys, duplicate keys and duplicate target names are errors; bad
// config never starts half a service. Secret values never appear in a message.
#pragma once

#include <optional>
#include <string>

#include "probe/config/config.hpp"
#include "probe/util/env_expand.hpp"

namespace probe::config {

// Loads and validates the file at `path`, expanding ${VAR} from `env`.
Config load_config_file(const std::string& path, const util::EnvLookup& env);

// Loads and validates YAML `text`; `name` stands for the file in messages.
Config load_config_string(const std::string& text, const std::string& name,
                          const util::EnvLookup& env);

// The config path to use: `flag` when given, else $PROBE_CONFIG, else ./probe.yaml when it
// exists, else /etc/probe/probe.yaml.
std::string resolve_config_path(const std::optional<std::string>& flag, const util::EnvLookup& env);

} // namespace probe::config
