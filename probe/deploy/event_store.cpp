// The PostgreSQL event store; see event_store.hpp.
#include "probe/deploy/event_store.hpp"

#include <algorithm>
#include <cstdlib>

#include <libpq-fe.h>
#include <pqxx/pqxx>

#include "probe/util/error.hpp"
#include "probe/util/json_text.hpp"
#include "probe/util/pg_dsn.hpp"
#include "probe/util/secret.hpp"

namespace probe::deploy {
namespace {

// Each migration runs once, in order, inside one transaction with its version row. Applied
// migrations are history and never edited: the kind names in the first one are EventKind's
// (event_kind.hpp) as they were then; a new kind needs a new migration that widens the CHECK.
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

// The columns every read selects, details bounded by the server: a row's details text is at most
// twice k_max_details_bytes (PostgreSQL's jsonb text has spaces the compact form lacks), else a
// stub built in SQL with the kept keys that are small; normalized() then applies the exact rule.
// So no read transfers or holds a large stored value, whatever an old probe or a hand-made row
// put there.
std::string bounded_columns() {
  std::string kept;
  for (const std::string& key : kept_detail_keys()) {
    kept += (kept.empty() ? "'" : ", '") + key + "'";
  }
  const std::string limit = std::to_string(2 * k_max_details_bytes);
  return "id, event_id::text, to_char(occurred_at AT TIME ZONE 'UTC', "
         "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS occurred_at, kind, sha, previous_sha, actor, "
         "host, CASE WHEN octet_length(d.text) <= " +
         limit +
         " THEN d.text ELSE (jsonb_build_object('truncated', true, 'bytes', octet_length(d.text)) "
         "|| CASE WHEN jsonb_typeof(details) = 'object' THEN coalesce((SELECT "
         "jsonb_object_agg(key, value) FROM jsonb_each(details) WHERE key IN (" +
         kept + ") AND octet_length(value::text) <= " + std::to_string(k_max_kept_detail_bytes) +
         "), '{}'::jsonb) ELSE '{}'::jsonb END)::text END AS details "
         "FROM probe_deploy_events, LATERAL (SELECT details::text AS text) AS d";
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
  if (event.details.is_discarded() || !event.details.is_object()) {
    event.details = nlohmann::json::object();
  }
  // Rows written before the door cleaned text, or by hand, read as the door would have made them.
  return normalized(std::move(event));
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

bool is_content_error(std::string_view sqlstate) {
  return sqlstate.size() == 5 && (sqlstate.substr(0, 2) == "22" || sqlstate.substr(0, 2) == "23" ||
                                  sqlstate.substr(0, 2) == "54");
}

template <typename Fn> auto PostgresEventStore::guarded(const char* what, Fn&& fn) {
  try {
    return fn();
  } catch (const Error&) {
    throw; // already classified (EventRefused, EventConflict)
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
    // Text is sent and read as UTF-8 whatever the database's encoding: a character the database
    // cannot hold is then refused (22P05) instead of stored as other characters.
    connection().pq.set_client_encoding("UTF8");
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

bool PostgresEventStore::store(const DeployEvent& offered) {
  const DeployEvent event = normalized(offered);
  const std::optional<DeployEvent> existing = guarded("store", [&]() -> std::optional<DeployEvent> {
    try {
      pqxx::work work(connection().pq);
      const pqxx::result inserted = work.exec_params(
          "INSERT INTO probe_deploy_events (event_id, occurred_at, kind, sha, previous_sha, "
          "actor, host, details) VALUES ($1, $2, $3, $4, NULLIF($5, ''), $6, $7, $8::jsonb) "
          "ON CONFLICT (event_id) DO NOTHING",
          event.event_id, format_time(event.occurred_at), event.kind, event.sha, event.previous_sha,
          event.actor, event.host, util::json_text(event.details));
      std::optional<DeployEvent> stored;
      if (inserted.affected_rows() == 0) {
        const pqxx::result rows = work.exec_params(
            "SELECT " + bounded_columns() + " WHERE event_id = $1::uuid", event.event_id);
        stored = rows.empty() ? std::optional<DeployEvent>() : event_from_row(rows[0]);
      }
      work.commit();
      return stored;
    } catch (const pqxx::sql_error& e) {
      if (!is_content_error(e.sqlstate())) {
        throw;
      }
      throw EventRefused("event store: PostgreSQL refused event " + event.event_id + " (SQLSTATE " +
                         e.sqlstate() +
                         "): " + util::redact(one_line(e.what()), util::dsn_password(m_dsn)));
    }
  });
  if (!existing) {
    return true;
  }
  if (!same_event(*existing, event)) {
    throw EventConflict("event_id " + event.event_id +
                        " is already stored with different content (" + existing->kind + " " +
                        existing->sha + ")");
  }
  return false;
}

EventPage PostgresEventStore::list(std::size_t limit, std::size_t byte_budget) {
  return guarded("list", [&] {
    EventPage page;
    if (limit == 0) {
      return page;
    }
    // A cursor, fetched a few rows at a time: reading stops at the budget, so a page of 1000
    // large events never sits in memory to be trimmed afterwards.
    constexpr std::size_t k_batch = 32;
    pqxx::work work(connection().pq);
    work.exec("DECLARE probe_list NO SCROLL CURSOR FOR SELECT " + bounded_columns() +
              " ORDER BY id DESC LIMIT " + std::to_string(limit));
    std::size_t used = 0;
    for (bool more = true; more && !page.truncated;) {
      const pqxx::result rows = work.exec("FETCH " + std::to_string(k_batch) + " FROM probe_list");
      more = rows.size() == k_batch;
      for (const pqxx::row& row : rows) {
        DeployEvent event = event_from_row(row);
        const std::size_t size = json_size(event) + 1; // and its comma
        if (byte_budget != k_unbounded && used + size > byte_budget) {
          page.truncated = true;
          break;
        }
        used += size;
        page.events.push_back(std::move(event));
      }
    }
    work.commit();
    return page;
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
      if (!rows.empty() && !rows[0][0].is_null() && valid_ref(rows[0][0].as<std::string>())) {
        return rows[0][0].as<std::string>();
      }
    }
    return std::nullopt;
  });
}

} // namespace probe::deploy
