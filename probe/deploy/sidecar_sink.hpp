// Events through a running `probe serve` (`--url`): POST /deploys with the bearer token from
// PROBE_TOKEN, GET /deploys to read the log. Lets `probe deploy verify` run on the host, where
// the rollback hook reaches Docker, with no database connection of its own.
#pragma once

#include <string>

#include "probe/deploy/deploy_flow.hpp"

namespace probe::deploy {

class SidecarEventSink final : public EventSink {
public:
  // `url` is the sidecar's base URL; `token` its deploy.token. Throws probe::Error (exit 2)
  // for a URL that is not http(s).
  SidecarEventSink(std::string url, std::string token);

  void record(const DeployEvent& event) override;
  std::vector<DeployEvent> recent(std::size_t limit) override;
  std::optional<std::string> db_revision() override { return std::nullopt; }

private:
  std::string m_url;
  std::string m_token;
};

} // namespace probe::deploy
