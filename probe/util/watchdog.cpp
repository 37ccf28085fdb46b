// The deadline timer thread; see watchdog.hpp.
#include "probe/util/watchdog.hpp"

namespace probe::util {

Watchdog::Watchdog(const Clock& clock) : m_clock(clock), m_thread([this] { loop(); }) {}

Watchdog::~Watchdog() {
  {
    const std::lock_guard<std::mutex> lock(m_mutex);
    m_stopping = true;
  }
  m_wake.notify_all();
  m_thread.join();
}

std::uint64_t Watchdog::arm(TimePoint deadline, std::function<void()> on_expiry) {
  std::uint64_t id = 0;
  {
    const std::lock_guard<std::mutex> lock(m_mutex);
    id = m_next_id++;
    m_pending.emplace(deadline, Entry{id, std::move(on_expiry)});
  }
  m_wake.notify_all();
  return id;
}

bool Watchdog::disarm(std::uint64_t id) {
  std::unique_lock<std::mutex> lock(m_mutex);
  for (auto it = m_pending.begin(); it != m_pending.end(); ++it) {
    if (it->second.id == id) {
      m_pending.erase(it);
      return false;
    }
  }
  m_fired.wait(lock, [&] { return m_running != id; });
  return m_fired_ids.erase(id) > 0;
}

void Watchdog::loop() {
  std::unique_lock<std::mutex> lock(m_mutex);
  while (!m_stopping) {
    if (m_pending.empty()) {
      m_wake.wait(lock);
      continue;
    }
    const auto first = m_pending.begin();
    // A copy: disarm() may erase this entry while we wait, and wait_until reads its argument
    // again when it wakes.
    const TimePoint deadline = first->first;
    if (m_clock.steady_now() < deadline) {
      m_clock.wait_until(lock, m_wake, deadline);
      continue;
    }
    Entry entry = std::move(first->second);
    m_pending.erase(first);
    m_running = entry.id;
    m_fired_ids[entry.id] = true;
    lock.unlock();
    entry.on_expiry();
    lock.lock();
    m_running = 0;
    m_fired.notify_all();
  }
}

} // namespace probe::util
