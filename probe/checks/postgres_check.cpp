// The PostgreSQL liveness check; see postgres_check.hpp and pg_session.hpp.
#include "probe/checks/postgres_check.hpp"

#include "probe/checks/pg_session.hpp"
#include "probe/util/strings.hpp"

namespace probe::checks {

CheckResult PostgresCheck::run(std::chrono::milliseconds timeout) {
  const auto start = std::chrono::steady_clock::now();
  PgQueryOutcome outcome = run_pg_query(m_target.dsn.reveal(), m_target.query, start + timeout);
  CheckResult result =
      outcome.ok ? make_result(CheckStatus::success, util::truncate(m_target.query, 60) + " -> " +
                                                         std::to_string(outcome.rows) + " row(s)")
                 : std::move(outcome.failure);
  result.latency = std::chrono::steady_clock::now() - start;
  return result;
}

} // namespace probe::checks
