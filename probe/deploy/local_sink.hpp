// Events kept on this machine's terms: PostgreSQL first, the journal when PostgreSQL cannot be
// reached, and the journal replayed into PostgreSQL (once each, by event_id) whenever it can
// be — before every new event, so the log keeps its order, and before every read of the log.
// Used by the deploy commands run with a config, and by `probe serve` for POST /deploys and its
// background replay. Thread-safe.
#pragma once

#include <memory>
#include <mutex>

#include "probe/config/config.hpp"
#include "probe/deploy/deploy_flow.hpp"
#include "probe/deploy/event_store.hpp"
#include "probe/deploy/journal.hpp"

namespace probe::deploy {

class LocalEventSink final : public EventSink {
public:
  // `log_warning` receives "the database is unreachable" style messages (no secrets).
  LocalEventSink(const config::Deploy& deploy, std::function<void(const std::string&)> log_warning);

  void record(const DeployEvent& event) override;
  std::vector<DeployEvent> recent(std::size_t limit) override;
  std::optional<std::string> db_revision() override;

  // Moves journaled events into PostgreSQL; returns how many were stored.
  std::size_t replay();
  std::size_t pending() const;
  // Counts by kind from PostgreSQL, or nullopt when it cannot be reached.
  std::optional<std::map<std::string, long long>> counts();

private:
  PostgresEventStore* store_locked();
  std::size_t replay_locked();

  config::Deploy m_config;
  std::function<void(const std::string&)> m_log_warning;
  Journal m_journal;
  mutable std::mutex m_mutex;
  std::unique_ptr<PostgresEventStore> m_store;
};

} // namespace probe::deploy
