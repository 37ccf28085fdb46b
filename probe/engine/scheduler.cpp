// Interval scheduling with every check in flight on one event loop; see scheduler.hpp.
#include "probe/engine/scheduler.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "probe/checks/check_io.hpp"

namespace probe::engine {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Saturation is news once, not once per due check.
constexpr std::chrono::seconds k_saturation_log_every{60};

// One kept-alive connection per target, and a few for the targets of a reload in progress.
std::size_t connections_to_keep(std::size_t targets) {
  return targets + 16;
}

} // namespace

Scheduler::Scheduler(checks::CheckContext context, ResultObserver observer, CheckFactory factory,
                     FlightLimits limits, const util::Clock& clock)
    : m_clock(clock), m_context(context), m_observer(std::move(observer)),
      m_factory(std::move(factory)), m_limits(limits) {
  if (m_context.clock == nullptr) {
    m_context.clock = &m_clock;
  }
  if (m_context.pushes == nullptr) {
    m_context.pushes = &m_own_pushes;
  }
  m_limits.max_in_flight = std::max<std::size_t>(1, m_limits.max_in_flight);
}

Scheduler::~Scheduler() {
  stop();
}

Scheduler::EntryPtr Scheduler::make_entry(const config::Target& target,
                                          SteadyClock::time_point now) {
  auto entry = std::make_shared<Entry>();
  entry->target = target;
  entry->check = m_factory(target, m_context);
  // Spread first runs (first_run_spread): targets do not fire in lockstep, and the first verdict
  // still comes quickly after start or reload.
  std::uniform_int_distribution<std::chrono::milliseconds::rep> jitter(
      0, first_run_spread(target.interval, m_spread_over).count());
  entry->due = now + std::chrono::milliseconds(jitter(m_random));
  return entry;
}

void Scheduler::schedule(const EntryPtr& entry) {
  m_timeline.emplace(entry->due, entry);
}

void Scheduler::unschedule(const EntryPtr& entry) {
  auto [first, last] = m_timeline.equal_range(entry->due);
  for (auto it = first; it != last; ++it) {
    if (it->second == entry) {
      m_timeline.erase(it);
      return;
    }
  }
}

ReloadSummary Scheduler::set_targets(const std::vector<config::Target>& targets) {
  ReloadSummary summary;
  const SteadyClock::time_point now = m_clock.steady_now();
  {
    const std::lock_guard<std::mutex> lock(m_mutex);
    m_spread_over = targets.size();
    std::map<std::string, EntryPtr> next;
    for (const config::Target& target : targets) {
      const auto existing = m_entries.find(target.name);
      if (existing != m_entries.end() && existing->second->target == target) {
        next.emplace(target.name, existing->second);
        ++summary.unchanged;
        continue;
      }
      if (existing != m_entries.end()) {
        summary.changed.push_back(target.name);
      } else {
        summary.added.push_back(target.name);
      }
      EntryPtr entry = make_entry(target, now);
      next.emplace(target.name, entry);
      schedule(entry);
    }
    for (const auto& [name, entry] : m_entries) {
      const auto kept = next.find(name);
      if (kept == next.end() || kept->second != entry) {
        if (kept == next.end()) {
          summary.removed.push_back(name);
        }
        entry->removed = true; // a running check's result is dropped when it lands
        unschedule(entry);
      }
    }
    m_entries = std::move(next);
    count_readiness();
    note_readiness(m_clock.system_now());
    if (m_io) {
      // libcurl's settings belong to the loop's thread.
      m_io->loop().post([io = m_io.get(), keep = connections_to_keep(m_entries.size())] {
        io->set_connection_cache(keep);
      });
    }
  }
  m_dispatch_wake.notify_all();
  return summary;
}

void Scheduler::start() {
  const std::lock_guard<std::mutex> lock(m_mutex);
  if (m_running) {
    return;
  }
  m_running = true;
  m_stopping = false;
  // After a stop() the runs that were waiting or in flight are off the timeline: put every
  // target back on it (one run each; a run long past due starts at once).
  m_timeline.clear();
  for (const auto& [name, entry] : m_entries) {
    schedule(entry);
  }
  m_io = std::make_unique<checks::CheckIo>();
  m_io->set_connection_cache(connections_to_keep(m_entries.size()));
  m_io_thread = std::thread([io = m_io.get()] { io->loop().run(); });
  m_dispatcher = std::thread([this] { dispatch_loop(); });
}

void Scheduler::stop() {
  {
    const std::lock_guard<std::mutex> lock(m_mutex);
    if (!m_running) {
      return;
    }
    m_stopping = true;
    m_queue.clear(); // due checks not started yet are dropped
  }
  m_dispatch_wake.notify_all();
  m_dispatcher.join();
  {
    // Nothing is handed to the loop any more; the checks in flight end within their timeouts.
    std::unique_lock<std::mutex> lock(m_mutex);
    m_idle.wait(lock, [this] { return m_busy + m_waiting == 0; });
  }
  m_io->loop().stop();
  m_io_thread.join();
  const std::lock_guard<std::mutex> lock(m_mutex);
  m_io.reset();
  m_running = false;
}

std::size_t Scheduler::in_flight() const {
  const std::lock_guard<std::mutex> lock(m_mutex);
  return m_running ? m_busy + m_waiting + m_queue.size() : 0;
}

void Scheduler::dispatch_loop() {
  std::unique_lock<std::mutex> lock(m_mutex);
  while (!m_stopping) {
    if (m_timeline.empty()) {
      m_dispatch_wake.wait(lock);
      continue;
    }
    const auto first = m_timeline.begin();
    if (m_clock.steady_now() < first->first) {
      // A copy: wait_until reads its deadline again after waking, and a reload may have erased
      // the timeline entry it came from meanwhile (found by AddressSanitizer).
      const SteadyClock::time_point due = first->first + m_limits.batch_window;
      m_clock.wait_until(lock, m_dispatch_wake, due);
      continue;
    }
    // Everything due now goes to the loop in one handoff: thousands of targets come due within
    // the same millisecond, and a wake-up each would cost more than the checks.
    std::vector<EntryPtr> due;
    const SteadyClock::time_point now = m_clock.steady_now();
    while (!m_timeline.empty() && m_timeline.begin()->first <= now) {
      due.push_back(m_timeline.begin()->second);
      m_timeline.erase(m_timeline.begin()); // off the timeline while it waits and runs
    }
    dispatch(due);
  }
}

void Scheduler::dispatch(const std::vector<EntryPtr>& due) {
  std::vector<EntryPtr> starting;
  for (const EntryPtr& entry : due) {
    if (m_busy + m_waiting < m_limits.max_in_flight) {
      ++m_waiting;
      starting.push_back(entry);
    } else {
      // Past the ceiling the check waits in order, and its lag (and the runs it skips) show
      // the overload.
      m_queue.push_back(entry);
    }
  }
  if (!starting.empty()) {
    m_io->loop().post([this, starting = std::move(starting)] {
      for (const EntryPtr& entry : starting) {
        begin(entry);
      }
    });
  }
  if (m_queue.empty() || m_saturated) {
    return;
  }
  m_saturated = true;
  const SteadyClock::time_point now = m_clock.steady_now();
  m_saturated_since = now;
  if (!m_saturation_ever || now - m_saturation_logged >= k_saturation_log_every) {
    m_saturation_ever = true;
    m_saturation_warned = true;
    m_saturation_logged = now;
    spdlog::warn("scheduler: {} checks in flight, the most probe runs at once; due checks wait "
                 "and start late (probe_check_lag_seconds, probe_checks_skipped_total)",
                 m_limits.max_in_flight);
  }
}

void Scheduler::hand_to_loop(const EntryPtr& entry) {
  ++m_waiting;
  m_io->loop().post([this, entry] { begin(entry); });
}

void Scheduler::begin(const EntryPtr& entry) {
  std::unique_lock<std::mutex> lock(m_mutex);
  --m_waiting;
  if (m_stopping || entry->removed) {
    // Dropped while it waited: stopping, or removed by a reload.
    if (m_busy + m_waiting == 0) {
      m_idle.notify_all();
    }
    return;
  }
  ++m_busy;
  const SteadyClock::time_point started = m_clock.steady_now();
  lock.unlock();
  try {
    entry->check->start(*m_io, entry->target.timeout,
                        [this, entry, started](const checks::CheckResult& result) {
                          landed(entry, result, started);
                        });
  } catch (const std::exception& e) {
    // A check must not throw; if a library does anyway, it is probe's error, not the target's.
    landed(entry, checks::make_result(checks::CheckStatus::error, e.what(), "error"), started);
  }
}

void Scheduler::landed(const EntryPtr& entry, const checks::CheckResult& result,
                       SteadyClock::time_point started) {
  const SteadyClock::time_point finished = m_clock.steady_now();
  const std::lock_guard<std::mutex> lock(m_mutex);
  --m_busy;
  // A slot is free: the longest-waiting due check takes it.
  while (!m_stopping && !m_queue.empty() && m_busy + m_waiting < m_limits.max_in_flight) {
    EntryPtr next = std::move(m_queue.front());
    m_queue.pop_front();
    if (!next->removed) {
      hand_to_loop(next);
    }
  }
  finish(entry, result, started, finished);
  if (m_busy + m_waiting == 0) {
    m_idle.notify_all();
  }
}

void Scheduler::finish(const EntryPtr& entry, const checks::CheckResult& result,
                       SteadyClock::time_point started, SteadyClock::time_point finished) {
  if (m_saturated && m_queue.empty()) {
    m_saturated = false;
    if (m_saturation_warned) {
      spdlog::info("scheduler: due checks start on time again after {:.1f} s at the ceiling",
                   std::chrono::duration<double>(finished - m_saturated_since).count());
    }
    m_saturation_warned = false;
  }
  if (entry->removed) {
    return;
  }
  const bool was_up = entry->state.health == Health::up;
  const std::chrono::system_clock::time_point now = m_clock.system_now();
  entry->state.apply(result, entry->target.success_threshold, entry->target.failure_threshold, now);
  entry->history.record(result, now);
  const bool is_up = entry->state.health == Health::up;
  if (entry->target.critical && was_up != is_up) {
    // Kept as a count: with thousands of targets, a scan per result would be the loop's work.
    m_critical_not_up += is_up ? -1 : 1;
    note_readiness(now);
  }
  // Fixed rate: the next run keeps the original phase; runs missed while this one waited for a
  // worker or ran are skipped rather than fired in a burst, and counted.
  const NextRun next = next_run(entry->due, entry->target.interval, started, finished);
  entry->due = next.due;
  if (!m_stopping) {
    // The dispatcher sleeps towards the earliest due time: only a new earliest one is news
    // (woken on every result, it cost a context switch per check at thousands a second).
    const bool earliest = m_timeline.empty() || entry->due < m_timeline.begin()->first;
    schedule(entry);
    if (earliest) {
      m_dispatch_wake.notify_all();
    }
  }
  if (m_observer) {
    m_observer(entry->target, entry->state, next.timing, ready_locked());
  }
}

bool Scheduler::ready_locked() const {
  return m_critical > 0 ? m_critical_not_up == 0 : !m_entries.empty();
}

void Scheduler::count_readiness() {
  m_critical = 0;
  m_critical_not_up = 0;
  for (const auto& [name, entry] : m_entries) {
    if (entry->target.critical) {
      ++m_critical;
      m_critical_not_up += entry->state.health == Health::up ? 0 : 1;
    }
  }
}

void Scheduler::note_readiness(std::chrono::system_clock::time_point now) {
  const bool ready = ready_locked();
  if (!m_readiness_set || ready != m_readiness.ready) {
    m_readiness = Readiness{ready, now};
    m_readiness_set = true;
  }
}

bool Scheduler::ready() const {
  const std::lock_guard<std::mutex> lock(m_mutex);
  return ready_locked();
}

Readiness Scheduler::readiness() const {
  const std::lock_guard<std::mutex> lock(m_mutex);
  return m_readiness;
}

std::vector<TargetView> Scheduler::snapshot_with_history() const {
  const std::chrono::system_clock::time_point now = m_clock.system_now();
  const std::lock_guard<std::mutex> lock(m_mutex);
  std::vector<TargetView> out;
  out.reserve(m_entries.size());
  for (const auto& [name, entry] : m_entries) {
    out.push_back(
        TargetView{TargetSnapshot{entry->target, entry->state}, entry->history.summary(now)});
  }
  return out;
}

std::vector<TargetSnapshot> Scheduler::snapshot() const {
  const std::lock_guard<std::mutex> lock(m_mutex);
  std::vector<TargetSnapshot> out;
  out.reserve(m_entries.size());
  for (const auto& [name, entry] : m_entries) {
    out.push_back(TargetSnapshot{entry->target, entry->state});
  }
  return out;
}

bool Scheduler::record_push(const std::string& name) {
  const std::lock_guard<std::mutex> lock(m_mutex);
  const auto found = m_entries.find(name);
  if (found == m_entries.end()) {
    return false;
  }
  const auto* heartbeat = std::get_if<config::HeartbeatTarget>(&found->second->target.spec);
  if (heartbeat == nullptr || heartbeat->source != config::HeartbeatSource::push) {
    return false;
  }
  // The check behind the name took its registration when it was made (checks::make_check).
  return m_context.pushes->record(name);
}

std::map<std::string, SteadyClock::time_point> Scheduler::due_times() const {
  const std::lock_guard<std::mutex> lock(m_mutex);
  std::map<std::string, SteadyClock::time_point> out;
  for (const auto& [due, entry] : m_timeline) {
    out.emplace(entry->target.name, due);
  }
  return out;
}

} // namespace probe::engine
