// Deploy events over the sidecar's HTTP API; see sidecar_sink.hpp.
#include "probe/deploy/sidecar_sink.hpp"

#include <httplib.h>

#include "probe/util/error.hpp"
#include "probe/util/url.hpp"

namespace probe::deploy {
namespace {

httplib::Client client_for(const std::string& url) {
  std::string error;
  const util::Url parsed = *util::parse_http_url(url, &error);
  httplib::Client client(parsed.base());
  client.set_connection_timeout(std::chrono::seconds(3));
  client.set_read_timeout(std::chrono::seconds(15)); // the sidecar may wait for its database
  return client;
}

std::string path_prefix(const std::string& url) {
  std::string error;
  const std::string path = util::parse_http_url(url, &error)->path_and_query;
  return path == "/" ? "" : path;
}

} // namespace

SidecarEventSink::SidecarEventSink(std::string url, std::string token)
    : m_url(std::move(url)), m_token(std::move(token)) {
  while (!m_url.empty() && m_url.back() == '/') {
    m_url.pop_back();
  }
  std::string error;
  if (!util::parse_http_url(m_url, &error)) {
    throw Error("--url: " + error);
  }
}

void SidecarEventSink::record(const DeployEvent& event) {
  httplib::Client client = client_for(m_url);
  const httplib::Headers headers{{"Authorization", "Bearer " + m_token}};
  const httplib::Result result =
      client.Post(path_prefix(m_url) + "/deploys", headers,
                  to_json(event).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  "application/json");
  if (!result) {
    throw Error("POST " + m_url + "/deploys: " + httplib::to_string(result.error()), 1);
  }
  if (result->status != 200 && result->status != 201) {
    throw Error("POST " + m_url + "/deploys: " + std::to_string(result->status) + " " +
                    result->body.substr(0, 300),
                1);
  }
}

std::vector<DeployEvent> SidecarEventSink::recent(std::size_t limit) {
  httplib::Client client = client_for(m_url);
  const httplib::Result result =
      client.Get(path_prefix(m_url) + "/deploys?limit=" + std::to_string(limit));
  if (!result || result->status != 200) {
    throw Error("GET " + m_url + "/deploys: " +
                    (result ? std::to_string(result->status) : httplib::to_string(result.error())),
                1);
  }
  const nlohmann::json body = nlohmann::json::parse(result->body, nullptr, false);
  std::vector<DeployEvent> events;
  if (body.is_object() && body.contains("events") && body["events"].is_array()) {
    for (const nlohmann::json& item : body["events"]) {
      std::string error;
      if (std::optional<DeployEvent> event = from_json(item, false, &error)) {
        events.push_back(std::move(*event));
      }
    }
  }
  return events;
}

} // namespace probe::deploy
