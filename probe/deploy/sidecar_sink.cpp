// Deploy events over the sidecar's HTTP API; see sidecar_sink.hpp.
#include "probe/deploy/sidecar_sink.hpp"

#include "probe/util/duration.hpp"
#include "probe/util/error.hpp"

namespace probe::deploy {
namespace {

constexpr std::chrono::seconds k_read_timeout{15}; // the sidecar may wait for its database

// A refusal (4xx: a bad field, the token, not a probe) is the caller's to fix: exit 2, as for a
// usage error; an unreachable or failing sidecar is exit 1.
int exit_code_for(const engine::SidecarAnswer& answer) {
  return answer.status >= 400 && answer.status < 500 ? 2 : 1;
}

} // namespace

SidecarEventRecorder::SidecarEventRecorder(std::string_view url, std::string token,
                                           std::function<void(const std::string&)> log)
    : m_client(url), m_token(std::move(token)), m_log(std::move(log)) {}

void SidecarEventRecorder::record(const DeployEvent& event) {
  const std::string body =
      to_json(event).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  const engine::SidecarAnswer answer = engine::SidecarClient::with_retries(
      [&] { return m_client.post("/deploys", m_token, body, k_read_timeout); },
      engine::k_sidecar_grace,
      [this](const std::string& problem) {
        if (m_log) {
          m_log(problem + "; retrying for up to " + util::format_duration(engine::k_sidecar_grace));
        }
      });
  if (!answer.ok()) {
    throw Error(answer.problem + (answer.status == 401 ? " (PROBE_TOKEN must be the sidecar's "
                                                         "deploy.token)"
                                                       : ""),
                exit_code_for(answer));
  }
}

std::vector<DeployEvent> SidecarEventRecorder::recent(std::size_t limit) {
  const std::string path = "/deploys?limit=" + std::to_string(limit);
  const engine::SidecarAnswer answer = engine::SidecarClient::with_retries(
      [&] { return m_client.get(path, k_read_timeout); }, engine::k_sidecar_grace,
      [this](const std::string& problem) {
        if (m_log) {
          m_log(problem + "; retrying for up to " + util::format_duration(engine::k_sidecar_grace));
        }
      });
  if (!answer.ok()) {
    throw Error(answer.problem, exit_code_for(answer));
  }
  const nlohmann::json body = nlohmann::json::parse(answer.body, nullptr, false);
  if (!body.is_object() || !body.contains("events") || !body["events"].is_array()) {
    throw Error("GET " + m_client.url() + path + ": the answer is not probe's event list (is " +
                    m_client.url() + " a probe serve?)",
                2);
  }
  std::vector<DeployEvent> events;
  for (const nlohmann::json& item : body["events"]) {
    std::string error;
    if (std::optional<DeployEvent> event = from_json(item, false, &error)) {
      events.push_back(std::move(*event));
    }
  }
  return events;
}

} // namespace probe::deploy
