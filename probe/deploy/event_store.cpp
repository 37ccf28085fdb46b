// The PostgreSQL event store and the previous-good rule; see event_store.hpp.
#include "probe/deploy/event_store.hpp"

#include <algorithm>
#include <cstdlib>

#include <libpq-fe.h>
#include <pqxx/pqxx>

#include "probe/util/error.hpp"
#include "probe/util/pg_dsn.hpp"
#include "probe/util/secret.hpp"

namespace probe::deploy {
namespace {

// Each migration runs once, in order, inside one transaction with its version row.
const std::vector<std::string> k_migrations{
    // 1: the contract's table.
    R"(CREATE TABLE probe_deploy_events (
         id bigserial PRIMARY KEY,
         event_id uuid NOT NULL UNIQUE,
         occurred_at timestamptz NOT NULL,
         kind text NOT NULL CHECK (kind IN ('deploy_started', 'deploy_succeeded',
           'deploy_failed', 'rollback_started', 'rollback_succeeded', 'rollback_failed')),
         sha text NOT NULL,
         previous_sha text,
         actor text NOT NULL DEFAULT '',
         host text NOT NULL DEFAULT '',
         details jsonb NOT NULL DEFAULT '{}'::jsonb);
       CREATE INDEX probe_deploy_events_occurred_at ON probe_deploy_events (occurred_at DESC, id DESC);
       CREATE INDEX probe_deploy_events_sha ON probe_deploy_events (sha, occurred_at DESC);)",
};

// Serializes migrations between probes starting at once (an arbitrary fixed key: "probe-mig").
constexpr long long k_migration_lock = 0x70726f62656d6967LL;

std::string one_line(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  while (!text.empty() && text.back() == ' ') {
    text.pop_back();
  }
  return text;
}

DeployEvent event_from_row(const pqxx::row& row) {
  DeployEvent event;
  event.event_id = row["event_id"].as<std::string>();
  event.occurred_at = parse_time(row["occurred_at"].as<std::string>())
                          .value_or(std::chrono::system_clock::time_point{});
  event.kind = row["kind"].as<std::string>();
  event.sha = row["sha"].as<std::string>();
  event.previous_sha = row["previous_sha"].is_null() ? "" : row["previous_sha"].as<std::string>();
  event.actor = row["actor"].as<std::string>();
  event.host = row["host"].as<std::string>();
  event.details = nlohmann::json::parse(row["details"].as<std::string>(), nullptr, false);
  if (event.details.is_discarded()) {
    event.details = nlohmann::json::object();
  }
  return event;
}

} // namespace

struct PostgresEventStore::Connection {
  explicit Connection(const std::string& dsn) : pq(dsn) {}
  pqxx::connection pq;
};

PostgresEventStore::Connection& PostgresEventStore::connection() {
  if (!m_connection) {
    m_connection = std::make_unique<Connection>(m_dsn);
  }
  return *m_connection;
}

template <typename Fn> auto PostgresEventStore::guarded(const char* what, Fn&& fn) {
  try {
    return fn();
  } catch (const pqxx::broken_connection& e) {
    m_connection.reset(); // reconnect next time
    throw Error(std::string("event store: ") + what + ": " +
                    util::redact(one_line(e.what()), util::dsn_password(m_dsn)),
                1);
  } catch (const std::exception& e) {
    throw Error(std::string("event store: ") + what + ": " +
                    util::redact(one_line(e.what()), util::dsn_password(m_dsn)),
                1);
  }
}

PostgresEventStore::PostgresEventStore(const std::string& dsn) : m_dsn(dsn) {
  // libpq waits for ever by default; a deploy command must fall back to the journal instead.
  setenv("PGCONNECT_TIMEOUT", "5", 0);
  guarded("connect", [&] {
    connection();
    return 0;
  });
  migrate();
}

PostgresEventStore::~PostgresEventStore() = default;

void PostgresEventStore::migrate() {
  guarded("migrate", [&] {
    pqxx::work work(connection().pq);
    work.exec_params("SELECT pg_advisory_xact_lock($1)", k_migration_lock);
    work.exec("CREATE TABLE IF NOT EXISTS probe_schema_migrations ("
              "version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
    const int current =
        work.exec1("SELECT coalesce(max(version), 0) FROM probe_schema_migrations")[0].as<int>();
    for (std::size_t i = static_cast<std::size_t>(current); i < k_migrations.size(); ++i) {
      work.exec(k_migrations[i]);
      work.exec_params("INSERT INTO probe_schema_migrations (version) VALUES ($1)",
                       static_cast<int>(i + 1));
    }
    work.commit();
    return 0;
  });
}

int PostgresEventStore::schema_version() {
  return guarded("schema version", [&] {
    pqxx::work work(connection().pq);
    return work.exec1("SELECT max(version) FROM probe_schema_migrations")[0].as<int>();
  });
}

bool PostgresEventStore::store(const DeployEvent& event) {
  return guarded("store", [&] {
    pqxx::work work(connection().pq);
    const pqxx::result result = work.exec_params(
        "INSERT INTO probe_deploy_events (event_id, occurred_at, kind, sha, previous_sha, actor, "
        "host, details) VALUES ($1, $2, $3, $4, NULLIF($5, ''), $6, $7, $8::jsonb) "
        "ON CONFLICT (event_id) DO NOTHING",
        event.event_id, format_time(event.occurred_at), event.kind, event.sha, event.previous_sha,
        event.actor, event.host,
        event.details.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    work.commit();
    return result.affected_rows() == 1;
  });
}

std::vector<DeployEvent> PostgresEventStore::list(std::size_t limit) {
  return guarded("list", [&] {
    pqxx::work work(connection().pq);
    const pqxx::result rows = work.exec_params(
        "SELECT event_id::text, to_char(occurred_at AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS occurred_at, kind, sha, previous_sha, actor, "
        "host, details::text FROM probe_deploy_events ORDER BY occurred_at DESC, id DESC LIMIT $1",
        static_cast<long long>(limit));
    std::vector<DeployEvent> events;
    events.reserve(rows.size());
    for (const pqxx::row& row : rows) {
      events.push_back(event_from_row(row));
    }
    return events;
  });
}

std::map<std::string, long long> PostgresEventStore::count_by_kind() {
  return guarded("count", [&] {
    pqxx::work work(connection().pq);
    std::map<std::string, long long> counts;
    for (const pqxx::row& row :
         work.exec("SELECT kind, count(*) FROM probe_deploy_events GROUP BY kind")) {
      counts[row[0].as<std::string>()] = row[1].as<long long>();
    }
    return counts;
  });
}

std::optional<std::string> PostgresEventStore::alembic_revision() {
  return guarded("alembic revision", [&]() -> std::optional<std::string> {
    pqxx::work work(connection().pq);
    if (work.exec1("SELECT to_regclass('alembic_version') IS NOT NULL")[0].as<bool>()) {
      const pqxx::result rows = work.exec("SELECT version_num FROM alembic_version LIMIT 1");
      if (!rows.empty() && !rows[0][0].is_null()) {
        return rows[0][0].as<std::string>();
      }
    }
    return std::nullopt;
  });
}

std::optional<DeployEvent> previous_good(const std::vector<DeployEvent>& events,
                                         const std::string& excluding) {
  std::vector<const DeployEvent*> outcomes;
  for (const DeployEvent& event : events) {
    if (event.kind == "deploy_succeeded" || event.kind == "rollback_succeeded" ||
        event.kind == "deploy_failed" || event.kind == "rollback_failed") {
      outcomes.push_back(&event);
    }
  }
  // Newest first; the first outcome seen for a SHA is its last outcome.
  std::stable_sort(
      outcomes.begin(), outcomes.end(),
      [](const DeployEvent* a, const DeployEvent* b) { return a->occurred_at > b->occurred_at; });
  std::vector<std::string> judged;
  for (const DeployEvent* event : outcomes) {
    if (std::find(judged.begin(), judged.end(), event->sha) != judged.end()) {
      continue;
    }
    judged.push_back(event->sha);
    const bool success = event->kind == "deploy_succeeded" || event->kind == "rollback_succeeded";
    if (success && event->sha != excluding) {
      return *event;
    }
  }
  return std::nullopt;
}

} // namespace probe::deploy
