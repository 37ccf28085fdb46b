// The readiness gate's loop, shared by `probe wait` and `probe deploy verify`: poll a source
// every `poll_interval` (start to start) until the tracker opens or `timeout` passes. Two
// sources: checks run here from the config, or a running sidecar's /status (URL mode), so a
// deploy script on the host can gate on the sidecar without a database connection. A sidecar
// that cannot be reached is retried for a grace period (it may be restarting) and then ends the
// gate with the reason; one that is not a probe ends it at once.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "probe/config/config.hpp"
#include "probe/engine/gate.hpp"
#include "probe/engine/run_once.hpp"
#include "probe/engine/sidecar_client.hpp"
#include "probe/util/clock.hpp"

namespace probe::engine {

class GateSource {
public:
  virtual ~GateSource() = default;
  // One round of observations into `tracker`; creates the tracker on the first round that
  // knows the targets. Throws probe::Error on a problem no retry can fix (unknown --only name).
  virtual void poll(std::optional<GateTracker>& tracker) = 0;
  // Set when no further poll can help (the sidecar unreachable past its grace, or not a
  // probe): the problem, which ends the gate and the watch. Empty otherwise.
  virtual std::string gave_up() const { return {}; }
  // Between rounds: checks again only the targets the last round found refusing connections
  // (nothing listening yet: asking again costs no one anything) and reports a target only when
  // its answer changed — still refused is no news, so failures keep counting per round.
  virtual void retry_refused(std::optional<GateTracker>& tracker) { (void)tracker; }
  // Whether some target refused in the last round or retry (there is something to retry).
  virtual bool refusing() const { return false; }
};

// How often run_gate asks a refusing target again between rounds: a service that starts
// listening is seen within this, not within a poll interval.
inline constexpr std::chrono::milliseconds k_refused_retry{20};

// Runs the selected targets' checks itself, every round, concurrently.
class ConfigGateSource final : public GateSource {
public:
  ConfigGateSource(const config::Config& config, const std::vector<std::string>& only, int required,
                   const checks::CheckContext& context);
  void poll(std::optional<GateTracker>& tracker) override;
  void retry_refused(std::optional<GateTracker>& tracker) override;
  bool refusing() const override { return !m_refused.empty(); }
  // The selected targets that cannot be checked here (push heartbeats), with the reason; they
  // are left out of the gate.
  std::vector<std::pair<std::string, std::string>> skipped() const;

private:
  std::vector<TargetCheck> m_checks;
  // Kept from one poll to the next: the targets' connections stay alive between polls.
  std::unique_ptr<checks::CheckIo> m_io = std::make_unique<checks::CheckIo>();
  int m_required;
  std::vector<std::size_t> m_refused; // indices in m_checks refused in the last round
};

// Reads a running sidecar's GET /status; counts only checks made after the gate began, so a
// state from before a deploy cannot open the gate.
class SidecarGateSource final : public GateSource {
public:
  // `required` <= 0 takes the sidecar's own gate.consecutive_successes. Throws probe::Error
  // (exit 2) for a URL that cannot be a sidecar's.
  SidecarGateSource(std::string_view url, std::vector<std::string> only, int required);
  void poll(std::optional<GateTracker>& tracker) override;
  std::string gave_up() const override { return m_gave_up; }
  // The sidecar's gate.poll_interval / gate.timeout, once known.
  std::optional<std::chrono::milliseconds> poll_interval() const { return m_poll_interval; }
  std::optional<std::chrono::milliseconds> timeout() const { return m_timeout; }
  // Reads /status once to learn the sidecar's gate settings, retrying an unreachable sidecar
  // for `grace` (telling `say` once that it retries). Throws probe::Error: exit 1 when it
  // stays unreachable, 2 when the URL does not lead to a probe (404, not JSON).
  void discover(std::chrono::milliseconds grace,
                const std::function<void(const std::string&)>& say = {});
  // How long failures in a row are tolerated during the gate (default k_sidecar_grace).
  void set_grace(std::chrono::milliseconds grace) { m_grace = grace; }
  const std::string& url() const { return m_client.url(); }

private:
  // The sidecar's /status, or nullopt with `problem` and `retryable` set.
  std::optional<StatusWire> fetch_status(std::string* problem, bool* retryable) const;
  // The first round: the targets to gate on (all, or the --only ones) and their checks counts.
  void start_tracking(const StatusWire& status, std::optional<GateTracker>& tracker);

  SidecarClient m_client;
  std::vector<std::string> m_only;
  int m_required;
  std::map<std::string, long long> m_baseline; // checks count when the gate began
  std::optional<std::chrono::milliseconds> m_poll_interval;
  std::optional<std::chrono::milliseconds> m_timeout;
  std::chrono::milliseconds m_grace = k_sidecar_grace;
  std::optional<std::chrono::steady_clock::time_point> m_failing_since;
  std::string m_gave_up;
};

struct GateOutcome {
  bool open = false;
  std::chrono::milliseconds waited{0};
  std::string error; // the source gave up: why (the gate did not time out)
};

// Polls `source` until the gate opens or `timeout` passes; `progress` is called after every
// round with the tracker (absent until the source knows its targets) and the last error.
// Time is `clock`'s: its steady time for the deadline, its sleep between rounds.
GateOutcome run_gate(GateSource& source, std::optional<GateTracker>& tracker,
                     std::chrono::milliseconds timeout, std::chrono::milliseconds poll_interval,
                     const std::function<void(const std::optional<GateTracker>&)>& progress,
                     const util::Clock& clock = util::system_clock());

// The verification window after a passed gate: keeps polling for `window` and returns the
// critical targets that went DOWN ("name: last error"), or nothing when all stayed up; a source
// that gives up fails the window too ("probe: why"). `progress` (may be empty) is called after
// every round with the tracker and the time left.
std::vector<std::string>
run_watch(GateSource& source, std::optional<GateTracker>& tracker, std::chrono::milliseconds window,
          std::chrono::milliseconds poll_interval,
          const std::function<void(const std::optional<GateTracker>&, std::chrono::milliseconds)>&
              progress = {},
          const util::Clock& clock = util::system_clock());

} // namespace probe::engine
