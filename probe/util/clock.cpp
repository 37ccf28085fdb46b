// The real clock; see clock.hpp.
#include "probe/util/clock.hpp"

#include <thread>

namespace probe::util {

std::chrono::steady_clock::time_point SystemClock::steady_now() const {
  return std::chrono::steady_clock::now();
}

std::chrono::system_clock::time_point SystemClock::system_now() const {
  return std::chrono::system_clock::now();
}

void SystemClock::sleep_for(std::chrono::nanoseconds how_long) const {
  std::this_thread::sleep_for(how_long);
}

void SystemClock::sleep_until(std::chrono::steady_clock::time_point deadline) const {
  std::this_thread::sleep_until(deadline);
}

std::cv_status SystemClock::wait_until(std::unique_lock<std::mutex>& lock,
                                       std::condition_variable& wake,
                                       std::chrono::steady_clock::time_point deadline) const {
  return wake.wait_until(lock, deadline);
}

const Clock& system_clock() {
  static const SystemClock clock;
  return clock;
}

} // namespace probe::util
