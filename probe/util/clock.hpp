// Time as an I/O edge: the engine asks a Clock rather than the system, so tests of thresholds,
// schedules, heartbeat ages and retry backoffs can run on a clock they move by hand. Waiting is
// part of the edge too: a thread that sleeps, or waits on a condition variable until a
// deadline, does it through the clock, so a manual clock can wake it when the test moves time
// past that deadline instead of the test sleeping on the wall clock.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

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
  // Waits until `deadline` on steady_now() (a manual clock moves its time there at once).
  virtual void sleep_until(std::chrono::steady_clock::time_point deadline) const = 0;
  // Waits on `wake` with `lock` held (released while waiting, held again on return) until
  // `wake` is notified or steady_now() reaches `deadline`. Like the standard wait_until it may
  // return early without either: callers re-check their condition and the time. Returns
  // timeout when the deadline has passed.
  virtual std::cv_status wait_until(std::unique_lock<std::mutex>& lock,
                                    std::condition_variable& wake,
                                    std::chrono::steady_clock::time_point deadline) const = 0;
};

class SystemClock final : public Clock {
public:
  std::chrono::steady_clock::time_point steady_now() const override;
  std::chrono::system_clock::time_point system_now() const override;
  void sleep_for(std::chrono::nanoseconds how_long) const override;
  void sleep_until(std::chrono::steady_clock::time_point deadline) const override;
  std::cv_status wait_until(std::unique_lock<std::mutex>& lock, std::condition_variable& wake,
                            std::chrono::steady_clock::time_point deadline) const override;
};

// The process-wide real clock, for code paths that have no reason to be faked.
const Clock& system_clock();

} // namespace probe::util
