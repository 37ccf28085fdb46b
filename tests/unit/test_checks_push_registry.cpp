// Pushes delivered by target name: to the receiver registered last under that name, to nobody
// once its registration is gone, and a replaced registration's going leaves its successor
// registered (a reload makes the new check before it drops the old one).
#include <gtest/gtest.h>

#include "probe/checks/push_registry.hpp"

namespace probe::checks {
namespace {

TEST(PushRegistry, APushReachesTheReceiverOfThatName) {
  PushRegistry registry;
  int bot = 0;
  int cron = 0;
  const PushRegistry::Registration a = registry.add("bot", [&] { ++bot; });
  const PushRegistry::Registration b = registry.add("cron", [&] { ++cron; });
  EXPECT_TRUE(registry.record("bot"));
  EXPECT_TRUE(registry.record("bot"));
  EXPECT_TRUE(registry.record("cron"));
  EXPECT_FALSE(registry.record("nobody"));
  EXPECT_EQ(bot, 2);
  EXPECT_EQ(cron, 1);
}

TEST(PushRegistry, AGoneRegistrationTakesNoPush) {
  PushRegistry registry;
  int pushes = 0;
  {
    const PushRegistry::Registration registration = registry.add("bot", [&] { ++pushes; });
    EXPECT_TRUE(registry.record("bot"));
  }
  EXPECT_FALSE(registry.record("bot"));
  EXPECT_EQ(pushes, 1);
}

TEST(PushRegistry, TheOldRegistrationsGoingLeavesTheNewOne) {
  PushRegistry registry;
  int old_pushes = 0;
  int new_pushes = 0;
  auto old_one =
      std::make_unique<PushRegistry::Registration>(registry.add("bot", [&] { ++old_pushes; }));
  const PushRegistry::Registration new_one = registry.add("bot", [&] { ++new_pushes; });
  EXPECT_TRUE(registry.record("bot"));
  old_one.reset();
  EXPECT_TRUE(registry.record("bot"));
  EXPECT_EQ(old_pushes, 0) << "replaced at once";
  EXPECT_EQ(new_pushes, 2);
}

TEST(PushRegistry, AMovedRegistrationStaysOneRegistration) {
  PushRegistry registry;
  int pushes = 0;
  PushRegistry::Registration first = registry.add("bot", [&] { ++pushes; });
  PushRegistry::Registration moved = std::move(first);
  PushRegistry::Registration assigned;
  assigned = std::move(moved);
  EXPECT_TRUE(registry.record("bot"));
  EXPECT_TRUE(registry.record("bot"));
  assigned = PushRegistry::Registration();
  EXPECT_FALSE(registry.record("bot"));
  EXPECT_EQ(pushes, 2);
}

} // namespace
} // namespace probe::checks
