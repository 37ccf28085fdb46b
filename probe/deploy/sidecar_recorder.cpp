// Deploy events over the sidecar's HTTP API; see sidecar_recorder.hpp.
#include "probe/deploy/sidecar_recorder.hpp"

#include "probe/util/error.hpp"
#include "probe/util/json_text.hpp"

namespace probe::deploy {
namespace {

constexpr std::chrono::seconds k_read_timeout{15}; // the sidecar may wait for its database

// A refusal (4xx: a bad field, the token, not a probe) or an answer that is not probe's is the
// caller's to fix: exit 2, as for a usage error; an unreachable or failing sidecar is exit 1.
template <typename T> int exit_code_for(const engine::SidecarReply<T>& reply) {
  const int status = reply.answer.status;
  return reply.unreadable || (status >= 400 && status < 500) ? 2 : 1;
}

} // namespace

engine::SidecarReply<DeploysPage>
DeploySidecarClient::deploys(std::size_t limit,
                             const std::optional<engine::SidecarRetry>& retry) const {
  const std::string path = "/deploys?limit=" + std::to_string(limit);
  return typed_call<DeploysPage>(
      "GET " + url() + path, "event list", [&] { return get(path, k_read_timeout); }, retry,
      [](const nlohmann::json& body, std::string* error) {
        return deploys_page_from_json(body, error);
      });
}

engine::SidecarReply<std::string>
DeploySidecarClient::record(const DeployEvent& event, const std::string& token,
                            const std::optional<engine::SidecarRetry>& retry) const {
  const std::string body = util::json_text(to_json(event));
  engine::SidecarReply<RecordedWire> recorded = typed_call<RecordedWire>(
      "POST " + url() + "/deploys", "answer to an event",
      [&] { return post("/deploys", token, body, k_read_timeout); }, retry, recorded_from_json);
  engine::SidecarReply<std::string> reply;
  reply.answer = std::move(recorded.answer);
  reply.unreadable = recorded.unreadable;
  if (recorded.value) {
    reply.value = std::move(recorded.value->event_id);
  }
  return reply;
}

SidecarEventRecorder::SidecarEventRecorder(std::string_view url, std::string token,
                                           std::function<void(const std::string&)> log)
    : m_client(url), m_token(std::move(token)), m_log(std::move(log)) {}

void SidecarEventRecorder::record(const DeployEvent& event) {
  const engine::SidecarReply<std::string> reply =
      m_client.record(event, m_token, engine::SidecarRetry{engine::k_sidecar_grace, m_log});
  if (!reply.ok()) {
    throw Error(reply.problem() + (reply.answer.status == 401 ? " (PROBE_TOKEN must be the "
                                                                "sidecar's deploy.token)"
                                                              : ""),
                exit_code_for(reply));
  }
}

std::vector<DeployEvent> SidecarEventRecorder::recent(std::size_t limit) {
  engine::SidecarReply<DeploysPage> reply =
      m_client.deploys(limit, engine::SidecarRetry{engine::k_sidecar_grace, m_log});
  if (!reply.ok()) {
    throw Error(reply.problem(), exit_code_for(reply));
  }
  return std::move(reply.value->events);
}

} // namespace probe::deploy
