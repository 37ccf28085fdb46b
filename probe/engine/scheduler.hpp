// The sidecar's heart: each target checked on its own interval, every check in flight driven by
// one event loop (checks::CheckIo) on one thread — a slow or hanging target costs a socket and a
// timer until its own timeout, not a thread, so thousands of them keep their schedules. A
// dispatcher thread walks the timeline (on util::Clock, so tests step time by hand) and hands due
// checks to the loop. A check never overlaps itself (a target is either on the timeline, waiting
// for the loop or in flight, never two of these). Past a ceiling of checks in flight
// (k_max_checks_in_flight, a file-descriptor budget) due checks wait in order: the wait is the
// run's lag and due runs it swallows are skipped and counted (RunTiming, see schedule.hpp), so an
// overloaded probe is visible rather than silently stretching every interval. First runs are
// spread by a small jitter so targets do not fire together. Reload swaps the target set:
// unchanged targets keep their check, state and schedule.
#pragma once

#include <condition_variable>
#include <deque>
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
#include "probe/engine/target_history.hpp"
#include "probe/engine/target_state.hpp"
#include "probe/util/clock.hpp"

namespace probe::checks {
class CheckIo;
} // namespace probe::checks

namespace probe::engine {

// What the outside world sees of one target: its config and debounced state, copied.
struct TargetSnapshot {
  config::Target target;
  TargetState state;
};

// One target as the status page shows it: the snapshot and its recent past.
struct TargetView {
  TargetSnapshot snapshot;
  HistorySummary history;
};

// The readiness verdict and since when it has held (wall clock; the first set_targets() starts
// it).
struct Readiness {
  bool ready = false;
  std::chrono::system_clock::time_point since{};
};

// At most this many checks in flight at once. A check in flight costs a socket (file
// descriptor) and a few KiB, no thread; the ceiling keeps probe inside its descriptor limit
// (raised to the hard limit at start, 1,048,576 under Docker) with room for the kept-alive
// connections of idle targets and the HTTP server. Past it due checks wait in order, start late
// and skip runs (counted), and an alert fires.
inline constexpr std::size_t k_max_checks_in_flight = 16384;

// The bounds of the work in flight; tests set a low ceiling.
struct FlightLimits {
  std::size_t max_in_flight = k_max_checks_in_flight;
  // Due checks are handed to the loop in batches at most this far apart, so a check starts at
  // most this late: thousands of targets come due every second, each at its own moment, and
  // a wake-up of the dispatcher and the loop for each cost more than the check. 0 = each at
  // its due time (tests on the manual clock).
  std::chrono::milliseconds batch_window{0};
};

// What probe serve uses: a millisecond of lateness, 1 % of the bench's on-time margin.
inline constexpr std::chrono::milliseconds k_serve_batch_window{1};

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
            CheckFactory factory = checks::make_check, FlightLimits limits = {},
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

  // Checks in flight or waiting to start now (0 when not running).
  std::size_t in_flight() const;

  std::vector<TargetSnapshot> snapshot() const;
  // snapshot() with each target's history summed up at the clock's now: a few hundred bucket
  // reads per target under the lock, never a copy of the day's buckets.
  std::vector<TargetView> snapshot_with_history() const;
  // True when every critical target is UP (and there is at least one target).
  bool ready() const;
  // ready(), and since when.
  Readiness readiness() const;
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
    // Fed with `state`, so kept across a reload exactly when the state is.
    TargetHistory history;
    // When the next run is due; while the entry waits or runs, when this run was due.
    std::chrono::steady_clock::time_point due;
    bool removed = false;
  };
  using EntryPtr = std::shared_ptr<Entry>;

  EntryPtr make_entry(const config::Target& target, std::chrono::steady_clock::time_point now);
  void schedule(const EntryPtr& entry);
  void unschedule(const EntryPtr& entry);
  void dispatch_loop();
  void dispatch(const std::vector<EntryPtr>& due);
  void hand_to_loop(const EntryPtr& entry);
  void begin(const EntryPtr& entry);
  void landed(const EntryPtr& entry, const checks::CheckResult& result,
              std::chrono::steady_clock::time_point started);
  void finish(const EntryPtr& entry, const checks::CheckResult& result,
              std::chrono::steady_clock::time_point started,
              std::chrono::steady_clock::time_point finished);
  bool ready_locked() const;
  void count_readiness();
  // Moves m_readiness.since when the verdict changed.
  void note_readiness(std::chrono::system_clock::time_point now);

  const util::Clock& m_clock;
  // Before the entries: their checks' registrations in it end first.
  checks::PushRegistry m_own_pushes;
  checks::CheckContext m_context;
  ResultObserver m_observer;
  CheckFactory m_factory;
  FlightLimits m_limits;

  mutable std::mutex m_mutex;
  std::condition_variable m_dispatch_wake;
  std::condition_variable m_idle; // m_busy + m_waiting fell to 0 (stop() waits for it)
  std::map<std::string, EntryPtr> m_entries;
  std::size_t m_spread_over = 0;        // targets whose first runs make_entry spreads
  std::size_t m_critical = 0;           // critical targets in m_entries
  std::ptrdiff_t m_critical_not_up = 0; // of those, not UP
  Readiness m_readiness;                // since: the last change of ready_locked()
  bool m_readiness_set = false;         // m_readiness was noted once
  std::multimap<std::chrono::steady_clock::time_point, EntryPtr> m_timeline;
  std::mt19937 m_random{std::random_device{}()};
  bool m_running = false;
  bool m_stopping = false;
  std::thread m_dispatcher;
  // Runs the checks in flight on m_io_thread; made by start(), ended by stop() once no check is
  // in flight.
  std::unique_ptr<checks::CheckIo> m_io;
  std::thread m_io_thread;
  std::deque<EntryPtr> m_queue; // due past the ceiling, in order
  std::size_t m_waiting = 0;    // handed to the loop, not started yet
  std::size_t m_busy = 0;       // checks in flight
  // Saturation is logged when it starts and when it ends, at most once a minute.
  bool m_saturated = false;
  bool m_saturation_ever = false;   // m_saturation_logged is set
  bool m_saturation_warned = false; // this episode's start was logged: log its end
  std::chrono::steady_clock::time_point m_saturation_logged{};
  std::chrono::steady_clock::time_point m_saturated_since{};
};

} // namespace probe::engine
