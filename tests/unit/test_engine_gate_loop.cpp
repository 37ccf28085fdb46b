// The gate's and the verification window's loops (run_gate, run_watch) on a manual clock and a
// scripted source: rounds start every poll_interval, a round that ran long is followed at once,
// the timeout and the window end them exactly — asserted as values, with no real sleep.
#include <chrono>
#include <deque>

#include <gtest/gtest.h>

#include "probe/engine/gate_runner.hpp"
#include "tests/fakes/manual_clock.hpp"

namespace probe::engine {
namespace {

using namespace std::chrono_literals;
using Sleeps = std::vector<std::chrono::nanoseconds>;

// One critical target, "api", whose successive results are scripted; each poll takes `takes`
// of the manual clock's time.
class ScriptedSource final : public GateSource {
public:
  ScriptedSource(fakes::ManualClock& clock, std::deque<bool> results, bool last_repeats,
                 std::chrono::milliseconds takes = 0ms)
      : m_clock(clock), m_results(std::move(results)), m_last_repeats(last_repeats),
        m_takes(takes) {}

  void poll(std::optional<GateTracker>& tracker) override {
    ++polls;
    m_clock.advance(m_takes);
    if (!tracker) {
      tracker.emplace(std::vector<std::pair<std::string, bool>>{{"api", true}}, 2);
    }
    const bool ok = m_results.front();
    if (m_results.size() > 1 || !m_last_repeats) {
      m_results.pop_front();
    }
    tracker->observe("api", ok, ok ? "GET /health -> 200" : "GET /health -> 500", 1);
  }

  int polls = 0;

private:
  fakes::ManualClock& m_clock;
  std::deque<bool> m_results;
  bool m_last_repeats;
  std::chrono::milliseconds m_takes;
};

GateOutcome gate(ScriptedSource& source, const fakes::ManualClock& clock,
                 std::chrono::milliseconds timeout, std::chrono::milliseconds poll_interval) {
  std::optional<GateTracker> tracker;
  return run_gate(source, tracker, timeout, poll_interval, {}, clock);
}

TEST(GateLoop, OpensAtTheRequiredPassWithRoundsEveryPollInterval) {
  fakes::ManualClock clock;
  ScriptedSource source(clock, {false, true, true}, true);
  const GateOutcome outcome = gate(source, clock, 10s, 250ms);
  EXPECT_TRUE(outcome.open);
  EXPECT_EQ(source.polls, 3);
  EXPECT_EQ(outcome.waited, 500ms);
  EXPECT_EQ(clock.sleeps(), (Sleeps{250ms, 250ms}));
}

TEST(GateLoop, TimesOutExactlyAtTheTimeout) {
  fakes::ManualClock clock;
  ScriptedSource source(clock, {false}, true);
  const GateOutcome outcome = gate(source, clock, 1s, 250ms);
  EXPECT_FALSE(outcome.open);
  EXPECT_TRUE(outcome.error.empty());
  EXPECT_EQ(outcome.waited, 1s);
  EXPECT_EQ(source.polls, 4); // at 0, 250, 500 and 750 ms
  EXPECT_EQ(clock.sleeps(), (Sleeps{250ms, 250ms, 250ms, 250ms}));
}

TEST(GateLoop, ARoundThatRanLongIsFollowedAtOnce) {
  fakes::ManualClock clock;
  ScriptedSource source(clock, {false}, true, 400ms);
  const GateOutcome outcome = gate(source, clock, 1s, 250ms);
  EXPECT_FALSE(outcome.open);
  EXPECT_EQ(source.polls, 3); // at 0, 400 and 800 ms; the third ends past the timeout
  EXPECT_EQ(outcome.waited, 1200ms);
  EXPECT_TRUE(clock.sleeps().empty());
}

TEST(GateLoop, TheLastRoundSleepsOnlyToTheDeadline) {
  fakes::ManualClock clock;
  ScriptedSource source(clock, {false}, true, 100ms);
  const GateOutcome outcome = gate(source, clock, 650ms, 250ms);
  EXPECT_FALSE(outcome.open);
  EXPECT_EQ(source.polls, 3); // at 0, 250 and 500 ms, each taking 100 ms
  EXPECT_EQ(clock.sleeps(), (Sleeps{150ms, 150ms, 50ms}));
  EXPECT_EQ(outcome.waited, 650ms);
}

// "api" refuses connections (nothing listening) until its `listening_after`-th retry between
// rounds; then it answers. One pass opens the gate.
class RefusingSource final : public GateSource {
public:
  explicit RefusingSource(int listening_after) : m_listening_after(listening_after) {}

  void poll(std::optional<GateTracker>& tracker) override {
    ++polls;
    if (!tracker) {
      tracker.emplace(std::vector<std::pair<std::string, bool>>{{"api", true}}, 1);
    }
    tracker->observe("api", m_listening, m_listening ? "GET /health -> 200" : "refused", 5);
  }
  void retry_refused(std::optional<GateTracker>& tracker) override {
    ++retries;
    if (retries >= m_listening_after) {
      m_listening = true;
      tracker->observe("api", true, "GET /health -> 200", 5);
    }
  }
  bool refusing() const override { return !m_listening; }

  int polls = 0;
  int retries = 0;

private:
  int m_listening_after;
  bool m_listening = false;
};

TEST(GateLoop, ARefusingTargetIsAskedAgainEveryTwentyMillisecondsBetweenRounds) {
  fakes::ManualClock clock;
  RefusingSource source(4);
  std::optional<GateTracker> tracker;
  const GateOutcome outcome = run_gate(source, tracker, 10s, 250ms, {}, clock);
  EXPECT_TRUE(outcome.open);
  EXPECT_EQ(outcome.waited, 80ms) << "seen at the 4th retry, not at the next round (250 ms)";
  EXPECT_EQ(source.polls, 1);
  EXPECT_EQ(clock.sleeps(), (Sleeps{20ms, 20ms, 20ms, 20ms}));
}

TEST(GateLoop, RetriesOfARefusingTargetStopAtTheNextRoundAndCountNoFailure) {
  fakes::ManualClock clock;
  RefusingSource source(1000);
  std::optional<GateTracker> tracker;
  const GateOutcome outcome = run_gate(source, tracker, 500ms, 250ms, {}, clock);
  EXPECT_FALSE(outcome.open);
  EXPECT_EQ(outcome.waited, 500ms);
  EXPECT_EQ(source.polls, 2); // at 0 and 250 ms
  // 12 retries fit before each next round (at 20 ... 240 ms), then 10 ms to the round.
  EXPECT_EQ(source.retries, 24);
  EXPECT_EQ(tracker->targets().front().failures, 2) << "a retry still refused is no failure";
  EXPECT_EQ(clock.sleeps().size(), 26U);
}

TEST(WatchLoop, ATargetGoingDownEndsTheWindowAtThatRound) {
  fakes::ManualClock clock;
  ScriptedSource source(clock, {true, true, false}, true);
  std::optional<GateTracker> tracker;
  const std::vector<std::string> down = run_watch(source, tracker, 10s, 250ms, {}, clock);
  EXPECT_EQ(down, (std::vector<std::string>{"api: GET /health -> 500"}));
  EXPECT_EQ(source.polls, 3);
  EXPECT_EQ(clock.sleeps(), (Sleeps{250ms, 250ms}));
}

TEST(WatchLoop, AWindowThatStaysUpLastsExactlyTheWindow) {
  fakes::ManualClock clock;
  ScriptedSource source(clock, {true}, true);
  std::optional<GateTracker> tracker;
  const auto start = clock.steady_now();
  EXPECT_TRUE(run_watch(source, tracker, 1s, 250ms, {}, clock).empty());
  EXPECT_EQ(source.polls, 4);
  EXPECT_EQ(clock.steady_now() - start, 1s);
}

} // namespace
} // namespace probe::engine
