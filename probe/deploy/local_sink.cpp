// PostgreSQL with a journal behind it; see local_sink.hpp.
#include "probe/deploy/local_sink.hpp"

#include <algorithm>
#include <set>

#include "probe/util/error.hpp"

namespace probe::deploy {

LocalEventSink::LocalEventSink(const config::Deploy& deploy,
                               std::function<void(const std::string&)> log_warning)
    : m_config(deploy), m_log_warning(std::move(log_warning)), m_journal(deploy.journal) {}

PostgresEventStore* LocalEventSink::store_locked() {
  if (m_config.dsn.empty()) {
    return nullptr;
  }
  if (!m_store) {
    try {
      m_store = std::make_unique<PostgresEventStore>(m_config.dsn.reveal());
    } catch (const Error& e) {
      if (m_log_warning) {
        m_log_warning(e.what());
      }
      return nullptr;
    }
  }
  return m_store.get();
}

std::size_t LocalEventSink::replay_locked() {
  PostgresEventStore* store = store_locked();
  if (store == nullptr || m_journal.pending() == 0) {
    return 0;
  }
  try {
    const Journal::DrainResult drained = m_journal.drain([&](const DeployEvent& event) {
      store->store(event); // idempotent: an event already there counts as stored
      return true;
    });
    for (const std::string& warning : drained.warnings) {
      if (m_log_warning) {
        m_log_warning(warning);
      }
    }
    return drained.stored;
  } catch (const Error& e) {
    m_store.reset();
    if (m_log_warning) {
      m_log_warning(std::string("replay stopped: ") + e.what());
    }
    return 0;
  }
}

std::size_t LocalEventSink::replay() {
  const std::lock_guard<std::mutex> lock(m_mutex);
  return replay_locked();
}

void LocalEventSink::record(const DeployEvent& event) {
  const std::lock_guard<std::mutex> lock(m_mutex);
  replay_locked();
  if (PostgresEventStore* store = store_locked()) {
    try {
      store->store(event);
      return;
    } catch (const Error& e) {
      m_store.reset();
      if (m_log_warning) {
        m_log_warning(std::string(e.what()) + "; the event goes to the journal");
      }
    }
  }
  m_journal.append(event); // throws when it cannot be kept: nothing is claimed
}

std::vector<DeployEvent> LocalEventSink::recent(std::size_t limit) {
  const std::lock_guard<std::mutex> lock(m_mutex);
  // Replay first, as record() does, so `probe deploy list` moves the journal in too; it also
  // tried to connect, so m_store is the connection to list from (null: unreachable, no retry).
  replay_locked();
  std::vector<DeployEvent> events;
  if (PostgresEventStore* store = m_store.get()) {
    try {
      events = store->list(limit);
    } catch (const Error& e) {
      m_store.reset();
      if (m_log_warning) {
        m_log_warning(e.what());
      }
    }
  }
  // Journaled events are part of the log too, until they reach the database.
  std::set<std::string> seen;
  for (const DeployEvent& event : events) {
    seen.insert(event.event_id);
  }
  for (const DeployEvent& event : m_journal.read().events) {
    if (seen.insert(event.event_id).second) {
      events.push_back(event);
    }
  }
  std::stable_sort(events.begin(), events.end(), [](const DeployEvent& a, const DeployEvent& b) {
    return a.occurred_at > b.occurred_at;
  });
  if (events.size() > limit) {
    events.resize(limit);
  }
  return events;
}

std::optional<std::string> LocalEventSink::db_revision() {
  const std::lock_guard<std::mutex> lock(m_mutex);
  PostgresEventStore* store = store_locked();
  if (store == nullptr) {
    return std::nullopt;
  }
  try {
    return store->alembic_revision();
  } catch (const Error&) {
    m_store.reset();
    return std::nullopt;
  }
}

std::size_t LocalEventSink::pending() const {
  const std::lock_guard<std::mutex> lock(m_mutex);
  return m_journal.pending();
}

std::optional<std::map<std::string, long long>> LocalEventSink::counts() {
  const std::lock_guard<std::mutex> lock(m_mutex);
  PostgresEventStore* store = store_locked();
  if (store == nullptr) {
    return std::nullopt;
  }
  try {
    return store->count_by_kind();
  } catch (const Error&) {
    m_store.reset();
    return std::nullopt;
  }
}

} // namespace probe::deploy
