// Durations as people write them in probe's config and flags: "250ms", "10s", "2m", "1h",
// and compounds like "1m30s" (Prometheus' form). Kept to milliseconds: nothing probe does
// needs finer, and whole milliseconds print back exactly.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace probe::util {

using Duration = std::chrono::milliseconds;

// Parses `text`; nullopt when it is not a duration (empty, no unit, unknown unit, overflow).
std::optional<Duration> parse_duration(std::string_view text);

// Formats `d` in the shortest exact form parse_duration() reads back ("1m30s", "250ms", "0s").
std::string format_duration(Duration d);

// Formats `d` for humans with sub-millisecond precision ("0.42ms", "12.3ms", "1.25s").
std::string format_latency(std::chrono::nanoseconds d);

} // namespace probe::util
