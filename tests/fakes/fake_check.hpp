// A scripted Check for the engine's logic (scheduling, thresholds, the gate): it returns the
// results it is told to, records when it ran, and can be made to take a while — so scheduler
// tests run fast and deterministically with no socket.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "probe/checks/check.hpp"

namespace probe::fakes {

class FakeCheck final : public checks::Check {
public:
  struct Shared {
    std::mutex mutex;
    std::vector<std::chrono::steady_clock::time_point> runs;
    std::atomic<bool> ok{true};
    std::atomic<int> in_flight{0};
    std::atomic<int> max_in_flight{0};
    std::chrono::milliseconds takes{0};

    std::size_t run_count() {
      const std::lock_guard<std::mutex> lock(mutex);
      return runs.size();
    }
  };

  explicit FakeCheck(std::shared_ptr<Shared> shared) : m_shared(std::move(shared)) {}

  checks::CheckResult run(std::chrono::milliseconds timeout) override {
    const int now_in_flight = ++m_shared->in_flight;
    int seen = m_shared->max_in_flight.load();
    while (now_in_flight > seen &&
           !m_shared->max_in_flight.compare_exchange_weak(seen, now_in_flight)) {
    }
    {
      const std::lock_guard<std::mutex> lock(m_shared->mutex);
      m_shared->runs.push_back(std::chrono::steady_clock::now());
    }
    const std::chrono::milliseconds takes = std::min(m_shared->takes, timeout);
    std::this_thread::sleep_for(takes);
    --m_shared->in_flight;
    const bool timed_out = m_shared->takes > timeout;
    checks::CheckResult result = checks::make_result(
        timed_out ? checks::CheckStatus::timeout
                  : (m_shared->ok ? checks::CheckStatus::success : checks::CheckStatus::failure),
        m_shared->ok ? "fake ok" : "fake failure");
    result.latency = takes;
    return result;
  }

private:
  std::shared_ptr<Shared> m_shared;
};

} // namespace probe::fakes
