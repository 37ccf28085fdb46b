// The scheduler's promises, on scripted checks (no socket) and a manual clock: first runs are
// spread within their jitter bound; each target then runs exactly on its own fixed-rate due
// times and never more often; a check never overlaps itself and the due times it ran into are
// skipped and counted; a hanging target does not delay another; the worker pool grows with the
// target set (a reload from 4 to 40 targets, 36 of them hanging) so 200 targets busy half of
// each interval all start on time; past the pool's ceiling checks start late and the lag and
// the skipped runs show it (also in the metrics); reload keeps unchanged targets' due times and
// state, resets changed ones and drops removed ones; pushes reach push-fed checks by name.
//
// Time moves only when the test moves it, from one due time (or end of a run) to the next, like
// a discrete-event simulation (step()), and each step waits until every run due at that moment
// has started and every run ending then has reported. So every run's start, lag and skipped
// count is asserted as an exact value; no test sleeps and none depends on the machine's speed.
// One wait is on the real clock: the worker pool's idle threads end after its idle timeout
// (ElasticPool is not on the clock seam), polled with a bound. The fixed-rate arithmetic itself
// is in test_engine_schedule.
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include <gtest/gtest.h>

#include "exporters/metrics.hpp"
#include "probe/engine/scheduler.hpp"
#include "tests/fakes/manual_clock.hpp"
#include "tests/support/background_process.hpp" // eventually()

namespace probe::engine {
namespace {

using namespace std::chrono_literals;
using TimePoint = std::chrono::steady_clock::time_point;

// A bound on waiting for other threads to do what is already due; only a broken scheduler
// reaches it. The manual clock does not move meanwhile.
constexpr std::chrono::milliseconds k_give_up = 30s;

config::Target target(const std::string& name, std::chrono::milliseconds interval,
                      std::chrono::milliseconds timeout = 20ms) {
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

config::Target push_target(const std::string& name, std::chrono::milliseconds max_age) {
  config::Target t = target(name, 10s, 1s);
  t.type = config::TargetType::heartbeat;
  config::HeartbeatTarget spec;
  spec.source = config::HeartbeatSource::push;
  spec.max_age = max_age;
  t.spec = spec;
  return t;
}

// What the test scripts for one target's check, and what the check saw (under the fixture's
// mutex).
struct Script {
  std::vector<TimePoint> runs; // when each run started, on the manual clock
  int in_flight = 0;
  int max_in_flight = 0;
  bool ok = true;
  std::chrono::milliseconds takes{0}; // each run lasts this long on the manual clock
  bool held = false;                  // runs block until released (a hanging target)
};

// What the observer saw of one target.
struct Seen {
  std::vector<RunTiming> timings; // one per result, in order
  Health health = Health::unknown;
  std::optional<double> heartbeat_age;
  std::string reason;

  std::size_t results() const { return timings.size(); }
};

std::vector<TimePoint> every(TimePoint first, std::chrono::milliseconds interval,
                             std::size_t count) {
  std::vector<TimePoint> out;
  for (std::size_t i = 0; i < count; ++i) {
    out.push_back(first + interval * static_cast<long>(i));
  }
  return out;
}

class SchedulerTest : public ::testing::Test {
protected:
  class ScriptedCheck final : public checks::Check {
  public:
    ScriptedCheck(SchedulerTest& test, std::string name) : m_test(test), m_name(std::move(name)) {}
    checks::CheckResult run(std::chrono::milliseconds) override { return m_test.run(m_name); }

  private:
    SchedulerTest& m_test;
    std::string m_name;
  };

  void TearDown() override {
    // Held or unfinished checks would keep stop() waiting: every run ends at once from now on.
    {
      const std::lock_guard<std::mutex> lock(m_mutex);
      m_ending = true;
      m_changed.notify_all();
    }
    if (m_scheduler) {
      m_scheduler->stop();
    }
  }

  // The scripted check's run: started now on the manual clock, over when released and `takes`
  // has passed on it.
  checks::CheckResult run(const std::string& name) {
    std::unique_lock<std::mutex> lock(m_mutex);
    Script& s = m_scripts[name];
    const TimePoint start = m_clock.steady_now();
    s.runs.push_back(start);
    s.max_in_flight = std::max(s.max_in_flight, ++s.in_flight);
    m_max_in_flight_seen = std::max(m_max_in_flight_seen, ++m_in_flight_total);
    m_changed.notify_all();
    while ((s.held || m_clock.steady_now() < start + s.takes) && !m_ending) {
      if (s.held) {
        m_changed.wait(lock);
      } else {
        m_clock.wait_until(lock, m_changed, start + s.takes);
      }
    }
    --s.in_flight;
    --m_in_flight_total;
    m_changed.notify_all();
    return checks::make_result(s.ok ? checks::CheckStatus::success : checks::CheckStatus::failure,
                               s.ok ? "scripted ok" : "scripted failure");
  }

  void observe(const config::Target& t, const TargetState& state, const RunTiming& timing,
               bool ready) {
    {
      const std::lock_guard<std::mutex> lock(m_mutex);
      Seen& seen = m_seen[t.name];
      seen.timings.push_back(timing);
      seen.health = state.health;
      seen.heartbeat_age = state.last.heartbeat_age_seconds;
      seen.reason = state.last.reason;
      m_ready = ready;
      m_changed.notify_all();
    }
    if (m_metrics) {
      m_metrics->observe(t, state, ready);
      m_metrics->observe_timing(t, timing);
      // The exposition as the target's first result left it (later ones overwrite the lag).
      const std::string text = m_metrics->render();
      const std::lock_guard<std::mutex> lock(m_mutex);
      m_first_exposition.emplace(t.name, text);
    }
  }

  // Heartbeat targets get the real check (checks::make_check: a push or a file, no network),
  // every other target a scripted one.
  Scheduler& make_scheduler(FlightLimits limits = {}) {
    m_scheduler = std::make_unique<Scheduler>(
        checks::CheckContext{},
        [this](const config::Target& t, const TargetState& state, const RunTiming& timing,
               bool ready) { observe(t, state, timing, ready); },
        [this](const config::Target& t,
               const checks::CheckContext& context) -> std::unique_ptr<checks::Check> {
          if (t.type == config::TargetType::heartbeat) {
            const std::lock_guard<std::mutex> lock(m_mutex);
            m_real.insert(t.name);
            return checks::make_check(t, context);
          }
          return std::make_unique<ScriptedCheck>(*this, t.name);
        },
        limits, m_clock);
    return *m_scheduler;
  }

  // Changes `name`'s script under the lock (and wakes its runs).
  template <typename Change> void script(const std::string& name, Change change) {
    const std::lock_guard<std::mutex> lock(m_mutex);
    change(m_scripts[name]);
    m_changed.notify_all();
  }
  Script script(const std::string& name) {
    const std::lock_guard<std::mutex> lock(m_mutex);
    return m_scripts[name];
  }
  Seen seen(const std::string& name) {
    const std::lock_guard<std::mutex> lock(m_mutex);
    return m_seen[name];
  }
  std::vector<TimePoint> runs(const std::string& name) { return script(name).runs; }

  // Waits (bounded) until `condition` holds over the scripts and results, under the lock.
  template <typename Condition> bool wait_for(Condition condition) {
    std::unique_lock<std::mutex> lock(m_mutex);
    return m_changed.wait_for(lock, k_give_up, condition);
  }

  // What a test waits for after moving the clock: runs started (count per target), results
  // reported (count per target).
  struct Wants {
    std::map<std::string, std::size_t> runs;
    std::map<std::string, std::size_t> results;
  };

  // With the lock held: `name` is dispatched now; its run is to start, and to report as well
  // when it takes no time. A real check (a heartbeat) is only seen by its result.
  void want_run(const std::string& name, Wants& wants) {
    const Script& s = m_scripts[name];
    if (m_real.count(name) == 0) {
      wants.runs[name] = s.runs.size() + 1;
    }
    if (s.takes == 0ms && !s.held) {
      wants.results[name] = m_seen[name].results() + 1;
    }
  }

  bool wait_for(const Wants& wants) {
    return wait_for([&] {
      for (const auto& [name, count] : wants.runs) {
        if (m_scripts[name].runs.size() < count) {
          return false;
        }
      }
      for (const auto& [name, count] : wants.results) {
        if (m_seen[name].results() < count) {
          return false;
        }
      }
      return true;
    });
  }

  // Starts the scheduler and waits until the runs due at once (a first-run jitter of 0) have
  // started, and reported if they take no time. Else a step() could move the clock before
  // such a run starts: dispatched and not started, it is neither on the timeline nor running.
  bool start() {
    Wants wants;
    {
      const std::map<std::string, TimePoint> dues = m_scheduler->due_times();
      const std::lock_guard<std::mutex> lock(m_mutex);
      for (const auto& [name, due] : dues) {
        if (due <= now()) {
          want_run(name, wants);
        }
      }
    }
    m_scheduler->start();
    return wait_for(wants);
  }

  // Replaces the running scheduler's targets and, as start() does, waits for the runs of added
  // or changed targets due at once (off the timeline right after the reload, or about to be).
  ReloadSummary reload(const std::vector<config::Target>& targets) {
    Wants maybe;
    {
      const std::lock_guard<std::mutex> lock(m_mutex);
      for (const config::Target& t : targets) {
        want_run(t.name, maybe);
      }
    }
    const ReloadSummary summary = m_scheduler->set_targets(targets);
    const std::map<std::string, TimePoint> dues = m_scheduler->due_times();
    Wants wants;
    std::vector<std::string> fresh = summary.added;
    fresh.insert(fresh.end(), summary.changed.begin(), summary.changed.end());
    for (const std::string& name : fresh) {
      if (dues.count(name) == 0 || dues.at(name) <= now()) {
        if (maybe.runs.count(name) != 0) {
          wants.runs[name] = maybe.runs[name];
        }
        if (maybe.results.count(name) != 0) {
          wants.results[name] = maybe.results[name];
        }
      }
    }
    EXPECT_TRUE(wait_for(wants)) << "a target due at once did not run";
    return summary;
  }

  // Moves the clock to the next moment something happens — a target due on the timeline, or a
  // run in flight (not held) ending — and waits until the runs due then have started and the
  // runs ending then (or starting and taking no time) have reported. False when they did not
  // within k_give_up. A run due past the pool's ceiling would be waited for in vain: tests of
  // saturation move the clock by hand.
  bool step() {
    const std::map<std::string, TimePoint> dues = m_scheduler->due_times();
    Wants wants;
    TimePoint next = TimePoint::max();
    {
      const std::lock_guard<std::mutex> lock(m_mutex);
      std::map<std::string, TimePoint> ends;
      for (const auto& [name, s] : m_scripts) {
        if (s.in_flight > 0 && !s.held) {
          ends[name] = s.runs.back() + s.takes;
        }
      }
      for (const auto& [name, due] : dues) {
        next = std::min(next, due);
      }
      for (const auto& [name, end] : ends) {
        next = std::min(next, end);
      }
      if (next == TimePoint::max()) {
        return false; // nothing will ever happen
      }
      for (const auto& [name, due] : dues) {
        if (due <= next) {
          want_run(name, wants);
        }
      }
      for (const auto& [name, end] : ends) {
        if (end <= next) {
          wants.results[name] = m_seen[name].results() + 1;
        }
      }
    }
    m_clock.advance_to(next);
    return wait_for(wants);
  }

  // Steps until `done` holds (checked under the lock before each step); false when a step
  // fails or 100,000 steps were not enough.
  template <typename Done> bool step_until(Done done) {
    for (int i = 0; i < 100'000; ++i) {
      {
        const std::lock_guard<std::mutex> lock(m_mutex);
        if (done()) {
          return true;
        }
      }
      if (!step()) {
        return false;
      }
    }
    return false;
  }

  TimePoint now() const { return m_clock.steady_now(); }

  // When `name`'s first run is due after a reload at now() of a running scheduler. One already
  // off the timeline was dispatched, so it was due at once (a jitter of 0): the clock has not
  // moved since the reload.
  TimePoint first_due(const std::string& name) const {
    const std::map<std::string, TimePoint> dues = m_scheduler->due_times();
    const auto found = dues.find(name);
    return found == dues.end() ? now() : found->second;
  }

  fakes::ManualClock m_clock;
  std::mutex m_mutex;
  std::condition_variable m_changed;
  std::map<std::string, Script> m_scripts;
  std::size_t m_in_flight_total = 0;    // scripted runs in flight now, over every target
  std::size_t m_max_in_flight_seen = 0; // the most at once
  std::map<std::string, Seen> m_seen;
  std::set<std::string> m_real; // targets with a real check, not a script
  bool m_ready = false;
  bool m_ending = false;                              // TearDown: runs end at once
  std::unique_ptr<exporters::ProbeMetrics> m_metrics; // when a test wants the exposition
  std::map<std::string, std::string> m_first_exposition;
  std::unique_ptr<Scheduler> m_scheduler; // last: stopped before the rest goes
};

TEST_F(SchedulerTest, FirstRunsAreSpreadWithinATenthOfTheIntervalAtMostOneSecond) {
  Scheduler& scheduler = make_scheduler();
  std::vector<config::Target> targets;
  const std::map<std::string, std::chrono::milliseconds> intervals{
      {"i5ms", 5ms}, {"i100ms", 100ms}, {"i1s", 1s}, {"i30s", 30s}};
  for (const auto& [prefix, interval] : intervals) {
    for (int i = 0; i < 50; ++i) {
      targets.push_back(target(prefix + "-" + std::to_string(i), interval));
    }
  }
  const TimePoint t0 = now();
  scheduler.set_targets(targets);
  const std::map<std::string, TimePoint> dues = scheduler.due_times();
  ASSERT_EQ(dues.size(), 200U);
  for (const auto& [prefix, interval] : intervals) {
    // 200 targets: 20 ms of the loop at 0.1 ms each, more than a tenth of 5 ms and 100 ms.
    const std::chrono::milliseconds spread = first_run_spread(interval, targets.size());
    std::set<TimePoint> distinct;
    for (int i = 0; i < 50; ++i) {
      const TimePoint due = dues.at(prefix + "-" + std::to_string(i));
      EXPECT_GE(due, t0) << prefix;
      EXPECT_LE(due, t0 + spread) << prefix;
      EXPECT_EQ((due - t0) % 1ms, 0ns) << "whole milliseconds";
      distinct.insert(due);
    }
    if (spread == 0ms) {
      EXPECT_EQ(distinct.size(), 1U) << prefix << ": no spread, all due at once";
    } else {
      // 50 draws from 11 or more values: all alike only with a broken jitter (odds < 1e-40).
      EXPECT_GT(distinct.size(), 1U) << prefix << ": the first runs are not spread";
    }
  }
}

TEST_F(SchedulerTest, EachTargetRunsExactlyOnItsOwnFixedRate) {
  Scheduler& scheduler = make_scheduler();
  scheduler.set_targets({target("fast", 100ms), target("slow", 400ms)});
  const std::map<std::string, TimePoint> first = scheduler.due_times();
  ASSERT_TRUE(start());
  const TimePoint end = now() + 2s;
  ASSERT_TRUE(step_until([&] { return now() >= end; }));
  scheduler.stop();
  // Every due time from the first on, up to now, got exactly one run, on time.
  const auto count = [&](const std::string& name, std::chrono::milliseconds interval) {
    return static_cast<std::size_t>((now() - first.at(name)) / interval) + 1;
  };
  EXPECT_EQ(runs("fast"), every(first.at("fast"), 100ms, count("fast", 100ms)));
  EXPECT_EQ(runs("slow"), every(first.at("slow"), 400ms, count("slow", 400ms)));
  EXPECT_GE(runs("fast").size(), 20U);
  for (const char* name : {"fast", "slow"}) {
    for (const RunTiming& timing : seen(name).timings) {
      EXPECT_EQ(timing.lag, 0ns) << name;
      EXPECT_EQ(timing.skipped(), 0U) << name;
    }
  }
  EXPECT_TRUE(scheduler.ready());
}

TEST_F(SchedulerTest, ACheckNeverOverlapsItselfAndTheDueTimesItRanIntoAreSkippedAndCounted) {
  Scheduler& scheduler = make_scheduler();
  script("busy", [](Script& s) { s.takes = 250ms; }); // each run outlasts 2.5 intervals
  scheduler.set_targets({target("busy", 100ms, 100ms)});
  const TimePoint first = scheduler.due_times().at("busy");
  ASSERT_TRUE(start());
  ASSERT_TRUE(step_until([&] { return m_seen["busy"].results() >= 4; }));
  EXPECT_EQ(script("busy").max_in_flight, 1);
  // Fixed rate: each run ends at +250 ms, so the next keeps the phase at +300 ms.
  const std::vector<TimePoint> ran = runs("busy");
  EXPECT_EQ(std::vector<TimePoint>(ran.begin(), ran.begin() + 4), every(first, 300ms, 4));
  for (const RunTiming& timing : seen("busy").timings) {
    EXPECT_EQ(timing.lag, 0ns);
    EXPECT_EQ(timing.skipped_in_flight, 2U);
    EXPECT_EQ(timing.skipped_saturated, 0U);
  }
}

TEST_F(SchedulerTest, AHangingTargetDoesNotDelayAnother) {
  Scheduler& scheduler = make_scheduler();
  script("hang", [](Script& s) { s.held = true; });
  scheduler.set_targets({target("hang", 500ms, 500ms), target("quick", 50ms)});
  const TimePoint quick_first = scheduler.due_times().at("quick");
  ASSERT_TRUE(start());
  ASSERT_TRUE(step_until([&] { return m_scripts["hang"].in_flight == 1; }));
  const TimePoint end = now() + 1s;
  ASSERT_TRUE(step_until([&] { return now() >= end; }));
  const std::size_t due = static_cast<std::size_t>((now() - quick_first) / 50ms) + 1;
  EXPECT_EQ(runs("quick"), every(quick_first, 50ms, due)) << "quick kept its rate";
  EXPECT_EQ(runs("hang").size(), 1U) << "a hanging check is not started again";
  for (const RunTiming& timing : seen("quick").timings) {
    EXPECT_EQ(timing.lag, 0ns);
  }
}

TEST_F(SchedulerTest, ThresholdsDriveHealthAndReadiness) {
  Scheduler& scheduler = make_scheduler();
  scheduler.set_targets({target("db", 50ms)});
  ASSERT_TRUE(start());
  ASSERT_TRUE(step_until([&] { return m_seen["db"].results() == 1; }));
  EXPECT_EQ(seen("db").health, Health::up) << "success_threshold 1";
  EXPECT_TRUE(scheduler.ready());
  script("db", [](Script& s) { s.ok = false; });
  ASSERT_TRUE(step_until([&] { return m_seen["db"].results() == 2; }));
  EXPECT_EQ(seen("db").health, Health::up) << "one failure of failure_threshold 2";
  EXPECT_TRUE(scheduler.ready());
  ASSERT_TRUE(step_until([&] { return m_seen["db"].results() == 3; }));
  EXPECT_EQ(seen("db").health, Health::down);
  EXPECT_FALSE(scheduler.ready());
}

TEST_F(SchedulerTest, ReloadKeepsUnchangedTargetsResetsChangedOnesAndDropsRemovedOnes) {
  Scheduler& scheduler = make_scheduler();
  scheduler.set_targets({target("keep", 50ms), target("drop", 50ms), target("change", 50ms)});
  ASSERT_TRUE(start());
  ASSERT_TRUE(step_until([&] { return m_seen["keep"].results() >= 3; }));
  // "drop" hangs in its next run: the reload finds it in flight.
  script("drop", [](Script& s) { s.held = true; });
  ASSERT_TRUE(step_until([&] { return m_scripts["drop"].in_flight == 1; }));
  const std::size_t kept_results = seen("keep").results();
  const std::size_t dropped_runs = runs("drop").size();
  const std::map<std::string, TimePoint> before = scheduler.due_times();

  const TimePoint reloaded = now();
  // "change" gets a 10 s interval: its first run comes within 1 s, its second 10 s later.
  const std::size_t change_runs_before = runs("change").size();
  const ReloadSummary summary =
      reload({target("keep", 50ms), target("change", 10s), target("new", 50ms)});
  EXPECT_EQ(summary.added, std::vector<std::string>{"new"});
  EXPECT_EQ(summary.removed, std::vector<std::string>{"drop"});
  EXPECT_EQ(summary.changed, std::vector<std::string>{"change"});
  EXPECT_EQ(summary.unchanged, 1U);

  EXPECT_EQ(scheduler.due_times().count("drop"), 0U) << "drop is off the timeline";
  EXPECT_EQ(scheduler.due_times().at("keep"), before.at("keep"))
      << "an unchanged target keeps its schedule";
  for (const TargetSnapshot& s : scheduler.snapshot()) {
    if (s.target.name == "keep") {
      EXPECT_EQ(s.state.checks, kept_results) << "an unchanged target keeps its state";
    }
    if (s.target.name == "change") {
      EXPECT_EQ(s.state.checks, 0U) << "a changed target starts afresh";
    }
  }

  // The run in flight at the reload ends; its result is dropped and nothing follows it.
  const std::size_t dropped_results = seen("drop").results();
  script("drop", [](Script& s) { s.held = false; });
  ASSERT_TRUE(wait_for([&] { return m_scripts["drop"].in_flight == 0; }));
  ASSERT_TRUE(step_until([&] { return now() >= reloaded + 11s; }));
  EXPECT_EQ(runs("drop").size(), dropped_runs) << "a removed target kept running";
  EXPECT_EQ(seen("drop").results(), dropped_results) << "a removed target's result landed";
  // The changed and the new target: a first run within their jitter bound after the reload,
  // on time, then their own fixed rate.
  std::vector<TimePoint> changed_runs = runs("change");
  changed_runs.erase(changed_runs.begin(),
                     changed_runs.begin() + static_cast<long>(change_runs_before));
  ASSERT_EQ(changed_runs.size(), 2U);
  EXPECT_GE(changed_runs[0], reloaded);
  EXPECT_LE(changed_runs[0], reloaded + 1s);
  EXPECT_EQ(changed_runs[1], changed_runs[0] + 10s);
  const std::vector<TimePoint> new_runs = runs("new");
  ASSERT_GE(new_runs.size(), 2U);
  EXPECT_GE(new_runs[0], reloaded);
  EXPECT_LE(new_runs[0], reloaded + 5ms);
  EXPECT_EQ(new_runs, every(new_runs[0], 50ms, new_runs.size()));
  for (const char* name : {"keep", "change", "new"}) {
    for (const RunTiming& timing : seen(name).timings) {
      EXPECT_EQ(timing.lag, 0ns) << name;
    }
  }
}

// The status page's history (issue 16) lives beside the state: a reload keeps an unchanged
// target's and starts a changed one's afresh; readiness says since when it holds.
TEST_F(SchedulerTest, ReloadKeepsAnUnchangedTargetsHistoryAndDropsAChangedOnes) {
  Scheduler& scheduler = make_scheduler();
  scheduler.set_targets({target("keep", 50ms), target("change", 50ms)});
  const Readiness at_start = scheduler.readiness();
  EXPECT_FALSE(at_start.ready);
  EXPECT_EQ(at_start.since, m_clock.system_now());
  ASSERT_TRUE(start());
  ASSERT_TRUE(
      step_until([&] { return m_seen["keep"].results() >= 5 && m_seen["change"].results() >= 5; }));
  EXPECT_TRUE(scheduler.readiness().ready);
  const auto view_of = [&](const std::string& name) {
    for (const TargetView& view : scheduler.snapshot_with_history()) {
      if (view.snapshot.target.name == name) {
        return view;
      }
    }
    ADD_FAILURE() << "no target " << name;
    return TargetView{};
  };
  const TargetView keep_before = view_of("keep");
  EXPECT_EQ(keep_before.history.day.checks(), keep_before.snapshot.state.checks);
  EXPECT_EQ(keep_before.history.recent.size(),
            std::min<std::size_t>(30, keep_before.snapshot.state.checks));
  EXPECT_GE(view_of("change").history.day.checks(), 5U);

  reload({target("keep", 50ms), target("change", 60ms)});
  const TargetView keep_after = view_of("keep");
  EXPECT_EQ(keep_after.history.day.checks(), keep_before.history.day.checks());
  EXPECT_EQ(keep_after.history.recent.size(), keep_before.history.recent.size());
  const TargetView changed = view_of("change");
  EXPECT_LE(changed.history.day.checks(), 1U) << "at most the run due at once after the reload";
  EXPECT_EQ(changed.history.day.checks(), changed.snapshot.state.checks);
  EXPECT_EQ(changed.history.recent.size(), changed.snapshot.state.checks);
}

// Issue 12, item 20: the pool was sized once at start (4 workers for 4 targets), so after a
// reload to 40 targets, 36 of them hanging, every worker hung and the healthy ones waited.
TEST_F(SchedulerTest, AReloadFrom4To40TargetsWith36HangingHoldsNoOneElse) {
  Scheduler& scheduler = make_scheduler();
  std::vector<config::Target> targets{target("quick", 50ms), target("calm-1", 1s),
                                      target("calm-2", 1s), target("calm-3", 1s)};
  scheduler.set_targets(targets);
  const TimePoint quick_first = scheduler.due_times().at("quick");
  ASSERT_TRUE(start());
  ASSERT_TRUE(step_until([&] { return m_seen["quick"].results() >= 2; }));

  for (int i = 0; i < 36; ++i) {
    const std::string name = "hang-" + std::to_string(i);
    script(name, [](Script& s) { s.held = true; });
    targets.push_back(target(name, 30s, 30s));
  }
  reload(targets);
  const auto hanging = [&] {
    int running = 0;
    for (int i = 0; i < 36; ++i) {
      running += m_scripts["hang-" + std::to_string(i)].in_flight;
    }
    return running;
  };
  // Their first runs come within 1 s; each is in flight from its due time on.
  ASSERT_TRUE(step_until([&] { return hanging() == 36; })) << "only some hanging checks ran";
  const std::size_t before = seen("quick").results();
  const TimePoint end = now() + 500ms;
  ASSERT_TRUE(step_until([&] { return now() >= end; }));
  EXPECT_GE(seen("quick").results(), before + 10);
  const std::size_t due = static_cast<std::size_t>((now() - quick_first) / 50ms) + 1;
  EXPECT_EQ(runs("quick"), every(quick_first, 50ms, due)) << "quick kept its rate while 36 hung";
  EXPECT_GE(scheduler.in_flight(), 36U);
  for (const RunTiming& timing : seen("quick").timings) {
    EXPECT_EQ(timing.lag, 0ns) << "quick waited behind the hanging checks";
  }

  // The hangs end and the target set shrinks: nothing is left in flight but calm-1's runs.
  for (int i = 0; i < 36; ++i) {
    script("hang-" + std::to_string(i), [](Script& s) { s.held = false; });
  }
  ASSERT_TRUE(wait_for([&] { return hanging() == 0; }));
  scheduler.set_targets({target("calm-1", 1s)});
  EXPECT_TRUE(fakes::eventually([&] { return scheduler.in_flight() <= 1; }, k_give_up))
      << scheduler.in_flight() << " checks in flight for one target checked every second";
}

// Past the ceiling a due check waits for a worker: it starts late, the due runs it misses are
// counted as skipped for saturation, and the metrics show both.
TEST_F(SchedulerTest, PastTheCeilingChecksStartLateAndTheMetricsShowIt) {
  m_metrics = std::make_unique<exporters::ProbeMetrics>("test", "test");
  Scheduler& scheduler = make_scheduler({2});
  script("hold-a", [](Script& s) { s.held = true; });
  script("hold-b", [](Script& s) { s.held = true; });
  const std::vector<config::Target> held{target("hold-a", 100ms, 100ms),
                                         target("hold-b", 100ms, 100ms)};
  scheduler.set_targets(held);
  const std::map<std::string, TimePoint> first = scheduler.due_times();
  ASSERT_TRUE(start());
  ASSERT_TRUE(step_until(
      [&] { return m_scripts["hold-a"].in_flight == 1 && m_scripts["hold-b"].in_flight == 1; }));
  // Both workers are held; "late" comes due within 10 ms of the reload and must wait 500 ms.
  std::vector<config::Target> with_late = held;
  with_late.push_back(target("late", 100ms, 100ms));
  scheduler.set_targets(with_late);
  const TimePoint late_due = first_due("late");
  m_clock.advance_to(late_due);
  m_clock.advance(500ms);
  EXPECT_EQ(runs("late").size(), 0U) << "a third check ran on a pool of 2";
  const TimePoint released = now();
  script("hold-a", [](Script& s) { s.held = false; });
  script("hold-b", [](Script& s) { s.held = false; });
  ASSERT_TRUE(wait_for([&] { return m_seen["late"].results() >= 1; }));
  scheduler.stop();

  EXPECT_EQ(runs("late"), std::vector<TimePoint>{released});
  const RunTiming late = seen("late").timings.front();
  EXPECT_EQ(late.lag, 500ms);
  EXPECT_EQ(late.skipped_saturated, 5U) << "due at +100 ms ... +500 ms while it waited";
  EXPECT_EQ(late.skipped_in_flight, 0U);
  const std::uint64_t a_skipped =
      static_cast<std::uint64_t>((released - first.at("hold-a")) / 100ms);
  EXPECT_EQ(seen("hold-a").timings.front().skipped_in_flight, a_skipped);
  EXPECT_GE(a_skipped, 5U);
  EXPECT_EQ(scheduler.in_flight(), 0U) << "stop() leaves nothing in flight";

  // The lag as late's first result left it; counters at the end.
  const std::string first_text = [&] {
    const std::lock_guard<std::mutex> lock(m_mutex);
    return m_first_exposition["late"];
  }();
  const std::string last = m_metrics->render();
  auto value = [](const std::string& text, const std::string& series) {
    const std::size_t at = text.find("\n" + series + " ");
    EXPECT_NE(at, std::string::npos) << series << " missing in:\n" << text;
    return at == std::string::npos ? -1.0 : std::stod(text.substr(at + series.size() + 2));
  };
  EXPECT_DOUBLE_EQ(value(first_text, "probe_check_lag_seconds{target=\"late\"}"), 0.5);
  EXPECT_DOUBLE_EQ(value(last, "probe_checks_skipped_total{reason=\"saturated\",target=\"late\"}"),
                   5.0);
  EXPECT_DOUBLE_EQ(
      value(last, "probe_checks_skipped_total{reason=\"in_flight\",target=\"hold-a\"}"),
      static_cast<double>(a_skipped));
  EXPECT_DOUBLE_EQ(value(last, "probe_check_interval_seconds{target=\"late\"}"), 0.1);
}

// Issue 12, item 20: 200 targets that answer in 500 ms at a 1 s interval. With 32 workers only
// 1,280 of 4,000 checks ran in 20 s (32 %): every interval silently stretched to ~3 s. Now the
// pool follows the demand (up to 200 checks in flight) and every due run starts on time.
TEST_F(SchedulerTest, TwoHundredSlowTargetsAtOneSecondKeepTheirRate) {
  Scheduler& scheduler = make_scheduler();
  std::vector<config::Target> targets;
  for (int i = 0; i < 200; ++i) {
    const std::string name = "slow-" + std::to_string(i);
    script(name, [](Script& s) { s.takes = 500ms; });
    targets.push_back(target(name, 1s, 1s));
  }
  scheduler.set_targets(targets);
  const std::map<std::string, TimePoint> first = scheduler.due_times();
  ASSERT_TRUE(start());
  ASSERT_TRUE(step_until([&] {
    for (const config::Target& t : targets) {
      if (m_seen[t.name].results() < 5) {
        return false;
      }
    }
    return true;
  }));
  for (const config::Target& t : targets) {
    const std::vector<TimePoint> ran = runs(t.name);
    ASSERT_GE(ran.size(), 5U);
    EXPECT_EQ(std::vector<TimePoint>(ran.begin(), ran.begin() + 5), every(first.at(t.name), 1s, 5))
        << t.name;
    for (const RunTiming& timing : seen(t.name).timings) {
      EXPECT_EQ(timing.lag, 0ns) << t.name;
      EXPECT_EQ(timing.skipped(), 0U) << t.name;
    }
  }
  // Half of each interval busy, first runs spread over 100 ms: all 200 were in flight at once.
  EXPECT_GE(m_max_in_flight_seen, 200U);
}

TEST_F(SchedulerTest, StopWaitsForTheCheckInFlightAndDropsTheOnesWaitingForAWorker) {
  Scheduler& scheduler = make_scheduler({1});
  // "later" runs once and then stays on the timeline, due in an hour: the dispatcher sleeps on
  // the clock until stop() ends it, which tells the test that stop() has begun.
  scheduler.set_targets({target("later", 1h)});
  ASSERT_TRUE(start());
  ASSERT_TRUE(step_until([&] { return m_seen["later"].results() == 1; }));
  script("slow", [](Script& s) { s.held = true; });
  reload({target("later", 1h), target("slow", 100ms, 300ms)});
  ASSERT_TRUE(step_until([&] { return m_scripts["slow"].in_flight == 1; }));
  // "queued" comes due while the only worker is held: it waits for it. Once dispatched, the
  // dispatcher sleeps towards later's run again (in a new wait: not the one before the reload).
  const TimePoint later_due = scheduler.due_times().at("later");
  const std::uint64_t mark = m_clock.waits_begun();
  scheduler.set_targets(
      {target("later", 1h), target("slow", 100ms, 300ms), target("queued", 100ms)});
  m_clock.advance(first_run_spread(100ms));
  ASSERT_TRUE(m_clock.await_waiter(later_due, mark, k_give_up)) << "queued was not dispatched";
  ASSERT_EQ(scheduler.due_times().count("queued"), 0U);
  std::future<void> stopped = std::async(std::launch::async, [&] { scheduler.stop(); });
  ASSERT_TRUE(m_clock.await_waiters(0, k_give_up)) << "stop() ended the dispatcher";
  EXPECT_NE(stopped.wait_for(0s), std::future_status::ready) << "stop() left a check running";
  script("slow", [](Script& s) { s.held = false; });
  ASSERT_EQ(stopped.wait_for(k_give_up), std::future_status::ready);
  EXPECT_EQ(script("slow").in_flight, 0);
  EXPECT_EQ(seen("slow").results(), 1U) << "the run in flight finished before stop() returned";
  EXPECT_EQ(runs("queued").size(), 0U) << "a check waiting past the ceiling ran";
  // No thread is left to start anything, however much time passes.
  m_clock.advance(2h);
  EXPECT_EQ(runs("slow").size(), 1U);
  EXPECT_EQ(runs("later").size(), 1U);
  EXPECT_EQ(runs("queued").size(), 0U);
  EXPECT_EQ(scheduler.in_flight(), 0U);
}

// POST /heartbeat/<target> goes through Scheduler::record_push: a push reaches the push-fed
// check made by the real factory, by name, and its age is read on the scheduler's clock.
TEST_F(SchedulerTest, APushReachesThePushHeartbeatOfThatNameOnly) {
  Scheduler& scheduler = make_scheduler();
  config::Target file = push_target("file-beat", 90s);
  std::get<config::HeartbeatTarget>(file.spec).source = config::HeartbeatSource::file;
  std::get<config::HeartbeatTarget>(file.spec).path = "/nonexistent/beat";
  scheduler.set_targets({push_target("bot", 90s), file, target("db", 1s)});
  EXPECT_TRUE(scheduler.record_push("bot"));
  EXPECT_FALSE(scheduler.record_push("db")) << "not a heartbeat";
  EXPECT_FALSE(scheduler.record_push("file-beat")) << "a heartbeat fed by a file";
  EXPECT_FALSE(scheduler.record_push("nobody"));
  const TimePoint pushed = now();
  m_clock.advance(30s); // past the first run's jitter (at most 1 s)
  ASSERT_TRUE(start());
  ASSERT_TRUE(wait_for([&] {
    return m_seen["bot"].results() == 1 && m_seen["file-beat"].results() == 1 &&
           m_seen["db"].results() == 1;
  }));
  const Seen bot = seen("bot");
  EXPECT_EQ(bot.health, Health::up);
  EXPECT_DOUBLE_EQ(*bot.heartbeat_age, std::chrono::duration<double>(now() - pushed).count());

  // A reload that changes the target makes a new check: it has had no push, and pushes now
  // reach it (the old check's going does not unplug it).
  reload({push_target("bot", 60s), file, target("db", 1s)});
  ASSERT_TRUE(step_until([&] { return m_seen["bot"].results() == 2; }));
  EXPECT_EQ(seen("bot").reason, "missing");
  EXPECT_TRUE(scheduler.record_push("bot"));
  const TimePoint pushed_again = now();
  ASSERT_TRUE(step_until([&] { return m_seen["bot"].results() == 3; }));
  EXPECT_EQ(seen("bot").health, Health::up);
  EXPECT_DOUBLE_EQ(*seen("bot").heartbeat_age,
                   std::chrono::duration<double>(now() - pushed_again).count());

  scheduler.set_targets({target("db", 1s)});
  EXPECT_FALSE(scheduler.record_push("bot")) << "a removed target takes no push";
}

} // namespace
} // namespace probe::engine
