// Events through a running `probe serve` (`--url`): POST /deploys with the bearer token from
// PROBE_TOKEN, GET /deploys to read the log. Lets `probe deploy verify` run on the host, where
// the rollback hook reaches Docker, with no database connection of its own. A sidecar that
// restarts mid-deploy is waited for (engine::k_sidecar_grace; POST /deploys is idempotent on
// event_id, so a resend is safe); its own error text is passed through.
//
// Two layers: DeploySidecarClient is the sidecar client (engine/sidecar_client.hpp) with the
// typed /deploys calls, which read and write the bodies through deploys_wire.hpp; the sink
// turns their failures into probe::Error with the exit code a deploy command needs.
#pragma once

#include <functional>
#include <string>

#include "probe/deploy/deploys_wire.hpp"
#include "probe/deploy/event_recorder.hpp"
#include "probe/engine/sidecar_client.hpp"

namespace probe::deploy {

// The sidecar client with every typed call: status() from engine, and the /deploys calls,
// which speak DeployEvent. Each call sends once, or retries as `retry` says.
class DeploySidecarClient : public engine::SidecarClient {
public:
  using engine::SidecarClient::SidecarClient;

  // GET /deploys?limit=`limit` (1 to 1000): the events, newest received first. Events that do
  // not read as events are left out (deploys_wire.hpp).
  engine::SidecarReply<DeploysPage>
  deploys(std::size_t limit, const std::optional<engine::SidecarRetry>& retry = std::nullopt) const;

  // POST /deploys with `event` and `Authorization: Bearer token`: the event id the sidecar
  // recorded (the same event again is recorded once and answered alike).
  engine::SidecarReply<std::string>
  record(const DeployEvent& event, const std::string& token,
         const std::optional<engine::SidecarRetry>& retry = std::nullopt) const;
};

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
  DeploySidecarClient m_client;
  std::string m_token;
  std::function<void(const std::string&)> m_log;
};

} // namespace probe::deploy
