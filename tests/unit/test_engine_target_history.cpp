// A target's history for the status page (engine/target_history.hpp) on a manual clock: results
// land in the minute they happened in, minute boundaries and the day-long ring's wrap empty what
// is older than a day, the hour's and the day's uptime count exactly the results in their
// window, the bar keeps the last 30 results in order, and the memory stays within its bound.
// (That a reload keeps an unchanged target's history and drops a changed one's is pinned in
// test_engine_scheduler, where reloads are driven.)
#include <algorithm>

#include <gtest/gtest.h>

#include "probe/engine/target_history.hpp"
#include "tests/fakes/manual_clock.hpp"

namespace probe::engine {
namespace {

using namespace std::chrono_literals;

checks::CheckResult result(bool ok, std::chrono::milliseconds latency = 10ms) {
  checks::CheckResult r =
      checks::make_result(ok ? checks::CheckStatus::success : checks::CheckStatus::failure, "x");
  r.latency = latency;
  return r;
}

class TargetHistoryTest : public ::testing::Test {
protected:
  // The manual clock moved to the start of a minute, plus `offset`.
  void at_minute_start(std::chrono::seconds offset = 0s) {
    const auto now = m_clock.system_now().time_since_epoch();
    const auto into = now - std::chrono::floor<std::chrono::minutes>(now);
    m_clock.advance(std::chrono::minutes(1) - into + offset);
  }
  void record(bool ok, std::chrono::milliseconds latency = 10ms) {
    m_history.record(result(ok, latency), m_clock.system_now());
  }
  std::chrono::system_clock::time_point now() const { return m_clock.system_now(); }

  fakes::ManualClock m_clock;
  TargetHistory m_history;
};

TEST_F(TargetHistoryTest, ResultsLandInTheMinuteTheyHappenedIn) {
  at_minute_start();
  record(true, 10ms);
  m_clock.advance(59s);
  record(false, 30ms); // 59 s into the same minute
  m_clock.advance(1s);
  record(true, 5ms); // the next minute
  const HistorySummary summary = m_history.summary(now());
  ASSERT_EQ(summary.last_hour.size(), 60U);
  const MinuteBucket& previous = summary.last_hour[58];
  const MinuteBucket& current = summary.last_hour[59];
  EXPECT_EQ(previous.successes, 1U);
  EXPECT_EQ(previous.failures, 1U);
  EXPECT_EQ(previous.latency_sum_us, 40'000U);
  EXPECT_EQ(previous.latency_max_us, 30'000U);
  EXPECT_EQ(current.successes, 1U);
  EXPECT_EQ(current.failures, 0U);
  EXPECT_EQ(current.latency_max_us, 5'000U);
  for (std::size_t i = 0; i < 58; ++i) {
    EXPECT_EQ(summary.last_hour[i].checks(), 0U) << i;
  }
}

TEST_F(TargetHistoryTest, UptimeCountsTheLastHourAndTheLastDay) {
  at_minute_start();
  // Two hours ago: 10 failures. Within the hour: 30 successes and 10 failures.
  for (int i = 0; i < 10; ++i) {
    record(false);
  }
  m_clock.advance(2h);
  for (int i = 0; i < 40; ++i) {
    record(i % 4 != 0);
    m_clock.advance(1min);
  }
  const HistorySummary summary = m_history.summary(now());
  EXPECT_EQ(summary.hour.successes, 30U);
  EXPECT_EQ(summary.hour.failures, 10U);
  EXPECT_EQ(summary.day.successes, 30U);
  EXPECT_EQ(summary.day.failures, 20U);
  EXPECT_EQ(m_history.tally(now(), 60).checks(), 40U);
  EXPECT_EQ(m_history.tally(now(), 24 * 60).checks(), 50U);
  // An hour later with no results: the hour is empty, the day still counts them.
  m_clock.advance(1h);
  const HistorySummary later = m_history.summary(now());
  EXPECT_EQ(later.hour.checks(), 0U);
  EXPECT_EQ(later.day.checks(), 50U);
}

TEST_F(TargetHistoryTest, ADayLaterTheOldMinutesAreGoneAndTheRingWraps) {
  at_minute_start(30s);
  record(false);
  // 23 h 59 min later the failure is still within the day.
  m_clock.advance(23h + 59min);
  record(true);
  EXPECT_EQ(m_history.summary(now()).day.failures, 1U);
  EXPECT_EQ(m_history.summary(now()).day.successes, 1U);
  // One more minute: the failure's minute is a day old and its ring slot now holds this minute.
  m_clock.advance(1min);
  record(true);
  HistorySummary summary = m_history.summary(now());
  EXPECT_EQ(summary.day.failures, 0U);
  EXPECT_EQ(summary.day.successes, 2U);
  EXPECT_EQ(summary.last_hour.back().successes, 1U) << "the wrapped slot starts empty";
  EXPECT_EQ(summary.last_hour.back().failures, 0U);
  // Read a day and a minute after the last result without recording: nothing is in the window.
  m_clock.advance(24h + 1min);
  summary = m_history.summary(now());
  EXPECT_EQ(summary.day.checks(), 0U);
  EXPECT_EQ(summary.hour.checks(), 0U);
  // Three days of silence, then a result: only that one counts.
  m_clock.advance(72h);
  record(false);
  summary = m_history.summary(now());
  EXPECT_EQ(summary.day.failures, 1U);
  EXPECT_EQ(summary.day.successes, 0U);
}

TEST_F(TargetHistoryTest, ThirtyHoursOfResultsEveryTenSecondsAreCountedExactly) {
  at_minute_start();
  const std::int64_t first_minute = minute_of(now());
  // Result k lands in minute first_minute + k / 6; a window of `minutes` up to now holds the
  // results whose minute is at least now's minute - (minutes - 1).
  const auto expected = [&](std::int64_t recorded, std::int64_t minutes) {
    const std::int64_t oldest = minute_of(now()) - first_minute - (minutes - 1);
    return static_cast<std::uint64_t>(recorded - std::clamp<std::int64_t>(6 * oldest, 0, recorded));
  };
  std::int64_t recorded = 0;
  for (int i = 0; i < 6 * 60 * 30; ++i) {
    record(i % 7 != 0);
    ++recorded;
    m_clock.advance(10s);
    if (i % 170 == 0) { // at many offsets into the minute and the ring
      const HistorySummary summary = m_history.summary(now());
      ASSERT_EQ(summary.day.checks(), expected(recorded, 24 * 60)) << "after " << i;
      ASSERT_EQ(summary.hour.checks(), expected(recorded, 60)) << "after " << i;
    }
  }
  EXPECT_EQ(m_history.summary(now()).hour.checks(), 354U) << "59 full minutes, none yet in this";
  EXPECT_EQ(m_history.summary(now()).day.checks(), 1439U * 6);
  EXPECT_EQ(m_history.memory_bytes(), TargetHistory::max_memory_bytes()) << "every hour allocated";
}

TEST_F(TargetHistoryTest, TheBarKeepsTheLast30ResultsOldestFirst) {
  at_minute_start();
  for (int i = 0; i < 35; ++i) {
    record(i >= 33, std::chrono::milliseconds(i));
    m_clock.advance(1s);
  }
  const std::vector<RecentCheck> recent = m_history.summary(now()).recent;
  ASSERT_EQ(recent.size(), TargetHistory::k_recent_checks);
  EXPECT_EQ(recent.front().latency_us, 5'000U) << "results 0 to 4 fell off";
  EXPECT_EQ(recent.back().latency_us, 34'000U);
  EXPECT_EQ(recent.back().status, checks::CheckStatus::success);
  EXPECT_EQ(recent[27].status, checks::CheckStatus::failure);
  EXPECT_LT(recent.front().at, recent.back().at);
}

TEST_F(TargetHistoryTest, AClockSteppedBackJoinsItsMinuteOrStartsAfresh) {
  at_minute_start();
  record(true);
  m_clock.advance(10min);
  record(true);
  // Five minutes back: counted in that minute, within the day.
  m_history.record(result(false), now() - 5min);
  EXPECT_EQ(m_history.summary(now()).hour.failures, 1U);
  EXPECT_EQ(m_history.summary(now()).hour.successes, 2U);
  // Two days back: the history starts again from there.
  const auto past = now() - 48h;
  m_history.record(result(false), past);
  EXPECT_EQ(m_history.summary(past).day.checks(), 1U);
}

TEST_F(TargetHistoryTest, MemoryGrowsAnHourBlockAtATimeUpToItsBound) {
  const std::size_t empty = m_history.memory_bytes();
  EXPECT_EQ(empty, sizeof(TargetHistory));
  at_minute_start();
  record(true);
  EXPECT_EQ(m_history.memory_bytes(), empty + 60 * sizeof(MinuteBucket));
  EXPECT_EQ(sizeof(MinuteBucket), 12U) << "the README's figure is 12 bytes a minute";
  // The README's per-target figure: about 17.5 KiB for a day of minutes and the last 30 checks.
  EXPECT_LE(TargetHistory::max_memory_bytes(), 18U * 1024U);
}

TEST_F(TargetHistoryTest, CountsAndLatencySaturateInsteadOfWrapping) {
  at_minute_start();
  for (int i = 0; i < 70'000; ++i) {
    record(true, 100'000ms);
  }
  const MinuteBucket bucket = m_history.summary(now()).last_hour.back();
  EXPECT_EQ(bucket.successes, 65'535U);
  EXPECT_EQ(bucket.latency_sum_us, 4'294'967'295U);
  EXPECT_EQ(bucket.latency_max_us, 100'000'000U);
  EXPECT_EQ(m_history.summary(now()).day.successes, 65'535U) << "the total matches the buckets";
}

} // namespace
} // namespace probe::engine
