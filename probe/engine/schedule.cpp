// Fixed-rate arithmetic; see schedule.hpp.
#include "probe/engine/schedule.hpp"

#include <algorithm>

namespace probe::engine {
namespace {

// Due times due + k * interval with k >= 1 at or before `until`.
std::uint64_t due_times_passed(std::chrono::steady_clock::time_point due,
                               std::chrono::nanoseconds interval,
                               std::chrono::steady_clock::time_point until) {
  if (until < due) {
    return 0;
  }
  return static_cast<std::uint64_t>((until - due) / interval);
}

} // namespace

std::chrono::milliseconds first_run_spread(std::chrono::milliseconds interval,
                                           std::size_t targets) {
  const std::chrono::milliseconds quick =
      std::clamp(interval / 10, std::chrono::milliseconds(0), std::chrono::milliseconds(1000));
  // k_loop_time_per_check for each target, rounded down to whole milliseconds.
  const auto needed = std::chrono::duration_cast<std::chrono::milliseconds>(
      k_loop_time_per_check * static_cast<std::int64_t>(targets));
  return std::min(std::max(interval, std::chrono::milliseconds(0)), std::max(quick, needed));
}

NextRun next_run(std::chrono::steady_clock::time_point due, std::chrono::nanoseconds interval,
                 std::chrono::steady_clock::time_point started,
                 std::chrono::steady_clock::time_point finished) {
  interval = std::max(interval, std::chrono::nanoseconds(1));
  // A clock read out of order (started before due cannot happen, finished before started
  // cannot either) must not make a negative lag or count runs twice.
  started = std::max(started, due);
  finished = std::max(finished, started);
  NextRun next;
  next.timing.lag = started - due;
  const std::uint64_t passed = due_times_passed(due, interval, finished);
  next.timing.skipped_saturated = due_times_passed(due, interval, started);
  next.timing.skipped_in_flight = passed - next.timing.skipped_saturated;
  next.due = due + interval * static_cast<std::int64_t>(passed + 1);
  return next;
}

} // namespace probe::engine
