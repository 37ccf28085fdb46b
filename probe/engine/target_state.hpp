// A target's debounced state, with Kubernetes probe semantics: DOWN after `failure_threshold`
// consecutive failures, UP after `success_threshold` consecutive successes, and UNKNOWN until
// either has happened (probe_target_up reads 0 then: a target is not ready until proven). A pure
// function of the results it is fed, so the thresholds are tested without a clock or a socket.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "probe/checks/check.hpp"

namespace probe::engine {

enum class Health { unknown, up, down };

std::string_view to_string(Health health);

struct TargetState {
  Health health = Health::unknown;
  int consecutive_successes = 0;
  int consecutive_failures = 0;
  std::uint64_t checks = 0; // results applied so far
  checks::CheckResult last;
  std::chrono::system_clock::time_point last_checked{};
  std::chrono::system_clock::time_point last_success{};
  std::chrono::system_clock::time_point since{}; // when `health` last changed

  // Folds one result in; returns true when `health` changed.
  bool apply(const checks::CheckResult& result, int success_threshold, int failure_threshold,
             std::chrono::system_clock::time_point now);
};

} // namespace probe::engine
