// The readiness gate as `probe wait` and `probe deploy verify` set it up, in one place: where
// the checks come from (run here from a config, or a running sidecar's /status with `--url`),
// how often they are polled, how long the gate may take and how many passes in a row open it.
// A flag wins over the config (or the sidecar's own gate settings), which win over
// config::Gate's defaults; a sidecar is never retried longer than the whole gate may take.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "probe/config/config.hpp"
#include "probe/engine/gate_runner.hpp"
#include "probe/util/duration.hpp"

namespace probe::cli {

// What the user asked for on the command line (already parsed and checked).
struct GateFlags {
  std::vector<std::string> only;         // --only; empty: every target
  std::optional<util::Duration> timeout; // --timeout
  int successes = 0;                     // --successes; 0: the config's / the sidecar's
};

struct Gate {
  std::unique_ptr<engine::GateSource> source;
  util::Duration poll_interval;
  util::Duration timeout;
};

using Say = std::function<void(const std::string&)>;

// Checks run here from `config`; targets that cannot be checked here are told to `say`.
Gate gate_from_config(const config::Config& config, const GateFlags& flags, const Say& say);

// The sidecar at `url`: reads its /status once to learn its gate settings. Throws probe::Error
// as SidecarGateSource::discover does: exit 1 when it stays unreachable, 2 when the URL does not
// lead to a probe.
Gate gate_from_sidecar(const std::string& url, const GateFlags& flags, const Say& say);

} // namespace probe::cli
