// The epoll server; see http_server.hpp. One thread (serve()'s) owns every connection and
// every deadline; workers only run Router::admit/handle and post the answer back through a
// queue and an eventfd. A connection is closed at once (its fd released) and forgotten at the
// end of the loop iteration, so no code path touches a freed one; completions and epoll events
// name connections by a 64-bit id, never by fd, so a reused fd number cannot be confused.
#include "probe/serve/http_server.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <list>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "probe/util/elastic_pool.hpp"
#include "probe/util/error.hpp"
#include "probe/util/unique_fd.hpp"

namespace probe::serve {
namespace {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

// After an answer that closes the connection, the write side is shut and what the client still
// sends is read and dropped for a moment: closing with unread bytes would send a reset, which
// can destroy the answer (a 413 for a body still on its way) before the client reads it.
constexpr std::chrono::seconds k_linger{2};
constexpr std::size_t k_linger_bytes = 4 * 1024 * 1024;
constexpr std::chrono::seconds k_stop_grace{5};
constexpr std::size_t k_read_chunk = 64 * 1024;
constexpr int k_accepts_per_wakeup = 256;
// accept() failing for want of descriptors: try again after this pause rather than spin.
constexpr std::chrono::milliseconds k_accept_pause{100};
constexpr std::chrono::seconds k_warning_interval{10};
// Workers: `memory` endpoints answer in microseconds, `storage` ones may wait on PostgreSQL or a
// reload. Threads beyond the minimum end after 10 s without work.
constexpr std::size_t k_memory_workers_min = 2;
constexpr std::size_t k_memory_workers_max = 32;
constexpr std::size_t k_storage_workers_min = 1;
constexpr std::size_t k_storage_workers_max = 16;
constexpr std::chrono::seconds k_worker_idle{10};

constexpr std::uint64_t k_listen_id = 0;
constexpr std::uint64_t k_wake_id = 1;

enum class Phase { idle, reading, admitting, handling, writing, lingering };

struct Connection {
  std::uint64_t id = 0;
  int fd = -1;
  std::string client; // the peer's address bytes: the per-client cap's key
  Phase phase = Phase::idle;
  bool closed = false;
  std::uint32_t interest = 0; // epoll events asked for now
  TimePoint accepted;
  TimePoint request_started; // first byte of the current request (accept for the first one)
  std::optional<TimePoint> deadline;
  std::list<std::uint64_t>* order = nullptr; // m_idle_order or m_reading_order, while in one
  std::list<std::uint64_t>::iterator order_entry;
  std::size_t requests = 0; // answered so far

  std::string in; // bytes received from the start of the current request
  RequestParser parser;
  bool head_seen = false;  // the current request's head is parsed
  bool keep_alive = false; // of the request being answered
  bool head_only = false;  // HEAD: no body in the answer
  int minor_version = 1;   // of the request being answered
  std::string out;         // the answer's head (and body, unless shared)
  std::shared_ptr<const std::string> out_shared;
  std::size_t out_sent = 0;
  bool close_after = false;
  std::size_t drained = 0; // lingering: bytes read and dropped
};

struct Completion {
  std::uint64_t id = 0;
  bool admission = false; // an Expect: 100-continue check; no response = admitted
  std::optional<Response> response;
};

// A warning logged at most once per k_warning_interval, with how many were left out.
class Throttled {
public:
  template <typename... Args>
  void warn(TimePoint now, fmt::format_string<Args...> format, Args&&... args) {
    if (m_logged && now - *m_logged < k_warning_interval) {
      ++m_suppressed;
      return;
    }
    std::string text = fmt::format(format, std::forward<Args>(args)...);
    if (m_suppressed > 0) {
      text += fmt::format(" ({} more like it not logged)", m_suppressed);
    }
    spdlog::warn("http: {}", text);
    m_logged = now;
    m_suppressed = 0;
  }

private:
  std::optional<TimePoint> m_logged;
  std::size_t m_suppressed = 0;
};

std::string client_key(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
    return std::string(reinterpret_cast<const char*>(&v4.sin_addr), sizeof(v4.sin_addr));
  }
  if (address.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
    const auto* bytes = reinterpret_cast<const char*>(&v6.sin6_addr);
    if (IN6_IS_ADDR_V4MAPPED(&v6.sin6_addr)) {
      return std::string(bytes + 12, 4); // the same client as over IPv4
    }
    // One IPv6 client holds a whole /64: counted per address, it would have 2^64 caps.
    return std::string(bytes, 8);
  }
  return {};
}

std::string client_text(const std::string& key) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (key.size() == 4) {
    inet_ntop(AF_INET, key.data(), text, sizeof(text));
    return text;
  }
  if (key.size() == 8) {
    std::array<char, 16> prefix{};
    std::copy(key.begin(), key.end(), prefix.begin());
    inet_ntop(AF_INET6, prefix.data(), text, sizeof(text));
    return std::string(text) + "/64";
  }
  return text;
}

// RFC 9110 5.6.7: "Sun, 06 Nov 1994 08:49:37 GMT", independent of the locale.
std::string http_date(std::time_t now) {
  static constexpr const char* k_days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* k_months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::tm utc{};
  gmtime_r(&now, &utc);
  return fmt::format("{}, {:02d} {} {:04d} {:02d}:{:02d}:{:02d} GMT", k_days[utc.tm_wday % 7],
                     utc.tm_mday, k_months[utc.tm_mon % 12], utc.tm_year + 1900, utc.tm_hour,
                     utc.tm_min, utc.tm_sec);
}

// Signals go to the thread that sigwait()s for them (serve/sidecar.cpp), never to the I/O thread
// or a worker, whoever started serve().
sigset_t process_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (const int signal_number : {SIGHUP, SIGINT, SIGTERM, SIGQUIT, SIGUSR1, SIGUSR2}) {
    sigaddset(&set, signal_number);
  }
  return set;
}

} // namespace

class HttpServer::Loop {
public:
  explicit Loop(ServerHooks hooks) : m_router(std::move(hooks)) {
    m_wake_fd.reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!m_wake_fd.valid()) {
      throw Error(std::string("http server: eventfd: ") + std::strerror(errno));
    }
  }

  int bind(const std::string& host, int port);
  void serve();
  void stop() {
    m_stop_requested.store(true);
    wake();
  }
  std::size_t max_connections() const { return m_max_connections; }

private:
  // The loop.
  void run_once(int timeout_ms);
  int next_timeout_ms(TimePoint now) const;
  void on_event(std::uint64_t id, std::uint32_t events);
  void on_wake();
  void expire(TimePoint now);
  void begin_stop();
  bool busy() const; // some connection has a handler or an answer in flight

  // Connections.
  void accept_ready();
  void refuse(int fd, std::string_view reason);
  bool evict_one();
  void close_connection(Connection& c);
  void enter(Connection& c, Phase phase);
  void set_interest(Connection& c, std::uint32_t events);
  void set_deadline(Connection& c, std::optional<TimePoint> deadline);
  void on_readable(Connection& c);
  void advance(Connection& c);
  bool step_request(Connection& c);
  bool write_some(Connection& c);
  void finish_response(Connection& c);
  void respond(Connection& c, const Response& response, bool close);
  bool send_continue(Connection& c);
  void submit(Connection& c, const Route& route, Request request, bool admission);
  void post(Completion completion);
  void wake();
  const std::string& date();

  Router m_router;
  util::UniqueFd m_listen_fd;
  util::UniqueFd m_epoll_fd;
  util::UniqueFd m_wake_fd;
  std::size_t m_max_connections = k_max_connections;
  std::atomic<bool> m_stop_requested{false};
  std::atomic<bool> m_abandon{false}; // after the stop's grace: queued work is dropped

  // Owned by the I/O thread.
  TimePoint m_now = Clock::now();
  std::unordered_map<std::uint64_t, std::unique_ptr<Connection>> m_connections;
  std::vector<std::uint64_t> m_closed; // forgotten at the end of the iteration
  std::size_t m_open = 0;
  std::uint64_t m_next_id = 2;
  std::set<std::pair<TimePoint, std::uint64_t>> m_deadlines;
  std::list<std::uint64_t> m_idle_order;    // waiting for a request's first byte, or lingering
  std::list<std::uint64_t> m_reading_order; // a request partly received, oldest first
  std::unordered_map<std::string, std::size_t> m_per_client;
  std::optional<TimePoint> m_accept_paused_until;
  bool m_stopping = false;
  TimePoint m_stop_deadline;
  std::array<char, k_read_chunk> m_scratch{};
  std::time_t m_date_second = 0;
  std::string m_date;
  Throttled m_cap_warning;
  Throttled m_client_cap_warning;
  Throttled m_accept_warning;

  std::optional<util::ElasticPool> m_memory_pool;
  std::optional<util::ElasticPool> m_storage_pool;
  std::mutex m_completions_mutex;
  std::vector<Completion> m_completions;
};

int HttpServer::Loop::bind(const std::string& host, int port) {
  if (m_listen_fd.valid()) {
    throw Error("listen: already bound");
  }
  const std::string where = host + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (const int rc =
          getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found);
      rc != 0) {
    throw Error("listen: cannot bind " + where + ": " + gai_strerror(rc));
  }
  int error = 0;
  for (const addrinfo* candidate = found; candidate != nullptr; candidate = candidate->ai_next) {
    const int fd =
        ::socket(candidate->ai_family, candidate->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      error = errno;
      continue;
    }
    // SO_REUSEADDR for a quick restart; never SO_REUSEPORT, which would let a second probe
    // bind the same port and silently take half the scrapes.
    const int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (::bind(fd, candidate->ai_addr, candidate->ai_addrlen) == 0 &&
        ::listen(fd, SOMAXCONN) == 0) {
      m_listen_fd.reset(fd);
      break;
    }
    error = errno;
    ::close(fd);
  }
  freeaddrinfo(found);
  if (!m_listen_fd.valid()) {
    throw Error("listen: cannot bind " + where + ": " + std::strerror(error));
  }
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  getsockname(m_listen_fd.get(), reinterpret_cast<sockaddr*>(&bound), &length);
  const int bound_port = bound.ss_family == AF_INET6
                             ? ntohs(reinterpret_cast<const sockaddr_in6&>(bound).sin6_port)
                             : ntohs(reinterpret_cast<const sockaddr_in&>(bound).sin_port);

  // Every held connection is a descriptor: take what the hard limit allows, and keep
  // k_reserved_fds for everything else probe opens.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0) {
    if (files.rlim_cur < files.rlim_max) {
      rlimit raised = files;
      raised.rlim_cur = files.rlim_max;
      if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
        files = raised;
      }
    }
    const auto soft = static_cast<std::size_t>(
        std::min<rlim_t>(files.rlim_cur, static_cast<rlim_t>(k_max_connections + k_reserved_fds)));
    m_max_connections =
        std::min(k_max_connections, soft > k_reserved_fds + 16 ? soft - k_reserved_fds : 16);
  }
  return bound_port;
}

void HttpServer::Loop::serve() {
  if (!m_listen_fd.valid()) {
    throw Error("http server: serve() before bind()");
  }
  if (m_stop_requested.load()) {
    return;
  }
  const sigset_t blocked = process_signals();
  sigset_t previous;
  pthread_sigmask(SIG_BLOCK, &blocked, &previous);

  m_epoll_fd.reset(epoll_create1(EPOLL_CLOEXEC));
  if (!m_epoll_fd.valid()) {
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    throw Error(std::string("http server: epoll_create1: ") + std::strerror(errno));
  }
  epoll_event listen_event{};
  listen_event.events = EPOLLIN;
  listen_event.data.u64 = k_listen_id;
  epoll_ctl(m_epoll_fd.get(), EPOLL_CTL_ADD, m_listen_fd.get(), &listen_event);
  epoll_event wake_event{};
  wake_event.events = EPOLLIN;
  wake_event.data.u64 = k_wake_id;
  epoll_ctl(m_epoll_fd.get(), EPOLL_CTL_ADD, m_wake_fd.get(), &wake_event);
  m_memory_pool.emplace(k_memory_workers_min, k_memory_workers_max, k_worker_idle);
  m_storage_pool.emplace(k_storage_workers_min, k_storage_workers_max, k_worker_idle);
  spdlog::info("http: at most {} connections, {} per client address; a request's head within "
               "{} s, all of it within {} s",
               m_max_connections, k_max_connections_per_client, k_head_timeout.count(),
               k_request_timeout.count());

  while (true) {
    m_now = Clock::now();
    if (m_stop_requested.load() && !m_stopping) {
      begin_stop();
    }
    if (m_stopping && (!busy() || m_now >= m_stop_deadline)) {
      break;
    }
    run_once(next_timeout_ms(m_now));
  }

  // Whatever is still open (lingering, or past the grace) is closed; queued work is dropped
  // and the workers are joined (a handler still running is waited for).
  m_abandon.store(true);
  for (auto& [id, connection] : m_connections) {
    if (!connection->closed) {
      close_connection(*connection);
    }
  }
  m_connections.clear();
  m_closed.clear();
  m_memory_pool->shutdown();
  m_storage_pool->shutdown();
  m_memory_pool.reset();
  m_storage_pool.reset();
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

int HttpServer::Loop::next_timeout_ms(TimePoint now) const {
  std::optional<TimePoint> next;
  if (!m_deadlines.empty()) {
    next = m_deadlines.begin()->first;
  }
  if (m_accept_paused_until && (!next || *m_accept_paused_until < *next)) {
    next = m_accept_paused_until;
  }
  if (m_stopping && (!next || m_stop_deadline < *next)) {
    next = m_stop_deadline;
  }
  if (!next) {
    return -1;
  }
  if (*next <= now) {
    return 0;
  }
  // Rounded up, so a deadline is never checked a moment early and then slept past.
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(*next - now).count();
  return static_cast<int>(std::min<long long>(wait, 60'000));
}

void HttpServer::Loop::run_once(int timeout_ms) {
  std::array<epoll_event, 256> events{};
  const int ready =
      epoll_wait(m_epoll_fd.get(), events.data(), static_cast<int>(events.size()), timeout_ms);
  m_now = Clock::now();
  for (int i = 0; i < ready; ++i) {
    on_event(events[static_cast<std::size_t>(i)].data.u64,
             events[static_cast<std::size_t>(i)].events);
  }
  expire(m_now);
  if (m_accept_paused_until && m_now >= *m_accept_paused_until && !m_stopping) {
    m_accept_paused_until.reset();
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = k_listen_id;
    epoll_ctl(m_epoll_fd.get(), EPOLL_CTL_MOD, m_listen_fd.get(), &event);
  }
  for (const std::uint64_t id : m_closed) {
    m_connections.erase(id);
  }
  m_closed.clear();
}

void HttpServer::Loop::on_event(std::uint64_t id, std::uint32_t events) {
  if (id == k_listen_id) {
    if (!m_stopping) {
      accept_ready();
    }
    return;
  }
  if (id == k_wake_id) {
    on_wake();
    return;
  }
  const auto found = m_connections.find(id);
  if (found == m_connections.end() || found->second->closed) {
    return;
  }
  Connection& c = *found->second;
  if ((events & EPOLLERR) != 0) {
    close_connection(c);
    return;
  }
  switch (c.phase) {
  case Phase::writing:
    if ((events & (EPOLLOUT | EPOLLHUP)) != 0) {
      advance(c);
    }
    return;
  case Phase::idle:
  case Phase::reading:
  case Phase::lingering:
    if ((events & (EPOLLIN | EPOLLHUP)) != 0) {
      on_readable(c);
    }
    return;
  case Phase::admitting:
  case Phase::handling:
    // Only a hang-up is reported now (no events asked for): the client is gone both ways.
    if ((events & EPOLLHUP) != 0) {
      close_connection(c);
    }
    return;
  }
}

void HttpServer::Loop::expire(TimePoint now) {
  while (!m_deadlines.empty() && m_deadlines.begin()->first <= now) {
    const std::uint64_t id = m_deadlines.begin()->second;
    Connection& c = *m_connections.at(id);
    set_deadline(c, std::nullopt);
    switch (c.phase) {
    case Phase::reading: {
      // Trickled past its deadline: 408, however much of it came.
      const bool head = c.head_seen;
      c.keep_alive = false;
      c.head_only = false;
      respond(c,
              error_response(408, head ? "request not complete within 10 s of its first byte"
                                       : "request head not complete within 5 s"),
              true);
      advance(c);
      break;
    }
    case Phase::idle:      // nothing sent: closed without an answer
    case Phase::writing:   // the client does not read its answer: cut
    case Phase::lingering: // done
    case Phase::admitting:
    case Phase::handling:
      close_connection(c);
      break;
    }
  }
}

void HttpServer::Loop::begin_stop() {
  m_stopping = true;
  m_stop_deadline = m_now + k_stop_grace;
  epoll_ctl(m_epoll_fd.get(), EPOLL_CTL_DEL, m_listen_fd.get(), nullptr);
  m_listen_fd.reset();
  m_accept_paused_until.reset();
  for (auto& [id, connection] : m_connections) {
    Connection& c = *connection;
    // Waiting for a request or its body: nothing in flight to finish.
    if (!c.closed &&
        (c.phase == Phase::idle || c.phase == Phase::reading || c.phase == Phase::admitting)) {
      close_connection(c);
    }
  }
}

bool HttpServer::Loop::busy() const {
  return std::any_of(m_connections.begin(), m_connections.end(), [](const auto& entry) {
    const Connection& c = *entry.second;
    return !c.closed && (c.phase == Phase::handling || c.phase == Phase::writing);
  });
}

void HttpServer::Loop::accept_ready() {
  for (int i = 0; i < k_accepts_per_wakeup; ++i) {
    sockaddr_storage address{};
    socklen_t length = sizeof(address);
    const int fd = accept4(m_listen_fd.get(), reinterpret_cast<sockaddr*>(&address), &length,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) {
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return;
      }
      if ((errno == EMFILE || errno == ENFILE) && evict_one()) {
        continue;
      }
      m_accept_warning.warn(m_now, "accept: {}; not accepting for {} ms", std::strerror(errno),
                            k_accept_pause.count());
      m_accept_paused_until = m_now + k_accept_pause;
      epoll_event event{};
      event.events = 0;
      event.data.u64 = k_listen_id;
      epoll_ctl(m_epoll_fd.get(), EPOLL_CTL_MOD, m_listen_fd.get(), &event);
      return;
    }
    std::string client = client_key(address);
    const auto known = m_per_client.find(client);
    const std::size_t from_client = known == m_per_client.end() ? 0 : known->second;
    if (from_client >= k_max_connections_per_client) {
      m_client_cap_warning.warn(m_now,
                                "{} has {} connections open (the most one address may "
                                "hold); a new one was refused",
                                client_text(client), from_client);
      refuse(fd, "too many connections from your address");
      continue;
    }
    if (m_open >= m_max_connections && !evict_one()) {
      refuse(fd, "too many connections");
      continue;
    }
    const int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    auto connection = std::make_unique<Connection>();
    Connection& c = *connection;
    c.id = m_next_id++;
    c.fd = fd;
    c.client = std::move(client);
    c.accepted = m_now;
    c.request_started = m_now;
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = c.id;
    if (epoll_ctl(m_epoll_fd.get(), EPOLL_CTL_ADD, fd, &event) != 0) {
      ::close(fd);
      continue;
    }
    c.interest = EPOLLIN;
    ++m_per_client[c.client];
    ++m_open;
    m_connections.emplace(c.id, std::move(connection));
    enter(c, Phase::idle);
  }
}

void HttpServer::Loop::refuse(int fd, std::string_view reason) {
  // Read what already came, so the close does not turn into a reset that hides the answer.
  ::recv(fd, m_scratch.data(), m_scratch.size(), MSG_DONTWAIT);
  const std::string body = nlohmann::json{{"error", std::string(reason)}}.dump() + "\n";
  const std::string answer =
      "HTTP/1.1 503 Service Unavailable\r\nDate: " + date() +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n\r\n" + body;
  [[maybe_unused]] const ssize_t sent =
      ::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::shutdown(fd, SHUT_WR);
  ::close(fd);
}

bool HttpServer::Loop::evict_one() {
  std::list<std::uint64_t>& order = !m_idle_order.empty() ? m_idle_order : m_reading_order;
  if (order.empty()) {
    return false;
  }
  Connection& c = *m_connections.at(order.front());
  m_cap_warning.warn(m_now,
                     "{} connections open (the most allowed); closed the one that had done "
                     "least ({}) to let a new one in",
                     m_open, c.phase == Phase::reading ? "a request still arriving" : "idle");
  close_connection(c);
  return true;
}

void HttpServer::Loop::close_connection(Connection& c) {
  if (c.closed) {
    return;
  }
  if (c.order != nullptr) {
    c.order->erase(c.order_entry);
    c.order = nullptr;
  }
  set_deadline(c, std::nullopt);
  ::close(c.fd); // also leaves the epoll set
  c.fd = -1;
  c.closed = true;
  c.out_shared.reset();
  const auto client = m_per_client.find(c.client);
  if (client != m_per_client.end() && --client->second == 0) {
    m_per_client.erase(client);
  }
  --m_open;
  m_closed.push_back(c.id);
}

void HttpServer::Loop::set_interest(Connection& c, std::uint32_t events) {
  if (c.interest == events) {
    return;
  }
  epoll_event event{};
  event.events = events;
  event.data.u64 = c.id;
  epoll_ctl(m_epoll_fd.get(), EPOLL_CTL_MOD, c.fd, &event);
  c.interest = events;
}

void HttpServer::Loop::set_deadline(Connection& c, std::optional<TimePoint> deadline) {
  if (c.deadline) {
    m_deadlines.erase({*c.deadline, c.id});
  }
  c.deadline = deadline;
  if (deadline) {
    m_deadlines.emplace(*deadline, c.id);
  }
}

// Moves `c` to `phase`: its place in the eviction order, what epoll reports, its deadline.
void HttpServer::Loop::enter(Connection& c, Phase phase) {
  if (c.order != nullptr) {
    c.order->erase(c.order_entry);
    c.order = nullptr;
  }
  c.phase = phase;
  switch (phase) {
  case Phase::idle:
    c.order = &m_idle_order;
    set_interest(c, EPOLLIN);
    // A new connection must bring its head within k_head_timeout of the accept; a kept-alive
    // one may wait k_keep_alive_idle for its next request.
    set_deadline(c, c.requests == 0 ? c.accepted + k_head_timeout : m_now + k_keep_alive_idle);
    break;
  case Phase::reading:
    c.order = &m_reading_order;
    set_interest(c, EPOLLIN);
    set_deadline(c, c.request_started + (c.head_seen ? std::chrono::seconds(k_request_timeout)
                                                     : std::chrono::seconds(k_head_timeout)));
    break;
  case Phase::admitting:
  case Phase::handling:
    set_interest(c, 0); // the next request waits in the kernel until this one is answered
    set_deadline(c, std::nullopt);
    break;
  case Phase::writing:
    // The answer is written at once, and EPOLLOUT asked for only when a write would block
    // (write_some); until then the interest set is left as it is, saving two epoll_ctl calls.
    set_deadline(c, m_now + k_write_timeout);
    break;
  case Phase::lingering:
    c.order = &m_idle_order; // done: the first to go when room is needed
    set_interest(c, EPOLLIN);
    set_deadline(c, m_now + k_linger);
    break;
  }
  if (c.order != nullptr) {
    c.order_entry = c.order->insert(c.order->end(), c.id);
  }
}

void HttpServer::Loop::on_readable(Connection& c) {
  const ssize_t received = ::recv(c.fd, m_scratch.data(), m_scratch.size(), 0);
  if (received == 0) {
    close_connection(c); // the client is done (a request cut short gets no answer)
    return;
  }
  if (received < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      close_connection(c);
    }
    return;
  }
  const auto size = static_cast<std::size_t>(received);
  if (c.phase == Phase::lingering) {
    c.drained += size;
    if (c.drained > k_linger_bytes) {
      close_connection(c);
    }
    return;
  }
  if (c.phase == Phase::idle) {
    c.request_started = c.requests == 0 ? c.accepted : m_now;
    enter(c, Phase::reading);
  }
  c.in.append(m_scratch.data(), size);
  advance(c);
}

// Runs `c` as far as it goes without waiting: parses, answers, writes, and parses the next
// pipelined request, until it waits for the client, a worker or the socket.
void HttpServer::Loop::advance(Connection& c) {
  while (!c.closed) {
    if (c.phase == Phase::reading) {
      if (!step_request(c)) {
        return;
      }
    } else if (c.phase == Phase::writing) {
      if (!write_some(c)) {
        return;
      }
    } else {
      return;
    }
  }
}

// One step on the request in c.in; false when it must wait (more bytes, a worker).
bool HttpServer::Loop::step_request(Connection& c) {
  if (c.in.empty()) {
    enter(c, Phase::idle);
    return false;
  }
  const ParseResult result = c.parser.parse(c.in);
  if (result.state == ParseState::error) {
    c.keep_alive = false;
    c.head_only = false;
    respond(c, error_response(result.status, result.reason), true);
    return true;
  }
  if (result.state == ParseState::incomplete) {
    if (!c.parser.head_complete() || c.head_seen) {
      return false;
    }
    c.head_seen = true;
    set_deadline(c, c.request_started + k_request_timeout); // the whole request's from now on
    const Request& head = c.parser.request();
    if (!head.expects_continue()) {
      return false;
    }
    // Expect: 100-continue: the body comes only if asked for, so decide first whether this
    // request will be taken — route, then token (on a worker: the token hook may block).
    c.keep_alive = false;
    c.head_only = head.method == "HEAD";
    c.minor_version = head.minor_version;
    RouteResult routed = route(head);
    if (!routed.route) {
      respond(c, routed.refusal, true);
      return true;
    }
    if (routed.route->needs_token) {
      enter(c, Phase::admitting);
      submit(c, *routed.route, head, true);
      return false;
    }
    if (!send_continue(c)) {
      close_connection(c);
    }
    return false;
  }

  Request request = c.parser.take_request();
  c.in.erase(0, result.consumed);
  c.parser.reset();
  c.head_seen = false;
  c.keep_alive = request.keep_alive();
  c.head_only = request.method == "HEAD";
  c.minor_version = request.minor_version;
  RouteResult routed = route(request);
  if (!routed.route) {
    respond(c, routed.refusal, false);
    return true;
  }
  if (routed.route->work == Work::none) {
    respond(c, m_router.handle(*routed.route, request), false);
    return true;
  }
  enter(c, Phase::handling);
  submit(c, *routed.route, std::move(request), false);
  return false;
}

void HttpServer::Loop::respond(Connection& c, const Response& response, bool close) {
  close = close || response.close || !c.keep_alive || m_stopping;
  const std::size_t body_size = response.body_size();
  std::string& out = c.out;
  out.clear();
  out.reserve(256 + (response.shared_body || c.head_only ? 0 : body_size));
  out += "HTTP/1.1 ";
  out += std::to_string(response.status);
  out += ' ';
  out += reason_phrase(response.status);
  out += "\r\nDate: ";
  out += date();
  if (!response.content_type.empty()) {
    out += "\r\nContent-Type: ";
    out += response.content_type;
  }
  out += "\r\nContent-Length: ";
  out += std::to_string(body_size);
  for (const auto& [name, value] : response.headers) {
    out += "\r\n";
    out += name;
    out += ": ";
    out += value;
  }
  if (close) {
    out += "\r\nConnection: close";
  } else if (c.minor_version == 0) {
    out += "\r\nConnection: keep-alive";
  }
  out += "\r\n\r\n";
  if (!c.head_only) {
    if (response.shared_body) {
      c.out_shared = response.shared_body;
    } else {
      out += response.body;
    }
  }
  c.out_sent = 0;
  c.close_after = close;
  enter(c, Phase::writing);
}

// Writes what it can of the answer; false when the socket is full (EPOLLOUT asked for) or the
// connection closed, true when the answer is out and `c` moved on.
bool HttpServer::Loop::write_some(Connection& c) {
  while (true) {
    std::array<iovec, 2> parts{};
    std::size_t count = 0;
    if (c.out_sent < c.out.size()) {
      parts[count++] = {c.out.data() + c.out_sent, c.out.size() - c.out_sent};
    }
    if (c.out_shared) {
      const std::size_t offset = c.out_sent > c.out.size() ? c.out_sent - c.out.size() : 0;
      if (offset < c.out_shared->size()) {
        // The render cache's text, sent from where it lies: const data, never written.
        parts[count++] = {const_cast<char*>(c.out_shared->data()) + offset,
                          c.out_shared->size() - offset};
      }
    }
    if (count == 0) {
      finish_response(c);
      return !c.closed;
    }
    msghdr message{};
    message.msg_iov = parts.data();
    message.msg_iovlen = count;
    const ssize_t sent = ::sendmsg(c.fd, &message, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        set_interest(c, EPOLLOUT);
        return false;
      }
      close_connection(c);
      return false;
    }
    c.out_sent += static_cast<std::size_t>(sent);
  }
}

void HttpServer::Loop::finish_response(Connection& c) {
  ++c.requests;
  c.out_shared.reset();
  c.out.clear();
  if (c.out.capacity() > 16 * 1024) {
    c.out.shrink_to_fit();
  }
  if (c.close_after) {
    // Lingering close: FIN now, drop what the client still sends, close at EOF or k_linger.
    ::shutdown(c.fd, SHUT_WR);
    c.in.clear();
    c.in.shrink_to_fit();
    enter(c, Phase::lingering);
    return;
  }
  if (c.in.capacity() > 16 * 1024 && c.in.size() < 4 * 1024) {
    c.in.shrink_to_fit();
  }
  if (c.in.empty()) {
    enter(c, Phase::idle);
  } else {
    c.request_started = m_now; // a pipelined request: its clock starts now
    enter(c, Phase::reading);
  }
}

bool HttpServer::Loop::send_continue(Connection& c) {
  // The answer before it went out in full; 25 bytes into a socket with nothing queued.
  static constexpr std::string_view k_continue = "HTTP/1.1 100 Continue\r\n\r\n";
  const ssize_t sent = ::send(c.fd, k_continue.data(), k_continue.size(), MSG_NOSIGNAL);
  return sent == static_cast<ssize_t>(k_continue.size());
}

void HttpServer::Loop::submit(Connection& c, const Route& route, Request request, bool admission) {
  util::ElasticPool& pool = route.work == Work::storage ? *m_storage_pool : *m_memory_pool;
  pool.submit([this, id = c.id, route, request = std::move(request), admission] {
    if (m_abandon.load()) {
      return;
    }
    Completion done{id, admission, std::nullopt};
    if (admission) {
      try {
        done.response = m_router.admit(route, request);
      } catch (const std::exception& e) {
        spdlog::error("{} {}: {}", request.method, request.path.substr(0, 200), e.what());
        done.response = error_response(500, "internal error (see the sidecar's log)");
      }
    } else {
      done.response = m_router.handle(route, request);
    }
    post(std::move(done));
  });
}

void HttpServer::Loop::post(Completion completion) {
  bool first = false;
  {
    const std::lock_guard<std::mutex> lock(m_completions_mutex);
    first = m_completions.empty();
    m_completions.push_back(std::move(completion));
  }
  // The I/O thread takes the whole queue at once: one wake-up per batch is enough.
  if (first) {
    wake();
  }
}

void HttpServer::Loop::wake() {
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t written = ::write(m_wake_fd.get(), &one, sizeof(one));
}

void HttpServer::Loop::on_wake() {
  std::uint64_t count = 0;
  [[maybe_unused]] const ssize_t drained = ::read(m_wake_fd.get(), &count, sizeof(count));
  std::vector<Completion> done;
  {
    const std::lock_guard<std::mutex> lock(m_completions_mutex);
    done.swap(m_completions);
  }
  for (Completion& completion : done) {
    const auto found = m_connections.find(completion.id);
    if (found == m_connections.end() || found->second->closed) {
      continue; // the client left meanwhile
    }
    Connection& c = *found->second;
    if (completion.admission) {
      if (c.phase != Phase::admitting) {
        continue;
      }
      if (completion.response) {
        respond(c, *completion.response, true); // the body was never asked for
      } else if (m_stopping || !send_continue(c)) {
        close_connection(c);
        continue;
      } else {
        enter(c, Phase::reading);
      }
    } else {
      if (c.phase != Phase::handling) {
        continue;
      }
      respond(c, *completion.response, false);
    }
    advance(c);
  }
}

const std::string& HttpServer::Loop::date() {
  const std::time_t now = std::time(nullptr);
  if (now != m_date_second || m_date.empty()) {
    m_date_second = now;
    m_date = http_date(now);
  }
  return m_date;
}

HttpServer::HttpServer(ServerHooks hooks) : m_loop(std::make_unique<Loop>(std::move(hooks))) {}

HttpServer::~HttpServer() = default;

int HttpServer::bind(const std::string& host, int port) {
  return m_loop->bind(host, port);
}

void HttpServer::serve() {
  m_loop->serve();
}

void HttpServer::stop() {
  m_loop->stop();
}

std::size_t HttpServer::max_connections() const {
  return m_loop->max_connections();
}

} // namespace probe::serve
