// Fuzzes util::parse_duration, which reads every interval, timeout and budget in the config and
// the --timeout style flags. Beyond not crashing (no overflow: UBSan aborts on it), what parses
// must be a non-negative number of milliseconds within the documented bound, and print back
// through format_duration() into text that parses to the same duration and prints the same
// again: `probe config check` shows durations that way and the output must mean what was read.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "probe/util/duration.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using probe::util::Duration;

// parse_duration's bound: about 292 years, so that nanosecond arithmetic cannot overflow.
constexpr std::int64_t k_max_ms = std::numeric_limits<std::int64_t>::max() / 1'000'000;

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using probe::fuzz::fail;
  using probe::fuzz::require;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::optional<Duration> parsed = probe::util::parse_duration(text);
  if (!parsed) {
    return 0;
  }
  require(!text.empty(), "parse_duration accepted the empty string");
  require(parsed->count() >= 0 && parsed->count() <= k_max_ms,
          "parse_duration returned a duration outside [0, 292 years]");
  const std::string formatted = probe::util::format_duration(*parsed);
  const std::optional<Duration> again = probe::util::parse_duration(formatted);
  if (!again || *again != *parsed) {
    fail("format_duration(" + std::to_string(parsed->count()) + "ms) = \"" + formatted +
         "\" does not parse back to the same duration");
  }
  if (probe::util::format_duration(*again) != formatted) {
    fail("format_duration is not stable for \"" + formatted + "\"");
  }
  return 0;
}
