// The gate's account of itself and the sidecar client's pure parts: what `deploy verify` and
// the audit log name as failing (only targets that failed, with their error — never a passing
// target's success text; issue 17), how a --url is read (a pasted /status or /ready is the same
// sidecar; issue 16), and the server's own error text passed through.
#include <gtest/gtest.h>

#include "probe/engine/gate.hpp"
#include "probe/engine/sidecar_client.hpp"

namespace probe::engine {
namespace {

TEST(GateFailing, NamesOnlyTargetsThatFailedWithTheirError) {
  GateTracker tracker({{"api", true}, {"db", true}, {"bot", true}, {"cache", false}}, 3);
  tracker.observe("api", false, "GET /health -> 500");
  tracker.observe("db", true, "SELECT 1 -> 1 row(s)"); // 1/3, passing: not a failure
  tracker.observe("cache", false, "connect refused");  // non-critical: never holds the gate
  EXPECT_EQ(tracker.failing(), (std::vector<std::pair<std::string, std::string>>{
                                   {"api", "GET /health -> 500"}, {"bot", "never checked"}}));
}

TEST(GateFailing, TargetsStillBuildingTheirStreakAreNamedWithoutSuccessText) {
  GateTracker tracker({{"api", true}, {"db", true}}, 3);
  for (int i = 0; i < 3; ++i) {
    tracker.observe("api", true, "GET /health -> 200");
  }
  tracker.observe("db", true, "SELECT 1 -> 1 row(s)");
  tracker.observe("db", true, "SELECT 1 -> 1 row(s)");
  EXPECT_EQ(tracker.failing(), (std::vector<std::pair<std::string, std::string>>{
                                   {"db", "2/3 passes in a row when the gate ended"}}));
  tracker.observe("db", true, "SELECT 1 -> 1 row(s)");
  EXPECT_TRUE(tracker.failing().empty());
}

TEST(GateDown, TheSidecarsDownStateCountsInUrlMode) {
  GateTracker tracker({{"api", true}}, 1);
  tracker.set_streak("api", 0, false, "GET /health -> 500", true);
  ASSERT_EQ(tracker.down().size(), 1U);
  EXPECT_EQ(tracker.down()[0]->name, "api");
}

std::string normalised(std::string_view url) {
  std::string error;
  const std::optional<std::string> base = normalise_sidecar_url(url, &error);
  return base ? *base : "error: " + error;
}

TEST(SidecarUrl, APastedEndpointOrSlashIsTheSameSidecar) {
  EXPECT_EQ(normalised("http://probe:9464"), "http://probe:9464");
  EXPECT_EQ(normalised("http://probe:9464/"), "http://probe:9464");
  EXPECT_EQ(normalised("http://probe:9464/status"), "http://probe:9464");
  EXPECT_EQ(normalised("http://probe:9464/status/"), "http://probe:9464");
  EXPECT_EQ(normalised("http://probe:9464/ready"), "http://probe:9464");
  EXPECT_EQ(normalised("https://ops.example/probe/deploys"), "https://ops.example/probe");
  EXPECT_EQ(normalised("https://ops.example/probe"), "https://ops.example/probe");
  EXPECT_EQ(normalised(" http://127.0.0.1:9464 "), "http://127.0.0.1:9464");
}

TEST(SidecarUrl, WhatCannotBeASidecarIsRefused) {
  EXPECT_EQ(normalised("http://probe:9464/status?x=1"),
            "error: give the sidecar's base URL (e.g. http://probe:9464), without a query or "
            "fragment");
  EXPECT_EQ(normalised("ftp://probe").rfind("error: ", 0), 0U);
  EXPECT_EQ(normalised("probe:9464").rfind("error: ", 0), 0U);
}

TEST(SidecarReason, TheServersErrorTextIsPassedThroughSafely) {
  EXPECT_EQ(server_reason(R"({"error": "limit: a whole number from 1 to 1000"})"),
            "limit: a whole number from 1 to 1000");
  EXPECT_EQ(server_reason("  Bad Gateway\n"), "Bad Gateway");
  EXPECT_EQ(server_reason(""), "");
  EXPECT_EQ(server_reason(R"({"error": "x\u001b[2Jy"})"), "x\\x1b[2Jy");
  EXPECT_LE(server_reason(std::string(5000, 'a')).size(), 320U);
}

TEST(SidecarRetries, RetryableFailuresAreRetriedForTheGraceOnly) {
  int calls = 0;
  std::vector<std::string> heard;
  const SidecarAnswer refused = SidecarClient::with_retries(
      [&] {
        ++calls;
        SidecarAnswer answer;
        answer.problem = "GET http://x/status: connection refused";
        answer.retryable = true;
        return answer;
      },
      std::chrono::milliseconds(0), [&](const std::string& problem) { heard.push_back(problem); });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(heard, (std::vector<std::string>{"GET http://x/status: connection refused"}));
  EXPECT_EQ(refused.problem, "GET http://x/status: connection refused (retried for 0s)");

  calls = 0;
  const SidecarAnswer not_found = SidecarClient::with_retries(
      [&] {
        ++calls;
        SidecarAnswer answer;
        answer.status = 404;
        answer.problem = "GET http://x/status: 404";
        return answer;
      },
      std::chrono::hours(1), {});
  EXPECT_EQ(calls, 1); // a 404 is not retried, however long the grace
  EXPECT_EQ(not_found.problem, "GET http://x/status: 404");

  calls = 0;
  const SidecarAnswer recovered = SidecarClient::with_retries(
      [&] {
        SidecarAnswer answer;
        answer.status = ++calls < 3 ? 0 : 200;
        answer.retryable = answer.status == 0;
        return answer;
      },
      std::chrono::hours(1), {});
  EXPECT_EQ(calls, 3);
  EXPECT_TRUE(recovered.ok());
}

} // namespace
} // namespace probe::engine
