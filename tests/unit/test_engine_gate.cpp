// The gate's arithmetic: N passes in a row per critical target, a failure resets, non-critical
// targets never hold it, and the blocking list names who holds it shut.
#include <gtest/gtest.h>

#include "probe/engine/gate.hpp"

namespace probe::engine {
namespace {

TEST(GateTracker, OpensAfterRequiredPassesInARow) {
  GateTracker gate({{"api", true}, {"db", true}}, 2);
  EXPECT_FALSE(gate.open());
  gate.observe("api", true, "ok");
  gate.observe("db", true, "ok");
  EXPECT_FALSE(gate.open());
  gate.observe("api", true, "ok");
  gate.observe("db", true, "ok");
  EXPECT_TRUE(gate.open());
}

TEST(GateTracker, AFailureResetsTheStreak) {
  GateTracker gate({{"api", true}}, 3);
  gate.observe("api", true, "ok");
  gate.observe("api", true, "ok");
  gate.observe("api", false, "GET /health -> 503");
  gate.observe("api", true, "ok");
  gate.observe("api", true, "ok");
  EXPECT_FALSE(gate.open());
  ASSERT_EQ(gate.blocking().size(), 1U);
  EXPECT_EQ(gate.blocking()[0]->name, "api");
  EXPECT_EQ(gate.blocking()[0]->streak, 2);
  gate.observe("api", true, "ok");
  EXPECT_TRUE(gate.open());
}

TEST(GateTracker, NonCriticalTargetsNeverHoldTheGate) {
  GateTracker gate({{"api", true}, {"cache", false}}, 1);
  gate.observe("api", true, "ok");
  gate.observe("cache", false, "connection refused");
  EXPECT_TRUE(gate.open());
}

TEST(GateTracker, SetStreakAndUnknownNames) {
  GateTracker gate({{"api", true}}, 3);
  gate.observe("nosuch", true, "ignored");
  gate.set_streak("api", 5, true, "fresh");
  EXPECT_TRUE(gate.open());
  gate.set_streak("api", -1, false, "down");
  EXPECT_FALSE(gate.open());
  EXPECT_EQ(gate.targets()[0].last_detail, "down");
}

} // namespace
} // namespace probe::engine
