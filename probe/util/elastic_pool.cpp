// The elastic pool; see elastic_pool.hpp.
#include "probe/util/elastic_pool.hpp"

#include <algorithm>
#include <csignal>
#include <system_error>

#include <pthread.h>
#include <spdlog/spdlog.h>

namespace probe::util {

ElasticPool::ElasticPool(std::size_t min_threads, std::size_t max_threads,
                         std::chrono::milliseconds idle_timeout)
    : m_min_threads(min_threads), m_max_threads(std::max<std::size_t>(1, max_threads)),
      m_idle_timeout(idle_timeout) {
  const std::lock_guard<std::mutex> lock(m_mutex);
  while (m_threads < std::min(m_min_threads, m_max_threads) && start_thread()) {
  }
}

ElasticPool::~ElasticPool() {
  shutdown();
}

void ElasticPool::submit(std::function<void()> task) {
  const std::lock_guard<std::mutex> lock(m_mutex);
  if (m_stopping) {
    return;
  }
  join_finished();
  m_queue.push_back(std::move(task));
  // More queued tasks than idle threads to take them: one more thread, while allowed.
  if (m_queue.size() <= m_idle || m_threads >= m_max_threads || !start_thread()) {
    wake_one();
  }
}

void ElasticPool::wake_one() {
  if (m_waiting.empty()) {
    return; // every thread is busy (or about to look at the queue): the task waits its turn
  }
  Waiter* last = m_waiting.back();
  m_waiting.pop_back();
  last->woken = true;
  last->ready.notify_one();
}

void ElasticPool::shutdown() {
  std::list<std::thread> to_join;
  {
    std::unique_lock<std::mutex> lock(m_mutex);
    m_stopping = true;
    for (Waiter* waiter : m_waiting) {
      waiter->ready.notify_one(); // each takes itself off m_waiting
    }
    m_all_ended.wait(lock, [this] { return m_running.empty(); });
    to_join.splice(to_join.end(), m_finished);
  }
  for (std::thread& thread : to_join) {
    thread.join();
  }
}

std::size_t ElasticPool::threads() const {
  const std::lock_guard<std::mutex> lock(m_mutex);
  return m_threads;
}

std::size_t ElasticPool::queued() const {
  const std::lock_guard<std::mutex> lock(m_mutex);
  return m_queue.size();
}

bool ElasticPool::start_thread() {
  // A thread starts with its creator's signal mask, and threads start from whichever thread
  // submits. The process signals are blocked in every pool thread, so that the one thread
  // that waits for them (`probe serve`'s sigwait) always gets them, however the pool grows.
  sigset_t blocked;
  sigset_t previous;
  sigemptyset(&blocked);
  for (const int signal_number : {SIGHUP, SIGINT, SIGTERM, SIGQUIT, SIGUSR1, SIGUSR2}) {
    sigaddset(&blocked, signal_number);
  }
  pthread_sigmask(SIG_BLOCK, &blocked, &previous);
  // The thread takes m_mutex first, so it cannot look at its iterator before it is set here.
  const auto self = m_running.emplace(m_running.end());
  try {
    *self = std::thread([this, self] {
      work();
      // Hand this thread's handle to whoever joins next; the lock is released on return and
      // nothing of the pool is touched after it.
      const std::lock_guard<std::mutex> lock(m_mutex);
      m_finished.splice(m_finished.end(), m_running, self);
      if (m_running.empty()) {
        m_all_ended.notify_all();
      }
    });
  } catch (const std::system_error& e) {
    // Out of threads (ulimit -u, a container's pids limit): the task waits for a running one.
    m_running.erase(self);
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    spdlog::error("thread pool: cannot start a thread ({} running): {}", m_threads, e.what());
    return false;
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  ++m_threads;
  ++m_idle; // idle from the start: the next submit() must not start another for the same task
  return true;
}

void ElasticPool::join_finished() {
  for (std::thread& thread : m_finished) {
    thread.join(); // already past its last use of the pool: returns at once
  }
  m_finished.clear();
}

void ElasticPool::work() {
  std::unique_lock<std::mutex> lock(m_mutex); // m_idle counts this thread from its start
  Waiter self;
  while (true) {
    if (!m_queue.empty()) {
      run_one(lock);
      continue;
    }
    if (m_stopping) {
      --m_idle;
      --m_threads;
      return;
    }
    self.woken = false;
    m_waiting.push_back(&self);
    const bool woken =
        self.ready.wait_for(lock, m_idle_timeout, [&] { return self.woken || m_stopping; });
    if (!self.woken) { // timed out or stopping: still on m_waiting
      m_waiting.erase(std::find(m_waiting.begin(), m_waiting.end(), &self));
    }
    // Idle for the whole timeout while more than the minimum run: counted out now, under the
    // lock, so threads leaving together never go below the minimum.
    if (!woken && m_queue.empty() && m_threads > m_min_threads) {
      --m_idle;
      --m_threads;
      return;
    }
  }
}

void ElasticPool::run_one(std::unique_lock<std::mutex>& lock) {
  std::function<void()> task = std::move(m_queue.front());
  m_queue.pop_front();
  --m_idle;
  lock.unlock();
  try {
    task();
  } catch (const std::exception& e) {
    spdlog::error("a pool task failed: {}", e.what());
  } catch (...) {
    spdlog::error("a pool task failed");
  }
  lock.lock();
  ++m_idle;
}

} // namespace probe::util
