// The subcommands, each registering its flags on a CLI11 sub-app and its handler as the
// sub-app's callback. A handler stores its exit code in `exit_code` or throws probe::Error.
#pragma once

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "probe/util/env_expand.hpp"

namespace probe::config {
struct Config;
struct LoadOptions;
} // namespace probe::config

namespace probe::cli {

using CommandSetup = void (*)(CLI::App& command, int& exit_code);

struct Command {
  const char* name;
  const char* summary;
  CommandSetup setup;
};

void setup_check_command(CLI::App& command, int& exit_code);
void setup_config_command(CLI::App& command, int& exit_code);
void setup_serve_command(CLI::App& command, int& exit_code);
void setup_wait_command(CLI::App& command, int& exit_code);
void setup_deploy_command(CLI::App& command, int& exit_code);

// The environment as the commands read it: the process's, or the one a test gave run(). The
// same util::EnvLookup the config loader expands ${VAR} from, so one seam covers both.
const util::EnvLookup& environment();
// environment()'s value of `name`, or `fallback` when it is unset or empty.
std::string env_or(const std::string& name, const std::string& fallback);

// Reads PROBE_HOST from environment() into deploy::set_host_override() (the host the events made
// or received here carry); unset or blank: the machine's host name. Throws probe::Error (exit 2)
// naming PROBE_HOST when it is not a host name: a deliberate setting must not quietly become the
// container's random hostname in the audit log. Returns the override ("" when none).
std::string apply_probe_host();

// Loads the config named by --config / PROBE_CONFIG / the default paths; throws on error.
config::Config load_config(const std::optional<std::string>& flag);
// The same for a command that uses only part of the config's secrets (see LoadOptions).
config::Config load_config(const std::optional<std::string>& flag,
                           const config::LoadOptions& options);

} // namespace probe::cli
