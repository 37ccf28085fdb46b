// The scheduler's promises, on fake checks: each target runs on its own interval; a check
// never overlaps itself; a slow target does not delay a fast one; reload keeps unchanged
// targets' state, resets changed ones, drops removed ones; stop() is bounded by timeouts.
#include <map>

#include <gtest/gtest.h>

#include "probe/engine/scheduler.hpp"
#include "tests/fakes/fake_check.hpp"

namespace probe::engine {
namespace {

using namespace std::chrono_literals;

config::Target target(const std::string& name, std::chrono::milliseconds interval,
                      std::chrono::milliseconds timeout) {
  config::Target t;
  t.name = name;
  t.type = config::TargetType::tcp;
  t.interval = interval;
  t.timeout = timeout;
  t.success_threshold = 1;
  t.failure_threshold = 2;
  t.spec = config::TcpTarget{"127.0.0.1", 1};
  return t;
}

class SchedulerTest : public ::testing::Test {
protected:
  std::shared_ptr<fakes::FakeCheck::Shared> shared(const std::string& name) {
    auto& slot = m_shared[name];
    if (!slot) {
      slot = std::make_shared<fakes::FakeCheck::Shared>();
    }
    return slot;
  }

  Scheduler make_scheduler() {
    return Scheduler(
        checks::CheckContext{},
        [this](const config::Target& t, const TargetState& state, bool ready) {
          const std::lock_guard<std::mutex> lock(m_mutex);
          m_health[t.name] = state.health;
          m_ready = ready;
        },
        [this](const config::Target& t, const checks::CheckContext&) {
          return std::make_unique<fakes::FakeCheck>(shared(t.name));
        });
  }

  Health health(const std::string& name) {
    const std::lock_guard<std::mutex> lock(m_mutex);
    return m_health.count(name) ? m_health[name] : Health::unknown;
  }

  std::map<std::string, std::shared_ptr<fakes::FakeCheck::Shared>> m_shared;
  std::mutex m_mutex;
  std::map<std::string, Health> m_health;
  bool m_ready = false;
};

TEST_F(SchedulerTest, RunsEachTargetOnItsOwnInterval) {
  Scheduler scheduler = make_scheduler();
  scheduler.set_targets({target("fast", 100ms, 50ms), target("slow", 400ms, 50ms)});
  scheduler.start();
  std::this_thread::sleep_for(1050ms);
  scheduler.stop();
  EXPECT_NEAR(static_cast<double>(shared("fast")->run_count()), 10.0, 2.0);
  EXPECT_NEAR(static_cast<double>(shared("slow")->run_count()), 3.0, 1.0);
  EXPECT_TRUE(scheduler.ready());
}

TEST_F(SchedulerTest, ACheckNeverOverlapsItselfAndMissedRunsAreSkipped) {
  Scheduler scheduler = make_scheduler();
  shared("busy")->takes = 250ms; // every run lasts its whole 100 ms timeout = its interval
  scheduler.set_targets({target("busy", 100ms, 100ms)});
  scheduler.start();
  std::this_thread::sleep_for(600ms);
  scheduler.stop();
  EXPECT_EQ(shared("busy")->max_in_flight.load(), 1);
  EXPECT_LE(shared("busy")->run_count(), 7U);
}

TEST_F(SchedulerTest, AHangingTargetDoesNotDelayOthers) {
  Scheduler scheduler = make_scheduler();
  shared("hang")->takes = 10s; // bounded by its 500 ms timeout
  scheduler.set_targets({target("hang", 500ms, 500ms), target("quick", 100ms, 50ms)});
  scheduler.start();
  std::this_thread::sleep_for(1050ms);
  scheduler.stop();
  EXPECT_GE(shared("quick")->run_count(), 8U);
  EXPECT_LE(shared("hang")->run_count(), 3U);
}

TEST_F(SchedulerTest, ThresholdsDriveHealthAndReadiness) {
  Scheduler scheduler = make_scheduler();
  scheduler.set_targets({target("db", 50ms, 20ms)});
  scheduler.start();
  ASSERT_TRUE([&] {
    for (int i = 0; i < 100 && health("db") != Health::up; ++i) {
      std::this_thread::sleep_for(10ms);
    }
    return health("db") == Health::up;
  }());
  shared("db")->ok = false;
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(health("db"), Health::down);
  EXPECT_FALSE(scheduler.ready());
  scheduler.stop();
}

TEST_F(SchedulerTest, ReloadKeepsUnchangedTargetsAndDropsRemovedOnes) {
  Scheduler scheduler = make_scheduler();
  scheduler.set_targets(
      {target("keep", 50ms, 20ms), target("drop", 50ms, 20ms), target("change", 50ms, 20ms)});
  scheduler.start();
  std::this_thread::sleep_for(300ms);
  const ReloadSummary summary = scheduler.set_targets(
      {target("keep", 50ms, 20ms), target("change", 80ms, 20ms), target("new", 50ms, 20ms)});
  EXPECT_EQ(summary.added, std::vector<std::string>{"new"});
  EXPECT_EQ(summary.removed, std::vector<std::string>{"drop"});
  EXPECT_EQ(summary.changed, std::vector<std::string>{"change"});
  EXPECT_EQ(summary.unchanged, 1U);
  const std::vector<TargetSnapshot> snapshot = scheduler.snapshot();
  ASSERT_EQ(snapshot.size(), 3U);
  for (const TargetSnapshot& s : snapshot) {
    if (s.target.name == "keep") {
      EXPECT_GE(s.state.checks, 3U) << "an unchanged target keeps its state";
    }
    if (s.target.name == "change") {
      EXPECT_LE(s.state.checks, 1U) << "a changed target starts afresh";
    }
  }
  const std::size_t dropped_runs = shared("drop")->run_count();
  std::this_thread::sleep_for(200ms);
  EXPECT_LE(shared("drop")->run_count(), dropped_runs + 1) << "a removed target keeps running";
  scheduler.stop();
}

TEST_F(SchedulerTest, StopIsBoundedByTheLongestTimeout) {
  Scheduler scheduler = make_scheduler();
  shared("hang")->takes = 10s;
  scheduler.set_targets({target("hang", 300ms, 300ms)});
  scheduler.start();
  std::this_thread::sleep_for(100ms);
  const auto start = std::chrono::steady_clock::now();
  scheduler.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 400ms);
}

} // namespace
} // namespace probe::engine
