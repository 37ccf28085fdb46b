// `probe config check`: validate the config and print it resolved, secrets masked; exit 0 when
// valid, 2 with FILE:LINE:COL: field: problem when not. Beyond the loader's checks it verifies
// what a deploy will need from this machine: the rollback hook exists and is executable (a
// missing hook found only when a deploy must roll back is found too late). With --sidecar the
// config is checked as `probe serve` uses it, which never runs the hook (in the sidecar's
// container it is not there): a missing hook is then a warning.
#include <cstdlib>
#include <iostream>
#include <memory>

#include "probe/cli/commands.hpp"
#include "probe/cli/deploy_support.hpp"
#include "probe/config/config.hpp"
#include "probe/config/config_printer.hpp"
#include "probe/deploy/rollback_hook.hpp"
#include "probe/util/error.hpp"

namespace probe::cli {
namespace {

struct ConfigCheckOptions {
  std::optional<std::string> config;
  bool sidecar = false;
};

int run_config_check(const ConfigCheckOptions& options) {
  const config::Config config = load_config(options.config);
  std::string hook_problem;
  if (!deploy::resolve_config_hook(config, env_or("PATH", ""), &hook_problem)) {
    if (!options.sidecar) {
      throw Error(config.path + ": " + hook_problem +
                  " (probe deploy verify runs it; --sidecar checks the config as probe serve "
                  "uses it, which never runs the hook)");
    }
  }
  std::cout << "# " << config.path << ": valid, " << config.targets.size() << " target(s)\n";
  for (const std::string& note : config.notes) {
    std::cout << "# " << note << "\n";
  }
  if (!hook_problem.empty()) {
    std::cout << "# warning: " << hook_problem << " (probe serve never runs it; probe deploy "
              << "verify --config would refuse to start)\n";
  }
  if (const std::string note = journal_only_note(config.deploy); !note.empty()) {
    std::cout << "# " << note << "\n";
  }
  std::cout << config::print_config(config);
  return 0;
}

} // namespace

void setup_config_command(CLI::App& command, int& exit_code) {
  command.require_subcommand(1);
  CLI::App* check = command.add_subcommand("check", "Validate and print the resolved config");
  auto options = std::make_shared<ConfigCheckOptions>();
  check->add_option("--config,-c", options->config, "Config file");
  check->add_flag("--sidecar", options->sidecar,
                  "Check it as probe serve uses it: a missing rollback hook is only a warning");
  check->footer("Exit codes: 0 valid; 2 invalid (FILE:LINE:COL: field: problem), or the "
                "rollback hook is missing (without --sidecar).");
  check->callback([options, &exit_code] { exit_code = run_config_check(*options); });
}

} // namespace probe::cli
