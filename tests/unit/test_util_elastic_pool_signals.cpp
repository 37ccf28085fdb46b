// ElasticPool's threads block the process signals whichever thread starts them: `probe serve`
// takes SIGHUP, SIGINT and SIGTERM with sigwait() on one thread, and a pool thread started from
// a thread that has them unblocked must not take one (the default action would end the
// process). The submitting thread's own mask is left as it was.
#include <csignal>
#include <future>

#include <gtest/gtest.h>
#include <pthread.h>

#include "probe/util/elastic_pool.hpp"

namespace probe::util {
namespace {

using namespace std::chrono_literals;

sigset_t current_mask() {
  sigset_t mask;
  sigemptyset(&mask);
  pthread_sigmask(SIG_BLOCK, nullptr, &mask);
  return mask;
}

TEST(ElasticPoolSignals, PoolThreadsBlockTheProcessSignals) {
  // This thread has them unblocked, as a library's thread or main() before serve may.
  sigset_t process_signals;
  sigemptyset(&process_signals);
  for (const int signal_number : {SIGHUP, SIGINT, SIGTERM}) {
    sigaddset(&process_signals, signal_number);
  }
  sigset_t before;
  pthread_sigmask(SIG_UNBLOCK, &process_signals, &before);

  ElasticPool pool(0, 4, 10s);
  std::promise<sigset_t> seen;
  std::future<sigset_t> mask = seen.get_future();
  pool.submit([&seen] { seen.set_value(current_mask()); });
  ASSERT_EQ(mask.wait_for(30s), std::future_status::ready);
  const sigset_t in_pool = mask.get();
  for (const int signal_number : {SIGHUP, SIGINT, SIGTERM, SIGQUIT, SIGUSR1, SIGUSR2}) {
    EXPECT_EQ(sigismember(&in_pool, signal_number), 1) << "signal " << signal_number;
  }
  const sigset_t after = current_mask();
  for (const int signal_number : {SIGHUP, SIGINT, SIGTERM}) {
    EXPECT_EQ(sigismember(&after, signal_number), 0) << "the caller's mask changed";
  }
  pool.shutdown();
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
}

} // namespace
} // namespace probe::util
