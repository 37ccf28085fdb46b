// A job run on its own thread whenever it is asked for, one run at a time, with asks that
// arrive during a run folded into one more run after it. What `probe serve` needs for SIGHUP:
// 200 HUPs sent as fast as a shell can are 200 asks for "read the config again", which one or
// two reloads answer; none is lost (a HUP after a config edit always sees that edit), none runs
// beside another, and the thread that takes signals never runs the job, so it still sees
// SIGTERM while a reload is under way.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace probe::util {

class CoalescingWorker {
public:
  // Starts the worker thread, which runs `job` once per round of requests. `job` must not
  // throw (the thread would end the process); catch inside it.
  explicit CoalescingWorker(std::function<void()> job);
  ~CoalescingWorker();
  CoalescingWorker(const CoalescingWorker&) = delete;
  CoalescingWorker& operator=(const CoalescingWorker&) = delete;

  // Asks for a run: the job starts now if idle, or once more after the run under way.
  void request();

  // Lets a run under way finish, drops a pending one, and joins the thread. Idempotent.
  void stop();

private:
  void loop();

  std::function<void()> m_job;
  std::mutex m_mutex;
  std::condition_variable m_wake;
  bool m_pending = false;
  bool m_stopping = false;
  std::thread m_thread;
};

} // namespace probe::util
