// Interval scheduling on a worker pool; see scheduler.hpp.
#include "probe/engine/scheduler.hpp"

#include <algorithm>

#include "probe/checks/heartbeat_check.hpp"
#include "probe/util/clock.hpp"

namespace probe::engine {
namespace {

using SteadyClock = std::chrono::steady_clock;

} // namespace

Scheduler::Scheduler(checks::CheckContext context, ResultObserver observer, CheckFactory factory,
                     std::size_t max_workers)
    : m_context(context), m_observer(std::move(observer)), m_factory(std::move(factory)),
      m_max_workers(max_workers) {}

Scheduler::~Scheduler() {
  stop();
}

Scheduler::EntryPtr Scheduler::make_entry(const config::Target& target,
                                          SteadyClock::time_point now) {
  auto entry = std::make_shared<Entry>();
  entry->target = target;
  entry->check = m_factory(target, m_context);
  // Spread first runs over up to a tenth of the interval (at most 1 s): targets do not fire in
  // lockstep, and the first verdict still comes quickly after start or reload.
  const auto spread = std::min<std::chrono::milliseconds::rep>(target.interval.count() / 10, 1000);
  std::uniform_int_distribution<std::chrono::milliseconds::rep> jitter(0,
                                                                       std::max<long>(spread, 0));
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
  const SteadyClock::time_point now = SteadyClock::now();
  {
    const std::lock_guard<std::mutex> lock(m_mutex);
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
  const std::size_t workers = std::clamp<std::size_t>(
      m_entries.size(), std::min<std::size_t>(4, m_max_workers), m_max_workers);
  for (std::size_t i = 0; i < workers; ++i) {
    m_workers.emplace_back([this] { worker_loop(); });
  }
  m_dispatcher = std::thread([this] { dispatch_loop(); });
}

void Scheduler::stop() {
  {
    const std::lock_guard<std::mutex> lock(m_mutex);
    if (!m_running) {
      return;
    }
    m_stopping = true;
    m_queue.clear(); // queued but not started: abandon
  }
  m_dispatch_wake.notify_all();
  m_work_ready.notify_all();
  m_dispatcher.join();
  for (std::thread& worker : m_workers) {
    worker.join();
  }
  m_workers.clear();
  const std::lock_guard<std::mutex> lock(m_mutex);
  m_running = false;
}

void Scheduler::dispatch_loop() {
  std::unique_lock<std::mutex> lock(m_mutex);
  while (!m_stopping) {
    if (m_timeline.empty()) {
      m_dispatch_wake.wait(lock);
      continue;
    }
    const auto first = m_timeline.begin();
    if (SteadyClock::now() < first->first) {
      // A copy: wait_until reads its deadline again after waking, and a reload may have erased
      // the timeline entry it came from meanwhile (found by AddressSanitizer).
      const SteadyClock::time_point due = first->first;
      m_dispatch_wake.wait_until(lock, due);
      continue;
    }
    m_queue.push_back(first->second); // off the timeline while it runs: no overlap
    m_timeline.erase(first);
    m_work_ready.notify_one();
  }
}

void Scheduler::worker_loop() {
  std::unique_lock<std::mutex> lock(m_mutex);
  while (true) {
    m_work_ready.wait(lock, [this] { return m_stopping || !m_queue.empty(); });
    if (m_stopping) {
      return;
    }
    EntryPtr entry = std::move(m_queue.front());
    m_queue.pop_front();
    lock.unlock();
    checks::CheckResult result;
    try {
      result = entry->check->run(entry->target.timeout);
    } catch (const std::exception& e) {
      result = checks::make_result(checks::CheckStatus::error, e.what(), "error");
    }
    lock.lock();
    finish(entry, result);
  }
}

void Scheduler::finish(const EntryPtr& entry, const checks::CheckResult& result) {
  if (entry->removed) {
    return;
  }
  entry->state.apply(result, entry->target.success_threshold, entry->target.failure_threshold,
                     m_context.clock != nullptr ? m_context.clock->system_now()
                                                : std::chrono::system_clock::now());
  // Fixed rate: the next run keeps the original phase; runs missed while the pool was busy are
  // skipped rather than fired in a burst.
  const SteadyClock::time_point now = SteadyClock::now();
  do {
    entry->due += entry->target.interval;
  } while (entry->due <= now);
  if (!m_stopping) {
    schedule(entry);
    m_dispatch_wake.notify_all();
  }
  if (m_observer) {
    m_observer(entry->target, entry->state, ready_locked());
  }
}

bool Scheduler::ready_locked() const {
  bool any = false;
  for (const auto& [name, entry] : m_entries) {
    if (entry->target.critical) {
      any = true;
      if (entry->state.health != Health::up) {
        return false;
      }
    }
  }
  return any || !m_entries.empty();
}

bool Scheduler::ready() const {
  const std::lock_guard<std::mutex> lock(m_mutex);
  return ready_locked();
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
  static_cast<checks::HeartbeatCheck*>(found->second->check.get())->record_push();
  return true;
}

} // namespace probe::engine
