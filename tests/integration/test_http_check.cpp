// The HTTP check against a real server on loopback (HttpStandin) and raw sockets that
// misbehave (TcpStandin): every verdict a health endpoint can earn — passes, wrong status,
// wrong body, wrong JSON, redirect, too slow, trickling, enormous, refused, silent — with the
// reason label and detail line an operator will read, and the time the check took. The time
// bounds are the point: a check that overruns its timeout stalls `probe check`, the readiness
// gate and the scheduler, so "gives up at its timeout, and does not hang on a server that
// would hold it for minutes" is asserted, not assumed — with ten times the timeout as the
// bound, so that a loaded machine cannot fail it (tests/support/bounds.hpp; how close to the
// timeout a check ends is a figure for tests/bench/run.sh). The check is built through
// make_check() from a config::Target, with a real Watchdog, exactly as `probe check` builds it.
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>
#include <sys/resource.h>

#include "probe/checks/check.hpp"
#include "probe/checks/http_check.hpp"
#include "probe/config/config.hpp"
#include "probe/util/clock.hpp"
#include "tests/fakes/targets.hpp"
#include "tests/standins/http_standin.hpp"
#include "tests/standins/tcp_standin.hpp"
#include "tests/support/bounds.hpp"
#include "tests/support/sanitizers.hpp"

namespace probe {
namespace {

using namespace std::chrono_literals;
using checks::CheckResult;
using checks::CheckStatus;
using fakes::HttpMode;
using test_support::hang_bound;
using Clock = std::chrono::steady_clock;

config::Target http_target(const std::string& url, std::chrono::milliseconds timeout = 1s) {
  return fakes::http_target("api", url, timeout);
}

config::HttpTarget& http_of(config::Target& target) {
  return std::get<config::HttpTarget>(target.spec);
}

std::chrono::milliseconds elapsed_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

// Peak resident set size of this process so far, in KiB.
long peak_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

class HttpCheckTest : public ::testing::Test {
protected:
  // Runs a check built for `target` once and records how long run() took in `m_took`.
  CheckResult run(const config::Target& target) {
    const std::unique_ptr<checks::Check> check = checks::make_check(target, m_context);
    return run(*check, target.timeout);
  }

  CheckResult run(checks::Check& check, std::chrono::milliseconds timeout) {
    const Clock::time_point start = Clock::now();
    CheckResult result = check.run(timeout);
    m_took = elapsed_since(start);
    return result;
  }

  checks::CheckContext m_context{&util::system_clock()};
  std::unique_ptr<fakes::HttpStandin> m_standin = std::make_unique<fakes::HttpStandin>();
  std::chrono::milliseconds m_took{0};
};

TEST_F(HttpCheckTest, HealthyEndpointPassesEveryExpectation) {
  config::Target target = http_target(m_standin->url("/health"));
  http_of(target).expect.status = {200};
  http_of(target).expect.body_contains = "\"ok\"";
  http_of(target).expect.json = {{"/status", "ok"}, {"/version", "v1"}};

  const CheckResult result = run(target);

  EXPECT_EQ(result.status, CheckStatus::success) << result.detail;
  EXPECT_EQ(result.http_status, 200);
  EXPECT_EQ(result.reason, "");
  EXPECT_EQ(result.detail, "GET /health -> 200");
  EXPECT_GT(result.latency.count(), 0);
  EXPECT_EQ(m_standin->requests(), 1U);
}

TEST_F(HttpCheckTest, FrontPageWithNoExpectationsPassesOn2xx) {
  const CheckResult result = run(http_target(m_standin->url("/")));

  EXPECT_EQ(result.status, CheckStatus::success) << result.detail;
  EXPECT_EQ(result.http_status, 200);
}

TEST_F(HttpCheckTest, ServerErrorFailsWithStatusReason) {
  m_standin->set_mode(HttpMode::error_500);

  const CheckResult result = run(http_target(m_standin->url("/health")));

  EXPECT_EQ(result.status, CheckStatus::failure);
  EXPECT_EQ(result.reason, "status");
  EXPECT_NE(result.detail.find("GET /health -> 500"), std::string::npos) << result.detail;
  EXPECT_EQ(result.http_status, 500);
}

TEST_F(HttpCheckTest, WrongBodyFailsBodyContains) {
  m_standin->set_mode(HttpMode::wrong_body);
  config::Target target = http_target(m_standin->url("/health"));
  http_of(target).expect.body_contains = "\"ok\"";

  const CheckResult result = run(target);

  EXPECT_EQ(result.status, CheckStatus::failure);
  EXPECT_EQ(result.reason, "body");
  EXPECT_EQ(result.http_status, 200);
  EXPECT_NE(result.detail.find("body does not contain"), std::string::npos) << result.detail;
}

TEST_F(HttpCheckTest, JsonPointerMismatchNamesThePointerAndBothValues) {
  m_standin->set_mode(HttpMode::wrong_body);
  config::Target target = http_target(m_standin->url("/health"));
  http_of(target).expect.json = {{"/status", "ok"}};

  const CheckResult result = run(target);

  EXPECT_EQ(result.status, CheckStatus::failure);
  EXPECT_EQ(result.reason, "json");
  EXPECT_NE(result.detail.find("/status"), std::string::npos) << result.detail;
  EXPECT_NE(result.detail.find("\"degraded\""), std::string::npos) << result.detail;
  EXPECT_NE(result.detail.find("\"ok\""), std::string::npos) << result.detail;
}

TEST_F(HttpCheckTest, MissingJsonPointerFails) {
  config::Target target = http_target(m_standin->url("/health"));
  http_of(target).expect.json = {{"/database/ok", true}};

  const CheckResult result = run(target);

  EXPECT_EQ(result.status, CheckStatus::failure);
  EXPECT_EQ(result.reason, "json");
  EXPECT_NE(result.detail.find("/database/ok is missing"), std::string::npos) << result.detail;
}

TEST_F(HttpCheckTest, BadJsonFailsAsJson) {
  m_standin->set_mode(HttpMode::bad_json);
  config::Target target = http_target(m_standin->url("/health"));
  http_of(target).expect.json = {{"/status", "ok"}};

  const CheckResult result = run(target);

  EXPECT_EQ(result.status, CheckStatus::failure);
  EXPECT_EQ(result.reason, "json");
  EXPECT_NE(result.detail.find("not valid JSON"), std::string::npos) << result.detail;
}

TEST_F(HttpCheckTest, RedirectIsNotFollowedByDefault) {
  m_standin->set_mode(HttpMode::redirect);

  const CheckResult result = run(http_target(m_standin->url("/health")));

  EXPECT_EQ(result.status, CheckStatus::failure);
  EXPECT_EQ(result.reason, "status");
  EXPECT_EQ(result.http_status, 302);
  EXPECT_NE(result.detail.find("follow_redirects"), std::string::npos) << result.detail;
  EXPECT_EQ(m_standin->requests(), 1U);
}

TEST_F(HttpCheckTest, RedirectIsFollowedWhenAsked) {
  m_standin->set_mode(HttpMode::redirect);
  config::Target target = http_target(m_standin->url("/health"));
  http_of(target).follow_redirects = true;
  http_of(target).expect.status = {200};

  const CheckResult result = run(target);

  EXPECT_EQ(result.status, CheckStatus::success) << result.detail;
  EXPECT_EQ(result.http_status, 200);
  EXPECT_EQ(m_standin->requests(), 2U);
  ASSERT_TRUE(m_standin->last_request().has_value());
  EXPECT_EQ(m_standin->last_request()->path, "/elsewhere");
}

TEST_F(HttpCheckTest, SlowServerTimesOutWithinTheTimeout) {
  m_standin->set_mode(HttpMode::slow);
  m_standin->set_delay(60s);

  const CheckResult result = run(http_target(m_standin->url("/health"), 300ms));

  EXPECT_EQ(result.status, CheckStatus::timeout) << result.detail;
  EXPECT_EQ(result.reason, "timeout");
  EXPECT_NE(result.detail.find("within 300ms"), std::string::npos) << result.detail;
  EXPECT_GE(m_took, 280ms) << "gave up before the timeout";
  EXPECT_LT(m_took, hang_bound(300ms)) << "waited for the slow answer";
}

TEST_F(HttpCheckTest, TricklingServerIsCutAtTheDeadline) {
  // Every read gets a byte well within the read timeout, so only the watchdog can stop this.
  m_standin->set_mode(HttpMode::trickle);

  const CheckResult result = run(http_target(m_standin->url("/health"), 500ms));

  EXPECT_EQ(result.status, CheckStatus::timeout) << result.detail;
  EXPECT_EQ(result.reason, "timeout");
  EXPECT_GE(m_took, 480ms);
  EXPECT_LT(m_took, hang_bound(500ms)) << "followed the trickle";
}

TEST_F(HttpCheckTest, ServerTricklingItsHeadersIsCutByTheWatchdog) {
  // No body callback runs while headers arrive, and each byte resets the read timeout: without
  // the watchdog this check would take the stand-in's full ten minutes.
  const fakes::TcpStandin trickler(fakes::TcpMode::trickle_headers);

  const CheckResult result =
      run(http_target("http://127.0.0.1:" + std::to_string(trickler.port()) + "/health", 500ms));

  EXPECT_EQ(result.status, CheckStatus::timeout) << result.detail;
  EXPECT_EQ(result.reason, "timeout");
  EXPECT_GE(m_took, 480ms);
  EXPECT_LT(m_took, hang_bound(500ms)) << "followed the trickle";
}

TEST_F(HttpCheckTest, TricklingServerWithBodyExpectationIsCutAtTheDeadline) {
  m_standin->set_mode(HttpMode::trickle);
  config::Target target = http_target(m_standin->url("/health"), 500ms);
  http_of(target).expect.body_contains = "ok";

  const CheckResult result = run(target);

  EXPECT_EQ(result.status, CheckStatus::timeout) << result.detail;
  EXPECT_LT(m_took, hang_bound(500ms)) << "followed the trickle";
}

TEST_F(HttpCheckTest, HugeBodyWithBodyExpectationFailsAndStaysBounded) {
  config::Target target = http_target(m_standin->url("/health"), 2s);
  http_of(target).expect.body_contains = "ok";
  // One run first: the process's first check initialises libcurl and OpenSSL (a megabyte or
  // two, once), which is not what this bounds.
  ASSERT_EQ(run(target).status, CheckStatus::success);
  m_standin->set_mode(HttpMode::huge_body);
  const long rss_before = peak_rss_kib();

  const CheckResult result = run(target);

  EXPECT_EQ(result.status, CheckStatus::failure) << result.detail;
  EXPECT_EQ(result.reason, "body_size");
  EXPECT_NE(result.detail.find("larger than 1 MiB"), std::string::npos) << result.detail;
  // Reading the whole 5 MiB (let alone copies of it) would raise the peak by megabytes.
  if (!probe::test_support::k_sanitized) {
    EXPECT_LT(peak_rss_kib() - rss_before, 3 * 1024);
  }
}

TEST_F(HttpCheckTest, HugeBodyWithoutBodyExpectationsPassesOnStatus) {
  m_standin->set_mode(HttpMode::huge_body);
  const config::Target target = http_target(m_standin->url("/health"), 2s);
  const std::unique_ptr<checks::Check> check = checks::make_check(target, m_context);

  const CheckResult first = run(*check, target.timeout);
  const CheckResult second = run(*check, target.timeout); // the cut connection is not reused

  EXPECT_EQ(first.status, CheckStatus::success) << first.detail;
  EXPECT_EQ(first.http_status, 200);
  EXPECT_EQ(second.status, CheckStatus::success) << second.detail;
  EXPECT_EQ(m_standin->requests(), 2U);
}

TEST_F(HttpCheckTest, ClosedPortIsConnectionRefusedAtOnce) {
  const int port = fakes::closed_port();

  const CheckResult result =
      run(http_target("http://127.0.0.1:" + std::to_string(port) + "/health", 2s));

  EXPECT_EQ(result.status, CheckStatus::failure) << result.detail;
  EXPECT_EQ(result.reason, "connection_refused");
  EXPECT_FALSE(result.http_status.has_value());
  EXPECT_LT(m_took, 2s) << "a refused connection waited for the timeout";
}

TEST_F(HttpCheckTest, UnknownHostFailsAsDnsLikeTheTcpCheck) {
  // In Compose a stopped service's name stops resolving: the most common "api is down".
  const CheckResult result = run(http_target("http://no-such-target.invalid:8000/health", 2s));

  EXPECT_EQ(result.status, CheckStatus::failure) << result.detail;
  EXPECT_EQ(result.reason, "dns") << result.detail;
  EXPECT_NE(result.detail.find("no-such-target.invalid"), std::string::npos) << result.detail;
}

TEST_F(HttpCheckTest, ServerThatAcceptsAndNeverAnswersTimesOut) {
  const fakes::TcpStandin silent(fakes::TcpMode::hang_after_accept);

  const CheckResult result =
      run(http_target("http://127.0.0.1:" + std::to_string(silent.port()) + "/health", 300ms));

  EXPECT_EQ(result.status, CheckStatus::timeout) << result.detail;
  EXPECT_EQ(result.reason, "timeout");
  EXPECT_GE(m_took, 280ms);
  EXPECT_LT(m_took, hang_bound(300ms)) << "waited for a server that never answers";
  EXPECT_EQ(silent.accepted(), 1U);
}

TEST_F(HttpCheckTest, ConnectionResetFailsAsTransportNotTimeout) {
  const fakes::TcpStandin resetting(fakes::TcpMode::reset);

  const CheckResult result =
      run(http_target("http://127.0.0.1:" + std::to_string(resetting.port()) + "/health", 2s));

  // The reset can land during connect or during the read, so which label it earns depends on
  // timing; what must hold is that it is a prompt failure, never a timeout.
  EXPECT_EQ(result.status, CheckStatus::failure) << result.detail;
  // "connect": the connection failed, yet a second connect for the diagnosis was accepted.
  EXPECT_TRUE(result.reason == "transport" || result.reason == "connection_refused" ||
              result.reason == "connect")
      << result.reason;
  EXPECT_FALSE(result.http_status.has_value());
  EXPECT_LT(m_took, 2s) << "a reset waited for the timeout";
}

TEST_F(HttpCheckTest, AnswerSlowerThanMaxLatencyFails) {
  m_standin->set_mode(HttpMode::slow);
  m_standin->set_delay(200ms);
  config::Target target = http_target(m_standin->url("/health"), 2s);
  http_of(target).expect.max_latency = 50ms;

  const CheckResult result = run(target);

  EXPECT_EQ(result.status, CheckStatus::failure) << result.detail;
  EXPECT_EQ(result.reason, "latency");
  EXPECT_EQ(result.http_status, 200);
  EXPECT_NE(result.detail.find("budget 50ms"), std::string::npos) << result.detail;
  EXPECT_GE(result.latency, 200ms);
}

TEST_F(HttpCheckTest, AnswerWithinMaxLatencyPasses) {
  config::Target target = http_target(m_standin->url("/health"), 10s);
  http_of(target).expect.max_latency = 5s; // a prompt answer, however loaded the machine

  const CheckResult result = run(target);

  EXPECT_EQ(result.status, CheckStatus::success) << result.detail;
}

TEST_F(HttpCheckTest, OneCheckKeepsItsConnectionAliveAndSurvivesARestart) {
  const config::Target target = http_target(m_standin->url("/health"), 1s);
  const std::unique_ptr<checks::Check> check = checks::make_check(target, m_context);

  int passed = 0;
  for (int i = 0; i < 20; ++i) {
    passed += run(*check, target.timeout).ok() ? 1 : 0;
  }
  EXPECT_EQ(passed, 20);
  EXPECT_EQ(m_standin->requests(), 20U);
  EXPECT_EQ(m_standin->connections(), 1U) << "every run opened a new connection";

  // The kept-alive connection dies with the server; the check must notice and reconnect.
  const int port = m_standin->port();
  const Clock::time_point stopping = Clock::now();
  m_standin.reset();
  EXPECT_LT(elapsed_since(stopping), 10s) << "stand-in took too long to stop";
  m_standin = std::make_unique<fakes::HttpStandin>(
      fakes::HttpStandinOptions{"127.0.0.1", port, HttpMode::error_500, "v2", 1s});

  const CheckResult after_restart = run(*check, target.timeout);
  EXPECT_EQ(after_restart.status, CheckStatus::failure) << after_restart.detail;
  EXPECT_EQ(after_restart.http_status, 500) << after_restart.detail;

  m_standin->set_mode(HttpMode::healthy);
  const CheckResult healthy_again = run(*check, target.timeout);
  EXPECT_EQ(healthy_again.status, CheckStatus::success) << healthy_again.detail;
  EXPECT_EQ(m_standin->requests(), 2U);
}

TEST_F(HttpCheckTest, ConfiguredMethodHeadersAndBodyAreSent) {
  config::Target target = http_target(m_standin->url("/health"));
  http_of(target).method = "POST";
  http_of(target).headers = {{"X-Probe-Token", "abc123"}, {"Accept", "application/json"}};
  http_of(target).body = R"({"ping":1})";

  const CheckResult result = run(target);

  EXPECT_EQ(result.status, CheckStatus::success) << result.detail;
  EXPECT_EQ(result.detail, "POST /health -> 200");
  const std::optional<fakes::RecordedRequest> seen = m_standin->last_request();
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->method, "POST");
  EXPECT_EQ(seen->path, "/health");
  EXPECT_EQ(seen->header("x-probe-token"), "abc123");
  EXPECT_EQ(seen->header("Accept"), "application/json");
  EXPECT_EQ(seen->body, R"({"ping":1})");
  ASSERT_TRUE(seen->header("User-Agent").has_value());
  EXPECT_EQ(seen->header("User-Agent")->rfind("probe/", 0), 0U) << *seen->header("User-Agent");
}

TEST_F(HttpCheckTest, HeadRequestPassesOnStatusAlone) {
  config::Target target = http_target(m_standin->url("/health"));
  http_of(target).method = "HEAD";

  const CheckResult result = run(target);

  EXPECT_EQ(result.status, CheckStatus::success) << result.detail;
  ASSERT_TRUE(m_standin->last_request().has_value());
  EXPECT_EQ(m_standin->last_request()->method, "HEAD");
}

TEST_F(HttpCheckTest, QueryStringIsPartOfThePath) {
  const CheckResult result = run(http_target(m_standin->url("/health?verbose=1")));

  EXPECT_EQ(result.status, CheckStatus::success) << result.detail;
  // Sent as written; shown with its values masked (they are often API keys: issue 12, item 13).
  EXPECT_EQ(result.detail, "GET /health?verbose=*** -> 200");
  ASSERT_TRUE(m_standin->last_request().has_value());
  EXPECT_EQ(m_standin->last_request()->path, "/health");
}

// The stand-in's own contract, which the deploy and gate tests lean on.

TEST_F(HttpCheckTest, StandinVersionShowsInHealthAndBadVersionIsUnhealthy) {
  config::Target target = http_target(m_standin->url("/health"));
  http_of(target).expect.json = {{"/version", "v2"}};

  m_standin->set_version("v2");
  const CheckResult good = run(target);
  m_standin->set_version("bad");
  const CheckResult bad = run(target);

  EXPECT_EQ(good.status, CheckStatus::success) << good.detail;
  EXPECT_EQ(bad.status, CheckStatus::failure);
  EXPECT_EQ(bad.http_status, 500);
}

TEST_F(HttpCheckTest, StandinOnAFixedPortRefusesAPortInUse) {
  // A second server sharing the port would answer half the checks: it must fail instead.
  EXPECT_THROW(fakes::HttpStandin(fakes::HttpStandinOptions{"127.0.0.1", m_standin->port()}),
               std::runtime_error);
}

TEST_F(HttpCheckTest, StandinStopsPromptlyWhileAHandlerSleeps) {
  m_standin->set_mode(HttpMode::slow);
  m_standin->set_delay(120s);
  const CheckResult result = run(http_target(m_standin->url("/health"), 200ms));
  ASSERT_EQ(result.status, CheckStatus::timeout) << result.detail;

  const Clock::time_point stopping = Clock::now();
  m_standin.reset();

  EXPECT_LT(elapsed_since(stopping), 10s) << "the stand-in waited for its sleeping handler";
}

} // namespace
} // namespace probe
