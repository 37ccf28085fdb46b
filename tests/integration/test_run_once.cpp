// engine::run_once over real targets: the round `probe check` and the config-mode readiness
// gate run. What matters is concurrency — one hanging target costs its own timeout and nothing
// more, and it does not delay the others — so the tests run against a silent server and slow
// servers, count the requests the slow server holds at once, and check that results come back
// in input order with the right verdict each. max_parallel and a throwing check are covered
// too: the first bounds how many sockets probe opens at once, the second must not take the
// round down. Time bounds only tell a wait for a timeout from none (tests/support/bounds.hpp).
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "probe/checks/check.hpp"
#include "probe/config/config.hpp"
#include "probe/engine/run_once.hpp"
#include "probe/util/clock.hpp"
#include "tests/fakes/targets.hpp"
#include "tests/standins/http_standin.hpp"
#include "tests/standins/tcp_standin.hpp"
#include "tests/support/bounds.hpp"

namespace probe {
namespace {

using namespace std::chrono_literals;
using checks::CheckStatus;
using Clock = std::chrono::steady_clock;

std::vector<const config::Target*> pointers(const std::vector<config::Target>& targets) {
  std::vector<const config::Target*> out;
  out.reserve(targets.size());
  for (const config::Target& target : targets) {
    out.push_back(&target);
  }
  return out;
}

std::chrono::milliseconds elapsed_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

class RunOnceTest : public ::testing::Test {
protected:
  checks::CheckContext m_context{&util::system_clock()};
};

TEST_F(RunOnceTest, HangingTargetCostsItsTimeoutAndDelaysNoOther) {
  const fakes::HttpStandin api;
  const fakes::HttpStandin frontend;
  const fakes::TcpStandin silent(fakes::TcpMode::hang_after_accept);
  const std::vector<config::Target> targets{
      fakes::http_target("api", api.url("/health"), 1s),
      fakes::http_target("stuck", "http://127.0.0.1:" + std::to_string(silent.port()) + "/health",
                         1s),
      fakes::http_target("frontend", frontend.url("/"), 1s),
      fakes::http_target("version", api.url("/version"), 1s),
  };
  std::vector<engine::TargetCheck> checks = engine::make_checks(pointers(targets), m_context);

  const Clock::time_point start = Clock::now();
  const std::vector<engine::TargetResult> results = engine::run_once(checks);
  const std::chrono::milliseconds wall = elapsed_since(start);

  ASSERT_EQ(results.size(), 4U);
  for (std::size_t i = 0; i < results.size(); ++i) {
    EXPECT_EQ(results[i].target, &targets[i]) << "results out of input order at " << i;
  }
  for (const std::size_t healthy : {0U, 2U, 3U}) {
    const checks::CheckResult& result = results[healthy].result;
    EXPECT_EQ(result.status, CheckStatus::success)
        << targets[healthy].name << ": " << result.detail;
    EXPECT_LT(result.latency, 1s) << targets[healthy].name << " waited for the stuck target";
  }
  EXPECT_EQ(results[1].result.status, CheckStatus::timeout) << results[1].result.detail;
  EXPECT_EQ(results[1].result.reason, "timeout");
  EXPECT_GE(wall, 950ms) << "the stuck target was given up on before its timeout";
  EXPECT_LT(wall, test_support::hang_bound(1s)) << "the round outlasted the stuck target's timeout";
}

TEST_F(RunOnceTest, SlowTargetsRunConcurrently) {
  // Each request is held 2 s: checks started side by side are all held at the same time,
  // checks run one after another never overlap, however slow the machine.
  const fakes::HttpStandin slow(
      fakes::HttpStandinOptions{"127.0.0.1", 0, fakes::HttpMode::slow, "v1", 2s});
  std::vector<config::Target> targets;
  targets.reserve(8);
  for (int i = 0; i < 8; ++i) {
    targets.push_back(fakes::http_target("slow" + std::to_string(i), slow.url("/health"), 10s));
  }
  std::vector<engine::TargetCheck> checks = engine::make_checks(pointers(targets), m_context);

  const std::vector<engine::TargetResult> results = engine::run_once(checks);

  ASSERT_EQ(results.size(), 8U);
  for (const engine::TargetResult& row : results) {
    EXPECT_EQ(row.result.status, CheckStatus::success)
        << row.target->name << ": " << row.result.detail;
  }
  EXPECT_EQ(slow.requests(), 8U);
  EXPECT_EQ(slow.max_in_flight(), 8U) << "the 8 checks did not all run at the same time";
}

TEST_F(RunOnceTest, MaxParallelBoundsConcurrency) {
  const fakes::HttpStandin slow(
      fakes::HttpStandinOptions{"127.0.0.1", 0, fakes::HttpMode::slow, "v1", 200ms});
  std::vector<config::Target> targets;
  targets.reserve(3);
  for (int i = 0; i < 3; ++i) {
    targets.push_back(fakes::http_target("slow" + std::to_string(i), slow.url("/health"), 5s));
  }
  std::vector<engine::TargetCheck> checks = engine::make_checks(pointers(targets), m_context);

  const Clock::time_point start = Clock::now();
  const std::vector<engine::TargetResult> results = engine::run_once(checks, 1);
  const std::chrono::milliseconds wall = elapsed_since(start);

  ASSERT_EQ(results.size(), 3U);
  for (const engine::TargetResult& row : results) {
    EXPECT_EQ(row.result.status, CheckStatus::success) << row.result.detail;
  }
  EXPECT_EQ(slow.max_in_flight(), 1U) << "max_parallel 1 still ran checks side by side";
  EXPECT_GE(wall, 590ms) << "max_parallel 1 still ran checks side by side";
}

// A check that breaks its contract by throwing, as a misbehaving library might.
class ThrowingCheck final : public checks::Check {
public:
  checks::CheckResult run(std::chrono::milliseconds /*timeout*/) override {
    throw std::runtime_error("library exploded");
  }
};

TEST_F(RunOnceTest, ThrowingCheckBecomesAnErrorResultAndOthersStillRun) {
  const fakes::HttpStandin api;
  const std::vector<config::Target> targets{
      fakes::http_target("broken", api.url("/health"), 1s),
      fakes::http_target("api", api.url("/health"), 1s),
  };
  std::vector<engine::TargetCheck> checks;
  checks.push_back(engine::TargetCheck{&targets.front(), std::make_unique<ThrowingCheck>(), {}});
  checks.push_back(
      engine::TargetCheck{&targets.back(), checks::make_check(targets.back(), m_context), {}});

  const std::vector<engine::TargetResult> results = engine::run_once(checks);

  ASSERT_EQ(results.size(), 2U);
  EXPECT_EQ(results[0].result.status, CheckStatus::error);
  EXPECT_EQ(results[0].result.detail, "library exploded");
  EXPECT_EQ(results[1].result.status, CheckStatus::success) << results[1].result.detail;
}

TEST_F(RunOnceTest, EmptyRoundReturnsNoResults) {
  std::vector<engine::TargetCheck> checks;

  EXPECT_TRUE(engine::run_once(checks).empty());
}

} // namespace
} // namespace probe
