// Threshold debouncing; see target_state.hpp.
#include "probe/engine/target_state.hpp"

namespace probe::engine {

std::string_view to_string(Health health) {
  switch (health) {
  case Health::unknown:
    return "unknown";
  case Health::up:
    return "up";
  case Health::down:
    return "down";
  }
  return "unknown";
}

bool TargetState::apply(const checks::CheckResult& result, int success_threshold,
                        int failure_threshold, std::chrono::system_clock::time_point now) {
  if (checks == 0) {
    since = now;
  }
  ++checks;
  last = result;
  last_checked = now;
  if (result.ok()) {
    ++consecutive_successes;
    consecutive_failures = 0;
    last_success = now;
  } else {
    ++consecutive_failures;
    consecutive_successes = 0;
  }
  Health next = health;
  if (consecutive_successes >= success_threshold) {
    next = Health::up;
  } else if (consecutive_failures >= failure_threshold) {
    next = Health::down;
  }
  if (next == health) {
    return false;
  }
  health = next;
  since = now;
  return true;
}

} // namespace probe::engine
