// Heartbeat freshness from each source: a real PostgreSQL table (fresh, stale, empty, both
// timestamp types), a file's mtime, and a push. The age is measured on the database's clock.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "pg_env.hpp"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "probe/checks/heartbeat_check.hpp"

namespace probe::tests {
namespace {

using namespace std::chrono_literals;
using checks::CheckStatus;

void exec_sql(const std::string& sql) {
  ASSERT_NO_THROW(exec_outside_transaction(test_pg_dsn(), sql));
}

config::HeartbeatTarget pg_heartbeat(const std::string& query, std::chrono::milliseconds max_age) {
  config::HeartbeatTarget spec;
  spec.source = config::HeartbeatSource::postgres;
  spec.dsn = util::Secret(test_pg_dsn());
  spec.query = query;
  spec.max_age = max_age;
  return spec;
}

// Each test gets its own table: CTest runs tests in parallel processes against one server.
class PostgresHeartbeat : public ::testing::Test {
protected:
  void SetUp() override {
    PROBE_REQUIRE_PG();
    m_table = "hb_" + std::to_string(getpid());
    exec_sql("DROP TABLE IF EXISTS " + m_table + "; CREATE TABLE " + m_table +
             " (seen_at timestamptz, local_at timestamp)");
  }
  void TearDown() override {
    if (!test_pg_dsn().empty()) {
      exec_sql("DROP TABLE IF EXISTS " + m_table);
    }
  }
  // `sql` with every "hb_test" replaced by this test's table.
  std::string on_table(std::string sql) const {
    for (std::size_t pos = sql.find("hb_test"); pos != std::string::npos;
         pos = sql.find("hb_test", pos)) {
      sql.replace(pos, 7, m_table);
    }
    return sql;
  }
  std::string m_table;
};

TEST_F(PostgresHeartbeat, EmptyTableIsMissing) {
  checks::HeartbeatCheck check(pg_heartbeat(on_table("SELECT max(seen_at) FROM hb_test"), 90s), {});
  const checks::CheckResult result = check.run(10s);
  EXPECT_EQ(result.status, CheckStatus::failure);
  EXPECT_EQ(result.reason, "missing");
  EXPECT_FALSE(result.heartbeat_age_seconds.has_value());
}

TEST_F(PostgresHeartbeat, FreshBeatPasses) {
  exec_sql(on_table("INSERT INTO hb_test VALUES (now() - interval '3 seconds', localtimestamp)"));
  checks::HeartbeatCheck check(pg_heartbeat(on_table("SELECT max(seen_at) FROM hb_test;"), 90s),
                               {});
  const checks::CheckResult result = check.run(10s);
  ASSERT_EQ(result.status, CheckStatus::success) << result.detail;
  ASSERT_TRUE(result.heartbeat_age_seconds.has_value());
  // Ages are checked to be right, not to be read quickly: a time zone mistake is hours off, a
  // loaded machine may take seconds between the insert and the check.
  EXPECT_GE(*result.heartbeat_age_seconds, 2.9);
  EXPECT_LT(*result.heartbeat_age_seconds, 60.0);
}

TEST_F(PostgresHeartbeat, StaleBeatFailsWithItsAge) {
  exec_sql(on_table("INSERT INTO hb_test VALUES (now() - interval '10 minutes', localtimestamp)"));
  checks::HeartbeatCheck check(pg_heartbeat(on_table("SELECT max(seen_at) FROM hb_test"), 90s), {});
  const checks::CheckResult result = check.run(10s);
  EXPECT_EQ(result.status, CheckStatus::failure);
  EXPECT_EQ(result.reason, "stale");
  ASSERT_TRUE(result.heartbeat_age_seconds.has_value());
  EXPECT_GE(*result.heartbeat_age_seconds, 599.0);
  EXPECT_LT(*result.heartbeat_age_seconds, 660.0);
  EXPECT_NE(result.detail.find("max_age 1m30s"), std::string::npos) << result.detail;
}

TEST_F(PostgresHeartbeat, TimestampWithoutTimeZoneWorks) {
  exec_sql(on_table("INSERT INTO hb_test VALUES (now(), localtimestamp - interval '5 seconds')"));
  checks::HeartbeatCheck check(pg_heartbeat(on_table("SELECT max(local_at) FROM hb_test"), 90s),
                               {});
  const checks::CheckResult result = check.run(10s);
  ASSERT_EQ(result.status, CheckStatus::success) << result.detail;
  EXPECT_GE(*result.heartbeat_age_seconds, 4.9);
  EXPECT_LT(*result.heartbeat_age_seconds, 60.0);
}

TEST_F(PostgresHeartbeat, QueryThatIsNotATimestampFails) {
  checks::HeartbeatCheck check(pg_heartbeat("SELECT 'hello'", 90s), {});
  const checks::CheckResult result = check.run(10s);
  EXPECT_NE(result.status, CheckStatus::success);
  EXPECT_EQ(result.reason, "query_failed") << result.detail;
}

class FileHeartbeat : public ::testing::Test {
protected:
  void SetUp() override {
    m_path = std::filesystem::temp_directory_path() /
             ("probe-hb-" + std::to_string(getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override { std::filesystem::remove(m_path); }

  config::HeartbeatTarget spec() const {
    config::HeartbeatTarget heartbeat;
    heartbeat.source = config::HeartbeatSource::file;
    heartbeat.path = m_path.string();
    heartbeat.max_age = 90s;
    return heartbeat;
  }

  void touch(std::chrono::seconds ago) const {
    std::ofstream(m_path) << "beat\n";
    const timespec when{time(nullptr) - ago.count(), 0};
    const std::array<timespec, 2> times{when, when};
    ASSERT_EQ(utimensat(AT_FDCWD, m_path.c_str(), times.data(), 0), 0);
  }

  std::filesystem::path m_path;
};

TEST_F(FileHeartbeat, FreshFilePasses) {
  touch(5s);
  checks::HeartbeatCheck check(spec(), {});
  const checks::CheckResult result = check.run(10s);
  ASSERT_EQ(result.status, CheckStatus::success) << result.detail;
  EXPECT_GE(*result.heartbeat_age_seconds, 4.0); // mtime in whole seconds
  EXPECT_LT(*result.heartbeat_age_seconds, 60.0);
}

TEST_F(FileHeartbeat, OldFileIsStale) {
  touch(120s);
  checks::HeartbeatCheck check(spec(), {});
  const checks::CheckResult result = check.run(10s);
  EXPECT_EQ(result.status, CheckStatus::failure);
  EXPECT_EQ(result.reason, "stale");
  EXPECT_GE(*result.heartbeat_age_seconds, 119.0);
  EXPECT_LT(*result.heartbeat_age_seconds, 180.0);
}

TEST_F(FileHeartbeat, MissingFileIsMissing) {
  checks::HeartbeatCheck check(spec(), {});
  const checks::CheckResult result = check.run(10s);
  EXPECT_EQ(result.status, CheckStatus::failure);
  EXPECT_EQ(result.reason, "missing");
  EXPECT_NE(result.detail.find("does not exist"), std::string::npos);
}

TEST(PushHeartbeat, NothingPushedIsMissingThenAPushPasses) {
  config::HeartbeatTarget spec;
  spec.source = config::HeartbeatSource::push;
  spec.max_age = 90s;
  checks::HeartbeatCheck check(spec, {});
  EXPECT_EQ(check.run(10s).reason, "missing");
  check.record_push();
  const checks::CheckResult result = check.run(10s);
  EXPECT_EQ(result.status, CheckStatus::success) << result.detail;
  EXPECT_LT(*result.heartbeat_age_seconds, 60.0); // just pushed: seconds at most, not +Inf
}

} // namespace
} // namespace probe::tests
