// The rules of the event store that need no database. previous_good() picks the rollback target,
// so who can influence it matters (issue 12, item 9): the order the store received events
// decides, never `occurred_at`, which whoever holds the token writes — an event
// `deploy_succeeded evil123` dated 2262 does not win over a later real `deploy_succeeded
// good003`. is_content_error() tells a refused event (set aside) from an unreachable or failing
// database (journaled and retried) by SQLSTATE class (item 8).
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "probe/deploy/event_store.hpp"
#include "probe/deploy/history.hpp"

namespace probe::deploy {
namespace {

DeployEvent received(const std::string& kind, const std::string& sha, const std::string& when) {
  DeployEvent event;
  event.kind = kind;
  event.sha = sha;
  event.occurred_at = *parse_time(when);
  return event;
}

TEST(PreviousGood, FollowsTheOrderReceivedNotTheClientsClock) {
  // Newest received first, as PostgresEventStore::list and the recorders return them.
  const std::vector<DeployEvent> log{
      received("deploy_failed", "bad0004", "2026-11-27T10:03:00Z"),
      received("deploy_succeeded", "good003", "2026-11-27T10:02:00Z"),
      received("deploy_succeeded", "evil123", "2262-01-01T00:00:00Z"),
      received("deploy_succeeded", "good002", "2026-11-27T10:00:00Z"),
  };
  ASSERT_TRUE(previous_good(log, "bad0004"));
  EXPECT_EQ(previous_good(log, "bad0004")->sha, "good003");
  // A time in the past does not bury a newer success either.
  const std::vector<DeployEvent> backdated{
      received("deploy_succeeded", "good005", "1970-01-01T00:00:00Z"),
      received("deploy_succeeded", "good004", "2026-11-27T10:00:00Z"),
  };
  EXPECT_EQ(previous_good(backdated, "bad0006")->sha, "good005");
}

TEST(IsContentError, TellsRefusedDataFromEverythingElse) {
  for (const char* refused : {"22P05", "22021", "22001", "22007", "23514", "23502", "54000"}) {
    EXPECT_TRUE(is_content_error(refused)) << refused;
  }
  // Connection, server state, our own SQL, serialization, privileges: retry, never set aside.
  for (const char* other : {"08006", "57P01", "57P03", "53300", "42P01", "42601", "40001", "25P02",
                            "42501", "", "22", "2200"}) {
    EXPECT_FALSE(is_content_error(other)) << other;
  }
}

} // namespace
} // namespace probe::deploy
