// Gate arithmetic; see gate.hpp.
#include "probe/engine/gate.hpp"

#include <algorithm>

namespace probe::engine {

GateTracker::GateTracker(const std::vector<std::pair<std::string, bool>>& targets, int required)
    : m_required(std::max(1, required)) {
  for (const auto& [name, critical] : targets) {
    GateTarget target;
    target.name = name;
    target.critical = critical;
    m_targets.push_back(target);
  }
}

GateTarget* GateTracker::find(const std::string& name) {
  for (GateTarget& target : m_targets) {
    if (target.name == name) {
      return &target;
    }
  }
  return nullptr;
}

void GateTracker::observe(const std::string& name, bool ok, const std::string& detail,
                          int failure_threshold) {
  GateTarget* target = find(name);
  if (target == nullptr) {
    return;
  }
  target->streak = ok ? target->streak + 1 : 0;
  target->failures = ok ? 0 : target->failures + 1;
  target->down = target->failures >= std::max(1, failure_threshold);
  target->seen = true;
  target->last_ok = ok;
  target->last_detail = detail;
}

void GateTracker::set_streak(const std::string& name, int streak, bool ok,
                             const std::string& detail, bool down) {
  GateTarget* target = find(name);
  if (target == nullptr) {
    return;
  }
  target->streak = std::max(0, streak);
  target->down = down;
  target->seen = true;
  target->last_ok = ok;
  target->last_detail = detail;
}

bool GateTracker::open() const {
  return blocking().empty();
}

std::vector<const GateTarget*> GateTracker::down() const {
  std::vector<const GateTarget*> out;
  for (const GateTarget& target : m_targets) {
    if (target.critical && target.down) {
      out.push_back(&target);
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> GateTracker::failing() const {
  std::vector<std::pair<std::string, std::string>> failed;
  std::vector<std::pair<std::string, std::string>> building;
  for (const GateTarget* target : blocking()) {
    if (!target->seen) {
      failed.emplace_back(target->name, "never checked");
    } else if (!target->last_ok) {
      failed.emplace_back(target->name, target->last_detail);
    } else {
      building.emplace_back(target->name, std::to_string(target->streak) + "/" +
                                              std::to_string(m_required) +
                                              " passes in a row when the gate ended");
    }
  }
  return failed.empty() ? building : failed;
}

std::vector<const GateTarget*> GateTracker::blocking() const {
  std::vector<const GateTarget*> out;
  for (const GateTarget& target : m_targets) {
    if (target.critical && target.streak < m_required) {
      out.push_back(&target);
    }
  }
  return out;
}

} // namespace probe::engine
