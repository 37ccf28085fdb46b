// tcp: the target is up when a TCP connection to host:port completes within the timeout.
// Resolved and connected by libcurl on the loop (a connect-only transfer), so the name lookup
// is bounded by the timeout too and a check in flight holds no thread.
#pragma once

#include <array>

#include "probe/checks/check.hpp"
#include "probe/checks/curl_transfer.hpp"

namespace probe::checks {

class TcpCheck final : public Check {
public:
  explicit TcpCheck(config::TcpTarget target);
  void start(CheckIo& io, std::chrono::milliseconds timeout, CheckDone done) override;

private:
  config::TcpTarget m_target;
  std::string m_endpoint; // "host:port", as the detail names it
  std::array<char, 256> m_error{};
  // One per run: letting go of the handle closes the connection the run made.
  CurlEasy m_easy;
};

// Connects to `host`:`port` before `deadline`, blocking; returns the connected fd or -1 with
// `result` describing why not. For probe's own client of a sidecar, not for checks.
int connect_tcp(const std::string& host, std::uint16_t port,
                std::chrono::steady_clock::time_point deadline, CheckResult* result);

} // namespace probe::checks
