// An event store with a journal behind it; see local_recorder.hpp.
#include "probe/deploy/local_recorder.hpp"

#include <algorithm>
#include <set>

#include "probe/util/error.hpp"

namespace probe::deploy {

namespace {

// PostgreSQL at `dsn`, migrated; no store at all (journal only) when `dsn` is empty.
LocalEventRecorder::OpenStore open_postgres(const std::string& dsn) {
  if (dsn.empty()) {
    return {};
  }
  return
      [dsn]() -> std::unique_ptr<EventStore> { return std::make_unique<PostgresEventStore>(dsn); };
}

} // namespace

LocalEventRecorder::LocalEventRecorder(std::string journal_path, OpenStore open_store,
                                       LogWarning log_warning)
    : m_open_store(std::move(open_store)), m_log_warning(std::move(log_warning)),
      m_journal(std::move(journal_path)) {}

LocalEventRecorder::LocalEventRecorder(const config::Deploy& deploy, LogWarning log_warning)
    : LocalEventRecorder(deploy.journal, open_postgres(deploy.dsn.reveal()),
                         std::move(log_warning)) {}

void LocalEventRecorder::warn(const std::string& message) const {
  if (m_log_warning) {
    m_log_warning(message);
  }
}

EventStore* LocalEventRecorder::store_locked() {
  if (!m_open_store) {
    return nullptr;
  }
  if (!m_store) {
    try {
      m_store = m_open_store();
    } catch (const Error& e) {
      warn(e.what());
      return nullptr;
    }
  }
  return m_store.get();
}

std::size_t LocalEventRecorder::replay_locked() {
  EventStore* store = store_locked();
  if (store == nullptr || m_journal.pending() == 0) {
    return 0;
  }
  try {
    const Journal::DrainResult drained = m_journal.drain([&](const DeployEvent& event) {
      try {
        store->store(event); // idempotent: the same event already there counts as stored
        return Journal::Disposition::stored;
      } catch (const EventRefused& e) {
        warn(std::string(e.what()) + "; set aside in " + m_journal.quarantine_path());
      } catch (const EventConflict& e) {
        warn("journal: " + std::string(e.what()) + "; the journaled one is set aside in " +
             m_journal.quarantine_path());
      }
      return Journal::Disposition::quarantine;
    });
    for (const std::string& warning : drained.warnings) {
      warn(warning);
    }
    m_quarantined += drained.quarantined;
    return drained.stored;
  } catch (const Error& e) {
    m_store.reset();
    warn(std::string("replay stopped: ") + e.what());
    return 0;
  }
}

std::size_t LocalEventRecorder::replay() {
  const std::lock_guard<std::mutex> lock(m_mutex);
  return replay_locked();
}

LocalEventRecorder::RecordOutcome
LocalEventRecorder::record_event(const DeployEvent& offered_event) {
  const DeployEvent event = normalized(offered_event);
  const std::lock_guard<std::mutex> lock(m_mutex);
  replay_locked();
  if (EventStore* store = store_locked()) {
    try {
      return {store->store(event) ? Recorded::stored : Recorded::duplicate, ""};
    } catch (const EventConflict&) {
      throw;
    } catch (const EventRefused& e) {
      // Never journaled: it would be refused at every replay. Kept aside, durably, instead.
      Journal(m_journal.quarantine_path()).append(event);
      ++m_quarantined;
      warn(std::string(e.what()) + "; set aside in " + m_journal.quarantine_path());
      return {Recorded::quarantined, e.what()};
    } catch (const Error& e) {
      m_store.reset();
      warn(std::string(e.what()) + "; the event goes to the journal");
    }
  }
  // Unreachable: the journal is the store, so it decides what a repeated id means.
  for (const DeployEvent& pending : m_journal.read().events) {
    if (pending.event_id == event.event_id) {
      if (!same_event(pending, event)) {
        throw EventConflict("event_id " + event.event_id +
                            " is already journaled with different content (" + pending.kind + " " +
                            pending.sha + ")");
      }
      return {Recorded::duplicate, ""};
    }
  }
  m_journal.append(event); // throws when it cannot be kept: nothing is claimed
  return {Recorded::journaled, ""};
}

void LocalEventRecorder::record(const DeployEvent& event) {
  record_event(event);
}

EventPage LocalEventRecorder::recent_page(std::size_t limit, std::size_t byte_budget) {
  const std::lock_guard<std::mutex> lock(m_mutex);
  // Replay first, as record() does, so `probe deploy list` moves the journal in too. A replay
  // that quarantines an event keeps the connection; one that loses it leaves m_store null, and
  // the list is then the journal's alone (no second connect attempt for an unreachable database).
  replay_locked();
  EventPage stored;
  if (EventStore* store = m_store.get()) {
    try {
      stored = store->list(limit, byte_budget);
    } catch (const Error& e) {
      m_store.reset();
      warn(e.what());
    }
  }
  // Journaled events were received after every stored one: they come first, newest first.
  std::set<std::string> seen;
  for (const DeployEvent& event : stored.events) {
    seen.insert(event.event_id);
  }
  std::vector<DeployEvent> merged;
  const std::vector<DeployEvent> journaled = m_journal.read().events;
  for (std::size_t i = journaled.size(); i-- > 0;) {
    if (seen.insert(journaled[i].event_id).second) {
      merged.push_back(journaled[i]);
    }
  }
  merged.insert(merged.end(), std::make_move_iterator(stored.events.begin()),
                std::make_move_iterator(stored.events.end()));
  // The same limit and budget over the merged list.
  EventPage page;
  page.truncated = stored.truncated;
  std::size_t used = 0;
  for (DeployEvent& event : merged) {
    if (page.events.size() == limit) {
      break;
    }
    const std::size_t size = byte_budget == k_unbounded ? 0 : json_size(event) + 1;
    if (byte_budget != k_unbounded && used + size > byte_budget) {
      page.truncated = true;
      break;
    }
    used += size;
    page.events.push_back(std::move(event));
  }
  return page;
}

std::vector<DeployEvent> LocalEventRecorder::recent(std::size_t limit) {
  return recent_page(limit, k_unbounded).events;
}

template <typename Read>
auto LocalEventRecorder::read_store(Read read)
    -> std::optional<decltype(read(std::declval<EventStore&>()))> {
  const std::lock_guard<std::mutex> lock(m_mutex);
  EventStore* store = store_locked();
  if (store == nullptr) {
    return std::nullopt;
  }
  try {
    return read(*store);
  } catch (const Error&) {
    m_store.reset();
    return std::nullopt;
  }
}

std::optional<std::string> LocalEventRecorder::db_revision() {
  // alembic_revision() is itself optional (no Alembic table): a missing store reads the same.
  return read_store([](EventStore& store) { return store.alembic_revision(); })
      .value_or(std::nullopt);
}

std::size_t LocalEventRecorder::pending() const {
  const std::lock_guard<std::mutex> lock(m_mutex);
  return m_journal.pending();
}

std::optional<std::map<std::string, long long>> LocalEventRecorder::counts() {
  return read_store([](EventStore& store) { return store.count_by_kind(); });
}

} // namespace probe::deploy
