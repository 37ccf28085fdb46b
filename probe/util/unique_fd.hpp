// A file descriptor owned by one object and closed when it goes (or at reset()): the journal,
// the deploy lock, the config reader, the hook's pipes, serve's signalfd, listening socket,
// epoll and wake-up descriptors, and the /dev/urandom reader hold theirs in one.
#pragma once

#include <utility>

#include <unistd.h>

namespace probe::util {

class UniqueFd {
public:
  explicit UniqueFd(int fd = -1) noexcept : m_fd(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset(other.release());
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return m_fd; }
  bool valid() const { return m_fd >= 0; }
  int release() { return std::exchange(m_fd, -1); }
  void reset(int fd = -1) {
    if (m_fd >= 0) {
      ::close(m_fd); // not retried on EINTR: on Linux the fd is closed either way
    }
    m_fd = fd;
  }

private:
  int m_fd;
};

} // namespace probe::util
