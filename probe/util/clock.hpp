// Time as an I/O edge: the engine asks a Clock rather than the system, so tests of thresholds,
// schedules, heartbeat ages and retry backoffs can run on a clock they move by hand.
#pragma once

#include <chrono>

namespace probe::util {

class Clock {
public:
  virtual ~Clock() = default;
  // Monotonic time, for deadlines and latency.
  virtual std::chrono::steady_clock::time_point steady_now() const = 0;
  // Wall-clock time, for timestamps and file ages.
  virtual std::chrono::system_clock::time_point system_now() const = 0;
  // Waits `how_long` (a manual clock moves its time on instead, at once).
  virtual void sleep_for(std::chrono::nanoseconds how_long) const = 0;
};

class SystemClock final : public Clock {
public:
  std::chrono::steady_clock::time_point steady_now() const override;
  std::chrono::system_clock::time_point system_now() const override;
  void sleep_for(std::chrono::nanoseconds how_long) const override;
};

// The process-wide real clock, for code paths that have no reason to be faked.
const Clock& system_clock();

} // namespace probe::util
