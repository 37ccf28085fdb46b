// tcp: the target is up when a TCP connection to host:port completes within the timeout.
#pragma once

#include "probe/checks/check.hpp"

namespace probe::checks {

class TcpCheck final : public Check {
public:
  explicit TcpCheck(config::TcpTarget target) : m_target(std::move(target)) {}
  CheckResult run(std::chrono::milliseconds timeout) override;

private:
  config::TcpTarget m_target;
};

// Connects to `host`:`port` before `deadline`; returns the connected fd or -1 with `result`
// describing why not. Shared with the checks that speak a protocol on top of TCP.
int connect_tcp(const std::string& host, std::uint16_t port,
                std::chrono::steady_clock::time_point deadline, CheckResult* result);

} // namespace probe::checks
