// The subcommands, each registering its flags on a CLI11 sub-app and its handler as the
// sub-app's callback. A handler stores its exit code in `exit_code` or throws probe::Error.
#pragma once

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

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

// Loads the config named by --config / PROBE_CONFIG / the default paths; throws on error.
config::Config load_config(const std::optional<std::string>& flag);
// The same for a command that uses only part of the config's secrets (see LoadOptions).
config::Config load_config(const std::optional<std::string>& flag,
                           const config::LoadOptions& options);

// "probe 0.1.0 (revision abc123)".
std::string version_string();

} // namespace probe::cli
