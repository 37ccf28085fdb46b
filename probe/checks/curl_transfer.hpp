// What the HTTP and TCP checks share on top of libcurl: an owned easy handle, how a transfer's
// failure reads to an operator (the same reasons the checks have always given: dns,
// connection_refused, connect, tls, transport, timeout), and the phase timings.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "probe/checks/check.hpp"
#include "probe/checks/check_io.hpp"

namespace probe::checks {

struct CurlEasyCleanup {
  void operator()(CURL* easy) const;
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyCleanup>;

// A new easy handle with the options every check wants: no signals, no proxy from the
// environment (a health check goes straight to its target), only http and https, and
// `error_buffer` (CURL_ERROR_SIZE bytes) for libcurl's words on failure. Throws on failure.
CurlEasy make_easy(char* error_buffer);
// The same options on a handle that exists (one from CheckIo's pool).
void set_common_options(CURL* easy, char* error_buffer);

// Sets the whole-transfer and connect timeouts: name resolution, connect, TLS and every byte
// of the answer fall within `timeout`.
void set_timeouts(CURL* easy, std::chrono::milliseconds timeout);

// The result for a transfer to `host`:`port` that ended in `code` (not CURLE_OK): "connect
// api:8000: Connection refused", "cannot resolve api", after `what` ("GET /health: ...") when
// that is not empty.
CheckResult transfer_failure(CURL* easy, CurlResult code, const char* error_buffer,
                             const std::string& what, const std::string& host, std::uint16_t port,
                             std::chrono::milliseconds timeout);

// The phases of the transfer `easy` just finished (blackbox_exporter's split).
HttpPhases phases_of(CURL* easy);

} // namespace probe::checks
