// `probe config check`: validate the config and print it resolved, secrets masked; exit 0 when
// valid, 2 with FILE:LINE:COL: field: problem when not.
#include <iostream>
#include <memory>

#include "probe/cli/commands.hpp"
#include "probe/config/config.hpp"
#include "probe/config/config_printer.hpp"

namespace probe::cli {

void setup_config_command(CLI::App& command, int& exit_code) {
  command.require_subcommand(1);
  CLI::App* check = command.add_subcommand("check", "Validate and print the resolved config");
  auto path = std::make_shared<std::optional<std::string>>();
  check->add_option("--config,-c", *path, "Config file");
  check->callback([path, &exit_code] {
    const config::Config config = load_config(*path);
    std::cout << "# " << config.path << ": valid, " << config.targets.size() << " target(s)\n";
    for (const std::string& note : config.notes) {
      std::cout << "# " << note << "\n";
    }
    std::cout << config::print_config(config);
    exit_code = 0;
  });
}

} // namespace probe::cli
