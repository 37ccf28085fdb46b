// A thread pool that grows with demand and shrinks when idle, for work that blocks: the scheduler
// gives each in-flight check a thread, and probe serve's HTTP server runs each request's handler
// on one (two pools: answers from memory, and those that wait on the event store or a reload).
// A fixed pool of 8 is held by 8 hanging targets (or 8 slow event-store reads) and the rest
// waits behind them. This pool starts a thread whenever every thread is busy (up to `max_threads`),
// so a new task always finds one, and lets threads beyond `min_threads` end after
// `idle_timeout`, so a quiet sidecar keeps only a few. A task goes to the thread that became idle
// last (LIFO): the threads a steady load needs stay busy and the surplus that a burst started
// stays idle long enough to end. (Waking any idle thread, as one shared condition variable
// does, kept every thread busy now and then: 1,000 fast checks a second held 256 threads.) Its
// threads block the process signals (SIGHUP, SIGINT, SIGTERM, ...), whichever thread starts them.
// No probe knowledge.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <thread>
#include <vector>

namespace probe::util {

class ElasticPool {
public:
  ElasticPool(std::size_t min_threads, std::size_t max_threads,
              std::chrono::milliseconds idle_timeout);
  ~ElasticPool();
  ElasticPool(const ElasticPool&) = delete;
  ElasticPool& operator=(const ElasticPool&) = delete;

  // Runs `task` on an idle thread, or on a new one when none is idle and fewer than
  // max_threads run; otherwise it waits in the queue. Ignored after shutdown().
  void submit(std::function<void()> task);
  // Runs what is queued, then ends and joins every thread. Idempotent.
  void shutdown();

  std::size_t threads() const;
  std::size_t queued() const;

private:
  void work();
  bool start_thread();  // with m_mutex held; false when the system refuses a thread
  void join_finished(); // with m_mutex held
  void wake_one();      // with m_mutex held: hands the queue's head to the last idle thread
  void run_one(std::unique_lock<std::mutex>& lock); // the queue's head, without the lock

  // A thread waiting for work, woken on its own (see wake_one()).
  struct Waiter {
    std::condition_variable ready;
    bool woken = false;
  };

  const std::size_t m_min_threads;
  const std::size_t m_max_threads;
  const std::chrono::milliseconds m_idle_timeout;

  mutable std::mutex m_mutex;
  std::vector<Waiter*> m_waiting; // idle threads, the most recently idle last
  std::condition_variable m_all_ended;
  std::deque<std::function<void()>> m_queue;
  std::list<std::thread> m_running;
  std::list<std::thread> m_finished; // ended on their own; joined by the next caller
  std::size_t m_threads = 0;
  std::size_t m_idle = 0;
  bool m_stopping = false;
};

} // namespace probe::util
