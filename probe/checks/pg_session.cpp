// libpq's asynchronous connect and query, polled against a deadline; see pg_session.hpp.
#include "probe/checks/pg_session.hpp"

#include <array>
#include <cerrno>
#include <memory>

#include <libpq-fe.h>
#include <poll.h>

#include "probe/util/duration.hpp"
#include "probe/util/pg_dsn.hpp"
#include "probe/util/secret.hpp"
#include "probe/util/strings.hpp"

namespace probe::checks {
namespace {

using Clock = std::chrono::steady_clock;

struct ConnCloser {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
using Conn = std::unique_ptr<PGconn, ConnCloser>;

struct ResultCloser {
  void operator()(PGresult* result) const { PQclear(result); }
};
using Result = std::unique_ptr<PGresult, ResultCloser>;

int remaining_ms(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

// Waits for `events` on `fd` until `deadline`; false when the deadline came first.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  pollfd waiting{fd, events, 0};
  int ready = 0;
  do {
    ready = poll(&waiting, 1, remaining_ms(deadline));
  } while (ready < 0 && errno == EINTR);
  return ready != 0;
}

// libpq's message, one line, with the password removed should any part of it echo it.
std::string clean_message(const char* message, const std::string& password) {
  std::string text = message != nullptr ? message : "";
  for (char& c : text) {
    if (c == '\n' || c == '\t') {
      c = ' ';
    }
  }
  while (text.find("  ") != std::string::npos) {
    text.erase(text.find("  "), 1);
  }
  return util::truncate(util::redact(std::string(util::trim(text)), password), 300);
}

bool contains(const std::string& text, const char* needle) {
  return text.find(needle) != std::string::npos;
}

// Tells a failed connect apart the way pg_isready does (PQping: no response / rejecting /
// answering), first from libpq's and the server's own words, then by asking PQping when there
// is time left for it (libpq's ping cannot wait less than 2 s).
std::string classify_connect_failure(const std::string& message, const std::string& dsn,
                                     Clock::time_point deadline) {
  if (std::string reason = classify_connect_message(message); !reason.empty()) {
    return reason;
  }
  const int left_s = remaining_ms(deadline) / 1000;
  if (left_s >= 2) {
    const std::string timeout = std::to_string(left_s);
    const std::array<const char*, 3> keys{"dbname", "connect_timeout", nullptr};
    const std::array<const char*, 3> values{dsn.c_str(), timeout.c_str(), nullptr};
    switch (PQpingParams(keys.data(), values.data(), 1)) {
    case PQPING_REJECT:
      return "rejecting";
    case PQPING_NO_RESPONSE:
      return "no_response";
    case PQPING_OK:
      return "auth_failed"; // the server answers, but not to us
    case PQPING_NO_ATTEMPT:
      return "error";
    }
  }
  return "connect_failed";
}

PgQueryOutcome failed(CheckStatus status, std::string reason, std::string detail) {
  PgQueryOutcome outcome;
  outcome.failure = make_result(status, std::move(detail), std::move(reason));
  return outcome;
}

PgQueryOutcome timed_out(const char* stage) {
  return failed(CheckStatus::timeout, "timeout", std::string("no answer while ") + stage);
}

// Drives PQconnectPoll until connected, failed or past the deadline.
PgQueryOutcome connect(PGconn* conn, const std::string& dsn, const std::string& password,
                       Clock::time_point deadline) {
  PostgresPollingStatusType state = PGRES_POLLING_WRITING;
  while (true) {
    if (state == PGRES_POLLING_OK) {
      PgQueryOutcome ok;
      ok.ok = true;
      return ok;
    }
    if (state == PGRES_POLLING_FAILED) {
      const std::string message = clean_message(PQerrorMessage(conn), password);
      const std::string reason = classify_connect_failure(message, dsn, deadline);
      const CheckStatus status = reason == "timeout" ? CheckStatus::timeout
                                 : reason == "error" ? CheckStatus::error
                                                     : CheckStatus::failure;
      return failed(status, reason, "connect: " + message);
    }
    const short events = state == PGRES_POLLING_READING ? POLLIN : POLLOUT;
    if (!wait_for(PQsocket(conn), events, deadline)) {
      return timed_out("connecting");
    }
    state = PQconnectPoll(conn);
  }
}

// The server's words for a failed query without the statement_timeout wrapper the query was
// sent in: libpq's full message quotes the statement ("LINE 1: SET statement_timeout = 1999;
// SELEC 1"), which is probe's doing, not the user's query; the primary message, the detail and
// the hint say what went wrong.
std::string query_error(const PGresult* result, const std::string& password) {
  const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
  if (primary == nullptr) {
    return clean_message(PQresultErrorMessage(result), password);
  }
  std::string text = primary;
  if (const char* detail = PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL)) {
    text += " (" + std::string(detail) + ")";
  }
  if (const char* hint = PQresultErrorField(result, PG_DIAG_MESSAGE_HINT)) {
    text += "; hint: " + std::string(hint);
  }
  return clean_message(text.c_str(), password);
}

} // namespace

std::string classify_connect_message(const std::string& message) {
  if (contains(message, "the database system is")) {
    return "rejecting"; // SQLSTATE 57P03: starting up, shutting down, in recovery
  }
  if (contains(message, "authentication failed") || contains(message, "no pg_hba.conf entry") ||
      contains(message, "does not exist") || contains(message, "password")) {
    return "auth_failed";
  }
  if (contains(message, "could not translate host name")) {
    return "dns"; // libpq's getaddrinfo failed: the name is the problem, not the server
  }
  if (contains(message, "Connection refused") || contains(message, "No route to host") ||
      contains(message, "Network is unreachable") ||
      contains(message, "server closed the connection")) {
    return "no_response";
  }
  if (contains(message, "timeout expired")) {
    return "timeout";
  }
  return {};
}

PgQueryOutcome run_pg_query(const std::string& dsn, const std::string& query,
                            Clock::time_point deadline) {
  const std::string password = util::dsn_password(dsn);
  // application_name first so the DSN may override it; dbname is expanded as a full DSN.
  const std::array<const char*, 3> keys{"application_name", "dbname", nullptr};
  const std::array<const char*, 3> values{"probe", dsn.c_str(), nullptr};
  const Conn conn(PQconnectStartParams(keys.data(), values.data(), 1));
  if (!conn) {
    return failed(CheckStatus::error, "error", "connect: out of memory");
  }
  if (PQstatus(conn.get()) == CONNECTION_BAD) {
    // libpq may fail before the first poll: a name that does not resolve, a bad option.
    const std::string message = clean_message(PQerrorMessage(conn.get()), password);
    const std::string reason = classify_connect_message(message);
    return failed(CheckStatus::failure, reason.empty() ? "no_response" : reason,
                  "connect: " + message);
  }
  PgQueryOutcome connected = connect(conn.get(), dsn, password, deadline);
  if (!connected.ok) {
    return connected;
  }

  // The server cancels the query itself at the deadline, so an abandoned slow query does not
  // keep running after probe hung up.
  const int budget_ms = std::max(1, remaining_ms(deadline));
  const std::string sql = "SET statement_timeout = " + std::to_string(budget_ms) + "; " + query;
  PQsetnonblocking(conn.get(), 1);
  if (PQsendQuery(conn.get(), sql.c_str()) == 0) {
    return failed(CheckStatus::failure, "query_failed",
                  "query: " + clean_message(PQerrorMessage(conn.get()), password));
  }
  int flushed = 0;
  while ((flushed = PQflush(conn.get())) == 1) {
    if (!wait_for(PQsocket(conn.get()), POLLOUT | POLLIN, deadline)) {
      return timed_out("sending the query");
    }
  }
  Result last;
  while (true) {
    while (PQisBusy(conn.get()) != 0) {
      if (!wait_for(PQsocket(conn.get()), POLLIN, deadline)) {
        return timed_out("waiting for the query");
      }
      if (PQconsumeInput(conn.get()) == 0) {
        return failed(CheckStatus::failure, "query_failed",
                      "query: " + clean_message(PQerrorMessage(conn.get()), password));
      }
    }
    Result next(PQgetResult(conn.get()));
    if (!next) {
      break;
    }
    const ExecStatusType status = PQresultStatus(next.get());
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
      const char* sqlstate = PQresultErrorField(next.get(), PG_DIAG_SQLSTATE);
      const bool cancelled = sqlstate != nullptr && std::string(sqlstate) == "57014";
      return failed(cancelled ? CheckStatus::timeout : CheckStatus::failure,
                    cancelled ? "timeout" : "query_failed",
                    "query: " + query_error(next.get(), password));
    }
    last = std::move(next);
  }
  PgQueryOutcome outcome;
  outcome.ok = true;
  if (last && PQresultStatus(last.get()) == PGRES_TUPLES_OK) {
    outcome.rows = PQntuples(last.get());
    if (outcome.rows > 0 && PQnfields(last.get()) > 0 && PQgetisnull(last.get(), 0, 0) == 0) {
      outcome.value = std::string(PQgetvalue(last.get(), 0, 0));
    }
  }
  return outcome;
}

} // namespace probe::checks
