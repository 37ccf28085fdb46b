// A target's recent past for the status page (GET /): the last k_recent_checks results, one by
// one, for the bar of recent checks, and 24 hours of one-minute buckets (counts and latency) for
// the uptime over the last hour and day and the latency sparkline. Bounded whatever the interval:
// a bucket holds any number of results, and at most k_minutes of them exist.
//
// It lives beside the target's TargetState in the scheduler's entry, is fed by the same result
// under the scheduler's lock and so is kept across a reload exactly when the state is (an
// unchanged target). record() is O(1) and allocates at most one hour block (720 bytes) an hour,
// so thousands of results a second cost no more lock time than the state update itself. Hour
// blocks are allocated as time reaches them: a target checked for ten minutes holds one, a day
// and more holds all 24 (memory_bytes()). Time is the wall clock the caller passes
// (util::Clock::system_now), so tests move a manual clock across minute and day boundaries.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "probe/checks/check.hpp"

namespace probe::engine {

// One minute of one target's results. Latencies in microseconds: a check never overlaps itself,
// so the latencies ending within one minute add up to at most a minute plus one timeout, well
// inside 32 bits (71 minutes); sums and counts saturate rather than wrap all the same.
struct MinuteBucket {
  std::uint16_t successes = 0;
  std::uint16_t failures = 0;
  std::uint32_t latency_sum_us = 0;
  std::uint32_t latency_max_us = 0;

  std::uint32_t checks() const { return std::uint32_t{successes} + failures; }
};

// One result, as the bar of recent checks shows it.
struct RecentCheck {
  std::chrono::system_clock::time_point at{};
  std::uint32_t latency_us = 0;
  checks::CheckStatus status = checks::CheckStatus::error;
};

// Successes and failures over a window.
struct Tally {
  std::uint64_t successes = 0;
  std::uint64_t failures = 0;

  std::uint64_t checks() const { return successes + failures; }
};

// What the status page shows of a history, read at one moment.
struct HistorySummary {
  std::vector<RecentCheck> recent;     // oldest first, at most k_recent_checks
  std::vector<MinuteBucket> last_hour; // 60 buckets, oldest first, the current minute last
  Tally hour;                          // the last 60 minutes, the current one included
  Tally day;                           // the last 1440 minutes, the current one included
};

class TargetHistory {
public:
  static constexpr std::size_t k_recent_checks = 30;
  static constexpr std::int64_t k_minutes = 24 * 60;
  static constexpr std::int64_t k_block_minutes = 60;

  // Folds one result in, at wall-clock time `at`. A result older than the newest one recorded
  // (the clock stepped back) joins its own minute while that is within the last day; one more
  // than a day older starts the history afresh.
  void record(const checks::CheckResult& result, std::chrono::system_clock::time_point at);

  // The recent checks, the last hour's buckets and the hour's and day's tallies at `now`.
  HistorySummary summary(std::chrono::system_clock::time_point now) const;
  // The tally of the `minutes` minutes up to and including `now`'s (1 to k_minutes).
  Tally tally(std::chrono::system_clock::time_point now, std::int64_t minutes) const;

  // The bytes this history holds now: the object and its allocated hour blocks.
  std::size_t memory_bytes() const;
  // The most it can hold: every hour block allocated.
  static constexpr std::size_t max_memory_bytes();

private:
  using Block = std::array<MinuteBucket, k_block_minutes>;

  // The bucket of minute `minute` (since the epoch), allocating its block; nullptr when none.
  MinuteBucket* bucket(std::int64_t minute, bool allocate);
  const MinuteBucket* bucket(std::int64_t minute) const;
  // Moves the newest minute to `minute`, emptying the buckets that now stand for it and the
  // minutes skipped on the way (they held results from a day before).
  void advance_to(std::int64_t minute);
  void clear();

  std::array<std::unique_ptr<Block>, k_minutes / k_block_minutes> m_blocks;
  std::int64_t m_newest_minute = -1; // -1: nothing recorded
  // Over every bucket: the last day up to m_newest_minute, so a day's uptime is no scan.
  Tally m_total;
  std::array<RecentCheck, k_recent_checks> m_recent{};
  std::size_t m_recent_count = 0;
  std::size_t m_recent_next = 0; // where the next result goes
};

constexpr std::size_t TargetHistory::max_memory_bytes() {
  return sizeof(TargetHistory) +
         sizeof(Block) * static_cast<std::size_t>(k_minutes / k_block_minutes);
}

// Minutes since the epoch of `at` (floored, also before 1970).
std::int64_t minute_of(std::chrono::system_clock::time_point at);

} // namespace probe::engine
