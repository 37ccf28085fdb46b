// A TCP listener on loopback that never accepts: the kernel completes each handshake into the
// backlog, the client sends its request, and no answer ever comes — so every check against it
// runs until its own timeout, and no thread serves it (a thousand such connections cost this
// process nothing but the listening socket).
#pragma once

#include <stdexcept>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace probe::fakes {

class SilentListener {
public:
  explicit SilentListener(int backlog = 4096)
      : m_fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (m_fd < 0 || bind(m_fd, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        listen(m_fd, backlog) != 0 ||
        getsockname(m_fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::runtime_error("silent listener: cannot listen");
    }
    m_port = ntohs(address.sin_port);
  }
  ~SilentListener() { close(m_fd); }
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;

  int port() const { return m_port; }

private:
  int m_fd;
  int m_port = 0;
};

} // namespace probe::fakes
