// The arithmetic of a fixed-rate schedule, apart from the threads that follow it: given when a
// run was due, when it started and when it finished, where the next run goes, how late this
// one started and how many due runs were skipped on the way (and why). Pure functions of time
// points, so the scheduler's promises about lateness are tested on a clock moved by hand.
#pragma once

#include <chrono>
#include <cstdint>

namespace probe::engine {

// What one run of a target's check tells about the scheduler's load, for
// probe_check_lag_seconds and probe_checks_skipped_total.
struct RunTiming {
  // How late the run started after it was due (0 when on time).
  std::chrono::nanoseconds lag{0};
  // Due runs that passed while this one waited for a free worker: probe is overloaded.
  std::uint64_t skipped_saturated = 0;
  // Due runs that passed while this one was running: it ran into its next due time.
  std::uint64_t skipped_in_flight = 0;

  std::uint64_t skipped() const { return skipped_saturated + skipped_in_flight; }
};

struct NextRun {
  std::chrono::steady_clock::time_point due;
  RunTiming timing;
};

// What one check costs the event loop, rounded up (0.04-0.1 ms measured, tests/bench/run.sh
// --only load): first runs of `targets` targets are spread at least this far apart each.
inline constexpr std::chrono::microseconds k_loop_time_per_check{100};

// How far after a start or a reload a target's first run may be put (uniformly, in whole
// milliseconds from 0 to this): a tenth of `interval`, at most 1 s, so the first verdicts
// come quickly — but at least k_loop_time_per_check per target among `targets`, up to the
// whole interval: 10,000 targets due within 100 ms every second would queue on the loop
// (their phase is kept by every later run), where spread over the second they do not.
std::chrono::milliseconds first_run_spread(std::chrono::milliseconds interval,
                                           std::size_t targets = 0);

// The run due at `due` started at `started` and finished at `finished`; the schedule repeats
// every `interval` (> 0). The next run keeps the original phase (due + k * interval, the first
// after `finished`); the ones in between are skipped, never fired in a burst, and counted
// apart by whether they came due before the run started or while it ran.
NextRun next_run(std::chrono::steady_clock::time_point due, std::chrono::nanoseconds interval,
                 std::chrono::steady_clock::time_point started,
                 std::chrono::steady_clock::time_point finished);

} // namespace probe::engine
