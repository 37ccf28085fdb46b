// Raw-socket stand-ins; see tcp_standin.hpp. The accept loop polls with a short timeout so the
// destructor never waits on a blocking accept().
#include "tests/standins/tcp_standin.hpp"

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <stdexcept>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace probe::fakes {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int k_poll_slice_ms = 50;
constexpr std::uint32_t k_ssl_request = 80877103;
constexpr std::uint32_t k_gssenc_request = 80877104;
constexpr std::uint32_t k_max_startup_packet = 10'000; // PostgreSQL's own limit
constexpr std::chrono::milliseconds k_trickle_interval{200};
constexpr int k_tcp_trickle_bytes = 3000; // ten minutes, far beyond any check's timeout

constexpr std::array<std::pair<TcpMode, std::string_view>, 6> k_tcp_mode_names{{
    {TcpMode::hang_after_accept, "hang_after_accept"},
    {TcpMode::reset, "reset"},
    {TcpMode::postgres_rejecting, "postgres_rejecting"},
    {TcpMode::trickle_headers, "trickle_headers"},
    {TcpMode::backlog_full, "backlog_full"},
    {TcpMode::drop_kept_alive, "drop_kept_alive"},
}};

std::runtime_error socket_error(const std::string& what) {
  return std::runtime_error("tcp stand-in: " + what + ": " + std::strerror(errno));
}

sockaddr_in loopback_address(const std::string& host, int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) {
    throw std::runtime_error("tcp stand-in: " + host + " is not an IPv4 address");
  }
  return address;
}

std::uint32_t read_u32(const char* data) {
  std::uint32_t value = 0;
  std::memcpy(&value, data, sizeof(value));
  return ntohl(value);
}

// Sends all of `bytes`; false when the peer is gone.
bool send_all(int fd, const std::string& bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) {
        continue;
      }
      return false;
    }
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

// The ErrorResponse a PostgreSQL postmaster sends while it starts up (CAC_STARTUP).
std::string starting_up_error() {
  std::string fields;
  const auto field = [&fields](char code, std::string_view value) {
    fields += code;
    fields += value;
    fields += '\0';
  };
  field('S', "FATAL");
  field('V', "FATAL");
  field('C', "57P03");
  field('M', "the database system is starting up");
  fields += '\0';
  const std::uint32_t length = htonl(static_cast<std::uint32_t>(fields.size() + 4));
  std::string message(1, 'E');
  message.append(reinterpret_cast<const char*>(&length), sizeof(length));
  message += fields;
  return message;
}

int bound_socket(const std::string& host, int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw socket_error("socket");
  }
  const int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  const sockaddr_in address = loopback_address(host, port);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    const std::runtime_error error = socket_error("bind " + host + ":" + std::to_string(port));
    close(fd);
    throw error;
  }
  return fd;
}

int local_port(int fd) {
  sockaddr_in address{};
  socklen_t length = sizeof(address);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw socket_error("getsockname");
  }
  return ntohs(address.sin_port);
}

} // namespace

std::string_view to_string(TcpMode mode) {
  for (const auto& [value, name] : k_tcp_mode_names) {
    if (value == mode) {
      return name;
    }
  }
  return "hang_after_accept";
}

std::optional<TcpMode> parse_tcp_mode(std::string_view text) {
  for (const auto& [value, name] : k_tcp_mode_names) {
    if (name == text) {
      return value;
    }
  }
  return std::nullopt;
}

TcpStandin::TcpStandin(TcpMode mode, const std::string& host, int port) : m_mode(mode) {
  m_listen_fd = bound_socket(host, port);
  if (listen(m_listen_fd, mode == TcpMode::backlog_full ? 0 : 128) != 0) {
    const std::runtime_error error = socket_error("listen");
    close(m_listen_fd);
    throw error;
  }
  m_port = local_port(m_listen_fd);
  if (mode == TcpMode::backlog_full) {
    fill_backlog();
    return;
  }
  m_acceptor = std::thread([this] { accept_loop(); });
}

TcpStandin::~TcpStandin() {
  m_stopping = true;
  if (m_acceptor.joinable()) {
    m_acceptor.join();
  }
  for (std::thread& session : m_sessions) {
    session.join();
  }
  for (const int fd : m_held) {
    close(fd);
  }
  close(m_listen_fd);
}

void TcpStandin::fill_backlog() {
  // With backlog 0 Linux queues one connection; keep connecting until a SYN goes unanswered.
  const sockaddr_in address = loopback_address("127.0.0.1", m_port);
  for (int attempt = 0; attempt < 8; ++attempt) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      throw socket_error("socket");
    }
    m_held.push_back(fd);
    const int rc = connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address));
    if (rc != 0 && errno != EINPROGRESS) {
      throw socket_error("connect to fill the backlog");
    }
    pollfd waiting{fd, POLLOUT, 0};
    if (rc != 0 && poll(&waiting, 1, 100) == 0) {
      return; // this SYN was dropped: the queue is full
    }
  }
  throw std::runtime_error("tcp stand-in: the accept queue did not fill up");
}

void TcpStandin::accept_loop() {
  while (!m_stopping) {
    pollfd waiting{m_listen_fd, POLLIN, 0};
    if (poll(&waiting, 1, k_poll_slice_ms) <= 0) {
      continue;
    }
    const int fd = accept4(m_listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      continue;
    }
    ++m_accepted;
    switch (m_mode) {
    case TcpMode::hang_after_accept:
    case TcpMode::backlog_full: {
      const std::lock_guard<std::mutex> lock(m_mutex);
      m_held.push_back(fd);
      break;
    }
    case TcpMode::reset: {
      const linger abort_on_close{1, 0};
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof(abort_on_close));
      close(fd);
      break;
    }
    case TcpMode::postgres_rejecting: {
      const std::lock_guard<std::mutex> lock(m_mutex);
      m_sessions.emplace_back([this, fd] { serve_postgres(fd); });
      break;
    }
    case TcpMode::trickle_headers: {
      const std::lock_guard<std::mutex> lock(m_mutex);
      m_sessions.emplace_back([this, fd] { serve_trickle(fd); });
      break;
    }
    case TcpMode::drop_kept_alive: {
      const std::lock_guard<std::mutex> lock(m_mutex);
      m_sessions.emplace_back([this, fd] { serve_drop_kept_alive(fd); });
      break;
    }
    }
  }
}

bool TcpStandin::read_exact(int fd, char* data, std::size_t length) {
  const Clock::time_point give_up = Clock::now() + std::chrono::seconds(30);
  std::size_t got = 0;
  while (got < length) {
    if (m_stopping || Clock::now() > give_up) {
      return false;
    }
    pollfd waiting{fd, POLLIN, 0};
    if (poll(&waiting, 1, k_poll_slice_ms) <= 0) {
      continue;
    }
    const ssize_t n = recv(fd, data + got, length - got, 0);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) {
        continue;
      }
      return false;
    }
    got += static_cast<std::size_t>(n);
  }
  return true;
}

void TcpStandin::serve_postgres(int fd) {
  // Every packet before startup is int32 length (itself included), then int32 code/version.
  for (int packet = 0; packet < 3; ++packet) {
    std::array<char, 8> head{};
    if (!read_exact(fd, head.data(), head.size())) {
      break;
    }
    const std::uint32_t length = read_u32(head.data());
    const std::uint32_t code = read_u32(head.data() + 4);
    if (length == 8 && (code == k_ssl_request || code == k_gssenc_request)) {
      send_all(fd, "N"); // no TLS, no GSS encryption: the client goes on in plain text
      continue;
    }
    if (length < 8 || length > k_max_startup_packet) {
      break;
    }
    std::string rest(length - 8, '\0');
    if (!read_exact(fd, rest.data(), rest.size())) {
      break;
    }
    ++m_rejected; // before the answer, so a client that has it sees the count
    send_all(fd, starting_up_error());
    break;
  }
  // Half-close and drain until the client hangs up: closing with unread input would send a
  // reset that can overtake the error message.
  shutdown(fd, SHUT_WR);
  const Clock::time_point give_up = Clock::now() + std::chrono::seconds(30);
  std::array<char, 256> sink{};
  while (!m_stopping && Clock::now() < give_up) {
    pollfd waiting{fd, POLLIN, 0};
    if (poll(&waiting, 1, k_poll_slice_ms) > 0 && recv(fd, sink.data(), sink.size(), 0) <= 0) {
      break;
    }
  }
  close(fd);
}

void TcpStandin::serve_trickle(int fd) {
  if (!send_all(fd, "HTTP/1.1 200 OK\r\nX-Trickle: ")) {
    close(fd);
    return;
  }
  for (int sent = 0; sent < k_tcp_trickle_bytes && !m_stopping; ++sent) {
    const Clock::time_point next = Clock::now() + k_trickle_interval;
    while (!m_stopping && Clock::now() < next) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (m_stopping || !send_all(fd, "x")) {
      break;
    }
  }
  close(fd);
}

bool TcpStandin::read_head(int fd) {
  const Clock::time_point give_up = Clock::now() + std::chrono::seconds(30);
  std::string head;
  std::array<char, 512> chunk{};
  while (head.find("\r\n\r\n") == std::string::npos) {
    if (m_stopping || Clock::now() > give_up) {
      return false;
    }
    pollfd waiting{fd, POLLIN, 0};
    if (poll(&waiting, 1, k_poll_slice_ms) <= 0) {
      continue;
    }
    const ssize_t n = recv(fd, chunk.data(), chunk.size(), 0);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) {
        continue;
      }
      return false;
    }
    head.append(chunk.data(), static_cast<std::size_t>(n));
  }
  return true;
}

void TcpStandin::serve_drop_kept_alive(int fd) {
  if (read_head(fd)) {
    send_all(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n");
    read_head(fd); // the request that finds the connection closing: never answered
  }
  close(fd);
}

int free_loopback_port() {
  const int fd = bound_socket("127.0.0.1", 0);
  const int port = local_port(fd);
  close(fd);
  return port;
}

int closed_port() {
  return free_loopback_port();
}

} // namespace probe::fakes
