// A clock the test moves by hand: time passes only when the test says so, so a test of an age,
// a deadline or a schedule asserts on values instead of sleeping and hoping the machine is fast.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <vector>

#include "probe/util/clock.hpp"

namespace probe::fakes {

class ManualClock final : public util::Clock {
public:
  std::chrono::steady_clock::time_point steady_now() const override {
    return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(m_elapsed.load()));
  }
  std::chrono::system_clock::time_point system_now() const override {
    return std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000)) +
           std::chrono::duration_cast<std::chrono::system_clock::duration>(
               std::chrono::nanoseconds(m_elapsed.load()));
  }
  // A sleep returns at once, the time moved on by `how_long`, and is remembered.
  void sleep_for(std::chrono::nanoseconds how_long) const override {
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      m_sleeps.push_back(how_long);
    }
    m_elapsed += how_long.count();
  }
  // Moves both clocks forward by `step`; readers on other threads see it at once.
  void advance(std::chrono::nanoseconds step) { m_elapsed += step.count(); }
  // The sleeps asked for so far, in order.
  std::vector<std::chrono::nanoseconds> sleeps() const {
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_sleeps;
  }

private:
  mutable std::mutex m_mutex;
  mutable std::vector<std::chrono::nanoseconds> m_sleeps;
  mutable std::atomic<std::chrono::nanoseconds::rep> m_elapsed{std::chrono::hours(1) /
                                                               std::chrono::nanoseconds(1)};
};

} // namespace probe::fakes
