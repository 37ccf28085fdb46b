// postgres: connect over TCP and run `SELECT 1` (or the target's `query`) within the timeout.
#pragma once

#include "probe/checks/check.hpp"

namespace probe::checks {

class PostgresCheck final : public Check {
public:
  explicit PostgresCheck(config::PostgresTarget target) : m_target(std::move(target)) {}
  CheckResult run(std::chrono::milliseconds timeout) override;

private:
  config::PostgresTarget m_target;
};

} // namespace probe::checks
