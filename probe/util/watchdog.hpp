// A single timer thread that fires callbacks at deadlines. Checks arm it before blocking I/O
// they cannot bound themselves (cpp-httplib's per-read timeouts do not bound a server that
// trickles bytes) and the callback cuts the I/O short — so no check thread stays blocked past
// its timeout, and probe needs one extra thread for it, not one per check.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "probe/util/clock.hpp"

namespace probe::util {

class Watchdog {
public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // Deadlines are on `clock`'s steady time (tests pass a manual clock).
  explicit Watchdog(const Clock& clock = system_clock());
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Calls `on_expiry` on the watchdog thread at `deadline` unless disarmed first.
  std::uint64_t arm(TimePoint deadline, std::function<void()> on_expiry);

  // Cancels `id`. When its callback is running, waits for it to finish, so after disarm()
  // returns the callback no longer touches what it captured. Returns true when it had fired.
  bool disarm(std::uint64_t id);

private:
  void loop();

  struct Entry {
    std::uint64_t id;
    std::function<void()> on_expiry;
  };

  const Clock& m_clock;
  std::mutex m_mutex;
  std::condition_variable m_wake;
  std::condition_variable m_fired;
  std::multimap<TimePoint, Entry> m_pending;
  std::uint64_t m_next_id = 1;
  std::uint64_t m_running = 0;               // id whose callback runs now, 0 when none
  std::map<std::uint64_t, bool> m_fired_ids; // fired and not yet disarmed
  bool m_stopping = false;
  std::thread m_thread;
};

} // namespace probe::util
