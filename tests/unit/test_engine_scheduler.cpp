// The scheduler's promises, on scripted checks (no socket): each target runs on its own
// interval and never more often; a check never overlaps itself and runs missed meanwhile are
// skipped and counted; a hanging target does not stop another from being checked; the worker
// pool grows with the target set (a reload from 4 to 40 targets, 36 of them hanging) and shrinks
// when idle; past its ceiling checks start late and the lag and the skipped runs show it (also
// in the metrics); 200 targets answering in 500 ms at a 1 s interval all keep their rate;
// reload keeps unchanged targets' state, resets changed ones, drops removed ones.
//
// Nothing here depends on the machine's speed: the tests wait for what must happen (a target
// checked N times, a check in flight) with a generous bounded deadline, and bound from above
// only what the schedule forbids (more runs than due times). Lateness is forced by holding
// checks, not by hoping the machine is slow; the arithmetic itself is in test_engine_schedule.
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "exporters/metrics.hpp"
#include "probe/engine/scheduler.hpp"
#include "tests/fakes/background_process.hpp" // eventually()

namespace probe::engine {
namespace {

using namespace std::chrono_literals;
using fakes::eventually;
using SteadyClock = std::chrono::steady_clock;

// Long enough that only a broken scheduler reaches it; a healthy run takes a few percent of it.
constexpr std::chrono::milliseconds k_deadline = 30s;

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

// What the test scripts for one target's check, and what the check saw.
struct Script {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<SteadyClock::time_point> runs; // when each run started
  int in_flight = 0;
  int max_in_flight = 0;
  bool ok = true;
  std::chrono::milliseconds takes{0}; // each run sleeps this long, whatever its timeout
  bool held = false;                  // runs block until released (a hanging target)

  std::size_t run_count() {
    const std::lock_guard<std::mutex> lock(mutex);
    return runs.size();
  }
  int running() {
    const std::lock_guard<std::mutex> lock(mutex);
    return in_flight;
  }
  void hold(bool on) {
    const std::lock_guard<std::mutex> lock(mutex);
    held = on;
    changed.notify_all();
  }
};

class ScriptedCheck final : public checks::Check {
public:
  explicit ScriptedCheck(std::shared_ptr<Script> script) : m_script(std::move(script)) {}

  checks::CheckResult run(std::chrono::milliseconds) override {
    std::unique_lock<std::mutex> lock(m_script->mutex);
    m_script->runs.push_back(SteadyClock::now());
    m_script->max_in_flight = std::max(m_script->max_in_flight, ++m_script->in_flight);
    m_script->changed.wait_for(lock, 120s, [this] { return !m_script->held; });
    const std::chrono::milliseconds takes = m_script->takes;
    lock.unlock();
    std::this_thread::sleep_for(takes);
    lock.lock();
    --m_script->in_flight;
    return checks::make_result(m_script->ok ? checks::CheckStatus::success
                                            : checks::CheckStatus::failure,
                               m_script->ok ? "scripted ok" : "scripted failure");
  }

private:
  std::shared_ptr<Script> m_script;
};

// What the observer saw of one target.
struct Seen {
  std::size_t results = 0;
  Health health = Health::unknown;
  RunTiming first;
  RunTiming last;
  std::uint64_t skipped_saturated = 0;
  std::uint64_t skipped_in_flight = 0;
};

class SchedulerTest : public ::testing::Test {
protected:
  void TearDown() override {
    // Held checks would keep stop() waiting: let every one go first.
    for (const auto& [name, script] : scripts()) {
      script->hold(false);
    }
    if (m_scheduler) {
      m_scheduler->stop();
    }
  }

  std::shared_ptr<Script> script(const std::string& name) {
    const std::lock_guard<std::mutex> lock(m_mutex);
    auto& slot = m_scripts[name];
    if (!slot) {
      slot = std::make_shared<Script>();
    }
    return slot;
  }

  std::map<std::string, std::shared_ptr<Script>> scripts() {
    const std::lock_guard<std::mutex> lock(m_mutex);
    return m_scripts;
  }

  Scheduler& make_scheduler(WorkerLimits limits = {}) {
    m_scheduler = std::make_unique<Scheduler>(
        checks::CheckContext{},
        [this](const config::Target& t, const TargetState& state, const RunTiming& timing,
               bool ready) {
          {
            const std::lock_guard<std::mutex> lock(m_mutex);
            Seen& seen = m_seen[t.name];
            if (++seen.results == 1) {
              seen.first = timing;
            }
            seen.health = state.health;
            seen.last = timing;
            seen.skipped_saturated += timing.skipped_saturated;
            seen.skipped_in_flight += timing.skipped_in_flight;
            m_ready = ready;
          }
          if (m_metrics) {
            m_metrics->observe(t, state, ready);
            m_metrics->observe_timing(t, timing);
            // The exposition as the target's first result left it (later ones overwrite the lag).
            const std::lock_guard<std::mutex> lock(m_mutex);
            m_first_exposition.emplace(t.name, m_metrics->render());
          }
        },
        [this](const config::Target& t, const checks::CheckContext&) {
          return std::make_unique<ScriptedCheck>(script(t.name));
        },
        limits);
    return *m_scheduler;
  }

  Seen seen(const std::string& name) {
    const std::lock_guard<std::mutex> lock(m_mutex);
    const auto found = m_seen.find(name);
    return found == m_seen.end() ? Seen{} : found->second;
  }

  std::mutex m_mutex;
  std::map<std::string, std::shared_ptr<Script>> m_scripts;
  std::map<std::string, Seen> m_seen;
  bool m_ready = false;
  std::unique_ptr<exporters::ProbeMetrics> m_metrics; // when a test wants the exposition
  std::map<std::string, std::string> m_first_exposition;
  std::unique_ptr<Scheduler> m_scheduler; // last: stopped before the rest goes
};

TEST_F(SchedulerTest, EachTargetRunsOnItsOwnIntervalAndNeverMoreOften) {
  Scheduler& scheduler = make_scheduler();
  scheduler.set_targets({target("fast", 100ms, 50ms), target("slow", 400ms, 50ms)});
  const SteadyClock::time_point begin = SteadyClock::now();
  scheduler.start();
  ASSERT_TRUE(eventually(
      [&] { return script("fast")->run_count() >= 10 && script("slow")->run_count() >= 3; },
      k_deadline))
      << "fast ran " << script("fast")->run_count() << " times, slow "
      << script("slow")->run_count();
  scheduler.stop();
  const auto elapsed = SteadyClock::now() - begin;
  // One run per due time at most, due times `interval` apart from the first one.
  EXPECT_LE(script("fast")->run_count(), static_cast<std::size_t>(elapsed / 100ms) + 1);
  EXPECT_LE(script("slow")->run_count(), static_cast<std::size_t>(elapsed / 400ms) + 1);
  EXPECT_TRUE(scheduler.ready());
}

TEST_F(SchedulerTest, ACheckNeverOverlapsItselfAndMissedRunsAreSkippedAndCounted) {
  Scheduler& scheduler = make_scheduler();
  script("busy")->takes = 250ms; // each run outlasts two and a half intervals
  scheduler.set_targets({target("busy", 100ms, 100ms)});
  const SteadyClock::time_point begin = SteadyClock::now();
  scheduler.start();
  ASSERT_TRUE(eventually([&] { return seen("busy").results >= 3; }, k_deadline));
  scheduler.stop();
  const auto elapsed = SteadyClock::now() - begin;
  EXPECT_EQ(script("busy")->max_in_flight, 1);
  // Runs one after another, each >= 250 ms: no burst of missed runs afterwards.
  EXPECT_LE(script("busy")->run_count(), static_cast<std::size_t>(elapsed / 250ms) + 1);
  const Seen busy = seen("busy");
  EXPECT_GE(busy.skipped_in_flight, 2 * busy.results) << "each run swallowed >= 2 due times";
  EXPECT_GE(busy.last.skipped_in_flight, 2U);
}

TEST_F(SchedulerTest, AHangingTargetDoesNotStopAnotherFromBeingChecked) {
  Scheduler& scheduler = make_scheduler();
  script("hang")->hold(true);
  scheduler.set_targets({target("hang", 500ms, 500ms), target("quick", 50ms, 20ms)});
  scheduler.start();
  ASSERT_TRUE(eventually([&] { return script("hang")->running() == 1; }, k_deadline));
  const std::size_t before = script("quick")->run_count();
  EXPECT_TRUE(eventually([&] { return script("quick")->run_count() >= before + 10; }, k_deadline))
      << "quick ran " << script("quick")->run_count() - before << " times while hang hung";
  EXPECT_EQ(script("hang")->run_count(), 1U) << "a hanging check is not started again";
}

TEST_F(SchedulerTest, ThresholdsDriveHealthAndReadiness) {
  Scheduler& scheduler = make_scheduler();
  scheduler.set_targets({target("db", 50ms, 20ms)});
  scheduler.start();
  ASSERT_TRUE(eventually([&] { return seen("db").health == Health::up; }, k_deadline));
  EXPECT_TRUE(scheduler.ready());
  {
    const std::lock_guard<std::mutex> lock(script("db")->mutex);
    script("db")->ok = false;
  }
  ASSERT_TRUE(eventually([&] { return seen("db").health == Health::down; }, k_deadline));
  EXPECT_FALSE(scheduler.ready());
}

TEST_F(SchedulerTest, ReloadKeepsUnchangedTargetsAndDropsRemovedOnes) {
  Scheduler& scheduler = make_scheduler();
  scheduler.set_targets(
      {target("keep", 50ms, 20ms), target("drop", 50ms, 20ms), target("change", 50ms, 20ms)});
  scheduler.start();
  ASSERT_TRUE(eventually([&] { return seen("keep").results >= 3; }, k_deadline));
  // "change" gets a 10 s interval: its first run comes within 1 s, its second 10 s later.
  const ReloadSummary summary = scheduler.set_targets(
      {target("keep", 50ms, 20ms), target("change", 10s, 20ms), target("new", 50ms, 20ms)});
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
  // At most the run in flight at the reload finishes; nothing is started for "drop" after it.
  const std::size_t dropped_runs = script("drop")->run_count();
  const std::size_t kept_runs = script("keep")->run_count();
  ASSERT_TRUE(eventually([&] { return script("keep")->run_count() >= kept_runs + 5; }, k_deadline));
  ASSERT_TRUE(eventually([&] { return script("new")->run_count() >= 1; }, k_deadline));
  EXPECT_LE(script("drop")->run_count(), dropped_runs + 1) << "a removed target keeps running";
}

// Issue 12, item 20: the pool was sized once at start (4 workers for 4 targets), so after a
// reload to 40 targets, 36 of them hanging, every worker hung and the healthy ones waited.
TEST_F(SchedulerTest, AReloadFrom4To40TargetsGrowsThePoolAndHangingTargetsHoldNoOneElse) {
  Scheduler& scheduler = make_scheduler({k_max_check_workers, 2, 200ms});
  std::vector<config::Target> targets{target("quick", 50ms, 20ms), target("calm-1", 1s, 20ms),
                                      target("calm-2", 1s, 20ms), target("calm-3", 1s, 20ms)};
  scheduler.set_targets(targets);
  scheduler.start();
  ASSERT_TRUE(eventually([&] { return script("quick")->run_count() >= 2; }, k_deadline));

  for (int i = 0; i < 36; ++i) {
    const std::string name = "hang-" + std::to_string(i);
    script(name)->hold(true);
    targets.push_back(target(name, 30s, 30s));
  }
  scheduler.set_targets(targets);
  auto hanging = [&] {
    int running = 0;
    for (int i = 0; i < 36; ++i) {
      running += script("hang-" + std::to_string(i))->running();
    }
    return running;
  };
  EXPECT_TRUE(eventually([&] { return hanging() == 36; }, k_deadline))
      << "only " << hanging() << " of 36 hanging checks got a worker";
  const std::size_t before = script("quick")->run_count();
  EXPECT_TRUE(eventually([&] { return script("quick")->run_count() >= before + 5; }, k_deadline))
      << "the healthy target ran " << script("quick")->run_count() - before
      << " times while 36 targets hung";
  EXPECT_GE(scheduler.worker_threads(), 36U);
  EXPECT_LT(seen("quick").last.lag, 30s) << "quick waited for a hanging check to end";

  // The hangs end and the target set shrinks: idle threads end, down to the minimum.
  for (int i = 0; i < 36; ++i) {
    script("hang-" + std::to_string(i))->hold(false);
  }
  scheduler.set_targets({target("calm-1", 1s, 20ms)});
  EXPECT_TRUE(eventually([&] { return scheduler.worker_threads() <= 3; }, k_deadline))
      << scheduler.worker_threads() << " threads left for one target checked every second";
}

// Past the ceiling a due check waits for a worker: it starts late, the due runs it misses are
// counted as skipped for saturation, and the metrics show both.
TEST_F(SchedulerTest, PastTheCeilingChecksStartLateAndTheMetricsShowIt) {
  m_metrics = std::make_unique<exporters::ProbeMetrics>("test", "test");
  Scheduler& scheduler = make_scheduler({2, 0, 10s});
  script("hold-a")->hold(true);
  script("hold-b")->hold(true);
  const std::vector<config::Target> held{target("hold-a", 100ms, 100ms),
                                         target("hold-b", 100ms, 100ms)};
  scheduler.set_targets(held);
  scheduler.start();
  ASSERT_TRUE(eventually(
      [&] { return script("hold-a")->running() == 1 && script("hold-b")->running() == 1; },
      k_deadline));
  // Both workers are held; "late" is due within 10 ms of the reload and must wait.
  std::vector<config::Target> with_late = held;
  with_late.push_back(target("late", 100ms, 100ms));
  scheduler.set_targets(with_late);
  const SteadyClock::time_point added = SteadyClock::now();
  std::this_thread::sleep_for(500ms); // not a measurement: the least time "late" waits
  EXPECT_EQ(script("late")->run_count(), 0U) << "a third check ran on a pool of 2";
  const auto held_for = SteadyClock::now() - added;
  script("hold-a")->hold(false);
  script("hold-b")->hold(false);
  ASSERT_TRUE(eventually([&] { return seen("late").results >= 1; }, k_deadline));
  scheduler.stop();

  const RunTiming late = seen("late").first;
  EXPECT_GE(late.lag, held_for - 10ms);
  EXPECT_GE(late.skipped_saturated, static_cast<std::uint64_t>((held_for - 10ms) / 100ms));
  EXPECT_GE(seen("hold-a").skipped_in_flight, 4U) << "hold-a ran past 4 of its due times";
  EXPECT_EQ(scheduler.worker_threads(), 0U) << "stop() leaves no thread";

  // The lag as late's first result left it (later runs are on time); counters at the end.
  const std::string first = [&] {
    const std::lock_guard<std::mutex> lock(m_mutex);
    return m_first_exposition["late"];
  }();
  const std::string last = m_metrics->render();
  auto value = [](const std::string& text, const std::string& series) {
    const std::size_t at = text.find("\n" + series + " ");
    EXPECT_NE(at, std::string::npos) << series << " missing in:\n" << text;
    return at == std::string::npos ? -1.0 : std::stod(text.substr(at + series.size() + 2));
  };
  EXPECT_GE(value(first, "probe_check_lag_seconds{target=\"late\"}"),
            std::chrono::duration<double>(held_for - 10ms).count());
  EXPECT_GE(value(last, "probe_checks_skipped_total{reason=\"saturated\",target=\"late\"}"), 4.0);
  EXPECT_GE(value(last, "probe_checks_skipped_total{reason=\"in_flight\",target=\"hold-a\"}"), 4.0);
  EXPECT_DOUBLE_EQ(value(last, "probe_check_interval_seconds{target=\"late\"}"), 0.1);
}

// Issue 12, item 20: 200 targets that answer in 500 ms at a 1 s interval. With 32 workers only
// 1,280 of 4,000 checks ran in 20 s (32 %): every interval silently stretched to ~3 s. Now the
// pool follows the demand (about 100-200 checks in flight) and nearly every due run starts.
TEST_F(SchedulerTest, TwoHundredSlowTargetsAtOneSecondKeepTheirRate) {
  Scheduler& scheduler = make_scheduler();
  std::vector<config::Target> targets;
  for (int i = 0; i < 200; ++i) {
    const std::string name = "slow-" + std::to_string(i);
    script(name)->takes = 500ms;
    targets.push_back(target(name, 1s, 1s));
  }
  scheduler.set_targets(targets);
  scheduler.start();
  const bool done = eventually(
      [&] {
        for (const config::Target& t : targets) {
          if (seen(t.name).results < 5) {
            return false;
          }
        }
        return true;
      },
      120s);
  scheduler.stop();
  // Due runs from each target's first run to its last, against the runs it got; and the
  // scheduler's own count of skipped runs (printed), which includes the first runs' lateness.
  std::size_t ran = 0;
  std::size_t due = 0;
  std::uint64_t skipped = 0;
  std::size_t results = 0;
  for (const config::Target& t : targets) {
    const std::shared_ptr<Script> s = script(t.name);
    const std::lock_guard<std::mutex> lock(s->mutex);
    ASSERT_FALSE(s->runs.empty()) << t.name << " never ran";
    ran += s->runs.size();
    due += static_cast<std::size_t>((s->runs.back() - s->runs.front() + 500ms) / 1s) + 1;
    skipped += seen(t.name).skipped_saturated + seen(t.name).skipped_in_flight;
    results += seen(t.name).results;
  }
  const double started = static_cast<double>(ran) / static_cast<double>(due);
  const double by_count = static_cast<double>(results) / static_cast<double>(results + skipped);
  std::printf("[ figures  ] 200 targets x 500 ms at 1 s: %zu of %zu due runs started (%.1f %%); "
              "%zu results, %llu runs skipped (%.1f %% run)\n",
              ran, due, 100.0 * started, results, static_cast<unsigned long long>(skipped),
              100.0 * by_count);
  EXPECT_TRUE(done) << "some target had fewer than 5 results after 120 s";
  // From each target's first run on: the first wave (200 threads started at once) may start
  // late on a loaded machine, and the skips it causes are in the scheduler's count only.
  EXPECT_GE(started, 0.9);
}

TEST_F(SchedulerTest, StopWaitsOnlyForTheChecksInFlight) {
  Scheduler& scheduler = make_scheduler();
  script("slow")->takes = 300ms;
  scheduler.set_targets({target("slow", 300ms, 300ms)});
  scheduler.start();
  ASSERT_TRUE(eventually([&] { return script("slow")->running() == 1; }, k_deadline));
  const SteadyClock::time_point begin = SteadyClock::now();
  scheduler.stop();
  // Separates "waited for the check in flight" from "hung": a wide margin, not a speed test.
  EXPECT_LT(SteadyClock::now() - begin, 15s);
  EXPECT_EQ(script("slow")->running(), 0);
  const std::size_t runs = script("slow")->run_count();
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(script("slow")->run_count(), runs) << "a check started after stop()";
}

} // namespace
} // namespace probe::engine
