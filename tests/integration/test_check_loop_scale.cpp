// The event-driven engine's promise, on real sockets: a thousand checks in flight cost sockets,
// not threads. A listener that never accepts (the kernel completes the handshakes into its
// backlog) holds every request unanswered, so each check runs until its own timeout; the round
// must end at that timeout, every check must say timeout, and the process must not grow a
// thread while they are in flight. Threads are sampled from /proc/self/status.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <sys/resource.h>

#include "probe/engine/run_once.hpp"
#include "probe/util/clock.hpp"
#include "tests/fakes/targets.hpp"
#include "tests/standins/silent_listener.hpp"
#include "tests/support/bounds.hpp"
#include "tests/support/proc_status.hpp"

namespace probe {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(CheckLoopScale, AThousandChecksInFlightRunOnTheCallingThreadAndEndAtTheirTimeout) {
  constexpr int k_targets = 1000;
  rlimit files{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &files), 0);
  if (files.rlim_max < 2 * k_targets + 64) {
    GTEST_SKIP() << "the descriptor limit " << files.rlim_max << " is below what this needs";
  }
  files.rlim_cur = files.rlim_max;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &files), 0);
  const fakes::SilentListener listener;
  const int port = listener.port();

  std::vector<config::Target> targets;
  for (int i = 0; i < k_targets; ++i) {
    targets.push_back(fakes::http_target(
        "t" + std::to_string(i),
        "http://127.0.0.1:" + std::to_string(port) + "/t/" + std::to_string(i), 1s));
  }
  std::vector<const config::Target*> pointers;
  for (const config::Target& target : targets) {
    pointers.push_back(&target);
  }
  std::vector<engine::TargetCheck> checks =
      engine::make_checks(pointers, checks::CheckContext{&util::system_clock()});

  std::atomic<bool> sampling{false};
  std::atomic<bool> over{false};
  std::atomic<int> most{0};
  std::thread sampler([&] {
    // Bounded: the round ends within its bound, and so does this.
    for (int i = 0; i < 3000 && !over.load(); ++i) {
      most = std::max(most.load(), test_support::thread_count());
      sampling = true;
      std::this_thread::sleep_for(5ms);
    }
  });
  // Counted once the sampler runs: it, and a runtime's helper its start may bring (TSan starts
  // a background thread with the first thread created), are there before the round.
  for (int i = 0; i < 60'000 && !sampling.load(); ++i) {
    std::this_thread::sleep_for(1ms);
  }
  const int before = test_support::thread_count();
  const Clock::time_point start = Clock::now();
  const std::vector<engine::TargetResult> results = engine::run_once(checks, k_targets);
  const auto elapsed = Clock::now() - start;
  over = true;
  sampler.join();

  int timed_out = 0;
  for (const engine::TargetResult& result : results) {
    timed_out += result.result.status == checks::CheckStatus::timeout ? 1 : 0;
  }
  EXPECT_EQ(timed_out, k_targets) << results.front().result.detail;
  EXPECT_GE(elapsed, 1s) << "a check ended before its timeout";
  EXPECT_LT(elapsed, test_support::hang_bound(1s)) << "the round did not end at the timeout";
  EXPECT_LE(most.load(), before) << "checks in flight started threads";
}

} // namespace
} // namespace probe
