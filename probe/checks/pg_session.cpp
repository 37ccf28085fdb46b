// libpq's asynchronous connect and query, stepped by the check loop; see pg_session.hpp.
#include "probe/checks/pg_session.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <mutex>

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netdb.h>
#include <poll.h>
#include <sys/epoll.h>

#include "probe/checks/check_io.hpp"
#include "probe/util/deadline.hpp"
#include "probe/util/elastic_pool.hpp"
#include "probe/util/pg_dsn.hpp"
#include "probe/util/strings.hpp"

namespace probe::checks {
namespace {

using Clock = std::chrono::steady_clock;

// Lookups at once, process-wide; more wait for a free thread, their checks' deadlines still
// bounding them. In Compose a lookup answers from /etc/hosts or the embedded DNS in
// microseconds, so one thread is what a sidecar usually keeps, and only while names are looked
// up: idle threads end.
constexpr std::size_t k_resolver_threads = 4;
constexpr std::chrono::seconds k_resolver_idle{10};

util::ElasticPool& resolver_pool() {
  // Never destroyed: a thread may be inside getaddrinfo at exit, and joining it would hold the
  // process's exit up by the resolver's own timeout.
  static auto* pool = new util::ElasticPool(0, k_resolver_threads, k_resolver_idle);
  return *pool;
}

// Whether `fd` is ready for `events` (or in error) right now. The loop may report a readiness
// that is stale (the socket number taken over by a new socket in the same turn); libpq must
// not be stepped on one, or a connect in progress would be taken for a connection made.
bool ready_now(int fd, short events) {
  pollfd probe{fd, events, 0};
  int ready = 0;
  do {
    ready = poll(&probe, 1, 0);
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

bool is_numeric_address(const std::string& host) {
  in6_addr address{};
  return inet_pton(AF_INET, host.c_str(), &address) == 1 ||
         inet_pton(AF_INET6, host.c_str(), &address) == 1;
}

PgQueryOutcome failed(CheckStatus status, std::string reason, std::string detail) {
  PgQueryOutcome outcome;
  outcome.failure = make_result(status, std::move(detail), std::move(reason));
  return outcome;
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

// `text` `count` times, comma-separated: libpq pairs the i-th host with the i-th hostaddr.
std::string repeated(const std::string& text, std::size_t count) {
  std::string list;
  for (std::size_t i = 0; i < count; ++i) {
    list += (i == 0 ? "" : ",") + text;
  }
  return list;
}

} // namespace

// A lookup handed to the resolver pool and shared with it. The pool thread posts the answer to
// `loop` unless the session has let go of the lookup meanwhile (its deadline passed); `deliver`
// is touched on the loop's thread only.
struct PgSession::Lookup {
  std::mutex mutex;
  util::EventLoop* loop = nullptr; // null once the session has let go
  std::function<void(const HostAddresses&)> deliver;
};

void PgSession::ConnCloser::operator()(PGconn* conn) const {
  PQfinish(conn);
}

void PgSession::ResultCloser::operator()(PGresult* result) const {
  PQclear(result);
}

HostAddresses system_host_lookup(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  HostAddresses result;
  result.error = getaddrinfo(host.c_str(), nullptr, &hints, &found);
  for (const addrinfo* entry = found; entry != nullptr; entry = entry->ai_next) {
    std::array<char, NI_MAXHOST> text{};
    if (getnameinfo(entry->ai_addr, entry->ai_addrlen, text.data(), text.size(), nullptr, 0,
                    NI_NUMERICHOST) == 0 &&
        std::find(result.addresses.begin(), result.addresses.end(), text.data()) ==
            result.addresses.end()) {
      result.addresses.emplace_back(text.data());
    }
  }
  if (found != nullptr) {
    freeaddrinfo(found);
  }
  return result;
}

std::string host_needing_lookup(const std::string& dsn) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
  PQfreemem(error);
  std::string host;
  std::string hostaddr;
  for (PQconninfoOption* option = options; option != nullptr && option->keyword != nullptr;
       ++option) {
    if (option->val != nullptr && std::string(option->keyword) == "host") {
      host = option->val;
    } else if (option->val != nullptr && std::string(option->keyword) == "hostaddr") {
      hostaddr = option->val;
    }
  }
  PQconninfoFree(options); // a DSN that does not parse: libpq tells what is wrong with it
  const bool libpq_needs_no_lookup = !hostaddr.empty() || host.empty() || host.front() == '/' ||
                                     host.front() == '@' || contains(host, ",") ||
                                     is_numeric_address(host);
  return libpq_needs_no_lookup ? "" : host;
}

std::string classify_connect_message(const std::string& message) {
  if (contains(message, "the database system is")) {
    return "rejecting"; // SQLSTATE 57P03: starting up, shutting down, in recovery
  }
  if (contains(message, "authentication failed") || contains(message, "no pg_hba.conf entry") ||
      contains(message, "does not exist") || contains(message, "password")) {
    return "auth_failed";
  }
  if (contains(message, "could not translate host name")) {
    return "dns"; // getaddrinfo failed: the name is the problem, not the server
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

std::string classify_connect_failure(const std::string& message) {
  if (std::string reason = classify_connect_message(message); !reason.empty()) {
    return reason;
  }
  // PQping asks the same question with a second connection, blocking for 2 s at least: did
  // the server send an error (it runs, so "auth_failed", as PQPING_OK), or did nothing come
  // back from a server (PQPING_NO_RESPONSE)? libpq prints a server's error after its severity.
  for (const char* severity : {"FATAL:", "PANIC:", "ERROR:"}) {
    if (contains(message, severity)) {
      return "auth_failed";
    }
  }
  return "no_response";
}

PgSession::PgSession(HostLookup lookup) : m_lookup(std::move(lookup)) {}

PgSession::~PgSession() {
  release();
}

void PgSession::start(CheckIo& io, const std::string& dsn, const std::string& query,
                      Clock::time_point deadline, Done done) {
  m_loop = &io.loop();
  m_done = std::move(done);
  m_dsn = dsn;
  m_query = query;
  m_password = util::dsn_password(dsn);
  m_deadline = deadline;
  m_deadline_timer = m_loop->at(deadline, [this] {
    m_timer_armed = false;
    deadline_passed();
  });
  m_timer_armed = true;
  m_starting = true;
  if (const std::string host = host_needing_lookup(dsn); !host.empty()) {
    resolve(host);
  } else {
    connect("", {});
  }
  m_starting = false;
}

void PgSession::resolve(const std::string& host) {
  m_stage = Stage::resolving;
  m_host = host;
  auto lookup = std::make_shared<Lookup>();
  lookup->loop = m_loop;
  lookup->deliver = [this, host](const HostAddresses& found) { resolved(host, found); };
  m_pending_lookup = lookup;
  resolver_pool().submit([lookup, host, find = m_lookup] {
    {
      const std::lock_guard<std::mutex> lock(lookup->mutex);
      if (lookup->loop == nullptr) {
        return; // its check gave up while the lookup waited for a thread
      }
    }
    HostAddresses found;
    try {
      found = find(host);
    } catch (const std::exception&) {
      found.error = EAI_FAIL;
    }
    const std::lock_guard<std::mutex> lock(lookup->mutex);
    if (lookup->loop == nullptr) {
      return;
    }
    lookup->loop->post([lookup, found = std::move(found)] {
      std::function<void(const HostAddresses&)> deliver;
      {
        const std::lock_guard<std::mutex> loop_lock(lookup->mutex);
        if (lookup->loop == nullptr) {
          return; // the deadline came first
        }
        lookup->loop = nullptr;
        deliver = std::move(lookup->deliver);
      }
      deliver(found);
    });
  });
}

void PgSession::resolved(const std::string& host, const HostAddresses& found) {
  m_pending_lookup.reset();
  if (found.error != 0 || found.addresses.empty()) {
    // libpq's own words for it, which classify_connect_message reads as "dns".
    const int error = found.error != 0 ? found.error : EAI_NONAME;
    fail(CheckStatus::failure, "dns",
         "connect: " + clean_message(("could not translate host name \"" + host +
                                      "\" to address: " + gai_strerror(error))
                                         .c_str(),
                                     m_password));
    return;
  }
  connect(host, found.addresses);
}

void PgSession::connect(const std::string& host, const std::vector<std::string>& addresses) {
  m_stage = Stage::connecting;
  // application_name first so the DSN may override it; dbname is expanded as a full DSN; the
  // looked-up addresses last, so that they override the DSN's host with itself and its addresses.
  std::vector<const char*> keys{"application_name", "dbname"};
  std::vector<const char*> values{"probe", m_dsn.c_str()};
  const std::string hosts = repeated(host, addresses.size());
  const std::string hostaddrs = util::join(addresses, ",");
  if (!addresses.empty()) {
    keys.insert(keys.end(), {"host", "hostaddr"});
    values.insert(values.end(), {hosts.c_str(), hostaddrs.c_str()});
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  m_conn.reset(PQconnectStartParams(keys.data(), values.data(), 1));
  if (!m_conn) {
    fail(CheckStatus::error, "error", "connect: out of memory");
    return;
  }
  if (PQstatus(m_conn.get()) == CONNECTION_BAD) {
    // libpq may fail before the first poll: a name it could not resolve, a bad option.
    const std::string message = clean_message(PQerrorMessage(m_conn.get()), m_password);
    const std::string reason = classify_connect_message(message);
    fail(CheckStatus::failure, reason.empty() ? "no_response" : reason, "connect: " + message);
    return;
  }
  await_connect(PGRES_POLLING_WRITING); // libpq's rule for the first step
}

void PgSession::await_connect(int polling) {
  const short wanted = polling == PGRES_POLLING_READING ? POLLIN : POLLOUT;
  watch(wanted == POLLIN ? EPOLLIN : EPOLLOUT, [this, wanted](std::uint32_t) {
    if (ready_now(m_fd, wanted)) {
      connect_ready();
    }
  });
}

void PgSession::connect_ready() {
  // libpq may close this socket and open another for the next address within PQconnectPoll,
  // and the new one may get the same number: it is watched afresh after each step.
  unwatch();
  const PostgresPollingStatusType polling = PQconnectPoll(m_conn.get());
  if (polling == PGRES_POLLING_OK) {
    send_query();
  } else if (polling == PGRES_POLLING_FAILED) {
    fail_connect();
  } else {
    await_connect(polling);
  }
}

void PgSession::fail_connect() {
  const std::string message = clean_message(PQerrorMessage(m_conn.get()), m_password);
  const std::string reason = classify_connect_failure(message);
  fail(reason == "timeout" ? CheckStatus::timeout : CheckStatus::failure, reason,
       "connect: " + message);
}

void PgSession::send_query() {
  m_stage = Stage::sending;
  // The server cancels the query itself at the deadline, so an abandoned slow query does not
  // keep running after probe hung up.
  const int budget_ms = std::max(1, util::milliseconds_until(m_deadline));
  const std::string sql = "SET statement_timeout = " + std::to_string(budget_ms) + "; " + m_query;
  PQsetnonblocking(m_conn.get(), 1);
  if (PQsendQuery(m_conn.get(), sql.c_str()) == 0) {
    fail(CheckStatus::failure, "query_failed",
         "query: " + clean_message(PQerrorMessage(m_conn.get()), m_password));
    return;
  }
  flush();
}

void PgSession::flush() {
  const int flushed = PQflush(m_conn.get());
  if (flushed < 0) {
    fail(CheckStatus::failure, "query_failed",
         "query: " + clean_message(PQerrorMessage(m_conn.get()), m_password));
  } else if (flushed == 1) {
    // libpq's rule: while the query is not all sent, read what the server sends meanwhile.
    watch(EPOLLIN | EPOLLOUT, [this](std::uint32_t events) { send_ready(events); });
  } else {
    m_stage = Stage::reading;
    watch(EPOLLIN, [this](std::uint32_t) { read_ready(); });
  }
}

void PgSession::send_ready(std::uint32_t events) {
  if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0 && PQconsumeInput(m_conn.get()) == 0) {
    fail(CheckStatus::failure, "query_failed",
         "query: " + clean_message(PQerrorMessage(m_conn.get()), m_password));
    return;
  }
  flush();
}

void PgSession::read_ready() {
  if (PQconsumeInput(m_conn.get()) == 0) {
    fail(CheckStatus::failure, "query_failed",
         "query: " + clean_message(PQerrorMessage(m_conn.get()), m_password));
    return;
  }
  while (PQisBusy(m_conn.get()) == 0) {
    std::unique_ptr<PGresult, ResultCloser> next(PQgetResult(m_conn.get()));
    if (!next) {
      succeed();
      return;
    }
    const ExecStatusType status = PQresultStatus(next.get());
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
      const char* sqlstate = PQresultErrorField(next.get(), PG_DIAG_SQLSTATE);
      const bool cancelled = sqlstate != nullptr && std::string(sqlstate) == "57014";
      fail(cancelled ? CheckStatus::timeout : CheckStatus::failure,
           cancelled ? "timeout" : "query_failed", "query: " + query_error(next.get(), m_password));
      return;
    }
    m_last = std::move(next);
  }
  // Busy: the rest of the answer comes with a later readiness.
}

void PgSession::watch(std::uint32_t events, std::function<void(std::uint32_t)> callback) {
  const int fd = PQsocket(m_conn.get());
  if (fd < 0) { // libpq has closed the connection
    const bool connecting = m_stage == Stage::connecting;
    fail(CheckStatus::failure, connecting ? "no_response" : "query_failed",
         (connecting ? "connect: " : "query: ") +
             clean_message(PQerrorMessage(m_conn.get()), m_password));
    return;
  }
  try {
    m_loop->watch(fd, events, std::move(callback));
    m_fd = fd;
  } catch (const std::exception& e) {
    fail(CheckStatus::error, "error", e.what()); // epoll refused the socket
  }
}

void PgSession::unwatch() {
  if (m_fd >= 0) {
    m_loop->unwatch(m_fd);
    m_fd = -1;
  }
}

void PgSession::succeed() {
  PgQueryOutcome outcome;
  outcome.ok = true;
  if (m_last && PQresultStatus(m_last.get()) == PGRES_TUPLES_OK) {
    outcome.rows = PQntuples(m_last.get());
    if (outcome.rows > 0 && PQnfields(m_last.get()) > 0 && PQgetisnull(m_last.get(), 0, 0) == 0) {
      outcome.value = std::string(PQgetvalue(m_last.get(), 0, 0));
    }
  }
  finish(std::move(outcome));
}

void PgSession::fail(CheckStatus status, std::string reason, std::string detail) {
  finish(failed(status, std::move(reason), std::move(detail)));
}

void PgSession::deadline_passed() {
  const std::string stage = m_stage == Stage::resolving    ? "resolving \"" + m_host + "\""
                            : m_stage == Stage::connecting ? "connecting"
                            : m_stage == Stage::sending    ? "sending the query"
                                                           : "waiting for the query";
  fail(CheckStatus::timeout, "timeout", "no answer while " + stage);
}

void PgSession::finish(PgQueryOutcome outcome) {
  Done done = std::move(m_done);
  m_done = nullptr;
  release();
  if (m_starting) {
    // Never from inside start(): its caller may not be ready for the result yet.
    m_loop->post([done = std::move(done), outcome = std::move(outcome)]() mutable {
      done(std::move(outcome));
    });
    return;
  }
  done(std::move(outcome)); // last: the owner may destroy this session in it
}

void PgSession::release() {
  if (m_timer_armed) {
    m_loop->cancel(m_deadline_timer);
    m_timer_armed = false;
  }
  unwatch(); // before PQfinish closes the socket
  if (m_pending_lookup) {
    const std::lock_guard<std::mutex> lock(m_pending_lookup->mutex);
    m_pending_lookup->loop = nullptr;
    m_pending_lookup->deliver = nullptr;
  }
  m_pending_lookup.reset();
  m_last.reset();
  m_conn.reset();
}

} // namespace probe::checks
