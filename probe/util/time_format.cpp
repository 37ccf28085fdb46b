// RFC 3339 formatting; see time_format.hpp.
#include "probe/util/time_format.hpp"

#include <array>
#include <cstdio>
#include <ctime>

namespace probe::util {

std::string format_rfc3339(std::chrono::system_clock::time_point when) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch());
  // Floor division, so times before 1970 still print a valid millisecond part.
  long long seconds = ms.count() / 1000;
  long long millis = ms.count() % 1000;
  if (millis < 0) {
    millis += 1000;
    --seconds;
  }
  const std::time_t whole = static_cast<std::time_t>(seconds);
  std::tm utc{};
  gmtime_r(&whole, &utc);
  std::array<char, 40> buf{};
  const std::size_t len = std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(buf.data() + len, buf.size() - len, ".%03lldZ", millis);
  return buf.data();
}

} // namespace probe::util
