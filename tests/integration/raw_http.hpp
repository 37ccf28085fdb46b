// A raw TCP client for the tests of probe serve's HTTP server: sends bytes exactly as written
// (malformed requests, a NUL in a header, pipelined requests, a head that trickles in) and reads
// answers as they come, with a bound on every wait. It can connect from any address in
// 127.0.0.0/8, so one test can be many clients (the server caps connections per address).
#pragma once

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace probe::tests {

struct RawResponse {
  int status = 0;
  std::string head; // status line and header fields, up to the blank line
  std::string body;

  // The value of header `name` (exact spelling, as probe sends it), "" when absent.
  std::string header(const std::string& name) const {
    const std::string key = "\r\n" + name + ": ";
    const std::size_t at = head.find(key);
    if (at == std::string::npos) {
      return "";
    }
    const std::size_t from = at + key.size();
    return head.substr(from, head.find("\r\n", from) - from);
  }
};

class RawConnection {
public:
  // Connects to 127.0.0.1:`port` from `source` ("" = the kernel's choice, else e.g.
  // "127.0.0.7"). connected() tells whether it worked.
  explicit RawConnection(int port, const std::string& source = "") {
    m_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (m_fd < 0) {
      return;
    }
    if (!source.empty()) {
      sockaddr_in from{};
      from.sin_family = AF_INET;
      inet_pton(AF_INET, source.c_str(), &from.sin_addr);
      if (::bind(m_fd, reinterpret_cast<sockaddr*>(&from), sizeof(from)) != 0) {
        close();
        return;
      }
    }
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<std::uint16_t>(port));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(m_fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) {
      close();
      return;
    }
    const int on = 1;
    setsockopt(m_fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    m_connected_at = std::chrono::steady_clock::now();
  }
  ~RawConnection() { close(); }
  RawConnection(RawConnection&& other) noexcept
      : m_fd(other.m_fd), m_buffer(std::move(other.m_buffer)), m_eof(other.m_eof),
        m_connected_at(other.m_connected_at) {
    other.m_fd = -1;
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return m_fd >= 0; }
  int fd() const { return m_fd; }
  std::chrono::steady_clock::time_point connected_at() const { return m_connected_at; }
  // Whether the server closed (EOF or reset) in a read so far.
  bool closed_by_server() const { return m_eof; }
  // What has been read and not yet taken by read_response().
  const std::string& buffered() const { return m_buffer; }

  void close() {
    if (m_fd >= 0) {
      ::close(m_fd);
      m_fd = -1;
    }
  }

  // Sends all of `bytes`; false when the connection is gone.
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t sent = ::send(m_fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (sent <= 0) {
        return false;
      }
      bytes.remove_prefix(static_cast<std::size_t>(sent));
    }
    return true;
  }

  // Reads what arrives within `timeout` (or until EOF) into the buffer; returns the buffer.
  const std::string& read_for(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!m_eof && read_some(deadline)) {
    }
    return m_buffer;
  }

  // Waits up to `timeout` for the server to close; true when it did. Data that arrives is kept.
  bool wait_closed(std::chrono::milliseconds timeout) {
    read_for(timeout);
    return m_eof;
  }

  // One response (status line, fields, Content-Length body unless `head_request`); nullopt
  // when the connection closed or `timeout` passed first. Interim 1xx answers are returned
  // like any other.
  std::optional<RawResponse> read_response(std::chrono::milliseconds timeout,
                                           bool head_request = false) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      const std::size_t end = m_buffer.find("\r\n\r\n");
      if (end != std::string::npos) {
        RawResponse response;
        response.head = m_buffer.substr(0, end);
        response.status = response.head.size() > 12 ? std::atoi(response.head.c_str() + 9) : 0;
        const std::string length = response.header("Content-Length");
        const std::size_t body_size = length.empty() || head_request ? 0 : std::stoul(length);
        while (m_buffer.size() < end + 4 + body_size) {
          if (!read_some(deadline)) {
            return std::nullopt;
          }
        }
        response.body = m_buffer.substr(end + 4, body_size);
        m_buffer.erase(0, end + 4 + body_size);
        return response;
      }
      if (!read_some(deadline)) {
        return std::nullopt;
      }
    }
  }

private:
  // One read, waiting until `deadline`; false on EOF, error or timeout.
  bool read_some(std::chrono::steady_clock::time_point deadline) {
    if (m_fd < 0 || m_eof) {
      return false;
    }
    // A deadline already passed still looks once (poll with 0): wait_closed(0ms) checks.
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd entry{m_fd, POLLIN, 0};
    if (::poll(&entry, 1, static_cast<int>(std::max<long long>(0, left.count()))) <= 0) {
      return false;
    }
    char chunk[16384];
    const ssize_t got = ::recv(m_fd, chunk, sizeof(chunk), 0);
    if (got <= 0) {
      m_eof = got == 0 || errno != EAGAIN;
      return false;
    }
    m_buffer.append(chunk, static_cast<std::size_t>(got));
    return true;
  }

  int m_fd = -1;
  std::string m_buffer;
  bool m_eof = false;
  std::chrono::steady_clock::time_point m_connected_at;
};

} // namespace probe::tests
