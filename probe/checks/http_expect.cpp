// HTTP expectations; see http_expect.hpp.
#include "probe/checks/http_expect.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>

#include "probe/util/duration.hpp"
#include "probe/util/strings.hpp"

namespace probe::checks {
namespace {

std::string status_list(const std::vector<int>& status) {
  std::vector<std::string> parts;
  parts.reserve(status.size());
  for (const int code : status) {
    parts.push_back(std::to_string(code));
  }
  return util::join(parts, "|");
}

ExpectOutcome unmet(std::string problem, std::string reason) {
  return ExpectOutcome{false, std::move(problem), std::move(reason)};
}

// Compares JSON numbers by value, so 1 and 1.0 match; everything else exactly.
bool json_equal(const nlohmann::json& got, const nlohmann::json& want) {
  if (got.is_number() && want.is_number()) {
    return got.get<double>() == want.get<double>();
  }
  return got == want;
}

// document.contains(at), except that nlohmann 3.11 throws instead of answering false for an
// array index that is empty or too large ("/items/", "/items/99999999999999999999").
bool contains(const nlohmann::json& document, const nlohmann::json::json_pointer& at) {
  try {
    return document.contains(at);
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

constexpr double k_seconds_per_day = 86'400;

double unix_seconds(std::chrono::system_clock::time_point when) {
  return std::chrono::duration<double>(when.time_since_epoch()).count();
}

// "14 days", "0.5 days", "1 day": the configured minimum, as written.
std::string days_text(double days) {
  std::array<char, 32> text{};
  const std::to_chars_result written = std::to_chars(text.data(), text.data() + text.size(), days);
  return std::string(text.data(), written.ptr) + (days == 1 ? " day" : " days");
}

// A span of validity, rounded down so that it never reads as more than is left: "2.5 days" from
// a day on, "5h30m" under a day, "under a minute" below that.
std::string span_text(double seconds) {
  if (seconds >= k_seconds_per_day) {
    std::array<char, 32> text{};
    std::snprintf(text.data(), text.size(), "%.1f days",
                  std::floor(seconds / k_seconds_per_day * 10) / 10);
    return text.data();
  }
  const auto minutes = static_cast<std::int64_t>(seconds / 60);
  return minutes == 0 ? "under a minute" : util::format_duration(std::chrono::minutes(minutes));
}

// "2026-12-07T11:00:00Z".
std::string utc_text(std::chrono::system_clock::time_point when) {
  const std::time_t time = std::chrono::system_clock::to_time_t(when);
  std::tm parts{};
  gmtime_r(&time, &parts);
  std::array<char, 32> text{};
  std::strftime(text.data(), text.size(), "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text.data();
}

} // namespace

bool needs_body(const config::HttpExpect& expect) {
  return expect.body_contains.has_value() || !expect.json.empty();
}

ExpectOutcome evaluate_response(const config::HttpExpect& expect, int status, std::string_view body,
                                std::chrono::nanoseconds latency) {
  const bool status_ok =
      expect.status.empty()
          ? (status >= 200 && status <= 299)
          : std::find(expect.status.begin(), expect.status.end(), status) != expect.status.end();
  if (!status_ok) {
    std::string problem = "status " + std::to_string(status) + ", want " +
                          (expect.status.empty() ? std::string("2xx") : status_list(expect.status));
    if (status >= 300 && status <= 399) {
      problem += " (redirects are not followed unless follow_redirects: true)";
    }
    return unmet(problem, "status");
  }
  if (expect.body_contains && body.find(*expect.body_contains) == std::string_view::npos) {
    return unmet("body does not contain \"" + util::truncate(*expect.body_contains, 80) + "\"",
                 "body");
  }
  if (!expect.json.empty()) {
    const nlohmann::json document = nlohmann::json::parse(body, nullptr, false);
    if (document.is_discarded()) {
      return unmet("body is not valid JSON", "json");
    }
    for (const auto& [pointer, want] : expect.json) {
      const nlohmann::json::json_pointer at(pointer);
      if (!contains(document, at)) {
        return unmet(pointer + " is missing, want " + want.dump(), "json");
      }
      const nlohmann::json& got = document.at(at);
      if (!json_equal(got, want)) {
        return unmet(pointer + " is " + util::truncate(got.dump(), 80) + ", want " + want.dump(),
                     "json");
      }
    }
  }
  if (expect.max_latency && latency > *expect.max_latency) {
    return unmet("took " + util::format_latency(latency) + ", budget " +
                     util::format_duration(*expect.max_latency),
                 "latency");
  }
  return {};
}

ExpectOutcome
evaluate_tls_expiry(const config::HttpExpect& expect,
                    std::optional<std::chrono::system_clock::time_point> earliest_expiry,
                    std::chrono::system_clock::time_point now) {
  if (!expect.tls_min_days) {
    return {};
  }
  const std::string wanted = days_text(*expect.tls_min_days);
  if (!earliest_expiry) {
    return unmet("no certificate expiry seen, expected at least " + wanted + " left", "tls_expiry");
  }
  // In seconds as doubles: a notAfter far in the future (9999-12-31 means "never") must not
  // overflow a subtraction of nanosecond counts.
  const double left = unix_seconds(*earliest_expiry) - unix_seconds(now);
  if (left >= *expect.tls_min_days * k_seconds_per_day) {
    return {};
  }
  const std::string when = " (" + utc_text(*earliest_expiry) + ")";
  if (left < 0) {
    return unmet("certificate expired " + span_text(-left) + " ago" + when +
                     ", expected at least " + wanted + " left",
                 "tls_expiry");
  }
  return unmet("certificate expires in " + span_text(left) + when + ", expected at least " + wanted,
               "tls_expiry");
}

} // namespace probe::checks
