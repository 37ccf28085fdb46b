// The readiness gate's loop, shared by `probe wait` and `probe deploy verify`: poll a source
// every `poll_interval` (start to start) until the tracker opens or `timeout` passes. Two
// sources: checks run here from the config, or a running sidecar's /status (URL mode), so a
// deploy script on the host can gate on the sidecar without a database connection.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "probe/config/config.hpp"
#include "probe/engine/gate.hpp"
#include "probe/engine/run_once.hpp"

namespace probe::engine {

class GateSource {
public:
  virtual ~GateSource() = default;
  // One round of observations into `tracker`; creates the tracker on the first round that
  // knows the targets. Throws probe::Error on a problem no retry can fix (unknown --only name).
  virtual void poll(std::optional<GateTracker>& tracker) = 0;
};

// Runs the selected targets' checks itself, every round, concurrently.
class ConfigGateSource final : public GateSource {
public:
  ConfigGateSource(const config::Config& config, const std::vector<std::string>& only, int required,
                   const checks::CheckContext& context);
  void poll(std::optional<GateTracker>& tracker) override;

private:
  std::vector<TargetCheck> m_checks;
  int m_required;
};

// Reads a running sidecar's GET /status; counts only checks made after the gate began, so a
// state from before a deploy cannot open the gate.
class SidecarGateSource final : public GateSource {
public:
  // `required` <= 0 takes the sidecar's own gate.consecutive_successes.
  SidecarGateSource(std::string url, std::vector<std::string> only, int required);
  void poll(std::optional<GateTracker>& tracker) override;
  // The sidecar's gate.poll_interval / gate.timeout, once known.
  std::optional<std::chrono::milliseconds> poll_interval() const { return m_poll_interval; }
  std::optional<std::chrono::milliseconds> timeout() const { return m_timeout; }
  // Fetches /status once to learn the sidecar's gate settings (best effort).
  void discover();

private:
  std::optional<std::string> fetch_status(std::string* error);

  std::string m_url;
  std::vector<std::string> m_only;
  int m_required;
  std::map<std::string, long long> m_baseline; // checks count when the gate began
  std::optional<std::chrono::milliseconds> m_poll_interval;
  std::optional<std::chrono::milliseconds> m_timeout;
  std::string m_last_error;
};

struct GateOutcome {
  bool open = false;
  std::chrono::milliseconds waited{0};
};

// Polls `source` until the gate opens or `timeout` passes; `progress` is called after every
// round with the tracker (absent until the source knows its targets) and the last error.
GateOutcome run_gate(GateSource& source, std::optional<GateTracker>& tracker,
                     std::chrono::milliseconds timeout, std::chrono::milliseconds poll_interval,
                     const std::function<void(const std::optional<GateTracker>&)>& progress);

// The verification window after a passed gate: keeps polling for `window` and returns the
// critical targets that went DOWN ("name: last error"), or nothing when all stayed up.
std::vector<std::string> run_watch(GateSource& source, std::optional<GateTracker>& tracker,
                                   std::chrono::milliseconds window,
                                   std::chrono::milliseconds poll_interval);

} // namespace probe::engine
