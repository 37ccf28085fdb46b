// One short PostgreSQL conversation with a hard deadline, driven by the check loop: connect,
// run one query, read the first value, hang up. Built on libpq's asynchronous API (the layer
// under libpqxx) because a health check must honour a sub-second timeout, libpq's
// connect_timeout cannot go below 2 s nor bound a server that stops answering mid-query, and a
// conversation in flight must cost a socket, not a thread. libpqxx serves the event store.
//
// PQconnectStartParams/PQconnectPoll are stepped on readiness of PQsocket (which libpq may
// replace between steps, when it moves to the next address), then PQsendQuery and
// PQconsumeInput/PQgetResult; a timer on the loop ends the conversation at the deadline.
//
// libpq resolves a host name with a blocking getaddrinfo inside PQconnectPoll, which would stall
// every check on the loop for as long as the resolver takes. So the session looks the name up
// first, on a small pool of resolver threads shared by the process (at most
// k_resolver_threads, started on demand, ending when idle; glibc's getaddrinfo_a is not used
// because its internal threads crash ThreadSanitizer), bounded on the loop by the check's
// deadline, and hands libpq `hostaddr` beside `host` (which libpq still uses for TLS, Kerberos
// and .pgpass). Not looked up here, and left to libpq: numeric addresses (nothing to resolve),
// Unix-socket paths, a DSN that already names hostaddr, and multi-host lists (host=a,b: their
// order and fallback are libpq's; such a DSN should list addresses).
//
// A failed connect is classed from that attempt's own messages, as pg_isready's PQping would
// class it (classify_connect_failure); PQping itself is not called: it opens a second
// connection and blocks for 2 s at least, which no loop can afford.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "probe/checks/check.hpp"
#include "probe/util/event_loop.hpp"

// libpq's own declarations (libpq-fe.h), so that includers need not see libpq.
typedef struct pg_conn PGconn;     // NOLINT
typedef struct pg_result PGresult; // NOLINT

namespace probe::checks {

struct PgQueryOutcome {
  bool ok = false;
  CheckResult failure;              // set when !ok: status, reason, detail (no password)
  std::optional<std::string> value; // first column of the first row; nullopt for NULL
  int rows = 0;
};

// What a host name lookup found: `error` is getaddrinfo's EAI_* code (0: found), `addresses`
// the numeric addresses in the resolver's order, without repeats.
struct HostAddresses {
  int error = 0;
  std::vector<std::string> addresses;
};

// Looks `host` up; blocks, so it runs on the resolver pool, never on the loop.
using HostLookup = std::function<HostAddresses(const std::string& host)>;

// The system's resolver (getaddrinfo, as libpq calls it: any family, stream sockets).
HostAddresses system_host_lookup(const std::string& host);

// The host name in `dsn` that must be looked up before libpq sees it, or "" when libpq may be
// handed the DSN as it is (see the top of this file).
std::string host_needing_lookup(const std::string& dsn);

// One conversation at a time; the owner keeps the session alive until `done` has been called.
class PgSession {
public:
  using Done = std::function<void(PgQueryOutcome)>;

  explicit PgSession(HostLookup lookup = system_host_lookup);
  // Abandons a conversation in flight without calling its `done` (its CheckIo must still live).
  ~PgSession();
  PgSession(const PgSession&) = delete;
  PgSession& operator=(const PgSession&) = delete;

  // Connects to `dsn`, runs `query` and hands the outcome with its first value to `done`, once,
  // on io's loop thread, by `deadline` (plus the loop's slack); never from inside start().
  // Failures are classified as pg_isready tells them apart: no_response, rejecting (starting
  // up, shutting down, in recovery), auth_failed, dns, query_failed, timeout. A failed query's
  // detail is the server's message about the query, never the statement_timeout wrapper.
  void start(CheckIo& io, const std::string& dsn, const std::string& query,
             std::chrono::steady_clock::time_point deadline, Done done);

  bool in_flight() const { return static_cast<bool>(m_done); }

private:
  struct Lookup;
  enum class Stage { resolving, connecting, sending, reading };

  void resolve(const std::string& host);
  void resolved(const std::string& host, const HostAddresses& found);
  void connect(const std::string& host, const std::vector<std::string>& addresses);
  void await_connect(int polling);
  void connect_ready();
  void send_query();
  void flush();
  void send_ready(std::uint32_t events);
  void read_ready();
  void watch(std::uint32_t events, std::function<void(std::uint32_t)> callback);
  void unwatch();
  void succeed();
  void fail(CheckStatus status, std::string reason, std::string detail);
  // Hands `outcome` to `done` after release(); the session may be gone when it returns.
  void finish(PgQueryOutcome outcome);
  void fail_connect();
  void deadline_passed();
  // Lets go of everything on the loop and the connection; `done` is left to the caller.
  void release();

  HostLookup m_lookup;
  util::EventLoop* m_loop = nullptr;
  std::shared_ptr<Lookup> m_pending_lookup;
  struct ConnCloser {
    void operator()(PGconn* conn) const;
  };
  struct ResultCloser {
    void operator()(PGresult* result) const;
  };

  std::unique_ptr<PGconn, ConnCloser> m_conn;
  std::unique_ptr<PGresult, ResultCloser> m_last; // the last result the query returned
  int m_fd = -1;                                  // the socket watched on the loop, or -1
  util::EventLoop::TimerId m_deadline_timer = 0;
  bool m_timer_armed = false;
  Stage m_stage = Stage::connecting;
  bool m_starting = false; // inside start(): a result then goes to `done` through the loop
  std::string m_host;      // the name being looked up, for the timeout's detail
  std::string m_dsn;
  std::string m_query;
  std::string m_password;
  std::chrono::steady_clock::time_point m_deadline;
  Done m_done;
};

// The reason libpq's connect `message` tells by itself ("dns" for a name that does not resolve,
// "no_response", "rejecting", "auth_failed", "timeout"), or empty when it does not.
std::string classify_connect_message(const std::string& message);

// The reason for a failed connect, as pg_isready's PQping would tell it from the same attempt:
// what classify_connect_message tells, else "auth_failed" when the server itself sent an error
// (PQPING_OK: it answers, but not to us), else "no_response" (nothing came from a server).
std::string classify_connect_failure(const std::string& message);

} // namespace probe::checks
