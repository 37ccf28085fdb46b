// One short PostgreSQL conversation with a hard deadline: connect, run one query, read the
// first value, hang up. Built on libpq's non-blocking API (the layer under libpqxx) because a
// health check must honour a sub-second timeout, and libpq's connect_timeout cannot go below
// 2 s nor bound a server that stops answering mid-query. libpqxx serves the event store.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "probe/checks/check.hpp"

namespace probe::checks {

struct PgQueryOutcome {
  bool ok = false;
  CheckResult failure;              // set when !ok: status, reason, detail (no password)
  std::optional<std::string> value; // first column of the first row; nullopt for NULL
  int rows = 0;
};

// Connects to `dsn`, runs `query` and returns its first value, all before `deadline`.
// Failures are classified as pg_isready tells them apart: no_response, rejecting (starting
// up, shutting down, in recovery), auth_failed, dns, query_failed, timeout. A failed query's
// detail is the server's message about the query, never the statement_timeout wrapper.
PgQueryOutcome run_pg_query(const std::string& dsn, const std::string& query,
                            std::chrono::steady_clock::time_point deadline);

// The reason libpq's connect `message` tells by itself ("dns" for a name that does not resolve,
// "no_response", "rejecting", "auth_failed", "timeout"), or empty when it does not.
std::string classify_connect_message(const std::string& message);

} // namespace probe::checks
