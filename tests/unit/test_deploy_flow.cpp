// The verify state machine on fakes — an in-memory event log, a scripted gate and a recording
// hook runner — so every exit code of the contract is reached deterministically: deployed (0),
// failed with nothing to roll back to (1), rolled back healthy (3), rollback failed (4: hook
// failed, hook missing, still unhealthy), and a target DOWN in the verification window.
#include <deque>

#include <gtest/gtest.h>

#include "probe/deploy/deploy_flow.hpp"
#include "probe/deploy/history.hpp"
#include "tests/fakes/memory_recorder.hpp"

namespace probe::deploy {
namespace {

using namespace std::chrono_literals;
using test_support::MemoryRecorder;

class RecordingRunner final : public util::CommandRunner {
public:
  util::CommandResult run(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                          std::chrono::milliseconds,
                          const std::function<void(const std::string&)>&) override {
    calls.push_back(argv);
    envs.push_back(env);
    return result;
  }
  std::vector<std::vector<std::string>> calls;
  std::vector<std::vector<std::string>> envs;
  util::CommandResult result{0, 0, false, true, "", 10ms, ""};
};

struct Flow {
  MemoryRecorder sink;
  RecordingRunner runner;
  std::deque<bool> gates; // successive gate verdicts
  std::vector<std::string> watch_down;
  VerifyWiring wiring;

  Flow() {
    wiring.events = &sink;
    wiring.runner = &runner;
    wiring.rollback.command = {"rollback.sh", "{previous_sha}", "--failed", "{failed_sha}"};
    wiring.rollback.timeout = 5s;
    wiring.gate = [this] {
      const bool open = !gates.empty() && gates.front();
      if (!gates.empty()) {
        gates.pop_front();
      }
      GateResult result{open, {}, 100ms};
      if (!open) {
        result.failing = {{"api", "GET /health -> 500"}};
      }
      return result;
    };
    wiring.watch = [this](std::chrono::milliseconds) { return watch_down; };
  }

  int verify(const std::string& sha, std::optional<std::string> previous = {},
             std::chrono::milliseconds watch = 0ms) {
    return deploy::verify(VerifyRequest{sha, std::move(previous), "tester", watch}, wiring);
  }
};

TEST(DeployFlow, AHealthyDeployIsRecordedAndExitsZero) {
  Flow flow;
  flow.gates = {true};
  flow.sink.revision = "rev1";
  EXPECT_EQ(flow.verify("aaaaaaa"), k_deployed);
  EXPECT_EQ(flow.sink.kinds(),
            (std::vector<std::string>{"deploy_started:aaaaaaa", "deploy_succeeded:aaaaaaa"}));
  EXPECT_EQ(flow.sink.events[1].details["db_revision"], "rev1");
  EXPECT_TRUE(flow.runner.calls.empty());
}

TEST(DeployFlow, AFailedDeployWithNoHistoryHasNothingToRollBackTo) {
  Flow flow;
  flow.gates = {false};
  EXPECT_EQ(flow.verify("bbbbbbb"), k_failed_nothing_to_roll_back);
  EXPECT_EQ(flow.sink.kinds(),
            (std::vector<std::string>{"deploy_started:bbbbbbb", "deploy_failed:bbbbbbb"}));
  EXPECT_EQ(flow.sink.events[1].details["failing"][0]["target"], "api");
  EXPECT_TRUE(flow.runner.calls.empty());
}

TEST(DeployFlow, ABadDeployRollsBackToThePreviousGoodSha) {
  Flow flow;
  flow.gates = {true};
  flow.sink.revision = "rev-a";
  ASSERT_EQ(flow.verify("aaaaaaa"), k_deployed);
  flow.sink.revision = "rev-b"; // the bad deploy migrated
  flow.gates = {false, true};
  EXPECT_EQ(flow.verify("bbbbbbb"), k_rolled_back);
  EXPECT_EQ(flow.sink.kinds(2),
            (std::vector<std::string>{"deploy_started:bbbbbbb", "deploy_failed:bbbbbbb",
                                      "rollback_started:aaaaaaa", "rollback_succeeded:aaaaaaa"}));
  ASSERT_EQ(flow.runner.calls.size(), 1U);
  EXPECT_EQ(flow.runner.calls[0],
            (std::vector<std::string>{"rollback.sh", "aaaaaaa", "--failed", "bbbbbbb"}));
  const std::vector<std::string>& env = flow.runner.envs[0];
  EXPECT_NE(std::find(env.begin(), env.end(), "PROBE_PREVIOUS_SHA=aaaaaaa"), env.end());
  EXPECT_NE(std::find(env.begin(), env.end(), "PROBE_FAILED_SHA=bbbbbbb"), env.end());
  // The revision the previous good SHA ran with, so the hook can downgrade to it.
  EXPECT_NE(std::find(env.begin(), env.end(), "PROBE_DB_REVISION=rev-a"), env.end());
  EXPECT_EQ(flow.sink.events.back().previous_sha, "bbbbbbb");
}

// --no-rollback: probe runs in the sidecar's container and the rollback happens on the host, so
// the failed gate is recorded and the hook's environment handed to the caller instead.
TEST(DeployFlow, WithoutRollbackTheFailureIsHandedToTheCallerAndNoHookRuns) {
  Flow flow;
  flow.gates = {true};
  flow.sink.revision = "0002";
  ASSERT_EQ(flow.verify("aaaaaaa"), k_deployed);
  flow.sink.revision = "0003";
  flow.gates = {false};
  std::vector<RollbackPlan> plans;
  flow.wiring.hand_over = [&](const RollbackPlan& plan) { plans.push_back(plan); };
  EXPECT_EQ(deploy::verify(VerifyRequest{"bbbbbbb", {}, "tester", 0ms, false}, flow.wiring),
            k_failed_nothing_to_roll_back);
  EXPECT_EQ(flow.sink.kinds(2),
            (std::vector<std::string>{"deploy_started:bbbbbbb", "deploy_failed:bbbbbbb"}));
  EXPECT_TRUE(flow.runner.calls.empty());
  ASSERT_EQ(plans.size(), 1U);
  EXPECT_EQ(plans[0].previous_sha, "aaaaaaa");
  EXPECT_EQ(plans[0].failed_sha, "bbbbbbb");
  EXPECT_EQ(plans[0].db_revision, "0002"); // the revision aaaaaaa ran with, not the new one
}

TEST(DeployFlow, WithoutRollbackAndNothingToRollBackToNothingIsHandedOver) {
  Flow flow;
  flow.gates = {false};
  bool handed_over = false;
  flow.wiring.hand_over = [&](const RollbackPlan&) { handed_over = true; };
  EXPECT_EQ(deploy::verify(VerifyRequest{"bbbbbbb", {}, "tester", 0ms, false}, flow.wiring),
            k_failed_nothing_to_roll_back);
  EXPECT_FALSE(handed_over);
}

TEST(DeployFlow, AFailingHookIsRollbackFailed) {
  Flow flow;
  flow.gates = {false};
  flow.runner.result.exit_code = 7;
  EXPECT_EQ(flow.verify("bbbbbbb", "aaaaaaa"), k_rollback_failed);
  EXPECT_EQ(flow.sink.events.back().kind, "rollback_failed");
  EXPECT_EQ(flow.sink.events.back().details["exit_code"], 7);
  EXPECT_EQ(flow.sink.events.back().details["error"], "rollback hook exited 7");
}

TEST(DeployFlow, NoHookConfiguredIsRollbackFailed) {
  Flow flow;
  flow.gates = {false};
  flow.wiring.rollback.command.clear();
  EXPECT_EQ(flow.verify("bbbbbbb", "aaaaaaa"), k_rollback_failed);
  EXPECT_EQ(flow.sink.events.back().details["error"],
            "no rollback hook: deploy.rollback.command is not set");
}

TEST(DeployFlow, UnhealthyAfterTheRollbackIsRollbackFailed) {
  Flow flow;
  flow.gates = {false, false};
  EXPECT_EQ(flow.verify("bbbbbbb", "aaaaaaa"), k_rollback_failed);
  EXPECT_EQ(flow.sink.events.back().details["error"], "unhealthy after the rollback");
}

TEST(DeployFlow, ATargetDownInTheWatchWindowFailsTheDeploy) {
  Flow flow;
  flow.gates = {true, true};
  flow.watch_down = {"api: GET /health -> 503"};
  flow.wiring.watch = [&flow](std::chrono::milliseconds) {
    std::vector<std::string> down = flow.watch_down;
    flow.watch_down.clear(); // healthy again after the rollback
    return down;
  };
  EXPECT_EQ(flow.verify("bbbbbbb", "aaaaaaa", 5min), k_rolled_back);
  EXPECT_EQ(flow.sink.events[1].kind, "deploy_failed");
  EXPECT_EQ(flow.sink.events[1].details["failing"][0]["error"], "GET /health -> 503");
}

DeployEvent at(const std::string& kind, const std::string& sha, int second) {
  DeployEvent event;
  event.kind = kind;
  event.sha = sha;
  event.occurred_at = std::chrono::system_clock::time_point(std::chrono::seconds(second));
  return event;
}

TEST(PreviousGood, IsTheNewestShaWhoseLastOutcomeWasASuccess) {
  // Newest received first, as the store and the recorders list them (the order decides).
  const std::vector<DeployEvent> log{
      at("deploy_failed", "ccccccc", 6),      at("deploy_started", "ccccccc", 5),
      at("rollback_succeeded", "aaaaaaa", 4), at("deploy_failed", "bbbbbbb", 3),
      at("deploy_succeeded", "bbbbbbb", 2),   at("deploy_succeeded", "aaaaaaa", 1)};
  EXPECT_EQ(previous_good(log, "ccccccc")->sha, "aaaaaaa");
  // bbbbbbb succeeded once, but its last outcome was a failure: never a rollback target.
  EXPECT_EQ(previous_good(log, "aaaaaaa"), std::nullopt);
  EXPECT_EQ(previous_good({}, "x"), std::nullopt);
}

TEST(EventValidation, RefsAndKinds) {
  for (const char* good : {"1a2b3c4", "0123456789abcdef0123456789abcdef01234567", "sha-1a2b3c4",
                           "v1.2.3", "latest", "bad"}) {
    EXPECT_TRUE(valid_ref(good)) << good;
  }
  for (const char* bad : {"", "a;rm -rf /", "$(id)", "-rf", "../etc", ".hidden", "a b", "x\ny"}) {
    EXPECT_FALSE(valid_ref(bad)) << bad;
  }
  EXPECT_FALSE(valid_ref(std::string(129, 'a')));
  EXPECT_TRUE(valid_kind("rollback_failed"));
  EXPECT_FALSE(valid_kind("shipped"));
}

TEST(EventJson, RoundTripsAndRejectsBadFields) {
  DeployEvent event = make_event(EventKind::deploy_failed, "bbbbbbb", "aaaaaaa", "ci");
  event.details = {{"failing", {{{"target", "api"}, {"error", "503"}}}}};
  std::string error;
  const std::optional<DeployEvent> back = from_json(to_json(event), false, &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(*back, event);
  EXPECT_TRUE(valid_event_id(event.event_id));
  EXPECT_EQ(event.event_id[14], '4'); // version 4

  EXPECT_FALSE(from_json({{"kind", "deploy_started"}, {"sha", "$(id)"}}, true, &error));
  EXPECT_EQ(error, "sha: not a git SHA or image tag");
  EXPECT_FALSE(
      from_json({{"kind", "deploy_started"}, {"sha", "aaaaaaa"}, {"event_id", "x"}}, true, &error));
  EXPECT_EQ(error, "event_id: \"x\" is not a UUID");
  EXPECT_FALSE(from_json({{"kind", "deploy_started"}, {"sha", "aaaaaaa"}}, false, &error));
  EXPECT_EQ(error, "event_id: missing");
  const auto filled = from_json({{"kind", "deploy_started"}, {"sha", "aaaaaaa"}}, true, &error);
  ASSERT_TRUE(filled) << error;
  EXPECT_TRUE(valid_event_id(filled->event_id));
}

TEST(EventTime, FormatsAndParsesRfc3339) {
  const auto when =
      std::chrono::system_clock::time_point(std::chrono::milliseconds(1'700'000'000'123));
  EXPECT_EQ(format_time(when), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(parse_time("2023-11-14T22:13:20.123Z"), when);
  EXPECT_EQ(parse_time("2023-11-14 23:13:20.123+01:00"), when);
  EXPECT_EQ(parse_time("yesterday"), std::nullopt);
}

} // namespace
} // namespace probe::deploy
