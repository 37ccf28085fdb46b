// The subcommand table and the one catch site; see cli.hpp.
#include "probe/cli/cli.hpp"

#include <array>
#include <csignal>
#include <iostream>

#include "probe/cli/commands.hpp"
#include "probe/cli/flags.hpp"
#include "probe/config/config_loader.hpp"
#include "probe/deploy/event.hpp"
#include "probe/util/error.hpp"
#include "probe/util/version.hpp"

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

// Each command's exit codes for its --help (a command may replace them with its own). The
// root's would otherwise be inherited, and `serve --help` would promise "1 checks failed".
constexpr std::array<std::pair<const char*, const char*>, 5> k_exit_codes{{
    {"check", "Exit codes: 0 every critical target passed; 1 one failed; 2 usage or config error."},
    {"serve", "Exit codes: 0 after a graceful stop on SIGTERM or SIGINT; 2 config error at start."},
    {"wait", "Exit codes: 0 ready; 1 not ready; 2 usage or config error."},
    {"deploy", "Exit codes: each subcommand's --help lists them (verify: 0 to 5)."},
    {"config", "Exit codes: 0 valid; 2 invalid."},
}};

// `probe chek`: CLI11 would only say "A subcommand is required". Walks the words naming
// subcommands and returns the message for the first that names none, or empty.
std::string unknown_subcommand(CLI::App& app, int argc, char** argv) {
  CLI::App* level = &app;
  std::string parent;
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    const std::vector<CLI::App*> subcommands =
        level->get_subcommands(std::function<bool(CLI::App*)>());
    if (word.empty() || word[0] == '-' || subcommands.empty()) {
      return {}; // options (CLI11 judges them), or a command that takes no subcommand
    }
    CLI::App* next = nullptr;
    std::vector<std::string> names;
    for (CLI::App* sub : subcommands) {
      names.push_back(sub->get_name());
      if (sub->get_name() == word) {
        next = sub;
      }
    }
    if (next == nullptr) {
      return unknown_command_message(parent, word, names);
    }
    parent += parent.empty() ? word : " " + word;
    level = next;
  }
  return {};
}

} // namespace

namespace {
util::EnvLookup g_environment = util::process_env(); // set by run()
} // namespace

const util::EnvLookup& environment() {
  return g_environment;
}

std::string env_or(const std::string& name, const std::string& fallback) {
  const std::optional<std::string> value = g_environment(name);
  return value && !value->empty() ? *value : fallback;
}

std::string apply_probe_host() {
  std::string error;
  const std::optional<std::string> host =
      deploy::parse_host_name(g_environment("PROBE_HOST").value_or(""), &error);
  if (!host) {
    throw Error(error, 2);
  }
  deploy::set_host_override(*host);
  return *host;
}

config::Config load_config(const std::optional<std::string>& flag) {
  return load_config(flag, config::LoadOptions{});
}

config::Config load_config(const std::optional<std::string>& flag,
                           const config::LoadOptions& options) {
  return config::load_config_file(config::resolve_config_path(flag, g_environment), g_environment,
                                  options);
}

int run(int argc, char** argv, util::EnvLookup env) {
  g_environment = std::move(env);
  deploy::set_host_override(""); // each run reads PROBE_HOST afresh (apply_probe_host())
  CLI::App app{"probe: liveness checks, /metrics, a readiness gate and deploy rollback for a "
               "small Docker Compose stack",
               "probe"};
  app.set_version_flag("--version", util::version_string());
  app.require_subcommand(1);
  app.footer("Exit codes: 0 ok, 1 checks failed, 2 usage or config error; `probe deploy verify` "
             "also 3, 4 and 5 (probe COMMAND --help lists each command's).\n"
             "Config: --config FILE, else $PROBE_CONFIG, else ./probe.yaml, else "
             "/etc/probe/probe.yaml.");
  // The journal must see EFBIG when a file size limit is hit, not die of SIGXFSZ.
  std::signal(SIGXFSZ, SIG_IGN);
  int exit_code = 0;
  for (const Command& spec : k_commands) {
    CLI::App& command = *app.add_subcommand(spec.name, spec.summary);
    for (const auto& [name, footer] : k_exit_codes) {
      if (std::string_view(name) == spec.name) {
        command.footer(footer);
      }
    }
    spec.setup(command, exit_code);
  }
  if (const std::string unknown = unknown_subcommand(app, argc, argv); !unknown.empty()) {
    std::cerr << unknown << "\n";
    return 2;
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
