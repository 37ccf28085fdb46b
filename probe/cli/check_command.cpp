// `probe check`: every (or --only) target once, concurrently; a report in text, JSON or JUnit;
// exit 0 when every critical target passed, 1 otherwise. A target only `probe serve` can judge
// (a push heartbeat) is reported as skipped and does not count.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>

#include <unistd.h>

#include "exporters/report.hpp"
#include "probe/cli/commands.hpp"
#include "probe/cli/flags.hpp"
#include "probe/config/config.hpp"
#include "probe/config/config_loader.hpp"
#include "probe/util/clock.hpp"
#include "probe/util/error.hpp"
#include "probe/util/strings.hpp"

namespace probe::cli {
namespace {

struct CheckOptions {
  std::optional<std::string> config;
  std::vector<std::string> only;
  std::string format = "text";
  std::optional<std::string> output;
};

bool want_colour() {
  return isatty(STDOUT_FILENO) != 0 && env_or("NO_COLOR", "").empty();
}

// Writes `text` to `path` through a temporary file and rename(), so a CI step reading the
// report never sees half of it.
void write_atomically(const std::string& path, const std::string& text) {
  const std::string temp = path + ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      std::remove(temp.c_str());
      throw Error("--output: cannot write " + path + ": " + std::strerror(errno));
    }
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(temp.c_str());
    throw Error("--output: cannot write " + path + ": " + std::strerror(err));
  }
}

int run_check(const CheckOptions& options) {
  const std::vector<std::string> only = parse_only(options.only);
  // A check sends nothing and takes no token: their variables may be unset (CI).
  const config::Config config = load_config(options.config, config::LoadOptions{false, false});
  const std::vector<const config::Target*> selected = engine::select_targets(config, only);

  const checks::CheckContext context{&util::system_clock()};
  std::vector<engine::TargetCheck> checks = engine::make_checks(selected, context);

  exporters::Report report;
  report.started_at = std::chrono::system_clock::now();
  const auto start = std::chrono::steady_clock::now();
  report.results = engine::run_once(checks);
  report.wall = std::chrono::steady_clock::now() - start;

  std::string rendered;
  if (options.format == "json") {
    rendered = exporters::render_json(report);
  } else if (options.format == "junit") {
    rendered = exporters::render_junit(report);
  } else {
    rendered = exporters::render_text(report, want_colour() && !options.output);
  }
  if (options.output) {
    write_atomically(*options.output, rendered);
    std::cout << exporters::render_text(report, want_colour());
  } else {
    std::cout << rendered;
  }
  std::cout.flush();
  return exporters::report_passed(report) ? 0 : 1;
}

} // namespace

void setup_check_command(CLI::App& command, int& exit_code) {
  auto options = std::make_shared<CheckOptions>();
  command.add_option("--config,-c", options->config, "Config file");
  command
      .add_option("--only", options->only,
                  "Targets to check, comma-separated; may be repeated (default: all)")
      ->allow_extra_args(false);
  command.add_option("--format", options->format, "Report format")
      ->check(CLI::IsMember({"text", "json", "junit"}));
  command.add_option("--output,-o", options->output,
                     "Write the report to FILE (the text table still goes to stdout)");
  command.footer("Exit codes: 0 every critical target passed (skipped ones, such as push "
                 "heartbeats, do not count); 1 a critical target failed; 2 usage or config error.");
  command.callback([options, &exit_code] { exit_code = run_check(*options); });
}

} // namespace probe::cli
