// What makes an HTTP answer "healthy": the expected status list, a substring of the body, JSON
// values at JSON pointers, a latency budget. Pure functions of the response, tested without a
// socket; http_check.cpp only moves bytes.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "probe/config/config.hpp"

namespace probe::checks {

struct ExpectOutcome {
  bool ok = true;
  std::string problem; // "status 503, want 200", "/status is \"degraded\", want \"ok\""
  std::string reason;  // "status", "body", "json", "latency"
};

// True when `expect` needs the response body (body_contains or json).
bool needs_body(const config::HttpExpect& expect);

// Judges one response against `expect`; the first unmet expectation wins.
ExpectOutcome evaluate_response(const config::HttpExpect& expect, int status, std::string_view body,
                                std::chrono::nanoseconds latency);

} // namespace probe::checks
