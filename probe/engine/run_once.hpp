// Checks a set of targets once, concurrently: `probe check` and the config-mode readiness gate
// use it. Wall time is about the slowest target's, since every check honours its own timeout.
// A target that only `probe serve` can judge (a push heartbeat: the beats arrive at the
// sidecar) is not run here but reported as skipped, with the reason, so a one-shot command
// neither fails on it nor pretends it passed.
#pragma once

#include <memory>
#include <vector>

#include "probe/checks/check.hpp"
#include "probe/checks/check_io.hpp"
#include "probe/config/config.hpp"

namespace probe::engine {

struct TargetCheck {
  const config::Target* target = nullptr;
  std::unique_ptr<checks::Check> check; // null when the target cannot be checked here
  std::string skipped;                  // why not, when `check` is null
};

struct TargetResult {
  const config::Target* target = nullptr;
  checks::CheckResult result;
  // Not checked, and why ("push heartbeats are received by probe serve; ..."); empty when the
  // check ran. A skipped target counts neither as passed nor as failed.
  std::string skipped;
};

// Why `target` cannot be checked by a one-shot command, or empty when it can.
std::string not_checkable_here(const config::Target& target);

// Builds one check per target in `targets` (none, with the reason, for one it cannot check).
std::vector<TargetCheck> make_checks(const std::vector<const config::Target*>& targets,
                                     const checks::CheckContext& context);

// Runs every check once, at most `max_parallel` in flight at a time, all on one event loop on
// the calling thread; results keep the input order.
std::vector<TargetResult> run_once(std::vector<TargetCheck>& checks,
                                   std::size_t max_parallel = 1024);
// The same on `io`, which keeps the targets' connections alive for the next round (the gate).
std::vector<TargetResult> run_once(std::vector<TargetCheck>& checks, checks::CheckIo& io,
                                   std::size_t max_parallel = 1024);

// The targets named in `only` (all when empty); throws probe::Error naming an unknown one.
std::vector<const config::Target*> select_targets(const config::Config& config,
                                                  const std::vector<std::string>& only);

} // namespace probe::engine
