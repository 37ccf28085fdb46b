// What makes an HTTP answer healthy is a pure function of (status, body, latency), so it is
// tested here without a socket: the default "any 2xx", an explicit status list, the hint when a
// 3xx is not followed, body_contains, JSON values at JSON pointers (with 1 and 1.0 equal, since
// JSON does not tell them apart), the latency budget, and which expectation wins when several
// fail. The `problem` text is what people read in `probe check` output, so it is pinned exactly.
// The certificate's remaining validity (expect.tls_min_days) takes `now` as data: its boundaries
// are exact instants, not the wall clock.
#include <chrono>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "probe/checks/http_expect.hpp"

namespace probe::checks {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using namespace std::chrono_literals;

const nanoseconds k_fast = milliseconds(5);

config::HttpExpect json_expect(const std::string& pointer, nlohmann::json want) {
  config::HttpExpect expect;
  expect.json.emplace_back(pointer, std::move(want));
  return expect;
}

void expect_ok(const ExpectOutcome& outcome) {
  EXPECT_TRUE(outcome.ok) << outcome.problem;
  EXPECT_EQ(outcome.problem, "");
  EXPECT_EQ(outcome.reason, "");
}

void expect_unmet(const ExpectOutcome& outcome, const std::string& problem,
                  const std::string& reason) {
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.problem, problem);
  EXPECT_EQ(outcome.reason, reason);
}

TEST(EvaluateResponse, DefaultAcceptsAny2xx) {
  const config::HttpExpect expect;
  for (const int status : {200, 201, 204, 299}) {
    expect_ok(evaluate_response(expect, status, "", k_fast));
  }
}

TEST(EvaluateResponse, DefaultRejectsNon2xx) {
  const config::HttpExpect expect;
  expect_unmet(evaluate_response(expect, 503, "", k_fast), "status 503, want 2xx", "status");
  expect_unmet(evaluate_response(expect, 404, "", k_fast), "status 404, want 2xx", "status");
  expect_unmet(evaluate_response(expect, 199, "", k_fast), "status 199, want 2xx", "status");
}

TEST(EvaluateResponse, RedirectMentionsFollowRedirects) {
  const config::HttpExpect expect;
  expect_unmet(evaluate_response(expect, 302, "", k_fast),
               "status 302, want 2xx (redirects are not followed unless follow_redirects: true)",
               "status");
  expect_unmet(evaluate_response(expect, 301, "", k_fast),
               "status 301, want 2xx (redirects are not followed unless follow_redirects: true)",
               "status");
}

TEST(EvaluateResponse, ExplicitStatusListIsExact) {
  config::HttpExpect expect;
  expect.status = {200, 204};
  expect_ok(evaluate_response(expect, 200, "", k_fast));
  expect_ok(evaluate_response(expect, 204, "", k_fast));
  expect_unmet(evaluate_response(expect, 201, "", k_fast), "status 201, want 200|204", "status");
}

TEST(EvaluateResponse, ExplicitStatusListMayAcceptNon2xx) {
  config::HttpExpect expect;
  expect.status = {401};
  expect_ok(evaluate_response(expect, 401, "", k_fast));
  expect_unmet(evaluate_response(expect, 200, "", k_fast), "status 200, want 401", "status");
}

TEST(EvaluateResponse, ExpectedRedirectIsFine) {
  config::HttpExpect expect;
  expect.status = {301, 302};
  expect_ok(evaluate_response(expect, 302, "", k_fast));
  expect_unmet(evaluate_response(expect, 307, "", k_fast),
               "status 307, want 301|302 (redirects are not followed unless follow_redirects: "
               "true)",
               "status");
}

TEST(EvaluateResponse, BodyContains) {
  config::HttpExpect expect;
  expect.body_contains = "\"status\":\"ok\"";
  expect_ok(evaluate_response(expect, 200, R"({"status":"ok","db":"up"})", k_fast));
  expect_unmet(evaluate_response(expect, 200, R"({"status":"degraded"})", k_fast),
               R"(body does not contain ""status":"ok"")", "body");
  expect_unmet(evaluate_response(expect, 200, "", k_fast),
               R"(body does not contain ""status":"ok"")", "body");
}

TEST(EvaluateResponse, BodyContainsLongNeedleIsTruncatedInProblem) {
  config::HttpExpect expect;
  expect.body_contains = std::string(100, 'x');
  expect_unmet(evaluate_response(expect, 200, "short", k_fast),
               "body does not contain \"" + std::string(80, 'x') + "...\"", "body");
}

TEST(EvaluateResponse, StatusIsJudgedBeforeBody) {
  config::HttpExpect expect;
  expect.body_contains = "ok";
  expect_unmet(evaluate_response(expect, 500, "not ok", k_fast), "status 500, want 2xx", "status");
}

TEST(EvaluateResponse, JsonValueMatches) {
  const config::HttpExpect expect = json_expect("/status", "ok");
  expect_ok(evaluate_response(expect, 200, R"({"status": "ok"})", k_fast));
}

TEST(EvaluateResponse, JsonNestedPointerAndArrayIndex) {
  config::HttpExpect expect = json_expect("/checks/0/db", "up");
  expect.json.emplace_back("/a~1b", 1);
  expect_ok(evaluate_response(expect, 200, R"({"checks": [{"db": "up"}], "a/b": 1})", k_fast));
}

TEST(EvaluateResponse, JsonMissingPointer) {
  const config::HttpExpect expect = json_expect("/status", "ok");
  expect_unmet(evaluate_response(expect, 200, R"({"state": "ok"})", k_fast),
               "/status is missing, want \"ok\"", "json");
}

TEST(EvaluateResponse, JsonPointerThroughAScalarIsMissing) {
  const config::HttpExpect expect = json_expect("/status/code", 1);
  expect_unmet(evaluate_response(expect, 200, R"({"status": "ok"})", k_fast),
               "/status/code is missing, want 1", "json");
}

// Found by tests/fuzz/fuzz_http_expect: nlohmann's contains() threw out_of_range for these.
TEST(EvaluateResponse, JsonBadArrayIndexIsMissing) {
  for (const std::string pointer : {"/items/", "/items/99999999999999999999", "/items/1/"}) {
    const config::HttpExpect expect = json_expect(pointer, true);
    expect_unmet(evaluate_response(expect, 200, R"({"items": [1, [2]]})", k_fast),
                 pointer + " is missing, want true", "json");
  }
}

TEST(EvaluateResponse, JsonWrongValue) {
  const config::HttpExpect expect = json_expect("/status", "ok");
  expect_unmet(evaluate_response(expect, 200, R"({"status": "degraded"})", k_fast),
               "/status is \"degraded\", want \"ok\"", "json");
}

TEST(EvaluateResponse, JsonTypesAreCompared) {
  expect_unmet(evaluate_response(json_expect("/ready", true), 200, R"({"ready": "true"})", k_fast),
               "/ready is \"true\", want true", "json");
  expect_unmet(evaluate_response(json_expect("/n", "3"), 200, R"({"n": 3})", k_fast),
               "/n is 3, want \"3\"", "json");
  expect_ok(evaluate_response(json_expect("/ready", true), 200, R"({"ready": true})", k_fast));
  expect_ok(evaluate_response(json_expect("/e", nullptr), 200, R"({"e": null})", k_fast));
}

TEST(EvaluateResponse, JsonNumbersCompareByValue) {
  expect_ok(evaluate_response(json_expect("/n", 1), 200, R"({"n": 1.0})", k_fast));
  expect_ok(evaluate_response(json_expect("/n", 1.0), 200, R"({"n": 1})", k_fast));
  expect_ok(evaluate_response(json_expect("/n", -2), 200, R"({"n": -2.0})", k_fast));
  expect_unmet(evaluate_response(json_expect("/n", 1), 200, R"({"n": 1.5})", k_fast),
               "/n is 1.5, want 1", "json");
}

TEST(EvaluateResponse, JsonWrongValueIsTruncatedInProblem) {
  const std::string long_value(200, 'v');
  expect_unmet(
      evaluate_response(json_expect("/s", "ok"), 200, R"({"s": ")" + long_value + R"("})", k_fast),
      "/s is \"" + std::string(79, 'v') + "..., want \"ok\"", "json");
}

TEST(EvaluateResponse, BodyNotJson) {
  const config::HttpExpect expect = json_expect("/status", "ok");
  expect_unmet(evaluate_response(expect, 200, "<html>ok</html>", k_fast), "body is not valid JSON",
               "json");
  expect_unmet(evaluate_response(expect, 200, "", k_fast), "body is not valid JSON", "json");
}

TEST(EvaluateResponse, FirstUnmetJsonExpectationWins) {
  config::HttpExpect expect = json_expect("/a", 1);
  expect.json.emplace_back("/b", 2);
  expect_unmet(evaluate_response(expect, 200, R"({"a": 1, "b": 3})", k_fast), "/b is 3, want 2",
               "json");
  expect_unmet(evaluate_response(expect, 200, R"({"a": 0, "b": 3})", k_fast), "/a is 0, want 1",
               "json");
}

TEST(EvaluateResponse, MaxLatency) {
  config::HttpExpect expect;
  expect.max_latency = milliseconds(500);
  expect_ok(evaluate_response(expect, 200, "", milliseconds(499)));
  expect_ok(evaluate_response(expect, 200, "", milliseconds(500)));
  expect_unmet(evaluate_response(expect, 200, "", milliseconds(750)), "took 750.0ms, budget 500ms",
               "latency");
  expect_unmet(evaluate_response(expect, 200, "", milliseconds(1'500)), "took 1.50s, budget 500ms",
               "latency");
}

TEST(EvaluateResponse, LatencyIsJudgedAfterContent) {
  config::HttpExpect expect = json_expect("/status", "ok");
  expect.max_latency = milliseconds(10);
  expect_unmet(evaluate_response(expect, 200, R"({"status": "down"})", milliseconds(50)),
               "/status is \"down\", want \"ok\"", "json");
}

TEST(NeedsBody, OnlyForBodyOrJsonExpectations) {
  config::HttpExpect expect;
  EXPECT_FALSE(needs_body(expect));
  expect.status = {200};
  expect.max_latency = milliseconds(100);
  EXPECT_FALSE(needs_body(expect));
  expect.body_contains = "ok";
  EXPECT_TRUE(needs_body(expect));
  EXPECT_TRUE(needs_body(json_expect("/status", "ok")));
  config::HttpExpect empty_needle;
  empty_needle.body_contains = "";
  EXPECT_TRUE(needs_body(empty_needle));
}

// 2026-12-04T12:00:00Z, and certificates that expire some time after it.
const std::chrono::system_clock::time_point k_now(1'796'385'600s);

config::HttpExpect min_days(double days) {
  config::HttpExpect expect;
  expect.tls_min_days = days;
  return expect;
}

TEST(EvaluateTlsExpiry, WithoutTheExpectationAnythingPasses) {
  const config::HttpExpect expect;
  expect_ok(evaluate_tls_expiry(expect, std::nullopt, k_now));
  expect_ok(evaluate_tls_expiry(expect, k_now - 24h, k_now)); // expired, but nobody asked
}

TEST(EvaluateTlsExpiry, ExactlyTheMinimumLeftPassesAndASecondLessFails) {
  expect_ok(evaluate_tls_expiry(min_days(14), k_now + 14 * 24h, k_now));
  expect_ok(evaluate_tls_expiry(min_days(14), k_now + 90 * 24h, k_now));
  expect_unmet(evaluate_tls_expiry(min_days(14), k_now + 14 * 24h - 1s, k_now),
               "certificate expires in 13.9 days (2026-12-18T11:59:59Z), expected at least 14 days",
               "tls_expiry");
}

TEST(EvaluateTlsExpiry, DaysLeftAreRoundedDownNeverUp) {
  expect_unmet(evaluate_tls_expiry(min_days(14), k_now + 60h, k_now),
               "certificate expires in 2.5 days (2026-12-07T00:00:00Z), expected at least 14 days",
               "tls_expiry");
  expect_unmet(evaluate_tls_expiry(min_days(3), k_now + 47h + 59min, k_now),
               "certificate expires in 1.9 days (2026-12-06T11:59:00Z), expected at least 3 days",
               "tls_expiry");
}

TEST(EvaluateTlsExpiry, UnderADayIsShownInHoursAndMinutes) {
  expect_unmet(evaluate_tls_expiry(min_days(1), k_now + 5h + 30min + 20s, k_now),
               "certificate expires in 5h30m (2026-12-04T17:30:20Z), expected at least 1 day",
               "tls_expiry");
  expect_unmet(evaluate_tls_expiry(min_days(0.5), k_now + 59s, k_now),
               "certificate expires in under a minute (2026-12-04T12:00:59Z), expected at least "
               "0.5 days",
               "tls_expiry");
}

TEST(EvaluateTlsExpiry, FractionalMinimum) {
  expect_ok(evaluate_tls_expiry(min_days(0.5), k_now + 12h, k_now));
  expect_unmet(evaluate_tls_expiry(min_days(0.5), k_now + 11h, k_now),
               "certificate expires in 11h (2026-12-04T23:00:00Z), expected at least 0.5 days",
               "tls_expiry");
}

TEST(EvaluateTlsExpiry, ZeroDaysFailsOnlyAnExpiredCertificate) {
  expect_ok(evaluate_tls_expiry(min_days(0), k_now + 1s, k_now));
  expect_ok(evaluate_tls_expiry(min_days(0), k_now, k_now)); // valid through its notAfter
  expect_unmet(evaluate_tls_expiry(min_days(0), k_now - 36h, k_now),
               "certificate expired 1.5 days ago (2026-12-03T00:00:00Z), expected at least 0 days "
               "left",
               "tls_expiry");
}

TEST(EvaluateTlsExpiry, NoExpirySeenFailsWhenTheExpectationIsSet) {
  // An https answer always carries its certificates' expiry; none means it was not read, and
  // the expectation must not pass unjudged.
  expect_unmet(evaluate_tls_expiry(min_days(14), std::nullopt, k_now),
               "no certificate expiry seen, expected at least 14 days left", "tls_expiry");
}

TEST(EvaluateTlsExpiry, ACertificateValidForeverDoesNotOverflow) {
  // notAfter 99991231235959Z ("no well-defined expiration", RFC 5280) clamped to the latest
  // time_point a system_clock can hold.
  expect_ok(
      evaluate_tls_expiry(min_days(3650), std::chrono::system_clock::time_point::max(), k_now));
}

} // namespace
} // namespace probe::checks
