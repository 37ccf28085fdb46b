// `probe wait`, the gate deploy scripts block on, run as the real binary: a target that comes
// up late is noticed at the next poll, not at a timeout; one that never comes up fails at
// --timeout with its name and last error; URL mode gates on a running sidecar and counts only
// fresh checks. Time bounds only tell "waited for a timeout" from "did not", with ten times of
// margin (tests/support/bounds.hpp); the figures are printed.
#include <iostream>

#include "serve_fixture.hpp"

#include "tests/standins/http_standin.hpp"
#include "tests/standins/tcp_standin.hpp"
#include "tests/support/bounds.hpp"

namespace probe::tests {
namespace {

using namespace std::chrono_literals;
using test_support::k_event_deadline;

// Only a hung `probe wait` runs this long: every gate here ends well within it.
fakes::ProcessOptions within(std::chrono::milliseconds limit = 60s) {
  fakes::ProcessOptions options;
  options.timeout = limit;
  return options;
}

std::string gate_config(int port, int successes) {
  return "defaults: {interval: 1s, timeout: 500ms}\n"
         "targets:\n"
         "  - {name: api, type: http, url: \"http://127.0.0.1:" +
         std::to_string(port) +
         "/health\"}\n"
         "gate: {timeout: 30s, consecutive_successes: " +
         std::to_string(successes) + ", poll_interval: 250ms}\n";
}

TEST(Wait, NoticesALateTargetAtTheNextPoll) {
  fakes::TempDir dir;
  const int port = fakes::free_loopback_port();
  // Polls every 250 ms. A gate that stopped polling would wait for the 2 min --timeout.
  const std::string config = dir.write("probe.yaml", gate_config(port, 1));
  fakes::BackgroundProcess waiting({PROBE_BINARY, "wait", "--config", config, "--timeout", "2m"},
                                   dir.path() + "/wait.log");
  // The target comes up only once the gate has seen it fail.
  ASSERT_TRUE(fakes::eventually(
      [&] { return waiting.log().find("FAIL") != std::string::npos || !waiting.running(); },
      k_event_deadline))
      << waiting.log();
  ASSERT_TRUE(waiting.running()) << waiting.log();
  const fakes::HttpStandin late(fakes::HttpStandinOptions{"127.0.0.1", port});
  const auto up = std::chrono::steady_clock::now();
  ASSERT_TRUE(fakes::eventually([&] { return !waiting.running(); }, k_event_deadline))
      << waiting.log();
  const auto noticed =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - up);
  EXPECT_EQ(waiting.stop(SIGKILL, 1s), 0) << waiting.log();
  EXPECT_NE(waiting.log().find("wait: ready after"), std::string::npos) << waiting.log();
  std::cout << "a target up after the gate saw it fail: ready " << noticed.count()
            << " ms later (poll interval 250 ms)\n";
  EXPECT_LT(noticed, test_support::hang_bound(250ms)) << "not noticed at the next poll";
}

TEST(Wait, NeedsConsecutiveSuccesses) {
  fakes::TempDir dir;
  fakes::HttpStandin api;
  const std::string config = dir.write("probe.yaml", gate_config(api.port(), 3));
  const fakes::ProcessResult result =
      fakes::run_process({PROBE_BINARY, "wait", "--config", config}, within());
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(api.requests(), 3);  // three polls, three passes, done
  EXPECT_GE(result.wall, 500ms); // two poll intervals between three polls
}

TEST(Wait, TimesOutNamingTheFailingTargetAndItsError) {
  fakes::TempDir dir;
  const std::string config = dir.write("probe.yaml", gate_config(fakes::closed_port(), 1));
  const fakes::ProcessResult result = fakes::run_process(
      {PROBE_BINARY, "wait", "--config", config, "--timeout", "1500ms"}, within());
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_GE(result.wall, 1450ms);
  // --timeout, not the config's 30 s gate timeout, nor a hang.
  EXPECT_LT(result.wall, test_support::hang_bound(1500ms));
  EXPECT_NE(result.err.find("timed out after 1s500ms"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find(": Connection refused (0/1 passes in a row)"), std::string::npos)
      << result.err;
}

TEST(Wait, NonCriticalTargetsDoNotHoldTheGate) {
  fakes::TempDir dir;
  fakes::HttpStandin api;
  std::string with_extra = gate_config(api.port(), 1);
  with_extra.insert(with_extra.find("gate:"), "  - {name: cache, type: tcp, address: \"127.0.0.1:" +
                                                  std::to_string(fakes::closed_port()) +
                                                  "\", critical: false}\n");
  const std::string path = dir.write("extra.yaml", with_extra);
  const fakes::ProcessResult result =
      fakes::run_process({PROBE_BINARY, "wait", "--config", path, "--timeout", "30s"}, within());
  EXPECT_EQ(result.exit_code, 0) << result.err;
}

TEST(Wait, UrlModeGatesOnARunningSidecarWithFreshChecksOnly) {
  fakes::TempDir dir;
  fakes::HttpStandin api;
  RunningProbe probe(dir, "defaults: {interval: 250ms, timeout: 250ms}\n"
                          "targets:\n"
                          "  - {name: api, type: http, url: \"" +
                              api.url("/health") +
                              "\"}\n"
                              "gate: {consecutive_successes: 3, poll_interval: 100ms}\n");
  ASSERT_TRUE(
      fakes::eventually([&] { return probe.get("/ready").first == 200; }, k_event_deadline));
  const std::string url = "http://127.0.0.1:" + std::to_string(probe.port());
  const fakes::ProcessResult ready =
      fakes::run_process({PROBE_BINARY, "wait", "--url", url, "--timeout", "30s"}, within());
  EXPECT_EQ(ready.exit_code, 0) << ready.err;
  // Already UP before the gate began, yet the gate waits for three fresh checks (~750 ms).
  EXPECT_GE(ready.wall, 500ms) << ready.err;

  api.set_mode(fakes::HttpMode::error_500);
  // Once the sidecar has seen it, the gate names the target and the sidecar's last error.
  ASSERT_TRUE(
      fakes::eventually([&] { return probe.get("/ready").first == 503; }, k_event_deadline));
  const fakes::ProcessResult down =
      fakes::run_process({PROBE_BINARY, "wait", "--url", url, "--timeout", "1s"}, within());
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_NE(down.err.find("  api: GET /health -> 500"), std::string::npos) << down.err;
}

TEST(Wait, UrlModeWithNoSidecarSaysConnectionRefused) {
  const fakes::ProcessResult result = fakes::run_process(
      {PROBE_BINARY, "wait", "--url", "http://127.0.0.1:" + std::to_string(fakes::closed_port()),
       "--timeout", "700ms"},
      within());
  EXPECT_EQ(result.exit_code, 1);
  // Not there is not "timed out" (issue 12 item 16).
  EXPECT_NE(result.err.find("connection refused (retried for 700ms)"), std::string::npos)
      << result.err;
}

TEST(Wait, BadUsageExitsTwo) {
  fakes::TempDir dir;
  fakes::HttpStandin api;
  const std::string config = dir.write("probe.yaml", gate_config(api.port(), 1));
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"wait", "--config", config, "--url", "http://127.0.0.1:1"},
           {"wait", "--config", config, "--timeout", "banana"},
           {"wait", "--config", config, "--only", "nosuch"},
           {"wait", "--url", "ftp://x"},
           {"wait", "--config", dir.path() + "/missing.yaml"}}) {
    std::vector<std::string> argv{PROBE_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    const fakes::ProcessResult result = fakes::run_process(argv, within());
    EXPECT_EQ(result.exit_code, 2) << args[2] << ": " << result.err;
    EXPECT_NE(result.err, "");
  }
}

} // namespace
} // namespace probe::tests
