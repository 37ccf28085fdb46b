// getrandom(2)-backed random bytes and UUIDs; see random.hpp.
#include "probe/util/random.hpp"

#include <array>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include "probe/util/error.hpp"
#include "probe/util/hex.hpp"
#include "probe/util/unique_fd.hpp"

namespace probe::util {
namespace {

// Only for kernels older than 3.17, which have no getrandom(2); returns false when unreadable.
bool read_urandom(unsigned char* out, std::size_t size) {
  const UniqueFd fd(::open("/dev/urandom", O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return false;
  }
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::read(fd.get(), out + done, size - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  return done == size;
}

} // namespace

void random_bytes(unsigned char* out, std::size_t size) {
  std::size_t done = 0;
  while (done < size) {
    // Requests up to 256 bytes are never cut short once the pool is seeded; larger ones may be
    // interrupted by a signal, so the loop continues where it stopped.
    const ssize_t n = ::getrandom(out + done, size - done, 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      const int error = errno;
      if (error == ENOSYS && read_urandom(out + done, size - done)) {
        return;
      }
      throw Error(std::string("random: getrandom: ") + std::strerror(error), 1);
    }
    done += static_cast<std::size_t>(n);
  }
}

std::string random_uuid() {
  std::array<unsigned char, 16> bytes{};
  random_bytes(bytes.data(), bytes.size());
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0F) | 0x40); // version 4
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3F) | 0x80); // RFC 4122 variant (10xx)
  // 8-4-4-4-12 hex digits.
  const std::string hex = to_lower_hex(bytes.data(), bytes.size());
  return hex.substr(0, 8) + '-' + hex.substr(8, 4) + '-' + hex.substr(12, 4) + '-' +
         hex.substr(16, 4) + '-' + hex.substr(20);
}

} // namespace probe::util
