// What makes an HTTP answer "healthy": the expected status list, a substring of the body, JSON
// values at JSON pointers, a latency budget, and (https) enough validity left on the server's
// certificates. Pure functions of the response, tested without a socket; http_check.cpp only
// moves bytes.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "probe/config/config.hpp"

namespace probe::checks {

struct ExpectOutcome {
  bool ok = true;
  std::string problem; // "status 503, want 200", "/status is \"degraded\", want \"ok\""
  std::string reason;  // "status", "body", "json", "latency", "tls_expiry"
};

// True when `expect` needs the response body (body_contains or json).
bool needs_body(const config::HttpExpect& expect);

// Judges one response against `expect`; the first unmet expectation wins.
ExpectOutcome evaluate_response(const config::HttpExpect& expect, int status, std::string_view body,
                                std::chrono::nanoseconds latency);

// Judges the certificates against `expect.tls_min_days`: met when it is unset, or when
// `earliest_expiry` (notAfter of the earliest-expiring certificate the server presented) is at
// least that many days after `now` (exactly that many passes). Unmet, with reason "tls_expiry":
// too few days left ("certificate expires in 2.5 days (2026-12-07T11:00:00Z), expected at least
// 14 days"), already expired, or no expiry known although the expectation is set — an https
// answer always has one, so a missing one fails rather than silently passing.
ExpectOutcome
evaluate_tls_expiry(const config::HttpExpect& expect,
                    std::optional<std::chrono::system_clock::time_point> earliest_expiry,
                    std::chrono::system_clock::time_point now);

} // namespace probe::checks
