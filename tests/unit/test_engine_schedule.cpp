// The fixed-rate arithmetic on time points set by hand (no thread, no sleep): how far first runs
// are spread, where the next run goes, how late a run started, and which due runs were skipped
// and why.
#include <gtest/gtest.h>

#include "probe/engine/schedule.hpp"

namespace probe::engine {
namespace {

using namespace std::chrono_literals;
using TimePoint = std::chrono::steady_clock::time_point;

const TimePoint k_t0 = TimePoint{} + 1000h; // any fixed moment

TEST(Schedule, FirstRunsAreSpreadOverATenthOfTheIntervalAtMostOneSecond) {
  EXPECT_EQ(first_run_spread(0ms), 0ms);
  EXPECT_EQ(first_run_spread(9ms), 0ms) << "whole milliseconds, rounded down";
  EXPECT_EQ(first_run_spread(55ms), 5ms);
  EXPECT_EQ(first_run_spread(100ms), 10ms);
  EXPECT_EQ(first_run_spread(1s), 100ms);
  EXPECT_EQ(first_run_spread(10s), 1s);
  // Many targets: at least 100 us of the loop each, never past the interval.
  EXPECT_EQ(first_run_spread(1s, 1000), 100ms) << "a tenth of the interval is enough";
  EXPECT_EQ(first_run_spread(1s, 5000), 500ms);
  EXPECT_EQ(first_run_spread(1s, 10000), 1s);
  EXPECT_EQ(first_run_spread(1s, 50000), 1s) << "never past the interval";
  EXPECT_EQ(first_run_spread(10s, 50000), 5s);
  EXPECT_EQ(first_run_spread(10001ms), 1s) << "capped";
  EXPECT_EQ(first_run_spread(1h), 1s);
  EXPECT_EQ(first_run_spread(-5s), 0ms) << "never negative";
}

TEST(Schedule, ARunOnTimeKeepsThePhase) {
  const NextRun next = next_run(k_t0, 1s, k_t0, k_t0 + 100ms);
  EXPECT_EQ(next.due, k_t0 + 1s);
  EXPECT_EQ(next.timing.lag, 0ns);
  EXPECT_EQ(next.timing.skipped(), 0U);
}

TEST(Schedule, ALateStartIsLagNotASkip) {
  const NextRun next = next_run(k_t0, 1s, k_t0 + 300ms, k_t0 + 800ms);
  EXPECT_EQ(next.due, k_t0 + 1s) << "the phase is kept: no drift by the lag";
  EXPECT_EQ(next.timing.lag, 300ms);
  EXPECT_EQ(next.timing.skipped(), 0U);
}

TEST(Schedule, RunsDueWhileTheCheckRanAreSkippedAsInFlight) {
  const NextRun next = next_run(k_t0, 1s, k_t0, k_t0 + 2500ms);
  EXPECT_EQ(next.due, k_t0 + 3s) << "no burst: the next run is the first due after it ended";
  EXPECT_EQ(next.timing.skipped_in_flight, 2U);
  EXPECT_EQ(next.timing.skipped_saturated, 0U);
}

TEST(Schedule, RunsDueWhileWaitingForAWorkerAreSkippedAsSaturated) {
  const NextRun next = next_run(k_t0, 1s, k_t0 + 2200ms, k_t0 + 2700ms);
  EXPECT_EQ(next.due, k_t0 + 3s);
  EXPECT_EQ(next.timing.lag, 2200ms);
  EXPECT_EQ(next.timing.skipped_saturated, 2U);
  EXPECT_EQ(next.timing.skipped_in_flight, 0U);
}

TEST(Schedule, AWaitAndALongRunCountEachSkipOnce) {
  const NextRun next = next_run(k_t0, 1s, k_t0 + 1500ms, k_t0 + 3200ms);
  EXPECT_EQ(next.due, k_t0 + 4s);
  EXPECT_EQ(next.timing.lag, 1500ms);
  EXPECT_EQ(next.timing.skipped_saturated, 1U); // due at +1s, not started yet
  EXPECT_EQ(next.timing.skipped_in_flight, 2U); // due at +2s and +3s, running
  EXPECT_EQ(next.timing.skipped(), 3U);
}

TEST(Schedule, ADueTimeReachedExactlyIsMissed) {
  // A run due at the very moment the previous one ends is not started late: it is skipped.
  EXPECT_EQ(next_run(k_t0, 1s, k_t0, k_t0 + 1s).due, k_t0 + 2s);
  EXPECT_EQ(next_run(k_t0, 1s, k_t0, k_t0 + 1s).timing.skipped_in_flight, 1U);
  EXPECT_EQ(next_run(k_t0, 1s, k_t0 + 1s, k_t0 + 1s).timing.skipped_saturated, 1U);
}

TEST(Schedule, ClocksOutOfOrderGiveNoNegativeLag) {
  const NextRun next = next_run(k_t0, 1s, k_t0 - 5ms, k_t0 - 10ms);
  EXPECT_EQ(next.due, k_t0 + 1s);
  EXPECT_EQ(next.timing.lag, 0ns);
  EXPECT_EQ(next.timing.skipped(), 0U);
}

TEST(Schedule, OverManyRunsEveryDueTimeIsRunOrCountedSkipped) {
  // A target at 100 ms whose runs start 0-250 ms late and take 0-180 ms: over the whole
  // sequence runs + skipped = due times passed, and every due time is on the original phase.
  TimePoint due = k_t0;
  std::uint64_t runs = 0;
  std::uint64_t skipped = 0;
  for (int i = 0; i < 1000; ++i) {
    const auto lag = std::chrono::milliseconds((i * 37) % 251);
    const auto takes = std::chrono::milliseconds((i * 53) % 181);
    const NextRun next = next_run(due, 100ms, due + lag, due + lag + takes);
    ASSERT_EQ((next.due - k_t0) % 100ms, 0ns) << "run " << i << " left the phase";
    ASSERT_GT(next.due, due + lag + takes);
    ASSERT_LE(next.due, due + lag + takes + 100ms) << "run " << i << ": a due time was lost";
    ++runs;
    skipped += next.timing.skipped();
    due = next.due;
  }
  EXPECT_EQ(runs + skipped, static_cast<std::uint64_t>((due - k_t0) / 100ms));
}

} // namespace
} // namespace probe::engine
