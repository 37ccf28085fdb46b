// `probe wait`: the readiness gate deploy scripts block on. Exit 0 as soon as every selected
// critical target has passed gate.consecutive_successes times in a row, 1 at --timeout naming
// each failing target and its last error, 2 on bad usage. Progress goes to stderr: one live
// line per target on a TTY, plain lines on change in a pipe.
#include <iostream>
#include <map>
#include <memory>

#include <unistd.h>

#include "probe/cli/commands.hpp"
#include "probe/config/config.hpp"
#include "probe/engine/gate_runner.hpp"
#include "probe/util/clock.hpp"
#include "probe/util/duration.hpp"
#include "probe/util/error.hpp"
#include "probe/util/strings.hpp"
#include "probe/util/watchdog.hpp"

namespace probe::cli {
namespace {

struct WaitOptions {
  std::optional<std::string> config;
  std::optional<std::string> url;
  std::optional<std::string> timeout;
  std::string only;
  int successes = 0;
};

std::optional<util::Duration> duration_flag(const std::optional<std::string>& text,
                                            const char* flag) {
  if (!text) {
    return std::nullopt;
  }
  const std::optional<util::Duration> value = util::parse_duration(*text);
  if (!value || value->count() == 0) {
    throw Error(std::string(flag) + ": \"" + *text + "\" is not a duration (e.g. 90s, 2m)");
  }
  return value;
}

std::vector<std::string> split_names(const std::string& only) {
  std::vector<std::string> names;
  for (const std::string& name : util::split(only, ',')) {
    if (!util::trim(name).empty()) {
      names.emplace_back(util::trim(name));
    }
  }
  return names;
}

// Renders progress to stderr: redrawn lines on a TTY, a line per change otherwise.
class Progress {
public:
  Progress() : m_tty(isatty(STDERR_FILENO) != 0) {}

  void update(const std::optional<engine::GateTracker>& tracker) {
    if (!tracker) {
      return;
    }
    if (m_tty) {
      redraw(*tracker);
      return;
    }
    for (const engine::GateTarget& target : tracker->targets()) {
      const std::string line = describe(target, tracker->required());
      std::string& previous = m_last[target.name];
      const std::string key = (target.last_ok ? "pass " : "fail ") +
                              std::to_string(std::min(target.streak, tracker->required()));
      if (key != previous && target.seen) {
        std::cerr << "wait: " << line << "\n";
        previous = key;
      }
    }
  }

private:
  static std::string describe(const engine::GateTarget& target, int required) {
    const std::string mark = !target.seen ? "..  " : target.last_ok ? "ok  " : "FAIL";
    return mark + " " + target.name + " " + std::to_string(std::min(target.streak, required)) +
           "/" + std::to_string(required) + (target.critical ? "" : " (non-critical)") +
           (target.last_detail.empty() ? "" : "  " + util::truncate(target.last_detail, 100));
  }

  void redraw(const engine::GateTracker& tracker) {
    if (m_drawn > 0) {
      std::cerr << "\033[" << m_drawn << "F"; // back to the first line drawn
    }
    for (const engine::GateTarget& target : tracker.targets()) {
      std::cerr << "\033[2K" << describe(target, tracker.required()) << "\n";
    }
    m_drawn = tracker.targets().size();
    std::cerr.flush();
  }

  bool m_tty;
  std::size_t m_drawn = 0;
  std::map<std::string, std::string> m_last;
};

int run_wait(const WaitOptions& options) {
  if (options.config && options.url) {
    throw Error("--config and --url exclude each other: gate on checks run here, or on a "
                "running probe");
  }
  const std::vector<std::string> only = split_names(options.only);
  std::optional<util::Duration> timeout = duration_flag(options.timeout, "--timeout");
  util::Watchdog watchdog;
  std::unique_ptr<engine::GateSource> source;
  std::optional<config::Config> config;
  util::Duration poll_interval{250};
  if (options.url) {
    auto sidecar =
        std::make_unique<engine::SidecarGateSource>(*options.url, only, options.successes);
    sidecar->discover();
    poll_interval = sidecar->poll_interval().value_or(poll_interval);
    timeout = timeout ? timeout : sidecar->timeout();
    source = std::move(sidecar);
  } else {
    config = load_config(options.config);
    poll_interval = config->gate.poll_interval;
    timeout = timeout ? timeout : config->gate.timeout;
    const int required =
        options.successes > 0 ? options.successes : config->gate.consecutive_successes;
    source = std::make_unique<engine::ConfigGateSource>(
        *config, only, required, checks::CheckContext{&util::system_clock(), &watchdog});
  }
  const util::Duration limit = timeout.value_or(util::Duration(120'000));

  Progress progress;
  std::optional<engine::GateTracker> tracker;
  const engine::GateOutcome outcome =
      engine::run_gate(*source, tracker, limit, poll_interval,
                       [&](const std::optional<engine::GateTracker>& t) { progress.update(t); });
  if (outcome.open) {
    std::cerr << "wait: ready after " << util::format_duration(outcome.waited) << "\n";
    return 0;
  }
  std::cerr << "wait: timed out after " << util::format_duration(limit);
  if (!tracker) {
    std::cerr << ": " << (options.url ? "could not read " + *options.url + "/status" : "") << "\n";
    return 1;
  }
  std::cerr << "; not ready:\n";
  for (const engine::GateTarget* target : tracker->blocking()) {
    std::cerr << "  " << target->name << ": "
              << (target->seen ? target->last_detail : "never checked") << " (" << target->streak
              << "/" << tracker->required() << " passes in a row)\n";
  }
  return 1;
}

} // namespace

void setup_wait_command(CLI::App& command, int& exit_code) {
  auto options = std::make_shared<WaitOptions>();
  command.add_option("--config,-c", options->config, "Run the checks here, from this config");
  command.add_option("--url", options->url,
                     "Gate on a running probe instead (e.g. http://probe:9464)");
  command.add_option("--timeout", options->timeout,
                     "Give up after this long (default: gate.timeout)");
  command.add_option("--only", options->only, "Comma-separated targets to wait for");
  command
      .add_option("--successes", options->successes,
                  "Passes in a row required (default: gate.consecutive_successes)")
      ->check(CLI::Range(1, 1000));
  command.callback([options, &exit_code] { exit_code = run_wait(*options); });
}

} // namespace probe::cli
