// Kubernetes probe semantics of TargetState: UNKNOWN until a threshold is met, DOWN after
// failure_threshold failures in a row, UP after success_threshold successes in a row, and a
// single blip in between changes nothing.
#include <gtest/gtest.h>

#include "probe/engine/target_state.hpp"

namespace probe::engine {
namespace {

using checks::CheckStatus;
using std::chrono::system_clock;

checks::CheckResult pass() {
  return checks::make_result(CheckStatus::success, "ok");
}
checks::CheckResult fail() {
  return checks::make_result(CheckStatus::failure, "GET / -> 500");
}

system_clock::time_point at(int second) {
  return system_clock::time_point(std::chrono::seconds(1'700'000'000 + second));
}

TEST(TargetState, StartsUnknownAndNeedsSuccessThresholdToGoUp) {
  TargetState state;
  EXPECT_EQ(state.health, Health::unknown);
  EXPECT_FALSE(state.apply(pass(), 2, 3, at(0)));
  EXPECT_EQ(state.health, Health::unknown);
  EXPECT_TRUE(state.apply(pass(), 2, 3, at(1)));
  EXPECT_EQ(state.health, Health::up);
  EXPECT_EQ(state.since, at(1));
  EXPECT_EQ(state.consecutive_successes, 2);
}

TEST(TargetState, GoesDownOnlyAfterFailureThresholdInARow) {
  TargetState state;
  state.apply(pass(), 1, 3, at(0));
  ASSERT_EQ(state.health, Health::up);
  state.apply(fail(), 1, 3, at(1));
  state.apply(fail(), 1, 3, at(2));
  EXPECT_EQ(state.health, Health::up);
  EXPECT_EQ(state.consecutive_failures, 2);
  EXPECT_TRUE(state.apply(fail(), 1, 3, at(3)));
  EXPECT_EQ(state.health, Health::down);
  EXPECT_EQ(state.since, at(3));
  EXPECT_EQ(state.last_success, at(0));
}

TEST(TargetState, ASuccessResetsTheFailureCount) {
  TargetState state;
  state.apply(pass(), 1, 2, at(0));
  state.apply(fail(), 1, 2, at(1));
  state.apply(pass(), 1, 2, at(2));
  state.apply(fail(), 1, 2, at(3));
  EXPECT_EQ(state.health, Health::up);
  EXPECT_EQ(state.consecutive_failures, 1);
  EXPECT_EQ(state.checks, 4U);
}

TEST(TargetState, DownNeedsSuccessThresholdToRecover) {
  TargetState state;
  state.apply(fail(), 3, 1, at(0));
  ASSERT_EQ(state.health, Health::down);
  state.apply(pass(), 3, 1, at(1));
  state.apply(pass(), 3, 1, at(2));
  EXPECT_EQ(state.health, Health::down);
  state.apply(pass(), 3, 1, at(3));
  EXPECT_EQ(state.health, Health::up);
  EXPECT_EQ(state.last.detail, "ok");
}

} // namespace
} // namespace probe::engine
