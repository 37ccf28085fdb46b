// The sidecar's heart: each target checked on its own interval by a pool of workers that follows
// the load. A check never overlaps itself (a target is either on the timeline, waiting for a
// worker or running, never two of these), so the need is at most one worker per target: the
// pool starts a thread whenever a due check finds none idle, up to a ceiling
// (k_max_check_workers), and lets threads idle for a while end. A hanging target holds one
// worker for its own timeout and no one else's schedule, whatever the number of targets below
// the ceiling. Past the ceiling due checks wait in order for a worker: the wait is the run's lag
// and due runs it swallows are skipped and counted (RunTiming, see schedule.hpp), so an
// overloaded probe is visible rather than silently stretching every interval. First runs are
// spread by a small jitter so targets do not fire together. Reload swaps the target set:
// unchanged targets keep their check, state and schedule.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "probe/checks/check.hpp"
#include "probe/checks/push_registry.hpp"
#include "probe/config/config.hpp"
#include "probe/engine/schedule.hpp"
#include "probe/engine/target_state.hpp"
#include "probe/util/clock.hpp"

namespace probe::util {
class ElasticPool;
} // namespace probe::util

namespace probe::engine {

// What the outside world sees of one target: its config and debounced state, copied.
struct TargetSnapshot {
  config::Target target;
  TargetState state;
};

// At most this many checks run at once. Each in-flight check holds a thread (checks block on
// their socket within their timeout), and a thread costs memory: 30-33 KiB resident each with
// an http check in flight (tests/bench/run.sh --only sched), so 256 add about 8 MiB to a
// sidecar of 14. That covers 256 targets hanging at once, far more than a Compose stack has;
// past it due checks wait in order, start late and skip runs (counted), and an alert fires.
inline constexpr std::size_t k_max_check_workers = 256;

// The pool's bounds; tests set a low ceiling or a short idle time.
struct WorkerLimits {
  std::size_t max_workers = k_max_check_workers;
  // Threads kept however idle: enough for a small stack's quick checks.
  std::size_t min_workers = 4;
  // A thread beyond min_workers with nothing to do for this long ends.
  std::chrono::milliseconds idle_timeout{30'000};
};

struct ReloadSummary {
  std::vector<std::string> added, removed, changed;
  std::size_t unchanged = 0;
};

class Scheduler {
public:
  // Called on a worker thread after each result, with the scheduler's lock held: keep it short
  // and do not call back into the scheduler. `timing` says how late the run started and which
  // due runs were skipped before it finished; `ready` is the new all-critical-up verdict.
  using ResultObserver = std::function<void(const config::Target& target, const TargetState& state,
                                            const RunTiming& timing, bool ready)>;

  // Builds a target's check; tests pass fakes, probe passes checks::make_check.
  using CheckFactory = std::function<std::unique_ptr<checks::Check>(
      const config::Target& target, const checks::CheckContext& context)>;

  // Every due time, lag and wait is read from `clock` (tests pass a manual one). A context
  // without a clock gets `clock`; one without a push registry gets the scheduler's own.
  Scheduler(checks::CheckContext context, ResultObserver observer,
            CheckFactory factory = checks::make_check, WorkerLimits limits = {},
            const util::Clock& clock = util::system_clock());
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Replaces the target set (first call: sets it). Safe while running.
  ReloadSummary set_targets(const std::vector<config::Target>& targets);

  void start();
  // Stops dispatching and waits for in-flight checks, each bounded by its own timeout; checks
  // that were due but had not started are dropped.
  void stop();

  // Worker threads alive now (0 when not running).
  std::size_t worker_threads() const;

  std::vector<TargetSnapshot> snapshot() const;
  // True when every critical target is UP (and there is at least one target).
  bool ready() const;
  // Records a push heartbeat for `name` through the context's push registry; false when no
  // push-heartbeat target has that name.
  bool record_push(const std::string& name);
  // When each target's next run is due, for the targets on the timeline: one whose check waits
  // for a worker or runs is absent until it finishes. For tests and diagnostics.
  std::map<std::string, std::chrono::steady_clock::time_point> due_times() const;

private:
  struct Entry {
    config::Target target;
    std::unique_ptr<checks::Check> check;
    TargetState state;
    // When the next run is due; while the entry waits or runs, when this run was due.
    std::chrono::steady_clock::time_point due;
    bool removed = false;
  };
  using EntryPtr = std::shared_ptr<Entry>;

  EntryPtr make_entry(const config::Target& target, std::chrono::steady_clock::time_point now);
  void schedule(const EntryPtr& entry);
  void unschedule(const EntryPtr& entry);
  void dispatch_loop();
  void dispatch(const EntryPtr& entry);
  void run(const EntryPtr& entry);
  void finish(const EntryPtr& entry, const checks::CheckResult& result,
              std::chrono::steady_clock::time_point started,
              std::chrono::steady_clock::time_point finished);
  bool ready_locked() const;

  const util::Clock& m_clock;
  // Before the entries: their checks' registrations in it end first.
  checks::PushRegistry m_own_pushes;
  checks::CheckContext m_context;
  ResultObserver m_observer;
  CheckFactory m_factory;
  WorkerLimits m_limits;

  mutable std::mutex m_mutex;
  std::condition_variable m_dispatch_wake;
  std::map<std::string, EntryPtr> m_entries;
  std::multimap<std::chrono::steady_clock::time_point, EntryPtr> m_timeline;
  std::mt19937 m_random{std::random_device{}()};
  bool m_running = false;
  bool m_stopping = false;
  std::thread m_dispatcher;
  // Runs the checks; made by start(), shut down by stop() (it outlives no check it runs).
  std::unique_ptr<util::ElasticPool> m_pool;
  std::size_t m_waiting = 0; // handed to the pool, not started yet
  std::size_t m_busy = 0;    // checks running
  // Saturation is logged when it starts and when it ends, at most once a minute.
  bool m_saturated = false;
  bool m_saturation_ever = false;   // m_saturation_logged is set
  bool m_saturation_warned = false; // this episode's start was logged: log its end
  std::chrono::steady_clock::time_point m_saturation_logged{};
  std::chrono::steady_clock::time_point m_saturated_since{};
};

} // namespace probe::engine
