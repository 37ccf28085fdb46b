// `probe wait`: the readiness gate deploy scripts block on. Exit 0 as soon as every selected
// critical target has passed gate.consecutive_successes times in a row; 1 when it did not: at
// --timeout, naming each failing target and its last error, or at once when the sidecar of
// `--url` stays unreachable past a short grace (it may be restarting) — said as such, not as a
// timeout; 2 on bad usage, including a `--url` that does not lead to a probe. Progress goes to
// stderr (see progress.hpp).
#include <iostream>
#include <memory>

#include <unistd.h>

#include "probe/cli/commands.hpp"
#include "probe/cli/flags.hpp"
#include "probe/cli/gate_setup.hpp"
#include "probe/cli/progress.hpp"
#include "probe/config/config.hpp"
#include "probe/config/config_loader.hpp"
#include "probe/engine/gate_runner.hpp"
#include "probe/util/clock.hpp"
#include "probe/util/duration.hpp"
#include "probe/util/error.hpp"
#include "probe/util/terminal.hpp"

namespace probe::cli {
namespace {

struct WaitOptions {
  std::optional<std::string> config;
  std::optional<std::string> url;
  std::optional<std::string> timeout;
  std::vector<std::string> only;
  int successes = 0;
};

int run_wait(const WaitOptions& options) {
  if (options.config && options.url) {
    throw Error("--config and --url exclude each other: gate on checks run here, or on a "
                "running probe");
  }
  GateFlags flags{parse_only(options.only), std::nullopt, options.successes};
  if (options.timeout) {
    flags.timeout = parse_duration_flag(*options.timeout, "--timeout", false);
  }
  const auto say = [](const std::string& line) { std::cerr << "wait: " << line << "\n"; };
  std::optional<config::Config> config;
  Gate gate;
  if (options.url) {
    try {
      gate = gate_from_sidecar(*options.url, flags, say);
    } catch (const Error& e) {
      if (e.exit_code() != 1) {
        throw; // not a probe at that URL: a usage error
      }
      std::cerr << "wait: not ready: " << e.what() << "\n";
      return 1;
    }
  } else {
    config = load_config(options.config, config::LoadOptions{false, false});
    gate = gate_from_config(*config, flags, say);
  }
  const util::Duration limit = gate.timeout;

  Progress progress(std::cerr, "wait: ", isatty(STDERR_FILENO) != 0);
  std::optional<engine::GateTracker> tracker;
  const engine::GateOutcome outcome =
      engine::run_gate(*gate.source, tracker, limit, gate.poll_interval,
                       [&](const std::optional<engine::GateTracker>& t) { progress.update(t); });
  if (outcome.open) {
    std::cerr << "wait: ready after " << util::format_duration(outcome.waited) << "\n";
    return 0;
  }
  if (!outcome.error.empty()) {
    std::cerr << "wait: not ready: " << outcome.error << "\n";
    return 1;
  }
  std::cerr << "wait: timed out after " << util::format_duration(limit);
  if (!tracker) {
    std::cerr << ": the probe at " << options.url.value_or("?") << " never answered /status\n";
    return 1;
  }
  std::cerr << "; not ready:\n";
  for (const engine::GateTarget* target : tracker->blocking()) {
    std::cerr << "  " << target->name << ": "
              << (target->seen ? util::terminal_safe(target->last_detail) : "never checked") << " ("
              << target->streak << "/" << tracker->required() << " passes in a row)\n";
  }
  return 1;
}

} // namespace

void setup_wait_command(CLI::App& command, int& exit_code) {
  auto options = std::make_shared<WaitOptions>();
  command.add_option("--config,-c", options->config, "Run the checks here, from this config");
  command.add_option("--url", options->url,
                     "Gate on a running probe instead (its base URL, e.g. http://probe:9464)");
  command.add_option("--timeout", options->timeout,
                     "Give up after this long (default: gate.timeout)");
  command
      .add_option("--only", options->only,
                  "Targets to wait for, comma-separated; may be repeated (default: all)")
      ->allow_extra_args(false);
  command
      .add_option("--successes", options->successes,
                  "Passes in a row required (default: gate.consecutive_successes)")
      ->check(CLI::Range(1, 1000));
  command.footer("Exit codes: 0 ready; 1 not ready (timed out, or the --url sidecar unreachable "
                 "for 10s); 2 usage or config error (also a --url that is not a probe).");
  command.callback([options, &exit_code] { exit_code = run_wait(*options); });
}

} // namespace probe::cli
