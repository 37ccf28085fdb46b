// The scheduler's metrics in the exposition: probe_check_lag_seconds, probe_checks_skipped_total
// (both reasons from the first result, so increase() sees the first skip) and
// probe_check_interval_seconds, exact names, types and labels; skips add up; a removed target
// leaves none of them behind.
#include <gtest/gtest.h>

#include "exporters/metrics.hpp"
#include "tests/support/text_match.hpp"

namespace probe::exporters {
namespace {

using namespace std::chrono_literals;

config::Target make_target(const std::string& name) {
  config::Target target;
  target.name = name;
  target.type = config::TargetType::http;
  target.interval = 10s;
  return target;
}

TEST(ProbeMetricsTiming, LagSkippedRunsAndIntervalPerTarget) {
  ProbeMetrics metrics("1.2.3", "abc");
  const config::Target api = make_target("api");
  metrics.observe_timing(api, engine::RunTiming{});
  std::string text = metrics.render();
  for (const char* line : {
           "# TYPE probe_check_lag_seconds gauge",
           "probe_check_lag_seconds{target=\"api\"} 0",
           "# TYPE probe_checks_skipped_total counter",
           "probe_checks_skipped_total{reason=\"saturated\",target=\"api\"} 0",
           "probe_checks_skipped_total{reason=\"in_flight\",target=\"api\"} 0",
           "# TYPE probe_check_interval_seconds gauge",
           "probe_check_interval_seconds{target=\"api\"} 10",
       }) {
    EXPECT_TRUE(has_line(text, line)) << "missing: " << line << "\n" << text;
  }

  metrics.observe_timing(api, engine::RunTiming{12500ms, 1, 0});
  metrics.observe_timing(api, engine::RunTiming{2500ms, 0, 2});
  metrics.observe_timing(api, engine::RunTiming{12s, 1, 1});
  text = metrics.render();
  for (const char* line : {
           "probe_check_lag_seconds{target=\"api\"} 12",
           "probe_checks_skipped_total{reason=\"saturated\",target=\"api\"} 2",
           "probe_checks_skipped_total{reason=\"in_flight\",target=\"api\"} 3",
       }) {
    EXPECT_TRUE(has_line(text, line)) << "missing: " << line << "\n" << text;
  }
}

TEST(ProbeMetricsTiming, ARemovedTargetLeavesNoTimingSeries) {
  ProbeMetrics metrics("1.2.3", "abc");
  metrics.observe_timing(make_target("gone"), engine::RunTiming{1s, 1, 1});
  metrics.observe_timing(make_target("stays"), engine::RunTiming{});
  metrics.remove_target("gone");
  const std::string text = metrics.render();
  EXPECT_EQ(text.find("\"gone\""), std::string::npos) << text;
  EXPECT_TRUE(has_line(text, "probe_check_lag_seconds{target=\"stays\"} 0")) << text;
}

} // namespace
} // namespace probe::exporters
