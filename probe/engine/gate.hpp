// The readiness gate's arithmetic: every selected critical target must pass `required` times in
// a row. Fed one observation per target per poll — from checks run here (config mode) or from
// a running sidecar's /status (URL mode) — it says whether the gate is open and who holds it
// shut. Pure: tested without a clock or a socket.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace probe::engine {

struct GateTarget {
  std::string name;
  bool critical = true;
  int streak = 0;          // passes in a row, as far as the gate has seen
  bool seen = false;       // observed at least once
  std::string last_detail; // the last result's one-line detail
  bool last_ok = false;
  int failures = 0;  // failures in a row
  bool down = false; // failed failure_threshold times in a row (the target's DOWN)
};

class GateTracker {
public:
  // `names` with their criticality, in display order; `required` passes in a row open the gate.
  GateTracker(const std::vector<std::pair<std::string, bool>>& targets, int required);

  // A new result for `name`: a pass adds to the streak, a failure resets it; after
  // `failure_threshold` failures in a row the target is down.
  void observe(const std::string& name, bool ok, const std::string& detail,
               int failure_threshold = 1);
  // Sets the streak directly (URL mode, where the sidecar counts passes and knows DOWN).
  void set_streak(const std::string& name, int streak, bool ok, const std::string& detail,
                  bool down = false);
  // Critical targets that are down now (the verification window's failure condition).
  std::vector<const GateTarget*> down() const;

  // True when every critical target's streak has reached `required`.
  bool open() const;
  // Critical targets still holding the gate shut.
  std::vector<const GateTarget*> blocking() const;
  // Why the gate is shut, per target, for a person and the audit log: the blocking targets
  // whose last check failed (or that were never checked) with their last error. Only when
  // every blocking target's last check passed (they were still building their streak) are
  // those listed, as "2/3 passes in a row", never with a success text as their error.
  std::vector<std::pair<std::string, std::string>> failing() const;
  const std::vector<GateTarget>& targets() const { return m_targets; }
  int required() const { return m_required; }

private:
  GateTarget* find(const std::string& name);

  std::vector<GateTarget> m_targets;
  int m_required;
};

} // namespace probe::engine
