// The one interface every kind of target is checked through. A failed check is data, not an
// exception: run() always returns a CheckResult, within the target's timeout, whatever the
// target does — refuses, hangs after accept, trickles bytes, answers garbage.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "probe/config/config.hpp"

namespace probe::util {
class Clock;
class Watchdog;
} // namespace probe::util

namespace probe::checks {

// The `result` label of probe_checks_total: failure = the target answered wrong or not at all;
// timeout = no answer within `timeout`; error = probe could not run the check itself.
enum class CheckStatus { success, failure, timeout, error };

std::string_view to_string(CheckStatus status);

// Where an HTTP check's time went (probe_http_duration_seconds{phase}), as blackbox_exporter
// splits it. On a kept-alive connection resolve, connect and tls are 0.
struct HttpPhases {
  std::chrono::nanoseconds resolve{0};    // name lookup
  std::chrono::nanoseconds connect{0};    // TCP handshake
  std::chrono::nanoseconds tls{0};        // TLS handshake (https)
  std::chrono::nanoseconds processing{0}; // request sent -> first byte of the answer
  std::chrono::nanoseconds transfer{0};   // first byte -> last byte
};

struct CheckResult {
  CheckStatus status = CheckStatus::error;
  std::chrono::nanoseconds latency{0};
  // One line for people: what was asked and what came back ("GET /health -> 503").
  std::string detail;
  // Machine-readable reason on failure: "connection_refused", "status", "no_response",
  // "rejecting", "auth_failed", "query_failed", "stale", ... (empty on success).
  std::string reason;
  std::optional<int> http_status;
  std::optional<double> heartbeat_age_seconds;
  // HTTP checks that got an answer: the phases of this request.
  std::optional<HttpPhases> http_phases;
  // https checks whose handshake completed: notAfter of the earliest-expiring certificate the
  // server presented (probe_tls_earliest_cert_expiry_timestamp_seconds).
  std::optional<std::chrono::system_clock::time_point> tls_earliest_expiry;

  bool ok() const { return status == CheckStatus::success; }
};

class Check {
public:
  virtual ~Check() = default;
  // Checks the target once and returns within `timeout` (plus scheduling slack).
  virtual CheckResult run(std::chrono::milliseconds timeout) = 0;
};

class PushRegistry;

// What checks share and must not own: the time source, the deadline timer thread, and where
// pushes to push-fed checks are delivered (none: such a check is fed only by a direct call).
struct CheckContext {
  const util::Clock* clock = nullptr;
  util::Watchdog* watchdog = nullptr;
  PushRegistry* pushes = nullptr;
};

// Builds the check for `target` (the type -> factory table lives in check_factory.cpp).
std::unique_ptr<Check> make_check(const config::Target& target, const CheckContext& context);

// Helpers for the check implementations.
CheckResult make_result(CheckStatus status, std::string detail, std::string reason = {});

} // namespace probe::checks
