// What is left of a deadline on the steady clock, as poll(2) and libpq's waits want it.
#pragma once

#include <chrono>

namespace probe::util {

// Whole milliseconds from now until `deadline`, 0 once it has passed.
inline int milliseconds_until(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
  return left > 0 ? static_cast<int>(left) : 0;
}

} // namespace probe::util
