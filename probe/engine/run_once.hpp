// Checks a set of targets once, concurrently: `probe check` and the config-mode readiness gate
// use it. Wall time is about the slowest target's, since every check honours its own timeout.
#pragma once

#include <memory>
#include <vector>

#include "probe/checks/check.hpp"
#include "probe/config/config.hpp"

namespace probe::engine {

struct TargetCheck {
  const config::Target* target = nullptr;
  std::unique_ptr<checks::Check> check;
};

struct TargetResult {
  const config::Target* target = nullptr;
  checks::CheckResult result;
};

// Builds one check per target in `targets`.
std::vector<TargetCheck> make_checks(const std::vector<const config::Target*>& targets,
                                     const checks::CheckContext& context);

// Runs every check once on at most `max_parallel` threads; results keep the input order.
std::vector<TargetResult> run_once(std::vector<TargetCheck>& checks, std::size_t max_parallel = 64);

// The targets named in `only` (all when empty); throws probe::Error naming an unknown one.
std::vector<const config::Target*> select_targets(const config::Config& config,
                                                  const std::vector<std::string>& only);

} // namespace probe::engine
