// A failed query's error as a user reads it (issue 18): the server's words about their query,
// never the `SET statement_timeout = N;` wrapper probe sends it in, nor libpq's "LINE 1: ..."
// echo of that wrapper. Against the real PostgreSQL tests/run.sh starts.
#include <chrono>

#include "pg_env.hpp"

#include "probe/checks/check.hpp"
#include "probe/checks/heartbeat_check.hpp"

namespace probe::tests {
namespace {

using namespace std::chrono_literals;

checks::CheckResult run_postgres(const std::string& query) {
  config::Target target;
  target.name = "db";
  target.type = config::TargetType::postgres;
  target.timeout = 2s;
  target.interval = 10s;
  config::PostgresTarget spec;
  spec.dsn = util::Secret(test_pg_dsn());
  spec.query = query;
  target.spec = spec;
  return checks::make_check(target, checks::CheckContext{})->run(target.timeout);
}

TEST(PgQueryErrors, ASyntaxErrorShowsTheServersWordsOnly) {
  PROBE_REQUIRE_PG();
  const checks::CheckResult result = run_postgres("SELEC 1");
  EXPECT_EQ(result.reason, "query_failed");
  EXPECT_EQ(result.detail, "query: syntax error at or near \"SELEC\"");
}

TEST(PgQueryErrors, TheMessageNamesWhatFailed) {
  PROBE_REQUIRE_PG();
  const checks::CheckResult result = run_postgres("SELECT 1/0");
  EXPECT_EQ(result.detail, "query: division by zero");
  const checks::CheckResult missing = run_postgres("SELECT * FROM no_such_table");
  EXPECT_EQ(missing.detail, "query: relation \"no_such_table\" does not exist");
  EXPECT_EQ(missing.detail.find("statement_timeout"), std::string::npos);
}

TEST(PgQueryErrors, AHeartbeatQueryErrorHidesTheWrapperToo) {
  PROBE_REQUIRE_PG();
  config::HeartbeatTarget heartbeat;
  heartbeat.source = config::HeartbeatSource::postgres;
  heartbeat.dsn = util::Secret(test_pg_dsn());
  heartbeat.query = "SELECT max(seen_at) FROM no_such_heartbeats";
  heartbeat.max_age = 90s;
  checks::HeartbeatCheck check(heartbeat, {});
  const checks::CheckResult result = check.run(2s);
  EXPECT_EQ(result.reason, "query_failed");
  EXPECT_EQ(result.detail, "query: relation \"no_such_heartbeats\" does not exist");
}

} // namespace
} // namespace probe::tests
