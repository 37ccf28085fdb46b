// The sidecar's heart: each target checked on its own interval by a bounded pool of workers.
// A check never overlaps itself (a target is either on the timeline or running, never both);
// a hanging target holds one worker for its own timeout and no one else's schedule. First runs
// are spread by a small jitter so targets do not fire together. Reload swaps the target set:
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
#include "probe/config/config.hpp"
#include "probe/engine/target_state.hpp"

namespace probe::engine {

// What the outside world sees of one target: its config and debounced state, copied.
struct TargetSnapshot {
  config::Target target;
  TargetState state;
};

struct ReloadSummary {
  std::vector<std::string> added, removed, changed;
  std::size_t unchanged = 0;
};

class Scheduler {
public:
  // Called on a worker thread after each result, with the scheduler's lock held: keep it short
  // and do not call back into the scheduler. `ready` is the new all-critical-up verdict.
  using ResultObserver =
      std::function<void(const config::Target& target, const TargetState& state, bool ready)>;

  // Builds a target's check; tests pass fakes, probe passes checks::make_check.
  using CheckFactory = std::function<std::unique_ptr<checks::Check>(
      const config::Target& target, const checks::CheckContext& context)>;

  Scheduler(checks::CheckContext context, ResultObserver observer,
            CheckFactory factory = checks::make_check, std::size_t max_workers = 32);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Replaces the target set (first call: sets it). Safe while running.
  ReloadSummary set_targets(const std::vector<config::Target>& targets);

  void start();
  // Stops dispatching and waits for in-flight checks, each bounded by its own timeout.
  void stop();

  std::vector<TargetSnapshot> snapshot() const;
  // True when every critical target is UP (and there is at least one target).
  bool ready() const;
  // Records a push heartbeat for `name`; false when no push-heartbeat target has that name.
  bool record_push(const std::string& name);

private:
  struct Entry {
    config::Target target;
    std::unique_ptr<checks::Check> check;
    TargetState state;
    std::chrono::steady_clock::time_point due;
    bool removed = false;
  };
  using EntryPtr = std::shared_ptr<Entry>;

  EntryPtr make_entry(const config::Target& target, std::chrono::steady_clock::time_point now);
  void schedule(const EntryPtr& entry);
  void unschedule(const EntryPtr& entry);
  void dispatch_loop();
  void worker_loop();
  void finish(const EntryPtr& entry, const checks::CheckResult& result);
  bool ready_locked() const;

  checks::CheckContext m_context;
  ResultObserver m_observer;
  CheckFactory m_factory;
  std::size_t m_max_workers;

  mutable std::mutex m_mutex;
  std::condition_variable m_dispatch_wake;
  std::condition_variable m_work_ready;
  std::map<std::string, EntryPtr> m_entries;
  std::multimap<std::chrono::steady_clock::time_point, EntryPtr> m_timeline;
  std::deque<EntryPtr> m_queue;
  std::mt19937 m_random{std::random_device{}()};
  bool m_running = false;
  bool m_stopping = false;
  std::thread m_dispatcher;
  std::vector<std::thread> m_workers;
};

} // namespace probe::engine
