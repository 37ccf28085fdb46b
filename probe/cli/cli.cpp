// The subcommand table and the one catch site; see cli.hpp.
#include "probe/cli/cli.hpp"

#include <array>
#include <csignal>
#include <iostream>

#include "probe/cli/commands.hpp"
#include "probe/config/config_loader.hpp"
#include "probe/util/error.hpp"
#include "probe/version.hpp"

namespace probe::cli {
namespace {

constexpr std::array<Command, 5> k_commands{{
    {"check", "Check every target once, concurrently, and exit 0 when all critical pass",
     setup_check_command},
    {"serve", "Run the sidecar: periodic checks, /metrics, /ready, /status, reload",
     setup_serve_command},
    {"wait", "Block until every critical target has passed the readiness gate", setup_wait_command},
    {"deploy", "Verify a deploy (rolling back a bad one), record and list deploy events",
     setup_deploy_command},
    {"config", "Validate the config and print it resolved, secrets masked", setup_config_command},
}};

} // namespace

std::string version_string() {
  return std::string("probe ") + probe::version() + " (revision " + probe::revision() + ")";
}

config::Config load_config(const std::optional<std::string>& flag) {
  return load_config(flag, config::LoadOptions{});
}

config::Config load_config(const std::optional<std::string>& flag,
                           const config::LoadOptions& options) {
  const util::EnvLookup env = util::process_env();
  return config::load_config_file(config::resolve_config_path(flag, env), env, options);
}

int run(int argc, char** argv) {
  CLI::App app{"probe: liveness checks, /metrics, a readiness gate and deploy rollback for a "
               "small Docker Compose stack",
               "probe"};
  app.set_version_flag("--version", version_string());
  app.require_subcommand(1);
  app.footer("Exit codes: 0 ok, 1 checks failed, 2 usage or config error.\n"
             "Config: --config FILE, else $PROBE_CONFIG, else ./probe.yaml, else "
             "/etc/probe/probe.yaml.");
  // The journal must see EFBIG when a file size limit is hit, not die of SIGXFSZ.
  std::signal(SIGXFSZ, SIG_IGN);
  int exit_code = 0;
  for (const Command& command : k_commands) {
    command.setup(*app.add_subcommand(command.name, command.summary), exit_code);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2; // --help / --version are 0; every usage error is 2
  } catch (const Error& e) {
    // Already "FILE:LINE:COL: field: problem" or "--flag: problem", as the contract shows it.
    std::cerr << e.what() << "\n";
    return e.exit_code();
  } catch (const std::exception& e) {
    std::cerr << "probe: internal error: " << e.what() << "\n";
    return 2;
  }
  return exit_code;
}

} // namespace probe::cli
