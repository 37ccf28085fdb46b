// The gate's setup for wait and deploy verify; see gate_setup.hpp.
#include "probe/cli/gate_setup.hpp"

#include <algorithm>

#include "probe/util/clock.hpp"

namespace probe::cli {

Gate gate_from_config(const config::Config& config, const GateFlags& flags, const Say& say) {
  const int required = flags.successes > 0 ? flags.successes : config.gate.consecutive_successes;
  auto checks = std::make_unique<engine::ConfigGateSource>(
      config, flags.only, required, checks::CheckContext{&util::system_clock()});
  for (const auto& [name, why] : checks->skipped()) {
    say(name + ": skipped, not checked here: " + why);
  }
  return {std::move(checks), config.gate.poll_interval,
          flags.timeout.value_or(config.gate.timeout)};
}

Gate gate_from_sidecar(const std::string& url, const GateFlags& flags, const Say& say) {
  const config::Gate defaults;
  auto sidecar = std::make_unique<engine::SidecarGateSource>(url, flags.only, flags.successes);
  // Never retry longer than the user allowed for the whole gate.
  const util::Duration grace =
      std::min(engine::k_sidecar_grace, flags.timeout.value_or(engine::k_sidecar_grace));
  sidecar->set_grace(grace);
  sidecar->discover(grace, say);
  const util::Duration poll_interval = sidecar->poll_interval().value_or(defaults.poll_interval);
  const util::Duration timeout =
      flags.timeout.value_or(sidecar->timeout().value_or(defaults.timeout));
  return {std::move(sidecar), poll_interval, timeout};
}

} // namespace probe::cli
