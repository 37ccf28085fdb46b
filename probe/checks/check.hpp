// The one interface every kind of target is checked through. A failed check is data, not an
// exception: a run always ends in a CheckResult, within the target's timeout, whatever the
// target does — refuses, hangs after accept, trickles bytes, answers garbage.
//
// A check runs on an event loop (CheckIo): start() begins the I/O and returns at once, and the
// result is handed to `done` on the loop's thread when the answer, a failure or the deadline
// comes. So one thread drives thousands of checks in flight, and a slow target costs a socket
// and a few KiB, not a thread. run() is the blocking form for one-off callers and tests.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "probe/config/config.hpp"

namespace probe::util {
class Clock;
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

class CheckIo;

// Called once per run with its result, on the loop's thread.
using CheckDone = std::function<void(CheckResult)>;

class Check {
public:
  virtual ~Check() = default;

  // Starts one run on `io` and returns at once; `done` gets the result on io's loop thread
  // within `timeout` (plus scheduling slack). A check never runs twice at once. Checks built on
  // the loop override this; the default runs the blocking run() on a thread of its own and hands
  // the result back to the loop — for scripted test checks, never for probe's own.
  virtual void start(CheckIo& io, std::chrono::milliseconds timeout, CheckDone done);

  // Checks the target once and returns its result within `timeout`. The default drives start()
  // on a private loop; a check must override at least one of the two.
  virtual CheckResult run(std::chrono::milliseconds timeout);
};

class PushRegistry;

// What checks share and must not own: the time source and where pushes to push-fed checks are
// delivered (none: such a check is fed only by a direct call).
struct CheckContext {
  const util::Clock* clock = nullptr;
  PushRegistry* pushes = nullptr;
};

// Builds the check for `target` (the type -> factory table lives in check_factory.cpp).
std::unique_ptr<Check> make_check(const config::Target& target, const CheckContext& context);

// Helpers for the check implementations.
CheckResult make_result(CheckStatus status, std::string detail, std::string reason = {});

} // namespace probe::checks
