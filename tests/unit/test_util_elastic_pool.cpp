// The elastic pool behind probe's HTTP server: a new task finds a thread while fewer than the
// maximum are busy, the pool never passes its maximum (the rest queue), it shrinks back to its
// minimum when idle, a throwing task does not take a thread down, and shutdown runs what is
// queued and joins everything. Each wait polls for its condition with a generous deadline
// (k_wait): threads start late on a loaded machine, and nothing here depends on how late.
#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "probe/util/elastic_pool.hpp"
#include "tests/support/background_process.hpp" // eventually()

namespace probe::util {
namespace {

using namespace std::chrono_literals;

constexpr std::chrono::milliseconds k_wait = 30s;

// Tasks that block until released, counting how many are running.
class Gate {
public:
  std::function<void()> task() {
    return [this] {
      std::unique_lock<std::mutex> lock(m_mutex);
      ++m_running;
      m_changed.notify_all();
      m_changed.wait(lock, [this] { return m_open; });
      --m_running;
      ++m_done;
    };
  }
  void open() {
    const std::lock_guard<std::mutex> lock(m_mutex);
    m_open = true;
    m_changed.notify_all();
  }
  int running() {
    const std::lock_guard<std::mutex> lock(m_mutex);
    return m_running;
  }
  int done() {
    const std::lock_guard<std::mutex> lock(m_mutex);
    return m_done;
  }

private:
  std::mutex m_mutex;
  std::condition_variable m_changed;
  bool m_open = false;
  int m_running = 0;
  int m_done = 0;
};

TEST(ElasticPool, EveryTaskFindsAThreadUpToTheMaximum) {
  ElasticPool pool(1, 8, 10s);
  Gate gate;
  for (int i = 0; i < 6; ++i) {
    pool.submit(gate.task());
  }
  // Six blocked tasks run at once: none waits behind another.
  EXPECT_TRUE(fakes::eventually([&] { return gate.running() == 6; }, k_wait)) << gate.running();
  EXPECT_EQ(pool.threads(), 6U);
  gate.open();
  EXPECT_TRUE(fakes::eventually([&] { return gate.done() == 6; }, k_wait));
}

TEST(ElasticPool, BeyondTheMaximumTasksQueue) {
  ElasticPool pool(0, 3, 10s);
  Gate gate;
  for (int i = 0; i < 5; ++i) {
    pool.submit(gate.task());
  }
  EXPECT_TRUE(fakes::eventually([&] { return gate.running() == 3; }, k_wait));
  EXPECT_EQ(pool.threads(), 3U);
  EXPECT_EQ(pool.queued(), 2U);
  gate.open();
  EXPECT_TRUE(fakes::eventually([&] { return gate.done() == 5; }, k_wait));
}

TEST(ElasticPool, ShrinksToItsMinimumWhenIdle) {
  ElasticPool pool(2, 16, 100ms);
  EXPECT_EQ(pool.threads(), 2U);
  Gate gate;
  for (int i = 0; i < 10; ++i) {
    pool.submit(gate.task());
  }
  EXPECT_TRUE(fakes::eventually([&] { return gate.running() == 10; }, k_wait));
  gate.open();
  EXPECT_TRUE(fakes::eventually([&] { return pool.threads() == 2; }, k_wait)) << pool.threads();
  // Still works after shrinking, and the threads that ended were joined on the way.
  std::atomic<int> ran{0};
  pool.submit([&] { ++ran; });
  EXPECT_TRUE(fakes::eventually([&] { return ran == 1; }, k_wait));
}

TEST(ElasticPool, UnderASteadyLightLoadTheSurplusOfABurstEnds) {
  // A burst starts 8 threads; then one short task at a time keeps coming, every 20 ms, far more
  // often than the 300 ms idle timeout. Each task goes to the thread idle last, so the others
  // stay idle and end. (Waking any idle thread rotated the tasks over all 8: none ever ended.)
  ElasticPool pool(1, 8, 300ms);
  Gate gate;
  for (int i = 0; i < 8; ++i) {
    pool.submit(gate.task());
  }
  ASSERT_TRUE(fakes::eventually([&] { return gate.running() == 8; }, k_wait));
  gate.open();
  ASSERT_TRUE(fakes::eventually([&] { return gate.done() == 8; }, k_wait));
  std::atomic<int> ran{0};
  const bool shrank = fakes::eventually(
      [&] {
        const int before = ran;
        pool.submit([&] { ++ran; });
        fakes::eventually([&] { return ran > before; }, k_wait); // one at a time
        return pool.threads() <= 3;                              // eventually() polls every 20 ms
      },
      k_wait);
  EXPECT_TRUE(shrank) << pool.threads() << " threads after " << ran << " tasks";
}

TEST(ElasticPool, AThrowingTaskDoesNotStopThePool) {
  ElasticPool pool(1, 1, 10s);
  std::atomic<int> ran{0};
  pool.submit([] { throw std::runtime_error("boom"); });
  pool.submit([&] { ++ran; });
  EXPECT_TRUE(fakes::eventually([&] { return ran == 1; }, k_wait));
  EXPECT_EQ(pool.threads(), 1U);
}

TEST(ElasticPool, ShutdownRunsWhatIsQueuedAndJoins) {
  std::atomic<int> ran{0};
  std::atomic<int> markers_ran{0};
  int markers_accepted = 0;
  {
    ElasticPool pool(0, 1, 10s);
    Gate gate;
    pool.submit(gate.task()); // holds the only thread: what follows queues behind it
    ASSERT_TRUE(fakes::eventually([&] { return gate.running() == 1; }, k_wait));
    for (int i = 0; i < 20; ++i) {
      pool.submit([&] { ++ran; });
    }
    EXPECT_EQ(pool.queued(), 20U);
    std::future<void> stopped = std::async(std::launch::async, [&] { pool.shutdown(); });
    // Shutdown has begun once a submit is ignored (the queue does not grow): only then is the
    // thread let go, so the 20 are still queued when it starts.
    const auto give_up = std::chrono::steady_clock::now() + k_wait;
    for (;;) {
      const std::size_t before = pool.queued();
      pool.submit([&] { ++markers_ran; });
      if (pool.queued() == before || std::chrono::steady_clock::now() >= give_up) {
        break;
      }
      ++markers_accepted;
      std::this_thread::yield();
    }
    gate.open();
    ASSERT_EQ(stopped.wait_for(k_wait), std::future_status::ready);
    EXPECT_EQ(ran, 20);
    EXPECT_EQ(markers_ran, markers_accepted) << "every task queued before shutdown ran";
    EXPECT_EQ(pool.threads(), 0U);
    pool.submit([&] { ++ran; }); // ignored once shut down
    pool.shutdown();             // idempotent
  }
  EXPECT_EQ(ran, 20);
}

} // namespace
} // namespace probe::util
