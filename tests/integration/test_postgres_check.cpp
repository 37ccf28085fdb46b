// The postgres check against a real PostgreSQL server (started by tests/run.sh): success, the
// error classes pg_isready tells apart (no response, rejecting, auth failed, query failed,
// timeout), the deadline honoured against a server that hangs, and no password in any message.
// Time bounds only tell a wait for the timeout from none (tests/support/bounds.hpp).
#include <chrono>
#include <regex>
#include <thread>

#include "pg_env.hpp"
#include <libpq-fe.h>

#include "probe/checks/check.hpp"
#include "probe/config/config_loader.hpp"
#include "tests/standins/tcp_standin.hpp"
#include "tests/support/bounds.hpp"

namespace probe::tests {
namespace {

using namespace std::chrono_literals;
using checks::CheckStatus;

config::Target postgres_target(const std::string& dsn, const std::string& query = "SELECT 1") {
  config::Target target;
  target.name = "db";
  target.type = config::TargetType::postgres;
  target.timeout = 2s;
  target.interval = 10s;
  config::PostgresTarget spec;
  spec.dsn = util::Secret(dsn);
  spec.query = query;
  target.spec = spec;
  return target;
}

checks::CheckResult run_target(const config::Target& target) {
  const checks::CheckContext context{};
  return checks::make_check(target, context)->run(target.timeout);
}

// The first value `sql` returns, by plain blocking libpq, or "error: ..." (the check itself only
// runs on the loop).
std::string first_value(const std::string& dsn, const std::string& sql) {
  PGconn* conn = PQconnectdb(dsn.c_str());
  PGresult* result = PQexec(conn, sql.c_str());
  const std::string value = PQresultStatus(result) == PGRES_TUPLES_OK && PQntuples(result) > 0
                                ? PQgetvalue(result, 0, 0)
                                : "error: " + std::string(PQerrorMessage(conn));
  PQclear(result);
  PQfinish(conn);
  return value;
}

// The test DSN with its password replaced.
std::string with_password(const std::string& dsn, const std::string& password) {
  return std::regex_replace(dsn, std::regex(":[^:@/]*@"), ":" + password + "@");
}

std::string with_port(int port) {
  return "postgresql://postgres:hunter2-secret@127.0.0.1:" + std::to_string(port) +
         "/postgres?sslmode=disable";
}

TEST(PostgresCheck, SelectOneSucceeds) {
  PROBE_REQUIRE_PG();
  const checks::CheckResult result = run_target(postgres_target(test_pg_dsn()));
  EXPECT_EQ(result.status, CheckStatus::success) << result.detail;
  EXPECT_EQ(result.detail, "SELECT 1 -> 1 row(s)");
  EXPECT_GT(result.latency.count(), 0);
}

// The apps' own DATABASE_URL, in each form SQLAlchemy takes, checks the real server through the
// config loader as `probe serve` reads it.
TEST(PostgresCheck, SqlAlchemyUrlsFromTheEnvironmentReachTheRealServer) {
  PROBE_REQUIRE_PG();
  const std::string dsn = test_pg_dsn(); // postgresql://postgres:PASSWORD@127.0.0.1:PORT/postgres
  ASSERT_EQ(dsn.rfind("postgresql://", 0), 0U) << "tests/lib/pg.sh gives a URI";
  const std::string rest = dsn.substr(std::string("postgresql://").size());
  for (const std::string& url : {"postgresql+asyncpg://" + rest + "?ssl=disable",
                                 "postgresql+psycopg2://" + rest, "postgres://" + rest}) {
    const config::Config config = config::load_config_string(
        "targets:\n  - {name: db, type: postgres, dsn: \"${DATABASE_URL}\"}\n", "probe.yaml",
        [&](const std::string& name) -> std::optional<std::string> {
          return name == "DATABASE_URL" ? std::optional<std::string>(url) : std::nullopt;
        });
    const checks::CheckResult result = run_target(config.targets.at(0));
    EXPECT_EQ(result.status, CheckStatus::success)
        << url.substr(0, url.find(':')) << ": " << result.detail;
  }
}

TEST(PostgresCheck, CustomQuerySucceeds) {
  PROBE_REQUIRE_PG();
  const checks::CheckResult result =
      run_target(postgres_target(test_pg_dsn(), "SELECT datname FROM pg_database"));
  EXPECT_EQ(result.status, CheckStatus::success) << result.detail;
}

TEST(PostgresCheck, BadQueryIsQueryFailed) {
  PROBE_REQUIRE_PG();
  const checks::CheckResult result =
      run_target(postgres_target(test_pg_dsn(), "SELECT * FROM no_such_table"));
  EXPECT_EQ(result.status, CheckStatus::failure);
  EXPECT_EQ(result.reason, "query_failed");
  EXPECT_NE(result.detail.find("no_such_table"), std::string::npos) << result.detail;
}

TEST(PostgresCheck, WrongPasswordIsAuthFailedAndNeverShown) {
  PROBE_REQUIRE_PG();
  const std::string dsn = with_password(test_pg_dsn(), "wrong-pass-xyzzy");
  const checks::CheckResult result = run_target(postgres_target(dsn));
  EXPECT_EQ(result.status, CheckStatus::failure);
  EXPECT_EQ(result.reason, "auth_failed");
  EXPECT_NE(result.detail.find("password authentication failed"), std::string::npos)
      << result.detail;
  EXPECT_EQ(result.detail.find("wrong-pass-xyzzy"), std::string::npos) << result.detail;
}

TEST(PostgresCheck, UnknownDatabaseIsRefusedLogin) {
  PROBE_REQUIRE_PG();
  std::string dsn = test_pg_dsn();
  dsn = dsn.substr(0, dsn.rfind('/')) + "/no_such_db";
  const checks::CheckResult result = run_target(postgres_target(dsn));
  EXPECT_EQ(result.status, CheckStatus::failure);
  EXPECT_EQ(result.reason, "auth_failed");
  EXPECT_NE(result.detail.find("no_such_db"), std::string::npos) << result.detail;
}

TEST(PostgresCheck, ClosedPortIsNoResponse) {
  const int port = fakes::closed_port();
  const auto start = std::chrono::steady_clock::now();
  const checks::CheckResult result = run_target(postgres_target(with_port(port)));
  EXPECT_EQ(result.status, CheckStatus::failure);
  EXPECT_EQ(result.reason, "no_response");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s)
      << "a refused connection waited for the timeout";
  EXPECT_EQ(result.detail.find("hunter2-secret"), std::string::npos) << result.detail;
}

TEST(PostgresCheck, StartingUpServerIsRejecting) {
  fakes::TcpStandin standin(fakes::TcpStandin::Mode::postgres_rejecting);
  const checks::CheckResult result = run_target(postgres_target(with_port(standin.port())));
  EXPECT_EQ(result.status, CheckStatus::failure);
  EXPECT_EQ(result.reason, "rejecting");
  EXPECT_NE(result.detail.find("starting up"), std::string::npos) << result.detail;
}

TEST(PostgresCheck, ServerThatNeverAnswersTimesOutOnTime) {
  fakes::TcpStandin standin(fakes::TcpStandin::Mode::hang_after_accept);
  config::Target target = postgres_target(with_port(standin.port()));
  target.timeout = 300ms;
  const auto start = std::chrono::steady_clock::now();
  const checks::CheckResult result = run_target(target);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(result.status, CheckStatus::timeout) << result.detail;
  EXPECT_EQ(result.reason, "timeout");
  EXPECT_GE(took, 290ms);
  EXPECT_LT(took, test_support::hang_bound(300ms)) << "waited for a server that never answers";
}

TEST(PostgresCheck, SlowQueryTimesOutAndTheServerCancelsIt) {
  PROBE_REQUIRE_PG();
  config::Target target =
      postgres_target(test_pg_dsn(), "SELECT pg_sleep(60) /* probe-slow-query-test */");
  target.timeout = 400ms;
  const auto start = std::chrono::steady_clock::now();
  const checks::CheckResult result = run_target(target);
  EXPECT_EQ(result.status, CheckStatus::timeout) << result.detail;
  EXPECT_LT(std::chrono::steady_clock::now() - start, test_support::hang_bound(400ms))
      << "waited for the 60 s query";

  // statement_timeout ends the query server-side, so nothing keeps running after probe left
  // (the query itself would run for a minute).
  bool still_running = true;
  const auto give_up = std::chrono::steady_clock::now() + 30s;
  while (still_running && std::chrono::steady_clock::now() < give_up) {
    const std::string count = first_value(
        test_pg_dsn(),
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%probe-slow-query-test%' "
        "AND pid <> pg_backend_pid() AND state = 'active'");
    ASSERT_EQ(count.rfind("error: ", 0), std::string::npos) << count;
    still_running = count != "0";
    if (still_running) {
      std::this_thread::sleep_for(100ms);
    }
  }
  EXPECT_FALSE(still_running);
}

} // namespace
} // namespace probe::tests
