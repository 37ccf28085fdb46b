// The watchdog is what bounds every check's blocking I/O: if it fires late, a check overruns its
// timeout; if a disarmed timer still fires, it cuts short I/O that has moved on to something
// else; if disarm() returns while the callback runs, the callback touches a dead check. These
// tests pin each of those promises. Timing assertions only tell "fired at its deadline" from
// "fired much later, or never" (2 s of margin, 30 s before giving up), so a loaded CI machine
// cannot make them flaky; ordering is asserted exactly, with the timers armed while the
// watchdog's thread is held in a callback, so that how fast the test arms them cannot matter.
// Each test declares its Watchdog after everything its callbacks touch, so the timer thread is
// joined before those are destroyed.
#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "probe/util/watchdog.hpp"
#include "tests/fakes/manual_clock.hpp"

namespace probe::util {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds k_late_margin{2'000}; // how late a timer may fire on a busy machine
constexpr milliseconds k_give_up{30'000};    // no test waits longer than this for a callback

TEST(Watchdog, FiresAtTheDeadline) {
  std::promise<Clock::time_point> fired;
  const Clock::time_point deadline = Clock::now() + milliseconds(100);
  Watchdog watchdog;
  const std::uint64_t id = watchdog.arm(deadline, [&] { fired.set_value(Clock::now()); });
  std::future<Clock::time_point> when = fired.get_future();
  ASSERT_EQ(when.wait_for(k_give_up), std::future_status::ready);
  const Clock::time_point at = when.get();
  EXPECT_GE(at, deadline);
  EXPECT_LE(at, deadline + k_late_margin);
  EXPECT_TRUE(watchdog.disarm(id));
}

TEST(Watchdog, PastDeadlineFiresPromptly) {
  std::promise<void> fired;
  const Clock::time_point start = Clock::now();
  Watchdog watchdog;
  watchdog.arm(start - milliseconds(10), [&] { fired.set_value(); });
  ASSERT_EQ(fired.get_future().wait_for(k_give_up), std::future_status::ready);
  EXPECT_LE(Clock::now(), start + k_late_margin);
}

TEST(Watchdog, DisarmBeforeFireReturnsFalseAndCallbackNeverRuns) {
  std::atomic<bool> ran{false};
  std::promise<void> later;
  const Clock::time_point now = Clock::now();
  Watchdog watchdog;
  const std::uint64_t id = watchdog.arm(now + milliseconds(100), [&] { ran = true; });
  EXPECT_FALSE(watchdog.disarm(id));
  // A later timer firing proves the watchdog went past the disarmed one's deadline.
  watchdog.arm(now + milliseconds(300), [&] { later.set_value(); });
  ASSERT_EQ(later.get_future().wait_for(k_give_up), std::future_status::ready);
  EXPECT_FALSE(ran);
}

TEST(Watchdog, DisarmAfterFireReturnsTrueOnce) {
  std::promise<void> fired;
  Watchdog watchdog;
  const std::uint64_t id = watchdog.arm(Clock::now(), [&] { fired.set_value(); });
  ASSERT_EQ(fired.get_future().wait_for(k_give_up), std::future_status::ready);
  EXPECT_TRUE(watchdog.disarm(id));
  EXPECT_FALSE(watchdog.disarm(id)); // already reported
}

TEST(Watchdog, DisarmOfUnknownIdReturnsFalse) {
  Watchdog watchdog;
  EXPECT_FALSE(watchdog.disarm(12345));
}

TEST(Watchdog, IdsAreDistinct) {
  const Clock::time_point far = Clock::now() + std::chrono::hours(1);
  Watchdog watchdog;
  const std::uint64_t a = watchdog.arm(far, [] {});
  const std::uint64_t b = watchdog.arm(far, [] {});
  EXPECT_NE(a, b);
  EXPECT_NE(a, 0U);
  EXPECT_FALSE(watchdog.disarm(a));
  EXPECT_FALSE(watchdog.disarm(b));
}

TEST(Watchdog, DisarmWaitsForARunningCallback) {
  std::promise<void> started;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> callback_done{false};
  Watchdog watchdog;
  const std::uint64_t id = watchdog.arm(Clock::now(), [&] {
    started.set_value();
    released.wait();
    callback_done = true;
  });
  ASSERT_EQ(started.get_future().wait_for(k_give_up), std::future_status::ready);

  std::promise<void> disarm_returned;
  std::future<void> returned = disarm_returned.get_future();
  std::atomic<bool> done_when_disarm_returned{false};
  std::atomic<bool> disarm_result{false};
  std::thread disarmer([&] {
    disarm_result = watchdog.disarm(id);
    done_when_disarm_returned = callback_done.load();
    disarm_returned.set_value();
  });
  // disarm() must still be blocked while the callback is held. A wrong implementation returns
  // at once: this waits for that return (an event, not a sleep) and gives up after 200 ms.
  EXPECT_EQ(returned.wait_for(milliseconds(200)), std::future_status::timeout);
  release.set_value();
  disarmer.join();
  EXPECT_EQ(returned.wait_for(milliseconds(0)), std::future_status::ready);
  EXPECT_TRUE(done_when_disarm_returned);
  EXPECT_TRUE(disarm_result);
}

TEST(Watchdog, ManyTimersFireInDeadlineOrder) {
  std::mutex mutex;
  std::vector<int> order;
  std::promise<void> all_fired;
  std::promise<void> holding;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  constexpr int k_count = 10;
  Watchdog watchdog;
  // The watchdog's thread is held in a callback while the ten are armed: however slowly the
  // arming goes, none can fire before all are in.
  watchdog.arm(Clock::now(), [&] {
    holding.set_value();
    released.wait();
  });
  ASSERT_EQ(holding.get_future().wait_for(k_give_up), std::future_status::ready);
  const Clock::time_point base = Clock::now() + milliseconds(200);
  // Armed out of order; deadlines 20 ms apart.
  for (const int i : {7, 2, 9, 0, 5, 3, 8, 1, 6, 4}) {
    watchdog.arm(base + milliseconds(20 * i), [&, i] {
      const std::lock_guard<std::mutex> lock(mutex);
      order.push_back(i);
      if (order.size() == k_count) {
        all_fired.set_value();
      }
    });
  }
  release.set_value();
  ASSERT_EQ(all_fired.get_future().wait_for(k_give_up), std::future_status::ready);
  const std::lock_guard<std::mutex> lock(mutex);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(Watchdog, EqualDeadlinesFireInArmingOrder) {
  std::mutex mutex;
  std::vector<int> order;
  std::promise<void> all_fired;
  const Clock::time_point deadline = Clock::now() + milliseconds(100);
  Watchdog watchdog;
  for (int i = 0; i < 5; ++i) {
    watchdog.arm(deadline, [&, i] {
      const std::lock_guard<std::mutex> lock(mutex);
      order.push_back(i);
      if (order.size() == 5) {
        all_fired.set_value();
      }
    });
  }
  ASSERT_EQ(all_fired.get_future().wait_for(k_give_up), std::future_status::ready);
  const std::lock_guard<std::mutex> lock(mutex);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(Watchdog, EarlierTimerArmedLaterStillFiresFirst) {
  std::promise<Clock::time_point> early_fired;
  std::atomic<bool> late_ran{false};
  const Clock::time_point now = Clock::now();
  // The watchdog thread is already sleeping towards the far deadline when the near one arrives.
  Watchdog watchdog;
  const std::uint64_t late = watchdog.arm(now + std::chrono::hours(1), [&] { late_ran = true; });
  watchdog.arm(now + milliseconds(100), [&] { early_fired.set_value(Clock::now()); });
  std::future<Clock::time_point> when = early_fired.get_future();
  ASSERT_EQ(when.wait_for(k_give_up), std::future_status::ready);
  EXPECT_LE(when.get(), now + milliseconds(100) + k_late_margin);
  EXPECT_FALSE(late_ran);
  EXPECT_FALSE(watchdog.disarm(late));
}

// The normal life of a check: it arms a timer, finishes in time and disarms it while the watchdog
// thread sleeps towards that very deadline. The thread must not keep a reference into the
// erased entry. In a plain build this passes whatever the implementation does; under
// PROBE_SANITIZE=address it catches a use-after-free (see the report).
TEST(Watchdog, DisarmingTheTimerTheThreadSleepsOnIsSafe) {
  fakes::ManualClock clock;
  std::promise<void> next_fired;
  Watchdog watchdog(clock);
  const std::uint64_t id = watchdog.arm(clock.steady_now() + std::chrono::hours(1), [] {});
  // The thread is asleep on that very deadline once it waits on the clock.
  ASSERT_TRUE(clock.await_waiters(1, k_give_up));
  EXPECT_FALSE(watchdog.disarm(id));
  watchdog.arm(clock.steady_now() + milliseconds(10), [&] { next_fired.set_value(); });
  clock.advance(milliseconds(10));
  EXPECT_EQ(next_fired.get_future().wait_for(k_give_up), std::future_status::ready);
}

// On a manual clock a timer fires when time reaches its deadline, not before.
TEST(Watchdog, FiresWhenTheClockReachesTheDeadline) {
  fakes::ManualClock clock;
  std::promise<Clock::time_point> fired;
  Watchdog watchdog(clock);
  const Clock::time_point deadline = clock.steady_now() + milliseconds(500);
  const std::uint64_t id = watchdog.arm(deadline, [&] { fired.set_value(clock.steady_now()); });
  std::future<Clock::time_point> when = fired.get_future();
  ASSERT_TRUE(clock.await_waiters(1, k_give_up));
  clock.advance(milliseconds(499));
  ASSERT_TRUE(clock.await_waiters(1, k_give_up)) << "woken 1 ms early, it waits again";
  EXPECT_EQ(when.wait_for(milliseconds(0)), std::future_status::timeout);
  clock.advance(milliseconds(1));
  ASSERT_EQ(when.wait_for(k_give_up), std::future_status::ready);
  EXPECT_EQ(when.get(), deadline);
  EXPECT_TRUE(watchdog.disarm(id));
}

TEST(Watchdog, CallbackMayArmAnotherTimer) {
  std::promise<void> second_fired;
  Watchdog watchdog;
  watchdog.arm(Clock::now(), [&] {
    watchdog.arm(Clock::now() + milliseconds(10), [&] { second_fired.set_value(); });
  });
  EXPECT_EQ(second_fired.get_future().wait_for(k_give_up), std::future_status::ready);
}

TEST(Watchdog, DestructionDropsPendingTimersWithoutWaiting) {
  std::atomic<bool> ran{false};
  const Clock::time_point start = Clock::now();
  {
    Watchdog watchdog;
    watchdog.arm(start + std::chrono::hours(1), [&] { ran = true; });
  }
  EXPECT_LE(Clock::now(), start + k_late_margin);
  EXPECT_FALSE(ran);
}

} // namespace
} // namespace probe::util
