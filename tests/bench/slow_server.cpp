// probe-bench-slow-server: the slow HTTP target of the benchmark's load section
// (tests/bench/run.sh --only load). 10,000 targets checked once a second, each answered after
// 500 ms, mean 5,000 requests in flight and 10,000 a second: a stand-in with a thread per
// request would be the bottleneck, so this is one thread on epoll with a timer heap. It answers
// every request `200 ok` after --delay-ms (keep-alive, HTTP/1.1), and writes down when each
// request arrived and its path: that log, not probe's own metrics, is what the benchmark's
// on-time figure is computed from (tests/bench/on_time.py). The arrival is the kernel's receive
// timestamp of the bytes (SO_TIMESTAMPNS), in CLOCK_MONOTONIC ns: a moment this server waits
// for a CPU on a busy machine does not make the client look late.
//
//   probe-bench-slow-server [--port 0] [--delay-ms 500] [--log FILE] [--max-records 5000000]
//                           [--lifetime-s 3600]
//
// It listens on 127.0.0.1:PORT (0: any free port) and prints "listening on 127.0.0.1:PORT".
// Paths under /-/ (e.g. /-/mark/start) are answered at once and logged like any other: the
// benchmark marks its measuring window with them. On SIGTERM or SIGINT (or after --lifetime-s)
// it writes the log, one "path ns" line per request in arrival order, prints a line of counts
// on stderr and exits 0. Memory is bounded: at most --max-records records and 1,000,000
// distinct paths of at most 256 bytes; past that requests are still answered, and counted as
// dropped. It raises its own RLIMIT_NOFILE soft limit to the hard limit.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

constexpr std::size_t k_max_paths = 1'000'000;
constexpr std::size_t k_max_path_bytes = 256;
constexpr std::size_t k_max_request_bytes = 64 * 1024; // a head with its body, per connection
constexpr int k_max_events = 512;
constexpr int k_max_accepts_per_wakeup = 1024;
constexpr int k_max_reads_per_wakeup = 8;
constexpr int k_max_requests_per_read = 256;
constexpr std::int64_t k_ns_per_ms = 1'000'000;

timespec now(clockid_t clock) {
  timespec time{};
  clock_gettime(clock, &time);
  return time;
}

std::int64_t to_ns(const timespec& time) {
  return static_cast<std::int64_t>(time.tv_sec) * 1'000'000'000 + time.tv_nsec;
}

std::int64_t monotonic_ns() {
  return to_ns(now(CLOCK_MONOTONIC));
}

struct Options {
  int port = 0;
  std::int64_t delay_ms = 500;
  std::string log_path;
  std::size_t max_records = 5'000'000;
  std::int64_t lifetime_s = 3600;
};

bool parse_number(const char* text, long long min, long long max, long long& out) {
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value < min || value > max) {
    return false;
  }
  out = value;
  return true;
}

bool parse_options(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; i += 2) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "slow-server: %s: needs a value\n", argv[i]);
      return false;
    }
    const char* value = argv[i + 1];
    long long number = 0;
    bool ok = true;
    if (flag == "--log") {
      options.log_path = value;
    } else if (flag == "--port" && (ok = parse_number(value, 0, 65535, number))) {
      options.port = static_cast<int>(number);
    } else if (flag == "--delay-ms" && (ok = parse_number(value, 0, 600'000, number))) {
      options.delay_ms = number;
    } else if (flag == "--max-records" && (ok = parse_number(value, 0, 100'000'000, number))) {
      options.max_records = static_cast<std::size_t>(number);
    } else if (flag == "--lifetime-s" && (ok = parse_number(value, 1, 86'400, number))) {
      options.lifetime_s = number;
    } else {
      std::fprintf(stderr, "slow-server: %s %s: %s\n", argv[i], value,
                   ok ? "unknown option" : "not a number in range");
      return false;
    }
  }
  return true;
}

// The fd limit's soft value up to the hard one: at 10,000 targets the connections alone pass
// the usual soft 1,024.
rlim_t raise_fd_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return 0;
  }
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  getrlimit(RLIMIT_NOFILE, &limit);
  return limit.rlim_cur;
}

// Arrival times and paths, interned so that 5 M records of 10,000 paths cost 16 bytes each.
class ArrivalLog {
public:
  explicit ArrivalLog(std::size_t max_records) : m_max_records(max_records) {}

  void add(std::string_view path, std::int64_t arrival_ns) {
    if (m_records.size() >= m_max_records) {
      ++m_dropped;
      return;
    }
    path = path.substr(0, k_max_path_bytes);
    auto found = m_ids.find(std::string(path));
    if (found == m_ids.end()) {
      if (m_paths.size() >= k_max_paths) {
        ++m_dropped;
        return;
      }
      found = m_ids.emplace(std::string(path), static_cast<std::uint32_t>(m_paths.size())).first;
      m_paths.emplace_back(path);
    }
    m_records.push_back({arrival_ns, found->second});
  }

  bool write(const std::string& path) const {
    std::FILE* out = std::fopen(path.c_str(), "w");
    if (out == nullptr) {
      std::fprintf(stderr, "slow-server: %s: %s\n", path.c_str(), std::strerror(errno));
      return false;
    }
    for (const Record& record : m_records) {
      std::fprintf(out, "%s %lld\n", m_paths[record.path].c_str(),
                   static_cast<long long>(record.arrival_ns));
    }
    return std::fclose(out) == 0;
  }

  std::size_t records() const { return m_records.size(); }
  std::size_t paths() const { return m_paths.size(); }
  std::size_t dropped() const { return m_dropped; }

private:
  struct Record {
    std::int64_t arrival_ns;
    std::uint32_t path;
  };
  std::size_t m_max_records;
  std::vector<Record> m_records;
  std::vector<std::string> m_paths;
  std::unordered_map<std::string, std::uint32_t> m_ids;
  std::size_t m_dropped = 0;
};

struct Connection {
  bool open = false;
  std::uint64_t generation = 0; // tells this connection from an earlier one on the same fd
  std::string in;
  std::string out;
  std::int64_t last_due_ns = 0; // answers leave in request order
  bool close_after_answer = false;
  bool watching_out = false; // EPOLLOUT is on: an answer did not fit in the socket buffer
};

// One answer to send at due_ns on connection fd (if it is still the same connection).
struct PendingAnswer {
  std::int64_t due_ns;
  std::uint64_t sequence; // FIFO among equal due times
  int fd;
  std::uint64_t generation;
  bool close_after;
  bool head_only;
  bool operator>(const PendingAnswer& other) const {
    return due_ns != other.due_ns ? due_ns > other.due_ns : sequence > other.sequence;
  }
};

struct ParsedRequest {
  std::size_t length = 0; // 0: incomplete
  bool bad = false;
  std::string_view method;
  std::string_view target;
  bool close = false;
};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view text) {
  const std::size_t first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) {
    return {};
  }
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

// The first request in `buffer`: its length with the body (Content-Length), what it asks for,
// and whether the client wants the connection closed after it. Lenient: a benchmark target.
ParsedRequest parse_request(std::string_view buffer) {
  ParsedRequest request;
  const std::size_t head_end = buffer.find("\r\n\r\n");
  if (head_end == std::string_view::npos) {
    request.bad = buffer.size() > k_max_request_bytes;
    return request;
  }
  const std::string_view head = buffer.substr(0, head_end);
  std::size_t line_end = head.find("\r\n");
  const std::string_view line = head.substr(0, line_end);
  const std::size_t space1 = line.find(' ');
  const std::size_t space2 = line.find(' ', space1 + 1);
  if (space1 == std::string_view::npos || space2 == std::string_view::npos) {
    request.bad = true;
    return request;
  }
  request.method = line.substr(0, space1);
  request.target = line.substr(space1 + 1, space2 - space1 - 1);
  request.close = line.substr(space2 + 1) == "HTTP/1.0";
  std::size_t body = 0;
  for (int field = 0; line_end != std::string_view::npos && field < 200; ++field) {
    const std::size_t next = head.find("\r\n", line_end + 2);
    const std::string_view header = head.substr(line_end + 2, next - line_end - 2);
    line_end = next;
    const std::size_t colon = header.find(':');
    if (colon == std::string_view::npos) {
      continue;
    }
    const std::string_view name = header.substr(0, colon);
    const std::string_view value = trim(header.substr(colon + 1));
    if (iequals(name, "connection")) {
      request.close = iequals(value, "close") || (request.close && !iequals(value, "keep-alive"));
    } else if (iequals(name, "content-length")) {
      body = static_cast<std::size_t>(std::strtoull(std::string(value).c_str(), nullptr, 10));
    }
  }
  if (body > k_max_request_bytes) {
    request.bad = true;
  } else if (buffer.size() >= head_end + 4 + body) {
    request.length = head_end + 4 + body;
  }
  return request;
}

class SlowServer {
public:
  SlowServer(const Options& options, int listen_fd, int signal_fd)
      : m_options(options), m_listen_fd(listen_fd), m_signal_fd(signal_fd),
        m_log(options.max_records) {}

  bool start() {
    m_epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    return m_epoll_fd >= 0 && watch(m_listen_fd, EPOLLIN) && watch(m_signal_fd, EPOLLIN);
  }

  // The event loop, until a signal or the lifetime's end.
  void run() {
    const std::int64_t end_ns = monotonic_ns() + m_options.lifetime_s * 1'000'000'000;
    epoll_event events[k_max_events];
    while (!m_stopping && monotonic_ns() < end_ns) {
      const int ready = epoll_wait(m_epoll_fd, events, k_max_events, wait_ms());
      for (int i = 0; i < ready; ++i) {
        dispatch(events[i]);
      }
      resume_accepting_if_due();
      send_due_answers();
    }
  }

  const ArrivalLog& log() const { return m_log; }

  void print_counts() const {
    std::fprintf(stderr,
                 "slow-server: requests %llu, recorded %zu, dropped %zu, paths %zu, "
                 "connections %llu, requests read late by up to %.1f ms, answers sent late by "
                 "up to %.1f ms\n",
                 static_cast<unsigned long long>(m_requests), m_log.records(), m_log.dropped(),
                 m_log.paths(), static_cast<unsigned long long>(m_accepted),
                 static_cast<double>(m_max_read_delay_ns) / k_ns_per_ms,
                 static_cast<double>(m_max_answer_lag_ns) / k_ns_per_ms);
  }

private:
  bool watch(int fd, std::uint32_t what) {
    epoll_event event{};
    event.events = what;
    event.data.fd = fd;
    return epoll_ctl(m_epoll_fd, EPOLL_CTL_ADD, fd, &event) == 0;
  }

  void rewatch(int fd, std::uint32_t what) {
    epoll_event event{};
    event.events = what;
    event.data.fd = fd;
    epoll_ctl(m_epoll_fd, EPOLL_CTL_MOD, fd, &event);
  }

  // Until the next answer is due (rounded up: never early), at most 100 ms.
  int wait_ms() const {
    if (m_pending.empty()) {
      return 100;
    }
    const std::int64_t left = m_pending.top().due_ns - monotonic_ns();
    return left <= 0 ? 0
                     : static_cast<int>(
                           std::min<std::int64_t>(100, (left + k_ns_per_ms - 1) / k_ns_per_ms));
  }

  void dispatch(const epoll_event& event) {
    const int fd = event.data.fd;
    if (fd == m_signal_fd) {
      m_stopping = true;
    } else if (fd == m_listen_fd) {
      accept_connections();
    } else if ((event.events & (EPOLLERR | EPOLLHUP)) != 0) {
      close_connection(fd);
    } else {
      if ((event.events & EPOLLOUT) != 0) {
        flush(fd);
      }
      if ((event.events & EPOLLIN) != 0) {
        read_requests(fd);
      }
    }
  }

  void accept_connections() {
    for (int i = 0; i < k_max_accepts_per_wakeup; ++i) {
      const int fd = accept4(m_listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE) {
          pause_accepting();
        }
        return;
      }
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
      if (static_cast<std::size_t>(fd) >= m_connections.size()) {
        m_connections.resize(static_cast<std::size_t>(fd) + 1024);
      }
      Connection& connection = m_connections[static_cast<std::size_t>(fd)];
      connection = Connection{};
      connection.open = true;
      connection.generation = ++m_accepted;
      if (!watch(fd, EPOLLIN | EPOLLRDHUP)) {
        close(fd);
        connection.open = false;
      }
    }
  }

  // Out of fds: the listening socket would wake the loop at once, again and again. Stop
  // watching it for 100 ms, and say so once.
  void pause_accepting() {
    if (!m_warned_fds) {
      std::fprintf(stderr, "slow-server: out of file descriptors; accepting again in 100 ms\n");
      m_warned_fds = true;
    }
    epoll_ctl(m_epoll_fd, EPOLL_CTL_DEL, m_listen_fd, nullptr);
    m_accept_paused_until_ns = monotonic_ns() + 100 * k_ns_per_ms;
  }

  void resume_accepting_if_due() {
    if (m_accept_paused_until_ns != 0 && monotonic_ns() >= m_accept_paused_until_ns) {
      m_accept_paused_until_ns = 0;
      watch(m_listen_fd, EPOLLIN);
    }
  }

  void read_requests(int fd) {
    Connection& connection = m_connections[static_cast<std::size_t>(fd)];
    char chunk[16 * 1024];
    for (int i = 0; i < k_max_reads_per_wakeup && connection.open; ++i) {
      std::int64_t arrival_ns = 0;
      const ssize_t got = receive(fd, chunk, sizeof chunk, arrival_ns);
      if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        close_connection(fd);
        return;
      }
      if (got < 0) {
        return;
      }
      connection.in.append(chunk, static_cast<std::size_t>(got));
      take_requests(fd, connection, arrival_ns);
    }
  }

  // recv() that also tells when the bytes reached the socket: the kernel's receive timestamp
  // (SO_TIMESTAMPNS, CLOCK_REALTIME, moved to CLOCK_MONOTONIC), so that a moment this thread
  // waits for a CPU is not counted against the client. Without one, the time of the read.
  ssize_t receive(int fd, char* buffer, std::size_t size, std::int64_t& arrival_ns) {
    iovec data{buffer, size};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
    msghdr message{};
    message.msg_iov = &data;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    const ssize_t got = recvmsg(fd, &message, 0);
    const std::int64_t read_ns = monotonic_ns();
    arrival_ns = read_ns;
    for (cmsghdr* header = CMSG_FIRSTHDR(&message); got > 0 && header != nullptr;
         header = CMSG_NXTHDR(&message, header)) {
      if (header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_TIMESTAMPNS) {
        timespec stamp{};
        std::memcpy(&stamp, CMSG_DATA(header), sizeof stamp);
        const std::int64_t stamped = to_ns(stamp) - (to_ns(now(CLOCK_REALTIME)) - read_ns);
        arrival_ns = std::min(read_ns, stamped);
        m_max_read_delay_ns = std::max(m_max_read_delay_ns, read_ns - arrival_ns);
      }
    }
    return got;
  }

  // Every complete request in the connection's buffer: logged as arrived now, answered later.
  void take_requests(int fd, Connection& connection, std::int64_t now_ns) {
    for (int i = 0; i < k_max_requests_per_read && connection.open; ++i) {
      const ParsedRequest request = parse_request(connection.in);
      if (request.bad) {
        close_connection(fd);
        return;
      }
      if (request.length == 0) {
        return;
      }
      ++m_requests;
      m_log.add(request.target, now_ns);
      const bool control = request.target.substr(0, 3) == "/-/";
      const std::int64_t due = std::max(connection.last_due_ns,
                                        now_ns + (control ? 0 : m_options.delay_ms * k_ns_per_ms));
      connection.last_due_ns = due;
      m_pending.push(
          {due, ++m_sequence, fd, connection.generation, request.close, request.method == "HEAD"});
      connection.in.erase(0, request.length);
    }
  }

  void send_due_answers() {
    const std::int64_t now_ns = monotonic_ns();
    // Bounded by the heap's size at entry: answers pushed meanwhile wait for the next pass.
    for (std::size_t left = m_pending.size(); left > 0 && !m_pending.empty(); --left) {
      const PendingAnswer answer = m_pending.top();
      if (answer.due_ns > now_ns) {
        return;
      }
      m_pending.pop();
      m_max_answer_lag_ns = std::max(m_max_answer_lag_ns, now_ns - answer.due_ns);
      Connection& connection = m_connections[static_cast<std::size_t>(answer.fd)];
      if (!connection.open || connection.generation != answer.generation) {
        continue; // the client left
      }
      connection.out +=
          answer.close_after ? "HTTP/1.1 200 OK\r\nConnection: close\r\n" : "HTTP/1.1 200 OK\r\n";
      connection.out += answer.head_only
                            ? "Content-Type: text/plain\r\nContent-Length: 3\r\n\r\n"
                            : "Content-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n";
      connection.close_after_answer = connection.close_after_answer || answer.close_after;
      flush(answer.fd);
    }
  }

  void flush(int fd) {
    Connection& connection = m_connections[static_cast<std::size_t>(fd)];
    if (!connection.open) {
      return;
    }
    while (!connection.out.empty()) { // bounded: each pass sends bytes or returns
      const ssize_t sent = send(fd, connection.out.data(), connection.out.size(), MSG_NOSIGNAL);
      if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!connection.watching_out) {
          rewatch(fd, EPOLLIN | EPOLLRDHUP | EPOLLOUT);
          connection.watching_out = true;
        }
        return;
      }
      if (sent <= 0) {
        close_connection(fd);
        return;
      }
      connection.out.erase(0, static_cast<std::size_t>(sent));
    }
    if (connection.close_after_answer) {
      close_connection(fd);
      return;
    }
    if (connection.watching_out) {
      rewatch(fd, EPOLLIN | EPOLLRDHUP);
      connection.watching_out = false;
    }
  }

  void close_connection(int fd) {
    Connection& connection = m_connections[static_cast<std::size_t>(fd)];
    if (!connection.open) {
      return;
    }
    connection = Connection{};
    close(fd); // also leaves the epoll set
  }

  const Options& m_options;
  int m_listen_fd;
  int m_signal_fd;
  int m_epoll_fd = -1;
  ArrivalLog m_log;
  std::vector<Connection> m_connections;
  std::priority_queue<PendingAnswer, std::vector<PendingAnswer>, std::greater<>> m_pending;
  std::uint64_t m_sequence = 0;
  std::uint64_t m_accepted = 0;
  std::uint64_t m_requests = 0;
  std::int64_t m_max_answer_lag_ns = 0;
  std::int64_t m_max_read_delay_ns = 0; // from a request's arrival to this thread reading it
  std::int64_t m_accept_paused_until_ns = 0;
  bool m_warned_fds = false;
  bool m_stopping = false;
};

int listen_on_loopback(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      listen(fd, 65535) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int bound_port(int fd) {
  sockaddr_in address{};
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  return ntohs(address.sin_port);
}

// SIGTERM and SIGINT as events of the loop, so the log is written by the loop's own thread.
int signal_fd_for_stop() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigprocmask(SIG_BLOCK, &signals, nullptr);
  return signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
}

} // namespace

int main(int argc, char** argv) {
  Options options;
  if (!parse_options(argc, argv, options)) {
    return 2;
  }
  const rlim_t fds = raise_fd_limit();
  const int signal_fd = signal_fd_for_stop();
  const int listen_fd = listen_on_loopback(options.port);
  if (listen_fd < 0 || signal_fd < 0) {
    std::fprintf(stderr, "slow-server: 127.0.0.1:%d: %s\n", options.port, std::strerror(errno));
    return 1;
  }
  SlowServer server(options, listen_fd, signal_fd);
  if (!server.start()) {
    std::fprintf(stderr, "slow-server: epoll: %s\n", std::strerror(errno));
    return 1;
  }
  std::printf("listening on 127.0.0.1:%d (answers after %lld ms, %llu fds)\n",
              bound_port(listen_fd), static_cast<long long>(options.delay_ms),
              static_cast<unsigned long long>(fds));
  std::fflush(stdout);
  server.run();
  server.print_counts();
  if (!options.log_path.empty() && !server.log().write(options.log_path)) {
    return 1;
  }
  return 0;
}
