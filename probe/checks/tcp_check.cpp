// The TCP check on libcurl, and a blocking connect with a deadline for probe's own sidecar
// client; see tcp_check.hpp. connect_tcp resolves with getaddrinfo, which the resolver bounds by
// its own timeouts; in Compose it answers from /etc/hosts or the embedded DNS in microseconds.
#include "probe/checks/tcp_check.hpp"

#include <cerrno>
#include <cstring>

#include <curl/curl.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probe/checks/check_io.hpp"
#include "probe/util/deadline.hpp"

namespace probe::checks {
namespace {

using Clock = std::chrono::steady_clock;

// One attempt at one resolved address. Returns the fd, or -1 with `err` set (ETIMEDOUT at the
// deadline).
int connect_one(const addrinfo* address, Clock::time_point deadline, int* err) {
  const int fd = socket(address->ai_family, address->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        address->ai_protocol);
  if (fd < 0) {
    *err = errno;
    return -1;
  }
  if (connect(fd, address->ai_addr, address->ai_addrlen) == 0) {
    return fd;
  }
  if (errno != EINPROGRESS) {
    *err = errno;
    close(fd);
    return -1;
  }
  pollfd waiting{fd, POLLOUT, 0};
  int ready = 0;
  do {
    ready = poll(&waiting, 1, util::milliseconds_until(deadline));
  } while (ready < 0 && errno == EINTR);
  if (ready == 0) {
    *err = ETIMEDOUT;
    close(fd);
    return -1;
  }
  int so_error = 0;
  socklen_t len = sizeof(so_error);
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
  // ECONNRESET means the handshake completed and the peer then reset the connection (it
  // accepted and closed at once); a refusal is ECONNREFUSED. The connection did complete, and
  // whether the reset lands before this getsockopt is a race, so it counts as connected: the
  // same server must not pass one check and fail the next by timing alone.
  if (so_error != 0 && so_error != ECONNRESET) {
    *err = so_error;
    close(fd);
    return -1;
  }
  return fd;
}

// ECONNRESET means the handshake completed and the peer then reset the connection (it accepted
// and closed at once); a refusal is ECONNREFUSED. The connection did complete, and whether the
// reset lands before libcurl looks is a race, so it counts as connected: the same server must
// not pass one check and fail the next by timing alone.
bool was_reset(CURL* easy) {
  long os_errno = 0;
  curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno);
  return os_errno == ECONNRESET;
}

} // namespace

int connect_tcp(const std::string& host, std::uint16_t port, Clock::time_point deadline,
                CheckResult* result) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addresses = nullptr;
  const int gai = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &addresses);
  if (gai != 0) {
    *result = make_result(CheckStatus::failure, "cannot resolve " + host + ": " + gai_strerror(gai),
                          "dns");
    return -1;
  }
  int err = ECONNREFUSED;
  int fd = -1;
  for (const addrinfo* address = addresses; address != nullptr && fd < 0;
       address = address->ai_next) {
    fd = connect_one(address, deadline, &err);
    if (err == ETIMEDOUT) {
      break;
    }
  }
  freeaddrinfo(addresses);
  if (fd < 0) {
    const std::string target = host + ":" + std::to_string(port);
    if (err == ETIMEDOUT) {
      *result = make_result(CheckStatus::timeout, "connect " + target + ": timed out", "timeout");
    } else {
      *result = make_result(CheckStatus::failure, "connect " + target + ": " + std::strerror(err),
                            err == ECONNREFUSED ? "connection_refused" : "connect");
    }
  }
  return fd;
}

TcpCheck::TcpCheck(config::TcpTarget target)
    : m_target(std::move(target)), m_endpoint(m_target.host + ":" + std::to_string(m_target.port)) {
}

void TcpCheck::start(CheckIo& io, std::chrono::milliseconds timeout, CheckDone done) {
  const Clock::time_point start = Clock::now();
  m_easy = make_easy(m_error.data());
  CURL* easy = m_easy.get();
  const bool v6 = m_target.host.find(':') != std::string::npos;
  const std::string url = "http://" + (v6 ? "[" + m_target.host + "]" : m_target.host) + ":" +
                          std::to_string(m_target.port) + "/";
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_CONNECT_ONLY, 1L);
  curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
  set_timeouts(easy, timeout);
  io.start_transfer(easy, [this, start, timeout, done = std::move(done)](CurlResult code) {
    CheckResult result = code == CURLE_OK || was_reset(m_easy.get())
                             ? make_result(CheckStatus::success, "connected to " + m_endpoint)
                             : transfer_failure(m_easy.get(), code, m_error.data(), "",
                                                m_target.host, m_target.port, timeout);
    if (result.status == CheckStatus::timeout) {
      result.detail = "connect " + m_endpoint + ": timed out";
    }
    result.latency = Clock::now() - start;
    m_easy.reset(); // closes the connection
    done(std::move(result));
  });
}

} // namespace probe::checks
