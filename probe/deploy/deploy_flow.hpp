// `probe deploy verify` as a state machine over small interfaces: where events go (EventRecorder),
// how the gate and the verification window run (functions over a GateSource), how the hook runs
// (util::CommandRunner) and who is told (a notify function). The CLI wires the real ones; tests
// wire real processes and stand-ins, so every branch — deployed, rolled back, nothing to roll
// back to, hook failed, rollback unhealthy — is exercised end to end.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "probe/config/config.hpp"
#include "probe/deploy/event.hpp"
#include "probe/deploy/event_recorder.hpp"
#include "probe/engine/gate.hpp"
#include "probe/util/command_runner.hpp"

namespace probe::deploy {

// The contract's exit codes for `probe deploy verify`.
enum VerifyExit : int {
  k_deployed = 0,
  k_failed_nothing_to_roll_back = 1,
  k_usage = 2,
  k_rolled_back = 3,
  k_rollback_failed = 4,
  k_locked = 5,
};

struct GateResult {
  bool open = false;
  // The targets that failed the gate and their last error (never a passing target's success
  // text); ("probe", why) when the gate could not read its source at all.
  std::vector<std::pair<std::string, std::string>> failing;
  std::chrono::milliseconds waited{0};
};

struct VerifyRequest {
  std::string sha;
  std::optional<std::string> previous; // --previous; else the previous good SHA from the log
  std::string actor;
  std::chrono::milliseconds watch{0}; // verification window after the gate; 0 = none
  // false (--no-rollback): a failed gate is recorded and handed to the caller, who rolls back
  // where the hook could not run (probe in the sidecar's container, Docker on the host).
  bool roll_back = true;
};

// What a caller that rolls back itself needs: the environment probe would give its hook.
struct RollbackPlan {
  std::string previous_sha;
  std::string failed_sha;
  std::string db_revision; // "" when unknown
};

struct VerifyWiring {
  EventRecorder* events = nullptr;
  // Runs the readiness gate once to its end.
  std::function<GateResult()> gate;
  // Runs the verification window; returns the critical targets that went DOWN in it.
  std::function<std::vector<std::string>(std::chrono::milliseconds window)> watch;
  util::CommandRunner* runner = nullptr;
  config::Rollback rollback;
  // Where `rollback` came from, for messages: the config key or the environment variable.
  std::string rollback_origin = "deploy.rollback.command";
  std::function<void(const DeployEvent&)> notify;     // may be empty
  std::function<void(const std::string&)> log;        // progress lines; may be empty
  std::function<void(const RollbackPlan&)> hand_over; // with roll_back false; may be empty
};

// Runs the whole verify flow for `request` (the lock is the caller's) and returns its exit
// code. Throws probe::Error when an event cannot be recorded.
int verify(const VerifyRequest& request, VerifyWiring& wiring);

} // namespace probe::deploy
