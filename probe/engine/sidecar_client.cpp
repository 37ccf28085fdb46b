// The sidecar client; see sidecar_client.hpp.
#include "probe/engine/sidecar_client.hpp"

#include <array>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <openssl/err.h>
#include <unistd.h>

#include "probe/checks/tcp_check.hpp"
#include "probe/util/duration.hpp"
#include "probe/util/error.hpp"
#include "probe/util/strings.hpp"
#include "probe/util/terminal.hpp"

namespace probe::engine {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::seconds k_connect_timeout{2};
constexpr std::array<std::string_view, 5> k_endpoints{"/status", "/ready", "/healthz", "/metrics",
                                                      "/deploys"};

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// OpenSSL's reason for the handshake that just failed on this thread ("wrong version number"
// when the sidecar speaks plain HTTP), or empty.
std::string openssl_reason() {
  std::string reason;
  for (unsigned long code = ERR_get_error(); code != 0; code = ERR_get_error()) {
    const char* text = ERR_reason_error_string(code);
    if (reason.empty() && text != nullptr) {
      reason = text; // the first is the cause; later ones are the teardown's
    }
  }
  return reason;
}

// cpp-httplib names every connect failure "Connection"; a plain connect tells a refusal from an
// unknown name or an unreachable host, which is what the user needs to know.
std::string connect_problem(const util::Url& url) {
  checks::CheckResult result;
  const int fd = checks::connect_tcp(url.host, url.port, Clock::now() + k_connect_timeout, &result);
  if (fd >= 0) {
    close(fd);
    return "connection failed";
  }
  if (result.reason == "connection_refused") {
    return "connection refused";
  }
  if (result.reason == "timeout") {
    return "connect timed out after " + util::format_duration(k_connect_timeout);
  }
  return result.detail; // "cannot resolve probe: Name or service not known", ...
}

std::string transport_problem(const httplib::Result& result, const util::Url& url,
                              Clock::duration elapsed, std::chrono::milliseconds read_timeout) {
  switch (result.error()) {
  case httplib::Error::Connection:
    return connect_problem(url);
  case httplib::Error::ConnectionTimeout:
    return "connect timed out after " + util::format_duration(k_connect_timeout);
  case httplib::Error::Read:
    // cpp-httplib says Read for a timeout and for a closed connection alike.
    return elapsed >= read_timeout - read_timeout / 10
               ? "no answer within " + util::format_duration(read_timeout) + " (timed out)"
               : "connection closed before an answer";
  case httplib::Error::Write:
    return "connection closed while sending the request";
  case httplib::Error::SSLConnection: {
    const std::string reason = openssl_reason();
    return "TLS handshake failed" + (reason.empty() ? "" : ": " + reason);
  }
  case httplib::Error::SSLServerVerification:
    return "TLS certificate verification failed";
  case httplib::Error::SSLLoadingCerts:
    return "cannot load the system's CA certificates";
  default:
    return "request failed (" + httplib::to_string(result.error()) + ")";
  }
}

} // namespace

std::optional<std::string> normalise_sidecar_url(std::string_view text, std::string* error) {
  std::string url(util::trim(text));
  if (url.find_first_of("?#") != std::string::npos) {
    *error = "give the sidecar's base URL (e.g. http://probe:9464), without a query or fragment";
    return std::nullopt;
  }
  while (!url.empty() && url.back() == '/') {
    url.pop_back();
  }
  for (const std::string_view endpoint : k_endpoints) {
    if (ends_with(url, endpoint) && url.size() > endpoint.size() &&
        url[url.size() - endpoint.size() - 1] != '/') {
      url.resize(url.size() - endpoint.size());
      break;
    }
  }
  while (!url.empty() && url.back() == '/') {
    url.pop_back();
  }
  if (!util::parse_http_url(url, error)) {
    return std::nullopt;
  }
  return url;
}

SidecarClient::SidecarClient(std::string_view url) {
  std::string error;
  const std::optional<std::string> base = normalise_sidecar_url(url, &error);
  std::optional<util::Url> parsed = base ? util::parse_http_url(*base, &error) : std::nullopt;
  if (!parsed) {
    throw Error("--url: " + util::terminal_safe(error));
  }
  m_url = std::move(*parsed);
  m_base = *base;
  m_prefix = m_url.path_and_query == "/" ? "" : m_url.path_and_query;
}

SidecarAnswer SidecarClient::get(const std::string& path,
                                 std::chrono::milliseconds read_timeout) const {
  return send("GET", path, "", "", read_timeout);
}

SidecarAnswer SidecarClient::post(const std::string& path, const std::string& token,
                                  const std::string& json,
                                  std::chrono::milliseconds read_timeout) const {
  return send("POST", path, token, json, read_timeout);
}

SidecarAnswer SidecarClient::send(const std::string& method, const std::string& path,
                                  const std::string& token, const std::string& json,
                                  std::chrono::milliseconds read_timeout) const {
  httplib::Client client(m_url.base());
  client.set_connection_timeout(k_connect_timeout);
  client.set_read_timeout(read_timeout);
  client.set_write_timeout(read_timeout);
  httplib::Headers headers;
  if (!token.empty()) {
    headers.emplace("Authorization", "Bearer " + token);
  }
  ERR_clear_error();
  const Clock::time_point start = Clock::now();
  const httplib::Result result =
      method == "POST" ? client.Post(m_prefix + path, headers, json, "application/json")
                       : client.Get(m_prefix + path, headers);
  SidecarAnswer answer;
  const std::string asked = method + " " + m_base + path + ": ";
  if (!result) {
    answer.problem = asked + transport_problem(result, m_url, Clock::now() - start, read_timeout);
    // A restart refuses or drops connections for a moment; a TLS mismatch stays.
    const httplib::Error error = result.error();
    answer.retryable = error != httplib::Error::SSLConnection &&
                       error != httplib::Error::SSLServerVerification &&
                       error != httplib::Error::SSLLoadingCerts;
    return answer;
  }
  answer.status = result->status;
  answer.body = result->body;
  if (!answer.ok()) {
    const std::string reason = server_reason(answer.body);
    answer.problem = asked + std::to_string(answer.status) + (reason.empty() ? "" : ": " + reason);
    if (answer.status == 404) {
      answer.problem += " (is " + m_base + " a probe serve?)";
    }
    answer.retryable = answer.status == 502 || answer.status == 503 || answer.status == 504;
  }
  return answer;
}

SidecarAnswer
SidecarClient::with_retries(const std::function<SidecarAnswer()>& send,
                            std::chrono::milliseconds grace,
                            const std::function<void(const std::string&)>& on_first_retry) {
  const Clock::time_point start = Clock::now();
  SidecarAnswer answer = send();
  if (!answer.retryable) {
    return answer;
  }
  if (on_first_retry) {
    on_first_retry(answer.problem);
  }
  while (answer.retryable && Clock::now() - start < grace) {
    std::this_thread::sleep_until(std::min(Clock::now() + k_sidecar_retry_pause, start + grace));
    answer = send();
  }
  if (answer.retryable) {
    answer.problem += " (retried for " + util::format_duration(grace) + ")";
  }
  return answer;
}

SidecarAnswer SidecarClient::attempt(const std::function<SidecarAnswer()>& send,
                                     const std::optional<SidecarRetry>& retry) {
  if (!retry) {
    return send();
  }
  return with_retries(send, retry->grace, [&retry](const std::string& problem) {
    if (retry->say) {
      retry->say(problem + "; retrying for up to " + util::format_duration(retry->grace));
    }
  });
}

std::string SidecarClient::not_probe(const std::string& asked, std::string_view what,
                                     const std::string& why) const {
  const std::string reason =
      why.empty() ? "" : util::terminal_safe(util::truncate(why, 300)) + "; ";
  return asked + ": the answer is not probe's " + std::string(what) + " (" + reason + "is " +
         m_base + " a probe serve?)";
}

SidecarReply<StatusWire> SidecarClient::status(const std::optional<SidecarRetry>& retry) const {
  return typed_call<StatusWire>(
      "GET " + m_base + "/status", "status JSON",
      [this] { return get("/status", k_status_timeout); }, retry, status_from_json);
}

std::string server_reason(const std::string& body) {
  const nlohmann::json parsed = nlohmann::json::parse(body, nullptr, false);
  std::string text;
  if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_string()) {
    text = parsed["error"].get<std::string>();
  } else {
    text = std::string(util::trim(body));
  }
  return util::terminal_safe(util::truncate(text, 300));
}

} // namespace probe::engine
