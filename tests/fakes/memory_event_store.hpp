// An event store in memory that behaves as PostgresEventStore does, for testing what sits on top
// of a store (LocalEventRecorder's journal fallback and replay) without a database. A
// MemoryDatabase is the server: it holds the rows and a test flips its behaviour — unreachable,
// going down after a number of writes, refusing an event for its content (EventRefused). Stores
// opened from it (opener()) are its connections: they share its rows, and every call on one
// throws probe::Error while the database is unreachable, as a lost connection does. An event_id
// stored with other content is an EventConflict, as in PostgreSQL; seed `rows` to set one up.
//
// It also records what was asked of it (stores opened, every event_id offered), so a test can
// say "the refused event was not offered again".
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "probe/deploy/event.hpp"
#include "probe/deploy/event_store.hpp"
#include "probe/util/error.hpp"

namespace probe::test_support {

class MemoryDatabase {
public:
  // How it behaves (set by the test).
  bool reachable = true;
  // After this many more successful store() calls the database goes down (reachable = false).
  std::optional<std::size_t> stores_before_outage;
  // True for an event the database refuses for its content (a CHECK, a character it cannot hold).
  std::function<bool(const deploy::DeployEvent&)> refuses;
  // What alembic_revision() answers.
  std::optional<std::string> alembic;
  // Runs as list() starts: what another process does meanwhile (e.g. appends to the journal).
  std::function<void()> before_list;

  // What it holds and what was asked of it.
  std::vector<deploy::DeployEvent> rows; // in the order received (PostgreSQL's `id`)
  std::size_t opened = 0;                // stores opened (connections made)
  std::vector<std::string> offered;      // the event_id of every store() call, in order

  // Opens a store on this database, as LocalEventRecorder::OpenStore does; throws probe::Error
  // while the database is unreachable. The database must outlive the stores.
  std::function<std::unique_ptr<deploy::EventStore>()> opener();

  // The event_ids of `rows`, in the order received.
  std::vector<std::string> stored_ids() const {
    std::vector<std::string> ids;
    for (const deploy::DeployEvent& row : rows) {
      ids.push_back(row.event_id);
    }
    return ids;
  }

  // Throws what a lost connection throws when the database is down.
  void require_reachable(const char* what) const {
    if (!reachable) {
      throw Error(std::string("event store: ") + what + ": connection refused", 1);
    }
  }
};

class MemoryEventStore final : public deploy::EventStore {
public:
  explicit MemoryEventStore(MemoryDatabase& database) : m_database(database) {}

  bool store(const deploy::DeployEvent& offered) override {
    m_database.require_reachable("store");
    const deploy::DeployEvent event = deploy::normalized(offered);
    m_database.offered.push_back(event.event_id);
    if (m_database.refuses && m_database.refuses(event)) {
      throw deploy::EventRefused("event store: PostgreSQL refused event " + event.event_id +
                                 " (SQLSTATE 23514): a check constraint");
    }
    for (const deploy::DeployEvent& row : m_database.rows) {
      if (row.event_id == event.event_id) {
        if (!deploy::same_event(row, event)) {
          throw deploy::EventConflict("event_id " + event.event_id +
                                      " is already stored with different content (" + row.kind +
                                      " " + row.sha + ")");
        }
        return false;
      }
    }
    m_database.rows.push_back(event);
    count_towards_outage();
    return true;
  }

  deploy::EventPage list(std::size_t limit, std::size_t byte_budget) override {
    if (m_database.before_list) {
      m_database.before_list();
    }
    m_database.require_reachable("list");
    deploy::EventPage page;
    std::size_t used = 0;
    for (auto row = m_database.rows.rbegin();
         row != m_database.rows.rend() && page.events.size() < limit; ++row) {
      const std::size_t size = deploy::json_size(*row) + 1; // and its comma
      if (byte_budget != deploy::k_unbounded && used + size > byte_budget) {
        page.truncated = true;
        break;
      }
      used += size;
      page.events.push_back(*row);
    }
    return page;
  }

  std::map<std::string, long long> count_by_kind() override {
    m_database.require_reachable("count");
    std::map<std::string, long long> counts;
    for (const deploy::DeployEvent& row : m_database.rows) {
      ++counts[row.kind];
    }
    return counts;
  }

  std::optional<std::string> alembic_revision() override {
    m_database.require_reachable("alembic revision");
    return m_database.alembic;
  }

private:
  void count_towards_outage() {
    if (m_database.stores_before_outage && (*m_database.stores_before_outage)-- <= 1) {
      m_database.stores_before_outage.reset();
      m_database.reachable = false;
    }
  }

  MemoryDatabase& m_database;
};

inline std::function<std::unique_ptr<deploy::EventStore>()> MemoryDatabase::opener() {
  return [this]() -> std::unique_ptr<deploy::EventStore> {
    require_reachable("connect");
    ++opened;
    return std::make_unique<MemoryEventStore>(*this);
  };
}

} // namespace probe::test_support
