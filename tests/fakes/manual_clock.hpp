// A clock the test moves by hand: time passes only when the test says so, so a test of an age,
// a deadline or a schedule asserts on values instead of sleeping and hoping the machine is fast.
//
// Threads may wait on it (wait_until, with their own mutex and condition variable): they wake
// when notified as usual, or when the test moves time to or past their deadline. advance() takes
// each waiter's mutex before notifying it, so a waiter that read the time just before the move
// cannot miss its wake-up. Hence advance() (and sleep_for/sleep_until, which move time too) must
// not be called while holding a mutex that a waiter uses, and what a waiter waits on must
// outlive an advance() that runs concurrently with the wait.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
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
    move_on(how_long);
  }
  // Like sleep_for(deadline - now); a deadline already passed records a sleep of 0.
  void sleep_until(std::chrono::steady_clock::time_point deadline) const override {
    sleep_for(std::max(deadline - steady_now(), std::chrono::steady_clock::duration::zero()));
  }
  // Blocks until `wake` is notified or advance() reaches `deadline`; no time passes by itself.
  std::cv_status wait_until(std::unique_lock<std::mutex>& lock, std::condition_variable& wake,
                            std::chrono::steady_clock::time_point deadline) const override {
    const Waiter waiter{lock.mutex(), &wake, deadline, next_serial()};
    // Listed before the time is read: an advance() either comes later and notifies this waiter,
    // or came first and the read below sees it.
    add_waiter(waiter);
    if (steady_now() < deadline) {
      wake.wait(lock);
    }
    remove_waiter(waiter);
    return steady_now() >= deadline ? std::cv_status::timeout : std::cv_status::no_timeout;
  }

  // Moves both clocks forward by `step` and wakes the waiters whose deadline it reached.
  void advance(std::chrono::nanoseconds step) { move_on(step); }
  // Moves the clock to `when` (no move when it is not in the future).
  void advance_to(std::chrono::steady_clock::time_point when) {
    move_on(std::max(when - steady_now(), std::chrono::steady_clock::duration::zero()));
  }
  // The sleeps asked for so far, in order.
  std::vector<std::chrono::nanoseconds> sleeps() const {
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_sleeps;
  }
  // Threads inside wait_until now.
  std::size_t waiters() const {
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_waiters.size();
  }
  // How many waits have begun so far: a mark for await_waiter.
  std::uint64_t waits_begun() const {
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_serial;
  }
  // Waits (on the real clock, at most `limit`) until a thread waits towards `deadline` in a
  // wait that began after waits_begun() returned `mark`; returns whether one does. Tells a test
  // that a thread went to sleep again after something it did (not an older sleep).
  bool await_waiter(std::chrono::steady_clock::time_point deadline, std::uint64_t mark,
                    std::chrono::milliseconds limit) const {
    std::unique_lock<std::mutex> lock(m_mutex);
    return m_waiters_changed.wait_for(lock, limit, [&] {
      return std::any_of(m_waiters.begin(), m_waiters.end(), [&](const Waiter& w) {
        return w.deadline == deadline && w.serial > mark;
      });
    });
  }
  // Waits (on the real clock, at most `limit`) until exactly `count` threads are inside
  // wait_until with a deadline still ahead (one whose deadline has passed is on its way out);
  // returns whether they are. Tells a test that a thread is asleep on the clock, or gone.
  bool await_waiters(std::size_t count, std::chrono::milliseconds limit) const {
    std::unique_lock<std::mutex> lock(m_mutex);
    return m_waiters_changed.wait_for(lock, limit, [&] {
      const auto now = steady_now();
      return static_cast<std::size_t>(
                 std::count_if(m_waiters.begin(), m_waiters.end(),
                               [&](const Waiter& w) { return w.deadline > now; })) == count;
    });
  }

private:
  struct Waiter {
    std::mutex* mutex;
    std::condition_variable* wake;
    std::chrono::steady_clock::time_point deadline;
    std::uint64_t serial; // which wait this is, from 1
  };

  std::uint64_t next_serial() const {
    std::lock_guard<std::mutex> lock(m_mutex);
    return ++m_serial;
  }

  void add_waiter(const Waiter& waiter) const {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_waiters.push_back(waiter);
    m_waiters_changed.notify_all();
  }
  void remove_waiter(const Waiter& waiter) const {
    std::lock_guard<std::mutex> lock(m_mutex);
    const auto found = std::find_if(m_waiters.begin(), m_waiters.end(),
                                    [&](const Waiter& w) { return w.serial == waiter.serial; });
    if (found != m_waiters.end()) {
      m_waiters.erase(found);
    }
    m_waiters_changed.notify_all();
  }
  void move_on(std::chrono::nanoseconds step) const {
    m_elapsed += step.count();
    const auto now = steady_now();
    std::vector<Waiter> waiting;
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      // Only the waiters whose deadline came (the others would wake for nothing), and once per
      // condition variable: many threads may wait on one, and notify_all wakes them all.
      for (const Waiter& waiter : m_waiters) {
        if (waiter.deadline <= now &&
            std::none_of(waiting.begin(), waiting.end(),
                         [&](const Waiter& w) { return w.wake == waiter.wake; })) {
          waiting.push_back(waiter);
        }
      }
    }
    for (const Waiter& waiter : waiting) {
      // Taking the waiter's mutex waits out a waiter between reading the time and waiting. Then
      // the list says whether it still waits: one that saw the new time by itself has moved on,
      // maybe into another wait on the same condition variable, which must not be woken for
      // nothing (a test may be watching that wait).
      const std::lock_guard<std::mutex> held(*waiter.mutex);
      if (due_waiter_on(waiter.wake, now)) {
        waiter.wake->notify_all();
      }
    }
  }
  bool due_waiter_on(const std::condition_variable* wake,
                     std::chrono::steady_clock::time_point now) const {
    std::lock_guard<std::mutex> lock(m_mutex);
    return std::any_of(m_waiters.begin(), m_waiters.end(),
                       [&](const Waiter& w) { return w.wake == wake && w.deadline <= now; });
  }

  mutable std::mutex m_mutex;
  mutable std::condition_variable m_waiters_changed;
  mutable std::vector<std::chrono::nanoseconds> m_sleeps;
  mutable std::vector<Waiter> m_waiters;
  mutable std::uint64_t m_serial = 0;
  mutable std::atomic<std::chrono::nanoseconds::rep> m_elapsed{std::chrono::hours(1) /
                                                               std::chrono::nanoseconds(1)};
};

} // namespace probe::fakes
