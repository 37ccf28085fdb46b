// postgres: connect over TCP and run `SELECT 1` (or the target's `query`) within the timeout, on
// the check loop (pg_session.hpp): a check in flight holds a socket, not a thread.
#pragma once

#include "probe/checks/check.hpp"
#include "probe/checks/pg_session.hpp"

namespace probe::checks {

class PostgresCheck final : public Check {
public:
  // `lookup` resolves the DSN's host name off the loop; tests pass a slow one.
  explicit PostgresCheck(config::PostgresTarget target, HostLookup lookup = system_host_lookup)
      : m_target(std::move(target)), m_session(std::move(lookup)) {}
  void start(CheckIo& io, std::chrono::milliseconds timeout, CheckDone done) override;

private:
  config::PostgresTarget m_target;
  PgSession m_session;
};

} // namespace probe::checks
