// Where the integration tests find the real PostgreSQL that tests/run.sh starts: its DSN in
// PROBE_TEST_PG_DSN. Run by hand without one, Postgres tests skip; under tests/run.sh and CI
// (PROBE_TEST_REQUIRE_PG=1) a missing server fails loudly — a skipped integration test is a
// hidden failure.
#pragma once

#include <cstdlib>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>
#include <libpq-fe.h>

namespace probe::tests {

inline std::string test_pg_dsn() {
  const char* dsn = std::getenv("PROBE_TEST_PG_DSN");
  return dsn != nullptr ? dsn : "";
}

inline bool pg_required() {
  const char* required = std::getenv("PROBE_TEST_REQUIRE_PG");
  return required != nullptr && std::string(required) == "1";
}

// Runs one statement outside any transaction (CREATE DATABASE needs that); throws on error.
inline void exec_outside_transaction(const std::string& dsn, const std::string& sql) {
  PGconn* conn = PQconnectdb(dsn.c_str());
  PGresult* result = PQexec(conn, sql.c_str());
  const bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
  const std::string error = PQerrorMessage(conn);
  PQclear(result);
  PQfinish(conn);
  if (!ok) {
    throw std::runtime_error(sql + ": " + error);
  }
}

// The single text value `sql` returns; "error: ..." when it fails or returns other than one row.
inline std::string query_one(const std::string& dsn, const std::string& sql) {
  PGconn* conn = PQconnectdb(dsn.c_str());
  PGresult* result = PQexec(conn, sql.c_str());
  std::string value;
  if (PQresultStatus(result) == PGRES_TUPLES_OK && PQntuples(result) == 1) {
    value = PQgetvalue(result, 0, 0);
  } else {
    value = "error: " + std::string(PQerrorMessage(conn));
  }
  PQclear(result);
  PQfinish(conn);
  return value;
}

// A database of the calling test's own, so parallel tests do not share tables; its DSN.
inline std::string fresh_database_dsn(const std::string& name) {
  const std::string admin = test_pg_dsn();
  exec_outside_transaction(admin, "DROP DATABASE IF EXISTS " + name);
  exec_outside_transaction(admin, "CREATE DATABASE " + name);
  return admin.substr(0, admin.rfind('/')) + "/" + name;
}

} // namespace probe::tests

// Skips (by hand) or fails (under tests/run.sh) when no test PostgreSQL is configured.
#define PROBE_REQUIRE_PG()                                                                         \
  do {                                                                                             \
    if (probe::tests::test_pg_dsn().empty()) {                                                     \
      if (probe::tests::pg_required()) {                                                           \
        FAIL() << "PROBE_TEST_PG_DSN is not set but PROBE_TEST_REQUIRE_PG=1";                      \
      }                                                                                            \
      GTEST_SKIP() << "no test PostgreSQL (set PROBE_TEST_PG_DSN or run tests/run.sh)";            \
    }                                                                                              \
  } while (0)
