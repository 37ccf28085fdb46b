// The exposition is the contract Prometheus, the rules and the dashboards read: exact metric
// names, types and labels; every result label present from the first scrape; removed targets
// leave no series behind; a target that changes type does not keep its old series.
#include <algorithm>
#include <sstream>
#include <vector>

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include "exporters/metrics.hpp"
#include "tests/support/text_match.hpp"

namespace probe::exporters {
namespace {

using namespace std::chrono_literals;

config::Target make_target(const std::string& name, config::TargetType type) {
  config::Target target;
  target.name = name;
  target.type = type;
  return target;
}

engine::TargetState state_with(checks::CheckStatus status, std::optional<int> http_status = {}) {
  engine::TargetState state;
  checks::CheckResult result = checks::make_result(status, "x");
  result.latency = 3ms;
  result.http_status = http_status;
  state.apply(result, 1, 1, std::chrono::system_clock::time_point(1'700'000'000s));
  return state;
}

TEST(ProbeMetrics, RendersTheContractNamesTypesAndLabels) {
  ProbeMetrics metrics("1.2.3", "abc");
  metrics.observe(make_target("api", config::TargetType::http),
                  state_with(checks::CheckStatus::success, 200), true);
  const std::string text = metrics.render();
  for (const char* line : {
           "# TYPE probe_success gauge",
           "probe_success{target=\"api\",type=\"http\"} 1",
           "# TYPE probe_target_up gauge",
           "probe_target_up{target=\"api\",type=\"http\"} 1",
           "# TYPE probe_duration_seconds histogram",
           "probe_duration_seconds_count{target=\"api\",type=\"http\"} 1",
           "probe_duration_seconds_bucket{target=\"api\",type=\"http\",le=\"0.005\"} 1",
           "probe_duration_seconds_bucket{target=\"api\",type=\"http\",le=\"0.0025\"} 0",
           "# TYPE probe_checks_total counter",
           "probe_checks_total{result=\"success\",target=\"api\",type=\"http\"} 1",
           "probe_checks_total{result=\"failure\",target=\"api\",type=\"http\"} 0",
           "probe_checks_total{result=\"timeout\",target=\"api\",type=\"http\"} 0",
           "probe_checks_total{result=\"error\",target=\"api\",type=\"http\"} 0",
           "probe_last_success_timestamp_seconds{target=\"api\"} 1700000000",
           "probe_consecutive_failures{target=\"api\"} 0",
           "probe_http_status_code{target=\"api\"} 200",
           "# TYPE probe_ready gauge",
           "probe_ready 1",
           "probe_config_last_reload_successful 0",
           "probe_build_info{revision=\"abc\",version=\"1.2.3\"} 1",
       }) {
    EXPECT_TRUE(has_line(text, line)) << line << "\n---\n" << text;
  }
  // http targets have no heartbeat age; heartbeat targets no status code.
  EXPECT_EQ(text.find("probe_heartbeat_age_seconds{target=\"api\"}"), std::string::npos);
}

std::vector<std::string> sorted_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

// render() walks its own list of families, one at a time; a family registered without being
// listed would vanish from /metrics. The lines must be the registry's, in any order.
TEST(ProbeMetrics, RenderShowsEveryRegisteredFamily) {
  ProbeMetrics metrics("1.2.3", "abc");
  metrics.observe(make_target("api", config::TargetType::http),
                  state_with(checks::CheckStatus::success, 200), true);
  metrics.observe(make_target("bot", config::TargetType::heartbeat),
                  state_with(checks::CheckStatus::failure), true);
  metrics.update_deploys(std::map<std::string, long long>{{"deploy_succeeded", 2}}, "abc1234",
                         "def5678", 1'700'000'000.0, 1);
  metrics.count_notification("telegram", true);

  const std::string whole = prometheus::TextSerializer().Serialize(metrics.registry().Collect());
  EXPECT_EQ(sorted_lines(metrics.render()), sorted_lines(whole));
  EXPECT_EQ(sorted_lines(metrics.render()), sorted_lines(whole)); // and again, sized from the last
}

TEST(ProbeMetrics, HeartbeatWithoutABeatIsInfinitelyOld) {
  ProbeMetrics metrics("1", "r");
  metrics.observe(make_target("bot", config::TargetType::heartbeat),
                  state_with(checks::CheckStatus::failure), false);
  const std::string text = metrics.render();
  EXPECT_TRUE(has_line(text, "probe_heartbeat_age_seconds{target=\"bot\"} +Inf")) << text;
  EXPECT_TRUE(has_line(text, "probe_consecutive_failures{target=\"bot\"} 1")) << text;
  EXPECT_EQ(text.find("probe_http_status_code{target=\"bot\"}"), std::string::npos);
}

TEST(ProbeMetrics, TargetConfigGaugesFollowTheConfigAcrossReloads) {
  ProbeMetrics metrics("1", "r");
  config::Target api = make_target("api", config::TargetType::http);
  api.timeout = 2s;
  config::Target worker = make_target("worker", config::TargetType::tcp);
  worker.timeout = 1500ms;
  worker.critical = false;
  config::Target bot = make_target("bot", config::TargetType::heartbeat);
  bot.timeout = 1s;
  config::HeartbeatTarget beat;
  beat.max_age = 90s;
  bot.spec = beat;
  for (const config::Target* target : {&api, &worker, &bot}) {
    metrics.observe(*target, state_with(checks::CheckStatus::success), true);
  }
  std::string text = metrics.render();
  for (const char* line : {
           "probe_target_critical{target=\"api\",type=\"http\"} 1",
           "probe_target_critical{target=\"worker\",type=\"tcp\"} 0",
           "probe_latency_budget_seconds{target=\"api\",type=\"http\"} 2",
           "probe_latency_budget_seconds{target=\"worker\",type=\"tcp\"} 1.5",
           "probe_heartbeat_max_age_seconds{target=\"bot\"} 90",
       }) {
    EXPECT_TRUE(has_line(text, line)) << line << "\n---\n" << text;
  }
  EXPECT_EQ(text.find("probe_heartbeat_max_age_seconds{target=\"api\"}"), std::string::npos);

  // A reload that sets max_latency and makes the worker critical changes the gauges in place.
  std::get<config::HttpTarget>(api.spec).expect.max_latency = 250ms;
  worker.critical = true;
  metrics.observe(api, state_with(checks::CheckStatus::success), true);
  metrics.observe(worker, state_with(checks::CheckStatus::success), true);
  text = metrics.render();
  EXPECT_TRUE(has_line(text, "probe_latency_budget_seconds{target=\"api\",type=\"http\"} 0.25"))
      << text;
  EXPECT_TRUE(has_line(text, "probe_target_critical{target=\"worker\",type=\"tcp\"} 1")) << text;
}

TEST(ProbeMetrics, DeployCountersAppearWithTheFirstReadAndCountEventKinds) {
  ProbeMetrics metrics("1", "r");
  metrics.update_deploys(std::nullopt, "", "", std::nullopt, 2); // the log is unreadable
  std::string text = metrics.render();
  EXPECT_EQ(text.find("probe_deploys_total{"), std::string::npos) << text;
  EXPECT_EQ(text.find("probe_rollbacks_total{"), std::string::npos) << text;
  EXPECT_TRUE(has_line(text, "probe_events_pending 2")) << text;

  // Two failed deploys, one rolled back: both count as failed, one as rolled back.
  metrics.update_deploys(std::map<std::string, long long>{{"deploy_succeeded", 3},
                                                          {"deploy_failed", 2},
                                                          {"rollback_succeeded", 1},
                                                          {"rollback_failed", 1}},
                         "aaaaaaa", "", 1.7e9, 0);
  text = metrics.render();
  for (const char* line : {
           "probe_deploys_total{outcome=\"succeeded\"} 3",
           "probe_deploys_total{outcome=\"failed\"} 2",
           "probe_deploys_total{outcome=\"rolled_back\"} 1",
           "probe_rollbacks_total{outcome=\"succeeded\"} 1",
           "probe_rollbacks_total{outcome=\"failed\"} 1",
       }) {
    EXPECT_TRUE(has_line(text, line)) << line << "\n---\n" << text;
  }
  // A later rollback by hand does not take anything back from "failed".
  metrics.update_deploys(std::map<std::string, long long>{{"deploy_succeeded", 3},
                                                          {"deploy_failed", 2},
                                                          {"rollback_succeeded", 2},
                                                          {"rollback_failed", 1}},
                         "aaaaaaa", "", 1.7e9, 0);
  text = metrics.render();
  EXPECT_TRUE(has_line(text, "probe_deploys_total{outcome=\"failed\"} 2")) << text;
  EXPECT_TRUE(has_line(text, "probe_deploys_total{outcome=\"rolled_back\"} 2")) << text;
}

TEST(ProbeMetrics, RemovedTargetsLeaveNoSeries) {
  ProbeMetrics metrics("1", "r");
  metrics.observe(make_target("api", config::TargetType::http),
                  state_with(checks::CheckStatus::success, 200), true);
  metrics.observe(make_target("db", config::TargetType::postgres),
                  state_with(checks::CheckStatus::success), true);
  metrics.remove_target("api");
  const std::string text = metrics.render();
  EXPECT_EQ(text.find("target=\"api\""), std::string::npos) << text;
  EXPECT_NE(text.find("probe_success{target=\"db\",type=\"postgres\"} 1"), std::string::npos);
}

TEST(ProbeMetrics, ATypeChangeReplacesTheSeries) {
  ProbeMetrics metrics("1", "r");
  metrics.observe(make_target("cache", config::TargetType::tcp),
                  state_with(checks::CheckStatus::success), true);
  metrics.observe(make_target("cache", config::TargetType::http),
                  state_with(checks::CheckStatus::success, 204), true);
  const std::string text = metrics.render();
  EXPECT_EQ(text.find("type=\"tcp\""), std::string::npos) << text;
  EXPECT_NE(text.find("probe_success{target=\"cache\",type=\"http\"} 1"), std::string::npos);
}

config::Target http_target(const std::string& name, const std::string& url) {
  config::Target target = make_target(name, config::TargetType::http);
  config::HttpTarget http;
  http.url = url;
  target.spec = http;
  return target;
}

// An answered HTTP check: 200, its phases, and the certificate's notAfter when `expiry` is set.
engine::TargetState answered(std::optional<std::chrono::system_clock::time_point> expiry,
                             std::chrono::nanoseconds transfer = 5ms) {
  engine::TargetState state;
  checks::CheckResult result = checks::make_result(checks::CheckStatus::success, "GET / -> 200");
  result.http_status = 200;
  result.http_phases = checks::HttpPhases{1500us, 2ms, 12ms, 250ms, transfer};
  result.tls_earliest_expiry = expiry;
  state.apply(result, 1, 1, std::chrono::system_clock::time_point(1'700'000'000s));
  return state;
}

const std::chrono::system_clock::time_point k_not_after(1'800'000'000s);

TEST(ProbeMetrics, HttpPhasesAndCertificateExpiryOfAnAnsweredCheck) {
  ProbeMetrics metrics("1", "r");
  metrics.observe(http_target("web", "https://web.example/health"), answered(k_not_after), true);
  const std::string text = metrics.render();
  for (const char* line : {
           "# TYPE probe_http_duration_seconds gauge",
           "probe_http_duration_seconds{phase=\"resolve\",target=\"web\"} 0.0015",
           "probe_http_duration_seconds{phase=\"connect\",target=\"web\"} 0.002",
           "probe_http_duration_seconds{phase=\"tls\",target=\"web\"} 0.012",
           "probe_http_duration_seconds{phase=\"processing\",target=\"web\"} 0.25",
           "probe_http_duration_seconds{phase=\"transfer\",target=\"web\"} 0.005",
           "# TYPE probe_tls_earliest_cert_expiry_timestamp_seconds gauge",
           "probe_tls_earliest_cert_expiry_timestamp_seconds{target=\"web\"} 1800000000",
       }) {
    EXPECT_TRUE(has_line(text, line)) << line << "\n---\n" << text;
  }
  // Exactly the five phases, no more.
  std::size_t phases = 0;
  for (const std::string& line : sorted_lines(text)) {
    phases += line.rfind("probe_http_duration_seconds{", 0) == 0 ? 1 : 0;
  }
  EXPECT_EQ(phases, 5U) << text;
}

TEST(ProbeMetrics, PhasesFollowTheLastAnswerAndOutliveAFailureWithoutOne) {
  ProbeMetrics metrics("1", "r");
  const config::Target web = http_target("web", "https://web.example/health");
  metrics.observe(web, answered(k_not_after), true);
  metrics.observe(web, answered(k_not_after + 24h, 40ms), true);
  // Refused: no answer, so no phases and no certificate; the last ones stay.
  metrics.observe(web, state_with(checks::CheckStatus::failure), false);
  const std::string text = metrics.render();
  EXPECT_TRUE(has_line(text, "probe_http_duration_seconds{phase=\"transfer\",target=\"web\"} 0.04"))
      << text;
  EXPECT_TRUE(
      has_line(text, "probe_tls_earliest_cert_expiry_timestamp_seconds{target=\"web\"} 1800086400"))
      << text;
}

TEST(ProbeMetrics, NoPhasesOrExpiryBeforeAnAnswer) {
  ProbeMetrics metrics("1", "r");
  metrics.observe(http_target("web", "https://web.example/health"),
                  state_with(checks::CheckStatus::failure), false);
  metrics.observe(make_target("cache", config::TargetType::tcp),
                  state_with(checks::CheckStatus::success), false);
  const std::string text = metrics.render();
  EXPECT_EQ(text.find("probe_http_duration_seconds{"), std::string::npos) << text;
  EXPECT_EQ(text.find("probe_tls_earliest_cert_expiry_timestamp_seconds{"), std::string::npos)
      << text;
}

TEST(ProbeMetrics, PlainHttpHasPhasesButNoExpirySeries) {
  ProbeMetrics metrics("1", "r");
  metrics.observe(http_target("api", "http://api:8000/health"), answered(std::nullopt), true);
  const std::string text = metrics.render();
  EXPECT_TRUE(has_line(text, "probe_http_duration_seconds{phase=\"tls\",target=\"api\"} 0.012"))
      << text;
  EXPECT_EQ(text.find("probe_tls_earliest_cert_expiry_timestamp_seconds{"), std::string::npos)
      << text;
}

TEST(ProbeMetrics, ReloadRemovesPhasesAndExpiry) {
  ProbeMetrics metrics("1", "r");
  metrics.observe(http_target("web", "https://web.example/"), answered(k_not_after), true);
  metrics.observe(http_target("shop", "https://shop.example/"), answered(k_not_after), true);
  metrics.remove_target("web"); // removed by a reload
  const std::string text = metrics.render();
  EXPECT_EQ(text.find("target=\"web\""), std::string::npos) << text;
  EXPECT_TRUE(has_line(
      text, "probe_tls_earliest_cert_expiry_timestamp_seconds{target=\"shop\"} 1800000000"))
      << text;
  EXPECT_TRUE(
      has_line(text, "probe_http_duration_seconds{phase=\"resolve\",target=\"shop\"} 0.0015"))
      << text;
}

TEST(ProbeMetrics, AReloadToPlainHttpDropsTheExpiry) {
  ProbeMetrics metrics("1", "r");
  metrics.observe(http_target("web", "https://web.example/"), answered(k_not_after), true);
  metrics.observe(http_target("web", "http://web.example/"), answered(std::nullopt), true);
  std::string text = metrics.render();
  EXPECT_EQ(text.find("probe_tls_earliest_cert_expiry_timestamp_seconds{"), std::string::npos)
      << text;
  // ... and back to https: it returns with the next certificate.
  metrics.observe(http_target("web", "https://web.example/"), answered(k_not_after + 1h), true);
  text = metrics.render();
  EXPECT_TRUE(
      has_line(text, "probe_tls_earliest_cert_expiry_timestamp_seconds{target=\"web\"} 1800003600"))
      << text;
}

TEST(ProbeMetrics, ATypeChangeDropsThePhases) {
  ProbeMetrics metrics("1", "r");
  metrics.observe(http_target("web", "https://web.example/"), answered(k_not_after), true);
  metrics.observe(make_target("web", config::TargetType::tcp),
                  state_with(checks::CheckStatus::success), true);
  const std::string text = metrics.render();
  EXPECT_EQ(text.find("probe_http_duration_seconds{"), std::string::npos) << text;
  EXPECT_EQ(text.find("probe_tls_earliest_cert_expiry_timestamp_seconds{"), std::string::npos)
      << text;
}

TEST(ProbeMetrics, ReloadGauges) {
  ProbeMetrics metrics("1", "r");
  metrics.record_reload(true, std::chrono::system_clock::time_point(1'700'000'123s));
  metrics.record_reload(false, std::chrono::system_clock::time_point(1'700'000'999s));
  const std::string text = metrics.render();
  EXPECT_TRUE(has_line(text, "probe_config_last_reload_successful 0")) << text;
  EXPECT_TRUE(has_line(text, "probe_config_last_reload_success_timestamp_seconds 1700000123"))
      << text;
}

} // namespace
} // namespace probe::exporters
