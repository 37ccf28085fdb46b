// The PostgreSQL event store on a real server: migrations apply once and again as a no-op,
// storing is idempotent on event_id, the log lists newest first, counts are by kind, and the
// Alembic revision is read when the table exists.
#include "pg_env.hpp"
#include <unistd.h>

#include "probe/deploy/event_store.hpp"
#include "probe/util/error.hpp"

namespace probe::tests {
namespace {

TEST(EventStore, MigratesOnceStoresIdempotentlyAndListsNewestFirst) {
  PROBE_REQUIRE_PG();
  const std::string dsn = fresh_database_dsn("probe_store_" + std::to_string(getpid()));
  deploy::PostgresEventStore store(dsn);
  deploy::PostgresEventStore again(dsn); // a second probe starting: migrations are a no-op
  EXPECT_EQ(store.schema_version(), 1);
  EXPECT_EQ(again.schema_version(), 1);

  deploy::DeployEvent first =
      deploy::make_event(deploy::EventKind::deploy_started, "aaaaaaa", "", "ci");
  first.details = {{"note", "ünïcode ok"}};
  deploy::DeployEvent second =
      deploy::make_event(deploy::EventKind::deploy_succeeded, "aaaaaaa", "", "ci");
  second.occurred_at = first.occurred_at + std::chrono::milliseconds(5);
  EXPECT_TRUE(store.store(first));
  EXPECT_FALSE(store.store(first)) << "the same event_id twice must store once";
  EXPECT_TRUE(again.store(second));

  const std::vector<deploy::DeployEvent> log = store.list(10, deploy::k_unbounded).events;
  ASSERT_EQ(log.size(), 2U);
  EXPECT_EQ(log[0], second);
  EXPECT_EQ(log[1], first);
  EXPECT_EQ(store.count_by_kind(),
            (std::map<std::string, long long>{{"deploy_started", 1}, {"deploy_succeeded", 1}}));
  EXPECT_EQ(store.alembic_revision(), std::nullopt);
  exec_outside_transaction(dsn, "CREATE TABLE alembic_version (version_num text); "
                                "INSERT INTO alembic_version VALUES ('4f2a9c')");
  EXPECT_EQ(store.alembic_revision(), "4f2a9c");
}

TEST(EventStore, AnUnreachableDatabaseIsAnErrorWithoutThePassword) {
  try {
    deploy::PostgresEventStore store("postgresql://app:hunter2-secret@127.0.0.1:1/app");
    FAIL() << "connected to a closed port";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find("hunter2-secret"), std::string::npos) << e.what();
    EXPECT_EQ(e.exit_code(), 1);
  }
}

} // namespace
} // namespace probe::tests
