// CoalescingWorker is how `probe serve` turns a burst of SIGHUPs into reloads: asks made while a
// run is under way become exactly one more run, runs never overlap, and stop() lets the run
// under way finish. Each test holds the job on a gate it opens itself, so what is asserted
// depends on the order of events, never on how fast the machine is; every wait is bounded.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "probe/util/coalescing_worker.hpp"

namespace probe::util {
namespace {

using namespace std::chrono_literals;

// A job that counts its runs and, while the gate is closed, waits in each run until it opens.
class GatedJob {
public:
  void run() {
    std::unique_lock<std::mutex> lock(m_mutex);
    ++m_started;
    m_running += 1;
    m_max_running = std::max(m_max_running, m_running);
    m_changed.notify_all();
    m_changed.wait_for(lock, 30s, [this] { return m_open; });
    m_running -= 1;
    ++m_finished;
    m_changed.notify_all();
  }
  void open() {
    const std::lock_guard<std::mutex> lock(m_mutex);
    m_open = true;
    m_changed.notify_all();
  }
  // Waits (bounded) until `count` runs have started / finished; returns whether they have.
  bool wait_started(int count) {
    std::unique_lock<std::mutex> lock(m_mutex);
    return m_changed.wait_for(lock, 30s, [&] { return m_started >= count; });
  }
  bool wait_finished(int count) {
    std::unique_lock<std::mutex> lock(m_mutex);
    return m_changed.wait_for(lock, 30s, [&] { return m_finished >= count; });
  }
  int started() {
    const std::lock_guard<std::mutex> lock(m_mutex);
    return m_started;
  }
  int finished() {
    const std::lock_guard<std::mutex> lock(m_mutex);
    return m_finished;
  }
  int max_running() {
    const std::lock_guard<std::mutex> lock(m_mutex);
    return m_max_running;
  }

private:
  std::mutex m_mutex;
  std::condition_variable m_changed;
  bool m_open = false;
  int m_started = 0;
  int m_finished = 0;
  int m_running = 0;
  int m_max_running = 0;
};

TEST(CoalescingWorker, AsksDuringARunBecomeExactlyOneMoreRun) {
  GatedJob job;
  CoalescingWorker worker([&] { job.run(); });
  worker.request();
  ASSERT_TRUE(job.wait_started(1));
  for (int i = 0; i < 200; ++i) {
    worker.request(); // a burst of SIGHUPs while the first reload runs
  }
  job.open();
  ASSERT_TRUE(job.wait_finished(2));
  worker.stop();
  EXPECT_EQ(job.started(), 2);
  EXPECT_EQ(job.max_running(), 1);
}

TEST(CoalescingWorker, AnAskAfterARunIsNotLost) {
  GatedJob job;
  job.open();
  CoalescingWorker worker([&] { job.run(); });
  worker.request();
  ASSERT_TRUE(job.wait_finished(1));
  worker.request();
  ASSERT_TRUE(job.wait_finished(2));
  worker.stop();
  EXPECT_EQ(job.started(), 2);
}

TEST(CoalescingWorker, StopWaitsForTheRunUnderWay) {
  GatedJob job;
  CoalescingWorker worker([&] { job.run(); });
  worker.request();
  ASSERT_TRUE(job.wait_started(1));
  worker.request(); // pending
  std::thread stopper([&] { worker.stop(); });
  job.open();
  stopper.join();
  EXPECT_GE(job.finished(), 1) << "stop() returned before the run under way finished";
  EXPECT_EQ(job.finished(), job.started());
  // The pending run is dropped when stop() comes first, and runs when the gate opened first.
  EXPECT_LE(job.started(), 2);
}

TEST(CoalescingWorker, NoAskNoRun) {
  GatedJob job;
  {
    CoalescingWorker worker([&] { job.run(); });
  }
  EXPECT_EQ(job.started(), 0);
}

} // namespace
} // namespace probe::util
