// The PostgreSQL liveness check; see postgres_check.hpp and pg_session.hpp.
#include "probe/checks/postgres_check.hpp"

#include "probe/util/strings.hpp"

namespace probe::checks {

void PostgresCheck::start(CheckIo& io, std::chrono::milliseconds timeout, CheckDone done) {
  const auto started = std::chrono::steady_clock::now();
  m_session.start(io, m_target.dsn.reveal(), m_target.query, started + timeout,
                  [this, started, done = std::move(done)](PgQueryOutcome outcome) {
                    CheckResult result =
                        outcome.ok ? make_result(CheckStatus::success,
                                                 util::truncate(m_target.query, 60) + " -> " +
                                                     std::to_string(outcome.rows) + " row(s)")
                                   : std::move(outcome.failure);
                    result.latency = std::chrono::steady_clock::now() - started;
                    done(std::move(result));
                  });
}

} // namespace probe::checks
