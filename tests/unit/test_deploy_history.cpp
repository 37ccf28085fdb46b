// The release rules read from the event log, in one place (history.hpp): which events leave a
// SHA running and healthy, which SHA runs now (probe_deploy_info), and the previous good SHA a
// failed deploy rolls back to. The log is given newest received first; its order decides, never
// the events' occurred_at.
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "probe/deploy/history.hpp"

namespace probe::deploy {
namespace {

// An event of `kind` for `sha` (replacing `previous`), dated `year` — a date that must not matter.
DeployEvent logged(EventKind kind, const std::string& sha, const std::string& previous = "",
                   const std::string& year = "2026") {
  DeployEvent event = make_event(kind, sha, previous, "ci");
  event.occurred_at = *parse_time(year + "-01-01T00:00:00Z");
  return event;
}

TEST(History, OnlySucceededEventsAreGoodReleases) {
  for (const EventKind kind : k_event_kinds) {
    const bool good = kind == EventKind::deploy_succeeded || kind == EventKind::rollback_succeeded;
    EXPECT_EQ(is_good_release(logged(kind, "aaaaaaa")), good) << to_string(kind);
  }
  DeployEvent foreign = logged(EventKind::deploy_succeeded, "aaaaaaa");
  foreign.kind = "deploy_succeeded_maybe";
  EXPECT_FALSE(is_good_release(foreign));
}

TEST(History, OutcomesAreTheSucceededAndFailedKinds) {
  for (const EventKind kind : k_event_kinds) {
    const bool started = kind == EventKind::deploy_started || kind == EventKind::rollback_started;
    EXPECT_EQ(is_outcome(logged(kind, "aaaaaaa")), !started) << to_string(kind);
  }
}

TEST(History, TheCurrentReleaseIsTheNewestGoodOne) {
  const std::vector<DeployEvent> log{
      logged(EventKind::rollback_started, "aaaaaaa", "ccccccc"),
      logged(EventKind::deploy_failed, "ccccccc", "bbbbbbb"),
      logged(EventKind::deploy_started, "ccccccc", "bbbbbbb"),
      logged(EventKind::deploy_succeeded, "bbbbbbb", "aaaaaaa", "2020"),
      logged(EventKind::deploy_succeeded, "aaaaaaa", "", "2262"),
  };
  const std::optional<DeployEvent> running = current_release(log);
  ASSERT_TRUE(running);
  EXPECT_EQ(running->sha, "bbbbbbb");
  EXPECT_EQ(running->previous_sha, "aaaaaaa");
}

TEST(History, ARollbackThatSucceededIsTheCurrentRelease) {
  const std::vector<DeployEvent> log{
      logged(EventKind::rollback_succeeded, "aaaaaaa", "ccccccc"),
      logged(EventKind::deploy_failed, "ccccccc", "aaaaaaa"),
      logged(EventKind::deploy_succeeded, "aaaaaaa"),
  };
  EXPECT_EQ(current_release(log)->sha, "aaaaaaa");
  EXPECT_EQ(current_release(log)->previous_sha, "ccccccc");
}

TEST(History, NoGoodReleaseNoCurrentOne) {
  EXPECT_EQ(current_release({}), std::nullopt);
  EXPECT_EQ(current_release({logged(EventKind::deploy_failed, "aaaaaaa"),
                             logged(EventKind::deploy_started, "aaaaaaa")}),
            std::nullopt);
}

TEST(History, PreviousGoodSkipsTheShaBeingDeployedAndShasThatLastFailed) {
  const std::vector<DeployEvent> log{
      logged(EventKind::deploy_succeeded, "ddddddd"),
      logged(EventKind::rollback_failed, "bbbbbbb"),
      logged(EventKind::deploy_succeeded, "ccccccc"),
      logged(EventKind::deploy_succeeded, "bbbbbbb"),
  };
  EXPECT_EQ(previous_good(log, "eeeeeee")->sha, "ddddddd");
  EXPECT_EQ(previous_good(log, "ddddddd")->sha, "ccccccc");
  // bbbbbbb's last outcome was a failed rollback: never a target, though it once succeeded.
  const std::vector<DeployEvent> only_b{log[1], log[3]};
  EXPECT_EQ(previous_good(only_b, "zzzzzzz"), std::nullopt);
}

TEST(History, StartedEventsDoNotJudgeASha) {
  // A deploy of aaaaaaa that started and never finished does not stop it being good.
  const std::vector<DeployEvent> log{
      logged(EventKind::deploy_started, "aaaaaaa"),
      logged(EventKind::deploy_succeeded, "aaaaaaa"),
  };
  EXPECT_EQ(previous_good(log, "bbbbbbb")->sha, "aaaaaaa");
}

} // namespace
} // namespace probe::deploy
