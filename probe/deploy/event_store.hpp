// Where deploy events live: the `probe_deploy_events` table in PostgreSQL, created and migrated
// by probe itself (a versioned migrations table; applying twice is a no-op), written
// idempotently on `event_id`. EventStore is the interface the deploy flow and serve use, so the
// flow can be tested against a store it controls; PostgresEventStore is the real one (libpqxx).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "probe/deploy/event.hpp"

namespace probe::deploy {

class EventStore {
public:
  virtual ~EventStore() = default;
  // Stores `event` unless one with its event_id exists; true when newly stored. Throws
  // probe::Error when the store cannot be reached.
  virtual bool store(const DeployEvent& event) = 0;
  // The newest `limit` events, newest first.
  virtual std::vector<DeployEvent> list(std::size_t limit) = 0;
  // How many events of each kind are stored (for the deploy counters).
  virtual std::map<std::string, long long> count_by_kind() = 0;
};

class PostgresEventStore final : public EventStore {
public:
  // Connects to `dsn` and applies pending migrations; throws probe::Error (no password in it)
  // when the database cannot be reached.
  explicit PostgresEventStore(const std::string& dsn);
  ~PostgresEventStore() override;

  bool store(const DeployEvent& event) override;
  std::vector<DeployEvent> list(std::size_t limit) override;
  std::map<std::string, long long> count_by_kind() override;

  // The app's Alembic revision (alembic_version.version_num), if the database has one.
  std::optional<std::string> alembic_revision();

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

// The previous good SHA from `events` (any order): the newest SHA whose last outcome was a
// success — deploy_succeeded or rollback_succeeded — skipping `excluding` and never a SHA whose
// last outcome was deploy_failed or rollback_failed. The event it came from, or nullopt.
std::optional<DeployEvent> previous_good(const std::vector<DeployEvent>& events,
                                         const std::string& excluding);

} // namespace probe::deploy
