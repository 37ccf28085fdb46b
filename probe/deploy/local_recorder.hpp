// Events kept on this machine's terms: the event store (PostgreSQL) first, the journal when the
// store cannot be reached, and the journal replayed into the store (once each, by event_id)
// whenever it can be — before every new event, so the log keeps its order, and before every read
// of the log. Used by the deploy commands run with a config, and by `probe serve` for POST
// /deploys and its background replay. Thread-safe.
//
// The store comes through the EventStore interface, opened by an injected OpenStore: production
// passes the PostgreSQL of deploy.dsn (the config constructor), the unit tests a store in memory
// they can take down, bring back, or make refuse an event. A store that fails is dropped and a
// new one opened at the next call, as a lost connection is.
//
// An event PostgreSQL refuses for its content (EventRefused) or that conflicts with a stored one
// of the same id (EventConflict) is never retried in front of the others: replay moves it to the
// journal's quarantine file, logs it once and counts it (quarantined()). History is always the
// database's events plus the journal's pending ones, merged: pending events were received after
// every stored one, so they come first, newest first.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>

#include "probe/config/config.hpp"
#include "probe/deploy/event_recorder.hpp"
#include "probe/deploy/event_store.hpp"
#include "probe/deploy/journal.hpp"

namespace probe::deploy {

class LocalEventRecorder final : public EventRecorder {
public:
  // Opens the event store; throws probe::Error when it cannot be reached.
  using OpenStore = std::function<std::unique_ptr<EventStore>()>;
  using LogWarning = std::function<void(const std::string&)>;

  // What record_event() did with an event.
  enum class Recorded {
    stored,      // newly in PostgreSQL
    duplicate,   // the same event was stored or journaled before: nothing changed
    journaled,   // PostgreSQL unreachable: appended to the journal, replayed later
    quarantined, // PostgreSQL refused its content: kept in the quarantine file, not in the log
  };
  struct RecordOutcome {
    Recorded recorded = Recorded::stored;
    std::string reason; // why it was quarantined
  };

  // The journal at `journal_path` behind the store `open_store` opens (journal only when
  // `open_store` is empty). `log_warning` receives "the database is unreachable" style messages
  // (no secrets).
  LocalEventRecorder(std::string journal_path, OpenStore open_store, LogWarning log_warning);
  // Production: PostgreSQL at deploy.dsn (journal only when it is empty), the journal at
  // deploy.journal.
  LocalEventRecorder(const config::Deploy& deploy, LogWarning log_warning);

  // Records normalized(`offered_event`). Throws EventConflict when its event_id is stored or
  // journaled with different content, probe::Error when neither PostgreSQL nor the journal can keep
  // it.
  RecordOutcome record_event(const DeployEvent& offered_event);

  // EventRecorder: record_event() for the deploy flow (a quarantined event is kept, so it counts as
  // recorded: the deploy goes on).
  void record(const DeployEvent& event) override;
  std::vector<DeployEvent> recent(std::size_t limit) override;
  std::optional<std::string> db_revision() override;

  // The newest `limit` events, newest received first — the journal's pending events, then the
  // store's — within `byte_budget` (see EventStore::list).
  EventPage recent_page(std::size_t limit, std::size_t byte_budget);

  // Moves journaled events into the store; returns how many were stored.
  std::size_t replay();
  std::size_t pending() const;
  // Events this sink has set aside in the quarantine file since it was made.
  std::uint64_t quarantined() const { return m_quarantined.load(); }
  // Counts by kind from the store, or nullopt when it cannot be reached.
  std::optional<std::map<std::string, long long>> counts();

private:
  // The open store, opening one when there is none; nullptr when it cannot be reached.
  EventStore* store_locked();
  // `read`(store) under the lock, or nullopt when there is no store or it fails (then dropped,
  // to be opened again next time): the reads that have no journal to fall back on.
  template <typename Read>
  auto read_store(Read read) -> std::optional<decltype(read(std::declval<EventStore&>()))>;
  std::size_t replay_locked();
  void warn(const std::string& message) const;

  OpenStore m_open_store;
  LogWarning m_log_warning;
  Journal m_journal;
  mutable std::mutex m_mutex;
  std::unique_ptr<EventStore> m_store;
  std::atomic<std::uint64_t> m_quarantined{0};
};

} // namespace probe::deploy
