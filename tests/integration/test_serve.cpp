// `probe serve` as deploy scripts and Prometheus meet it: a real binary on a loopback port,
// real stand-in targets. /metrics passes promtool and does not wait for a check in flight;
// /ready and /status answer from memory; tokens guard mutating endpoints; oversized bodies get
// 413; reload adds, removes and survives a broken config; SIGTERM exits 0 without waiting
// longer than the checks in flight. Time bounds only tell a wait for a timeout from none
// (tests/support/bounds.hpp); the figures are printed.
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "serve_fixture.hpp"
#include <nlohmann/json.hpp>

#include "tests/standins/http_standin.hpp"
#include "tests/standins/tcp_standin.hpp"
#include "tests/support/bounds.hpp"

namespace probe::tests {
namespace {

using namespace std::chrono_literals;
using test_support::k_event_deadline;

// `stuck_timing` overrides the hanging target's interval and timeout (", interval: 20s, ...").
std::string base_config(int web_port, int hang_port, const std::string& stuck_timing = "") {
  return "defaults: {interval: 1s, timeout: 800ms, failure_threshold: 2}\n"
         "targets:\n"
         "  - {name: web, type: http, url: \"http://127.0.0.1:" +
         std::to_string(web_port) +
         "/health\"}\n"
         "  - {name: stuck, type: http, url: \"http://127.0.0.1:" +
         std::to_string(hang_port) + "/\", critical: false" + stuck_timing +
         "}\n"
         "  - {name: bot, type: heartbeat, source: push, max_age: 30s, critical: false}\n"
         "deploy: {token: \"s3cret-token\"}\n";
}

nlohmann::json status_of(const RunningProbe& probe) {
  return nlohmann::json::parse(probe.get("/status").second);
}

const nlohmann::json* find_target(const nlohmann::json& status, const std::string& name) {
  for (const nlohmann::json& target : status["targets"]) {
    if (target["name"] == name) {
      return &target;
    }
  }
  return nullptr;
}

TEST(Serve, HealthzReadyAndStatusAnswerFromMemory) {
  fakes::TempDir dir;
  fakes::HttpStandin web;
  fakes::TcpStandin stuck(fakes::TcpStandin::Mode::hang_after_accept);
  RunningProbe probe(dir, base_config(web.port(), stuck.port()));

  EXPECT_EQ(probe.get("/healthz").first, 200);
  ASSERT_TRUE(fakes::eventually([&] { return probe.get("/ready").first == 200; }, k_event_deadline))
      << probe.get("/ready").second;
  const nlohmann::json ready = nlohmann::json::parse(probe.get("/ready").second);
  EXPECT_EQ(ready["ready"], true);
  EXPECT_EQ(ready["targets"]["web"]["state"], "up");
  EXPECT_EQ(ready["targets"]["web"]["critical"], true);

  const int requests_before = web.requests();
  const auto asking_since = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    probe.get("/status");
    probe.get("/ready");
  }
  // /ready and /status never run a check: 40 requests cost the target nothing beyond its
  // scheduled checks (one a second, one more in flight at each end), however long they took.
  const auto asked_for = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::steady_clock::now() - asking_since);
  EXPECT_LE(web.requests() - requests_before, asked_for.count() + 3);

  web.set_mode(fakes::HttpMode::error_500);
  ASSERT_TRUE(
      fakes::eventually([&] { return probe.get("/ready").first == 503; }, k_event_deadline));
  const nlohmann::json status = status_of(probe);
  const nlohmann::json* target = find_target(status, "web");
  ASSERT_NE(target, nullptr);
  EXPECT_EQ((*target)["state"], "down");
  EXPECT_EQ((*target)["last_result"], "failure");
  EXPECT_EQ((*target)["http_status"], 500);
  EXPECT_NE((*target)["last_error"].get<std::string>().find("-> 500"), std::string::npos);
  EXPECT_GE((*target)["consecutive_failures"].get<int>(), 2);
  EXPECT_EQ(status["gate"]["consecutive_successes"], 3);
  EXPECT_EQ(probe.get("/status").second.find("s3cret-token"), std::string::npos);
}

TEST(Serve, MetricsPassPromtoolAndDoNotWaitForACheckInFlight) {
  fakes::TempDir dir;
  fakes::HttpStandin web;
  fakes::TcpStandin stuck(fakes::TcpStandin::Mode::hang_after_accept);
  // `stuck` is checked once, and that check hangs for 20 s: a scrape that waited for it would
  // take seconds, one that does not takes milliseconds (the figure is printed).
  constexpr std::chrono::milliseconds k_stuck_timeout = 20s;
  RunningProbe probe(dir, base_config(web.port(), stuck.port(), ", interval: 20s, timeout: 20s"));
  ASSERT_TRUE(fakes::eventually(
      [&] {
        return stuck.accepted() >= 1 &&
               probe.metric("probe_success{target=\"web\",type=\"http\"}") == 1;
      },
      k_event_deadline))
      << probe.process().log();
  const auto in_flight_since = std::chrono::steady_clock::now();

  std::chrono::milliseconds slowest{0};
  for (int i = 0; i < 30; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const auto [status, body] = probe.get("/metrics");
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    ASSERT_EQ(status, 200);
    slowest = std::max(slowest, took);
    std::this_thread::sleep_for(30ms);
  }
  std::cout << "/metrics with a check in flight: slowest of 30 scrapes " << slowest.count()
            << " ms\n";
  ASSERT_LT(std::chrono::steady_clock::now() - in_flight_since, k_stuck_timeout)
      << "the scrapes outlasted the hanging check, so they prove nothing";
  EXPECT_EQ(stuck.accepted(), 1U) << "the hanging check ended during the scrapes";
  EXPECT_LT(slowest, k_stuck_timeout / 10) << "a scrape waited for the check in flight";

  const std::string scrape = probe.get("/metrics").second;
  for (const char* name :
       {"probe_success{target=\"web\",type=\"http\"} 1",
        "probe_target_up{target=\"web\",type=\"http\"} 1",
        "probe_http_status_code{target=\"web\"} 200",
        "probe_heartbeat_age_seconds{target=\"bot\"} +Inf", "probe_config_last_reload_successful 1",
        "# TYPE probe_duration_seconds histogram", "# TYPE probe_checks_total counter",
        "probe_build_info{", "probe_ready "}) {
    EXPECT_NE(scrape.find(name), std::string::npos) << name << "\n" << scrape;
  }
  const std::string file = dir.write("scrape.txt", scrape);
  const fakes::ProcessResult promtool =
      fakes::run_process({"/bin/sh", "-c", "promtool check metrics < " + file});
  EXPECT_EQ(promtool.exit_code, 0) << promtool.out << promtool.err;
  EXPECT_EQ(promtool.out + promtool.err, "");
}

TEST(Serve, TokensGuardMutatingEndpoints) {
  fakes::TempDir dir;
  fakes::HttpStandin web;
  fakes::TcpStandin stuck(fakes::TcpStandin::Mode::hang_after_accept);
  RunningProbe probe(dir, base_config(web.port(), stuck.port()));

  EXPECT_EQ(probe.post("/heartbeat/bot", "").first, 401);
  EXPECT_EQ(probe.post("/heartbeat/bot", "wrong-token").first, 401);
  EXPECT_EQ(probe.post("/heartbeat/bot", "s3cret-token-and-more").first, 401);
  EXPECT_EQ(probe.post("/-/reload", "wrong-token").first, 401);
  // The bot's next check after the rejected beats would show one that was recorded.
  const auto bot_checks = [&] {
    const nlohmann::json status = status_of(probe);
    const nlohmann::json* bot = find_target(status, "bot");
    return bot == nullptr ? -1 : (*bot)["checks"].get<int>();
  };
  const int checks_before = bot_checks();
  ASSERT_TRUE(fakes::eventually([&] { return bot_checks() > checks_before; }, k_event_deadline));
  nlohmann::json status = status_of(probe);
  const nlohmann::json* bot = find_target(status, "bot");
  ASSERT_NE(bot, nullptr);
  EXPECT_EQ((*bot)["last_success_at"], nullptr) << "a rejected beat must record nothing";

  EXPECT_EQ(probe.post("/heartbeat/bot", "s3cret-token").first, 200);
  EXPECT_EQ(probe.post("/heartbeat/web", "s3cret-token").first, 404); // not a push target
  ASSERT_TRUE(fakes::eventually(
      [&] { return probe.metric("probe_success{target=\"bot\",type=\"heartbeat\"}") == 1; },
      k_event_deadline));
  // Finite, and within max_age: the beat was recorded (with none it is +Inf).
  EXPECT_LT(probe.metric("probe_heartbeat_age_seconds{target=\"bot\"}"), 30.0);

  const std::string mebibyte(1024 * 1024, 'x');
  EXPECT_EQ(probe.post("/heartbeat/bot", "s3cret-token", mebibyte).first, 413);
  EXPECT_EQ(probe.post("/-/reload", "s3cret-token", mebibyte).first, 413);
}

TEST(Serve, ReloadAddsRemovesAndSurvivesABrokenConfig) {
  fakes::TempDir dir;
  fakes::HttpStandin web;
  fakes::HttpStandin api;
  fakes::TcpStandin stuck(fakes::TcpStandin::Mode::hang_after_accept);
  RunningProbe probe(dir, base_config(web.port(), stuck.port()));
  const std::string web_checks =
      "probe_checks_total{result=\"success\",target=\"web\",type=\"http\"}";
  ASSERT_TRUE(fakes::eventually([&] { return probe.metric(web_checks) >= 2; }, k_event_deadline));

  // Add `api`, drop `stuck`, keep `web` as it is; apply with SIGHUP.
  std::ofstream(probe.config_path())
      << "defaults: {interval: 1s, timeout: 800ms, failure_threshold: 2}\n"
         "targets:\n"
         "  - {name: web, type: http, url: \"http://127.0.0.1:"
      << web.port()
      << "/health\"}\n"
         "  - {name: api, type: http, url: \"http://127.0.0.1:"
      << api.port()
      << "/health\"}\n"
         "  - {name: bot, type: heartbeat, source: push, max_age: 30s, critical: false}\n"
         "deploy: {token: \"s3cret-token\"}\n";
  const double web_before = probe.metric(web_checks);
  probe.process().signal(SIGHUP);
  ASSERT_TRUE(fakes::eventually(
      [&] { return probe.metric("probe_success{target=\"api\",type=\"http\"}") == 1; },
      k_event_deadline))
      << probe.process().log();
  const std::string scrape = probe.get("/metrics").second;
  EXPECT_EQ(scrape.find("target=\"stuck\""), std::string::npos) << "removed target's series stay";
  EXPECT_GE(probe.metric(web_checks), web_before) << "an unchanged target's series restarted";
  EXPECT_EQ(probe.metric("probe_config_last_reload_successful"), 1);

  // A broken config keeps the running one and says so.
  std::ofstream(probe.config_path()) << "targets:\n  - {name: web, type: htp}\n";
  const auto [status, body] = probe.post("/-/reload", "s3cret-token");
  EXPECT_EQ(status, 400);
  EXPECT_NE(body.find("probe.yaml:2:"), std::string::npos) << body;
  EXPECT_EQ(probe.metric("probe_config_last_reload_successful"), 0);
  const double api_before =
      probe.metric("probe_checks_total{result=\"success\",target=\"api\",type=\"http\"}");
  ASSERT_TRUE(fakes::eventually(
      [&] {
        return probe.metric("probe_checks_total{result=\"success\",target=\"api\",type=\"http\"}") >
               api_before;
      },
      k_event_deadline))
      << "the old config must keep running";
  EXPECT_TRUE(probe.process().running());
}

TEST(Serve, SigtermStopsWithExitZeroWithinTheChecksInFlight) {
  fakes::TempDir dir;
  fakes::HttpStandin web;
  fakes::TcpStandin stuck(fakes::TcpStandin::Mode::hang_after_accept);
  RunningProbe probe(dir, base_config(web.port(), stuck.port()));
  // A check of `stuck` is in flight from its connection on, for its 800 ms timeout.
  ASSERT_TRUE(fakes::eventually([&] { return stuck.accepted() >= 1; }, k_event_deadline));
  std::chrono::milliseconds waited{0};
  EXPECT_EQ(probe.process().stop(SIGTERM, 60s, &waited), 0) << probe.process().log();
  std::cout << "SIGTERM with a check in flight: stopped in " << waited.count() << " ms\n";
  EXPECT_LT(waited, test_support::hang_bound(800ms))
      << "in-flight checks must end within their timeout (800ms), and the stop with them";
}

TEST(Serve, BadConfigAtStartExitsTwo) {
  fakes::TempDir dir;
  const std::string path =
      dir.write("probe.yaml", "targets:\n  - {name: x, type: tcp, adress: a}\n");
  const fakes::ProcessResult result =
      fakes::run_process({PROBE_BINARY, "serve", "--config", path, "--listen", "127.0.0.1:0"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("probe.yaml:2:"), std::string::npos) << result.err;
}

} // namespace
} // namespace probe::tests

namespace probe::tests {
namespace {

TEST(Serve, JsonLogsAreOneObjectPerLine) {
  fakes::TempDir dir;
  fakes::HttpStandin web;
  fakes::TcpStandin stuck(fakes::TcpStandin::Mode::hang_after_accept);
  RunningProbe probe(dir, base_config(web.port(), stuck.port()), {"--log-format", "json"});
  ASSERT_TRUE(
      fakes::eventually([&] { return probe.get("/ready").first == 200; }, k_event_deadline));
  EXPECT_EQ(probe.process().stop(SIGTERM, 60s), 0);
  std::istringstream lines(probe.process().log());
  std::string line;
  int parsed = 0;
  while (std::getline(lines, line)) {
    const nlohmann::json entry = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(entry.is_discarded()) << line;
    EXPECT_TRUE(entry.contains("ts") && entry.contains("level") && entry.contains("msg")) << line;
    ++parsed;
  }
  EXPECT_GE(parsed, 3); // started, a state change, stopping
  EXPECT_EQ(probe.process().log().find("s3cret-token"), std::string::npos);
}

} // namespace
} // namespace probe::tests
