// One job, one thread, asks coalesced; see coalescing_worker.hpp.
#include "probe/util/coalescing_worker.hpp"

#include <utility>

namespace probe::util {

CoalescingWorker::CoalescingWorker(std::function<void()> job)
    : m_job(std::move(job)), m_thread([this] { loop(); }) {}

CoalescingWorker::~CoalescingWorker() {
  stop();
}

void CoalescingWorker::request() {
  {
    const std::lock_guard<std::mutex> lock(m_mutex);
    m_pending = true;
  }
  m_wake.notify_one();
}

void CoalescingWorker::stop() {
  {
    const std::lock_guard<std::mutex> lock(m_mutex);
    m_stopping = true;
  }
  m_wake.notify_one();
  if (m_thread.joinable()) {
    m_thread.join();
  }
}

void CoalescingWorker::loop() {
  std::unique_lock<std::mutex> lock(m_mutex);
  while (true) {
    m_wake.wait(lock, [this] { return m_stopping || m_pending; });
    if (m_stopping) {
      return;
    }
    // Cleared before the run: an ask that arrives during it is one more run after it.
    m_pending = false;
    lock.unlock();
    m_job();
    lock.lock();
  }
}

} // namespace probe::util
