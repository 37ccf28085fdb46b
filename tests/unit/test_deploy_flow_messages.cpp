// What `probe deploy verify` says on the console when it fails (issue 17), on fakes: the
// failing targets and their errors after a failed gate or watch; the hook's start error, exit
// status or timeout and the tail of its output after a failed rollback; and the hook named by
// where it came from (the config key, or PROBE_ROLLBACK_COMMAND in --url mode).
#include <gtest/gtest.h>

#include "probe/deploy/deploy_flow.hpp"
#include "tests/fakes/memory_recorder.hpp"

namespace probe::deploy {
namespace {

using namespace std::chrono_literals;
using test_support::MemoryRecorder;

class ScriptedRunner final : public util::CommandRunner {
public:
  util::CommandResult run(const std::vector<std::string>&, const std::vector<std::string>&,
                          std::chrono::milliseconds,
                          const std::function<void(const std::string&)>&) override {
    return result;
  }
  util::CommandResult result{0, 0, false, true, "", 10ms, ""};
};

struct MessageFlow {
  MemoryRecorder sink;
  ScriptedRunner runner;
  std::vector<std::string> said;
  std::vector<GateResult> gates; // successive gate results
  VerifyWiring wiring;

  MessageFlow() {
    wiring.events = &sink;
    wiring.runner = &runner;
    wiring.rollback.command = {"rollback.sh", "{previous_sha}"};
    wiring.rollback.timeout = 5s;
    wiring.log = [this](const std::string& line) { said.push_back(line); };
    wiring.gate = [this] {
      GateResult result = gates.front();
      gates.erase(gates.begin());
      return result;
    };
  }

  int verify(std::chrono::milliseconds watch = 0ms) {
    return deploy::verify(VerifyRequest{"bbbbbbb", "aaaaaaa", "tester", watch}, wiring);
  }

  bool said_line(const std::string& line) const {
    return std::find(said.begin(), said.end(), line) != said.end();
  }
  std::string transcript() const {
    std::string out;
    for (const std::string& line : said) {
      out += line + "\n";
    }
    return out;
  }
};

GateResult failed_gate() {
  return GateResult{
      false, {{"api", "GET /health -> 500"}, {"db", "connect: connection refused"}}, 2000ms};
}

TEST(DeployFlowMessages, AFailedGateNamesEachFailingTargetAndItsError) {
  MessageFlow flow;
  flow.gates = {failed_gate(), GateResult{true, {}, 500ms}};
  EXPECT_EQ(flow.verify(), k_rolled_back);
  EXPECT_TRUE(flow.said_line("deploy: gate failed after 2s; not ready:")) << flow.transcript();
  EXPECT_TRUE(flow.said_line("  api: GET /health -> 500")) << flow.transcript();
  EXPECT_TRUE(flow.said_line("  db: connect: connection refused")) << flow.transcript();
  EXPECT_EQ(flow.sink.events[1].details["failing"],
            nlohmann::json::parse(R"([{"target": "api", "error": "GET /health -> 500"},
                                      {"target": "db", "error": "connect: connection refused"}])"));
}

TEST(DeployFlowMessages, ATargetDownInTheWatchIsNamed) {
  MessageFlow flow;
  flow.gates = {GateResult{true, {}, 500ms}, GateResult{true, {}, 500ms}};
  int watches = 0;
  flow.wiring.watch = [&](std::chrono::milliseconds) {
    return ++watches == 1 ? std::vector<std::string>{"api: GET /health -> 503"}
                          : std::vector<std::string>{};
  };
  EXPECT_EQ(flow.verify(1min), k_rolled_back);
  EXPECT_TRUE(flow.said_line("deploy: a critical target went DOWN in the verification window:"))
      << flow.transcript();
  EXPECT_TRUE(flow.said_line("  api: GET /health -> 503")) << flow.transcript();
}

TEST(DeployFlowMessages, AHookThatFailsSaysHowAndShowsItsLastOutput) {
  MessageFlow flow;
  flow.gates = {failed_gate()};
  flow.runner.result.exit_code = 3;
  flow.runner.result.output_tail = "pulling aaaaaaa\nError: manifest unknown\n";
  EXPECT_EQ(flow.verify(), k_rollback_failed);
  EXPECT_TRUE(flow.said_line("rollback failed: the hook (deploy.rollback.command) exited 3"))
      << flow.transcript();
  EXPECT_TRUE(flow.said_line("the hook's last output:")) << flow.transcript();
  EXPECT_TRUE(flow.said_line("  | Error: manifest unknown")) << flow.transcript();
}

TEST(DeployFlowMessages, AHookThatCannotStartOrTimesOutSaysSo) {
  MessageFlow flow;
  flow.gates = {failed_gate()};
  flow.runner.result = util::CommandResult{
      -1, 0, false, false, "cannot start rollback.sh: No such file or directory", 0ms, ""};
  EXPECT_EQ(flow.verify(), k_rollback_failed);
  EXPECT_TRUE(flow.said_line("rollback failed: the hook (deploy.rollback.command) cannot start "
                             "rollback.sh: No such file or directory"))
      << flow.transcript();

  MessageFlow slow;
  slow.gates = {failed_gate()};
  slow.runner.result = util::CommandResult{-1, 15, true, true, "", 5000ms, "waiting\n"};
  EXPECT_EQ(slow.verify(), k_rollback_failed);
  EXPECT_TRUE(slow.said_line("rollback failed: the hook (deploy.rollback.command) timed out "
                             "after 5s"))
      << slow.transcript();
}

TEST(DeployFlowMessages, NoHookNamesWhereItShouldHaveComeFrom) {
  MessageFlow flow;
  flow.gates = {failed_gate()};
  flow.wiring.rollback.command.clear();
  flow.wiring.rollback_origin = "PROBE_ROLLBACK_COMMAND";
  EXPECT_EQ(flow.verify(), k_rollback_failed);
  EXPECT_TRUE(
      flow.said_line("rollback failed: no rollback hook: PROBE_ROLLBACK_COMMAND is not set"))
      << flow.transcript();
  EXPECT_EQ(flow.sink.events.back().details["error"],
            "no rollback hook: PROBE_ROLLBACK_COMMAND is not set");
}

} // namespace
} // namespace probe::deploy
