// The real clock; see clock.hpp.
#include "probe/util/clock.hpp"

namespace probe::util {

std::chrono::steady_clock::time_point SystemClock::steady_now() const {
  return std::chrono::steady_clock::now();
}

std::chrono::system_clock::time_point SystemClock::system_now() const {
  return std::chrono::system_clock::now();
}

const Clock& system_clock() {
  static const SystemClock clock;
  return clock;
}

} // namespace probe::util
