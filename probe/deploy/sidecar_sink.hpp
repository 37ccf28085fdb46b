// Events through a running `probe serve` (`--url`): POST /deploys with the bearer token from
// PROBE_TOKEN, GET /deploys to read the log. Lets `probe deploy verify` run on the host, where
// the rollback hook reaches Docker, with no database connection of its own. A sidecar that
// restarts mid-deploy is waited for (engine::k_sidecar_grace; POST /deploys is idempotent on
// event_id, so a resend is safe); its own error text is passed through.
#pragma once

#include <functional>
#include <string>

#include "probe/deploy/event_recorder.hpp"
#include "probe/engine/sidecar_client.hpp"

namespace probe::deploy {

class SidecarEventRecorder final : public EventRecorder {
public:
  // `url` is the sidecar's base URL; `token` its deploy.token; `log` (may be empty) hears that
  // an unreachable sidecar is being retried. Throws probe::Error (exit 2) for a URL that
  // cannot be a sidecar's.
  SidecarEventRecorder(std::string_view url, std::string token,
                       std::function<void(const std::string&)> log = {});

  void record(const DeployEvent& event) override;
  std::vector<DeployEvent> recent(std::size_t limit) override;
  std::optional<std::string> db_revision() override { return std::nullopt; }

private:
  engine::SidecarClient m_client;
  std::string m_token;
  std::function<void(const std::string&)> m_log;
};

} // namespace probe::deploy
