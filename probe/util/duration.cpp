// Duration parsing and printing; see duration.hpp.
#include "probe/util/duration.hpp"

#include <array>
#include <cstdint>
#include <cstdio>
#include <limits>

namespace probe::util {
namespace {

struct Unit {
  std::string_view suffix;
  std::int64_t ms;
};

// Longest suffix first so "ms" is not read as "m" followed by garbage.
constexpr std::array<Unit, 5> k_units{
    {{"ms", 1}, {"d", 86'400'000}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1'000}}};

// One duration is at most ~290 years; beyond that the arithmetic below could overflow.
constexpr std::int64_t k_max_ms = std::numeric_limits<std::int64_t>::max() / 1'000'000;

} // namespace

std::optional<Duration> parse_duration(std::string_view text) {
  if (text.empty()) {
    return std::nullopt;
  }
  std::int64_t total = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::int64_t number = 0;
    const std::size_t digits_start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      number = number * 10 + (text[pos] - '0');
      if (number > k_max_ms) {
        return std::nullopt;
      }
      ++pos;
    }
    if (pos == digits_start) {
      return std::nullopt; // a unit without a number, or a sign, space, dot...
    }
    const Unit* unit = nullptr;
    for (const Unit& candidate : k_units) {
      if (text.substr(pos, candidate.suffix.size()) == candidate.suffix) {
        unit = &candidate;
        break;
      }
    }
    if (unit == nullptr || number > k_max_ms / unit->ms) {
      return std::nullopt;
    }
    total += number * unit->ms;
    if (total > k_max_ms) {
      return std::nullopt;
    }
    pos += unit->suffix.size();
  }
  return Duration(total);
}

std::string format_duration(Duration d) {
  std::int64_t rest = d.count();
  if (rest == 0) {
    return "0s";
  }
  std::string out;
  if (rest < 0) {
    out = "-";
    rest = -rest;
  }
  for (const Unit& unit : {k_units[1], k_units[2], k_units[3], k_units[4], k_units[0]}) {
    if (rest >= unit.ms) {
      out += std::to_string(rest / unit.ms);
      out += unit.suffix;
      rest %= unit.ms;
    }
  }
  return out;
}

std::string format_latency(std::chrono::nanoseconds d) {
  const double ms = static_cast<double>(d.count()) / 1e6;
  std::array<char, 32> buf{};
  // Bands chosen on the rounded value, so 9.999 ms prints "10.0ms", not "10.00ms".
  if (ms < 9.995) {
    std::snprintf(buf.data(), buf.size(), "%.2fms", ms);
  } else if (ms < 999.95) {
    std::snprintf(buf.data(), buf.size(), "%.1fms", ms);
  } else {
    std::snprintf(buf.data(), buf.size(), "%.2fs", ms / 1000);
  }
  return buf.data();
}

} // namespace probe::util
