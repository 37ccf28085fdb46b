// Where deploy events live: the `probe_deploy_events` table in PostgreSQL, created and migrated
// by probe itself (a versioned migrations table; applying twice is a no-op), written
// idempotently on `event_id`. EventStore is a storage backend: the interface LocalEventRecorder
// keeps events through (PostgreSQL first, the journal behind it), so its fallback and replay can
// be tested against a store the test controls (tests/fakes/memory_event_store.hpp);
// PostgresEventStore is the real one (libpqxx). What the deploy flow records through is an
// EventRecorder (event_recorder.hpp), not a store.
//
// Two failures are told apart because they call for opposite handling: a database that cannot
// be reached (keep the event in the journal, try again later) and a database that refuses the
// event for what it contains (EventRefused: trying again can never succeed, so the journal sets
// it aside instead of retrying it for ever in front of the events behind it). "Newest" is the
// order the store received events (`id`), never a client-supplied `occurred_at`.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probe/deploy/event.hpp"
#include "probe/util/error.hpp"

namespace probe::deploy {

// The database refused the event for its content (SQLSTATE class 22, data exception; 23,
// integrity constraint; 54, program limit): it can never be stored as it is. Exit code 1.
class EventRefused : public Error {
public:
  explicit EventRefused(const std::string& message) : Error(message, 1) {}
};

// An event with this event_id is already stored with different content (see same_event()).
class EventConflict : public Error {
public:
  explicit EventConflict(const std::string& message) : Error(message, 1) {}
};

// True when SQLSTATE `sqlstate` says the statement's data was refused (classes 22, 23, 54)
// rather than the connection, the server's state or probe's own SQL.
bool is_content_error(std::string_view sqlstate);

// A page of the log: newest received first, and whether it stopped short of `limit` events
// because the next one would have passed the byte budget.
struct EventPage {
  std::vector<DeployEvent> events;
  bool truncated = false;
};

inline constexpr std::size_t k_unbounded = SIZE_MAX;

// A storage backend for deploy events. Every call throws probe::Error when the store cannot be
// reached; the caller then opens a new one (see LocalEventRecorder::OpenStore).
class EventStore {
public:
  virtual ~EventStore() = default;
  // Stores normalized(`offered`) unless one with its event_id exists; true when newly stored, false
  // when the same event (same_event()) was stored before. Throws EventConflict when the id is
  // stored with different content, EventRefused when the database refuses the content, and
  // probe::Error when the store cannot be reached.
  virtual bool store(const DeployEvent& offered) = 0;
  // The newest `limit` events, newest received first, bounded while reading: each event's
  // details within k_max_details_bytes, and no event that would take the sum of json_size()
  // past `byte_budget` (the page is then `truncated`).
  virtual EventPage list(std::size_t limit, std::size_t byte_budget) = 0;
  // How many events of each kind are stored (for the deploy counters).
  virtual std::map<std::string, long long> count_by_kind() = 0;
  // The app's Alembic revision (alembic_version.version_num) when the store shares the app's
  // database and it has one that valid_ref() accepts (it reaches a rollback hook's environment).
  virtual std::optional<std::string> alembic_revision() = 0;
};

class PostgresEventStore final : public EventStore {
public:
  // Connects to `dsn` and applies pending migrations; throws probe::Error (no password in it)
  // when the database cannot be reached.
  explicit PostgresEventStore(const std::string& dsn);
  ~PostgresEventStore() override;

  bool store(const DeployEvent& offered) override;
  EventPage list(std::size_t limit, std::size_t byte_budget) override;
  std::map<std::string, long long> count_by_kind() override;
  std::optional<std::string> alembic_revision() override;

  // The schema version after migrating (for tests and logs).
  int schema_version();

private:
  void migrate();
  template <typename Fn> auto guarded(const char* what, Fn&& fn);

  struct Connection; // wraps pqxx::connection (an alias in libpqxx 6.4, so not declarable here)
  Connection& connection();

  std::string m_dsn;
  std::unique_ptr<Connection> m_connection;
};

} // namespace probe::deploy
