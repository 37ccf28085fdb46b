// A single-threaded epoll reactor: file descriptors watched for readiness, timers on the steady
// clock, and callbacks posted from other threads. Everything it calls runs on the thread inside
// run(), one callback at a time, so the code it drives (checks in flight) needs no locks.
// watch/unwatch/at/cancel belong to that thread (or to the owner before run()); post() and
// stop() may be called from anywhere.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "probe/util/unique_fd.hpp"

namespace probe::util {

class EventLoop {
public:
  using Callback = std::function<void()>;
  // Gets the epoll events that fired (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP).
  using IoCallback = std::function<void(std::uint32_t events)>;
  using TimePoint = std::chrono::steady_clock::time_point;
  using TimerId = std::uint64_t;

  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Watches `fd` for `events` (EPOLLIN and/or EPOLLOUT), replacing what it was watched for.
  // Errors and hang-ups are always reported. Throws probe::Error when epoll refuses the fd.
  void watch(int fd, std::uint32_t events, IoCallback callback);
  // Stops watching `fd` (no-op when not watched). Call before closing it.
  void unwatch(int fd);
  // Calls `callback` once at `when` (at once on the next turn when that has passed).
  TimerId at(TimePoint when, Callback callback);
  // Cancels a timer that has not fired (no-op otherwise).
  void cancel(TimerId id);

  // Any thread: runs `callback` on the loop's thread on its next turn.
  void post(Callback callback);
  // Any thread: run() returns after the callback it is in. A stop that comes before run() has
  // started (a thread started to run the loop may not have got there yet) ends the next run
  // at once: it is kept until a run takes it, never lost.
  void stop();

  // Runs until stop().
  void run();
  // Runs until `done()` is true (checked after every turn) or stop().
  void run_until(const std::function<bool()>& done);

  bool in_loop_thread() const { return std::this_thread::get_id() == m_thread.load(); }
  std::size_t watched() const { return m_watched.size(); }
  std::size_t timers() const { return m_timers.size(); }

private:
  void turn();
  int next_timeout_ms() const;
  void fire_timers();
  void drain_posted();

  UniqueFd m_epoll;
  UniqueFd m_wake;
  std::unordered_map<int, IoCallback> m_watched;
  // Keyed by (when, id): equal deadlines fire in the order they were set.
  std::map<std::pair<TimePoint, TimerId>, Callback> m_timers;
  std::unordered_map<TimerId, TimePoint> m_timer_due;
  TimerId m_next_timer = 1;
  std::vector<char> m_events; // epoll_event buffer
  mutable std::mutex m_posted_mutex;
  std::vector<Callback> m_posted;
  std::atomic<bool> m_stop{false};
  std::atomic<std::thread::id> m_thread{};
};

} // namespace probe::util
