// util::EventLoop: timers fire in deadline order (equal deadlines in the order they were set),
// a cancelled timer never fires, a watched pipe's readiness reaches its callback, a callback may
// unwatch itself, work posted from another thread runs on the loop's thread, and stop() from
// another thread ends run(). Timers here are due at once or already past: no test waits on the
// wall clock.
#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "probe/util/event_loop.hpp"

namespace probe::util {
namespace {

using SteadyClock = std::chrono::steady_clock;

TEST(EventLoop, TimersFireInDeadlineOrderAndACancelledOneNever) {
  EventLoop loop;
  std::vector<std::string> fired;
  const SteadyClock::time_point past = SteadyClock::now() - std::chrono::seconds(1);
  loop.at(past + std::chrono::milliseconds(2), [&] { fired.push_back("third"); });
  loop.at(past, [&] { fired.push_back("first"); });
  const EventLoop::TimerId cancelled = loop.at(past, [&] { fired.push_back("cancelled"); });
  loop.at(past, [&] { fired.push_back("second"); });
  loop.cancel(cancelled);
  loop.cancel(cancelled); // twice: harmless
  EXPECT_EQ(loop.timers(), 3U);
  loop.run_until([&] { return fired.size() == 3; });
  EXPECT_EQ(fired, (std::vector<std::string>{"first", "second", "third"}));
  EXPECT_EQ(loop.timers(), 0U);
}

TEST(EventLoop, AWatchedPipeReportsReadableAndTheCallbackMayUnwatchItself) {
  EventLoop loop;
  int ends[2];
  ASSERT_EQ(pipe(ends), 0);
  std::string read_back;
  loop.watch(ends[0], EPOLLIN, [&](std::uint32_t events) {
    EXPECT_NE(events & EPOLLIN, 0U);
    char buffer[16];
    const ssize_t n = read(ends[0], buffer, sizeof(buffer));
    read_back.append(buffer, static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
    loop.unwatch(ends[0]); // destroys this callback's stored copy while it runs
  });
  EXPECT_EQ(loop.watched(), 1U);
  ASSERT_EQ(write(ends[1], "ping", 4), 4);
  loop.run_until([&] { return !read_back.empty(); });
  EXPECT_EQ(read_back, "ping");
  EXPECT_EQ(loop.watched(), 0U);
  close(ends[0]);
  close(ends[1]);
}

TEST(EventLoop, WorkPostedFromAnotherThreadRunsOnTheLoopThreadInOrder) {
  EventLoop loop;
  std::vector<int> order;
  std::vector<bool> on_loop;
  std::thread poster([&] {
    for (int i = 0; i < 100; ++i) {
      loop.post([&, i] {
        order.push_back(i);
        on_loop.push_back(loop.in_loop_thread());
      });
    }
  });
  loop.run_until([&] { return order.size() == 100; });
  poster.join();
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(order[static_cast<std::size_t>(i)], i);
  }
  EXPECT_EQ(std::count(on_loop.begin(), on_loop.end(), false), 0);
  EXPECT_FALSE(loop.in_loop_thread()) << "run_until returned: no thread is the loop's";
}

TEST(EventLoop, StopFromAnotherThreadEndsRun) {
  EventLoop loop;
  std::thread stopper([&] { loop.stop(); });
  loop.run(); // would block forever without the stop
  stopper.join();
  // A loop that was stopped runs again.
  bool again = false;
  loop.post([&] { again = true; });
  loop.run_until([&] { return again; });
  EXPECT_TRUE(again);
}

TEST(EventLoop, AStopBeforeRunEndsTheNextRunAtOnce) {
  // The scheduler starts a thread that runs the loop and may stop it before that thread has
  // entered run(): the stop must not be lost, or stopping waits forever.
  EventLoop loop;
  loop.stop();
  loop.run(); // returns at once
  bool ran = false;
  loop.post([&] { ran = true; });
  loop.run_until([&] { return ran; }); // the stop was taken by the run it ended
  EXPECT_TRUE(ran);
}

} // namespace
} // namespace probe::util
