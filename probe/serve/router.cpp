// probe serve's routes; see router.hpp.
#include "probe/serve/router.hpp"

#include <algorithm>
#include <exception>

#include <spdlog/spdlog.h>

#include "exporters/status_page.hpp"
#include "probe/util/hex.hpp"
#include "probe/util/json_text.hpp"
#include "probe/util/secret.hpp"

namespace probe::serve {
namespace {

constexpr const char* k_json = "application/json";
// The exposition format Prometheus expects for text 0.0.4.
constexpr const char* k_metrics_type = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::size_t k_max_deploys_limit = 1000;

Response json_response(int status, const nlohmann::json& body) {
  Response response;
  response.status = status;
  response.content_type = k_json;
  response.body = util::json_text(body) + "\n";
  return response;
}

bool is_get(const Request& request) {
  return request.method == "GET" || request.method == "HEAD";
}

// The known paths and the methods each takes.
struct PathMethods {
  const char* path;
  const char* allow;
};
constexpr PathMethods k_paths[] = {
    {"/metrics", "GET, HEAD"}, {"/healthz", "GET, HEAD"},       {"/ready", "GET, HEAD"},
    {"/status", "GET, HEAD"},  {"/deploys", "GET, HEAD, POST"}, {"/-/reload", "POST"},
    {"/", "GET, HEAD"},
};

// RFC 9110 15.5.6: 405 names the methods the path takes.
Response method_not_allowed(const std::string& method, const char* allow) {
  Response response =
      error_response(405, "method " + method + " not allowed here; allowed: " + allow);
  response.headers.emplace_back("Allow", allow);
  return response;
}

// `/heartbeat/{target}` with a target name as the config allows it: [a-z0-9_-]{1,63}.
bool is_target_name(std::string_view name) {
  return !name.empty() && name.size() <= 63 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

// One query component, percent-decoded ('+' is a space, as forms send it); false on a bad escape.
bool decode_component(std::string_view text, std::string* out) {
  out->clear();
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%') {
      if (i + 2 >= text.size()) {
        return false;
      }
      const int high = util::hex_digit_value(text[i + 1]);
      const int low = util::hex_digit_value(text[i + 2]);
      if (high < 0 || low < 0) {
        return false;
      }
      out->push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else {
      out->push_back(text[i] == '+' ? ' ' : text[i]);
    }
  }
  return true;
}

// GET /deploys?limit=N: N from 1 to 1000; other parameters are ignored.
std::optional<std::string> parse_limit(std::string_view query, std::size_t* limit) {
  bool seen = false;
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const std::size_t equals = pair.find('=');
    std::string key;
    std::string value;
    if (!decode_component(pair.substr(0, equals), &key) ||
        !decode_component(equals == std::string_view::npos ? "" : pair.substr(equals + 1),
                          &value)) {
      return "query: a bad percent-escape";
    }
    if (key != "limit") {
      continue;
    }
    if (seen) {
      return "limit: given more than once";
    }
    seen = true;
    const bool digits =
        !value.empty() && value.size() <= 4 &&
        std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; });
    const std::size_t parsed = digits ? std::stoul(value) : 0;
    if (parsed < 1 || parsed > k_max_deploys_limit) {
      return "limit: a whole number from 1 to 1000";
    }
    *limit = parsed;
  }
  return std::nullopt;
}

} // namespace

Response error_response(int status, std::string_view reason) {
  Response response = json_response(status, {{"error", std::string(reason)}});
  if (status == 401) {
    response.headers.emplace_back("WWW-Authenticate", "Bearer");
  }
  return response;
}

const char* reason_phrase(int status) {
  switch (status) {
  case 100:
    return "Continue";
  case 200:
    return "OK";
  case 201:
    return "Created";
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 408:
    return "Request Timeout";
  case 409:
    return "Conflict";
  case 413:
    return "Content Too Large";
  case 414:
    return "URI Too Long";
  case 417:
    return "Expectation Failed";
  case 422:
    return "Unprocessable Content";
  case 431:
    return "Request Header Fields Too Large";
  case 500:
    return "Internal Server Error";
  case 501:
    return "Not Implemented";
  case 503:
    return "Service Unavailable";
  case 505:
    return "HTTP Version Not Supported";
  default:
    return "Unknown";
  }
}

RouteResult route(const Request& request) {
  RouteResult result;
  const std::string& path = request.path;
  Route found;
  if (path.rfind("/heartbeat/", 0) == 0) {
    const std::string name = path.substr(std::string_view("/heartbeat/").size());
    if (!is_target_name(name)) {
      result.refusal = error_response(404, "no such endpoint: " + path.substr(0, 200));
      return result;
    }
    if (request.method != "POST") {
      result.refusal = method_not_allowed(request.method, "POST");
      return result;
    }
    found = Route{Endpoint::heartbeat, Work::memory, true, name, 0};
  } else {
    const auto known = std::find_if(std::begin(k_paths), std::end(k_paths),
                                    [&](const PathMethods& entry) { return path == entry.path; });
    if (known == std::end(k_paths)) {
      result.refusal = error_response(404, "no such endpoint: " + path.substr(0, 200));
      return result;
    }
    const bool post = request.method == "POST";
    if (path == "/metrics" && is_get(request)) {
      found = Route{Endpoint::metrics, Work::memory, false, {}, 0};
    } else if (path == "/healthz" && is_get(request)) {
      found = Route{Endpoint::healthz, Work::none, false, {}, 0};
    } else if (path == "/ready" && is_get(request)) {
      found = Route{Endpoint::ready, Work::memory, false, {}, 0};
    } else if (path == "/status" && is_get(request)) {
      found = Route{Endpoint::status, Work::memory, false, {}, 0};
    } else if (path == "/" && is_get(request)) {
      // From memory: the deploy events it shows are the deploy thread's last read, never a
      // wait on the event store.
      found = Route{Endpoint::status_page, Work::memory, false, {}, 0};
    } else if (path == "/deploys" && is_get(request)) {
      found = Route{Endpoint::deploys_list, Work::storage, false, {}, 20};
      if (const std::optional<std::string> error = parse_limit(request.query, &found.limit)) {
        result.refusal = error_response(400, *error);
        return result;
      }
    } else if (path == "/deploys" && post) {
      found = Route{Endpoint::deploys_record, Work::storage, true, {}, 0};
    } else if (path == "/-/reload" && post) {
      found = Route{Endpoint::reload, Work::storage, true, {}, 0};
    } else {
      result.refusal = method_not_allowed(request.method, known->allow);
      return result;
    }
  }
  if (found.needs_token && request.headers.count("Authorization") > 1) {
    result.refusal = error_response(400, "Authorization: more than one");
    return result;
  }
  result.route = std::move(found);
  return result;
}

Router::Router(ServerHooks hooks) : m_hooks(std::move(hooks)) {}

bool Router::authorized(std::string_view authorization, const std::string& token) {
  constexpr std::string_view k_scheme = "bearer";
  if (token.empty() || authorization.size() <= k_scheme.size() ||
      !std::equal(k_scheme.begin(), k_scheme.end(), authorization.begin(),
                  [](char a, char b) { return a == (b >= 'A' && b <= 'Z' ? b - 'A' + 'a' : b); }) ||
      authorization[k_scheme.size()] != ' ') {
    return false;
  }
  std::string_view credentials = authorization.substr(k_scheme.size());
  while (!credentials.empty() && credentials.front() == ' ') {
    credentials.remove_prefix(1);
  }
  return util::constant_time_equal(credentials, token);
}

std::optional<Response> Router::admit(const Route& route, const Request& request) const {
  if (!route.needs_token) {
    return std::nullopt;
  }
  const std::string* header = request.headers.find("Authorization");
  const std::string_view authorization = header != nullptr ? std::string_view(*header) : "";
  const std::string token = m_hooks.token ? m_hooks.token() : std::string();
  // A heartbeat takes the heartbeat token, and the deploy token as before; everything else
  // only the deploy token, so the bot's credential cannot record deploys or reload.
  std::string heartbeat_token;
  if (route.endpoint == Endpoint::heartbeat && m_hooks.heartbeat_token) {
    heartbeat_token = m_hooks.heartbeat_token();
  }
  const bool deploy_ok = authorized(authorization, token);
  const bool heartbeat_ok = authorized(authorization, heartbeat_token);
  if (deploy_ok || heartbeat_ok) {
    return std::nullopt;
  }
  if (token.empty() && heartbeat_token.empty()) {
    return error_response(401, route.endpoint == Endpoint::heartbeat
                                   ? "no token configured (deploy.token, deploy.heartbeat_token)"
                                   : "no token configured (deploy.token)");
  }
  return error_response(401, "missing or wrong bearer token");
}

Response Router::handle(const Route& route, const Request& request) const {
  try {
    if (std::optional<Response> refusal = admit(route, request)) {
      return std::move(*refusal);
    }
    return run(route, request);
  } catch (const std::exception& e) {
    spdlog::error("{} {}: {}", request.method, request.path.substr(0, 200), e.what());
  } catch (...) {
    spdlog::error("{} {}: an unknown exception", request.method, request.path.substr(0, 200));
  }
  return error_response(500, "internal error (see the sidecar's log)");
}

Response Router::run(const Route& route, const Request& request) const {
  switch (route.endpoint) {
  case Endpoint::healthz: {
    Response response;
    response.content_type = "text/plain";
    response.body = "ok\n";
    return response;
  }
  case Endpoint::metrics: {
    Response response;
    response.content_type = k_metrics_type;
    response.shared_body = m_hooks.metrics();
    return response;
  }
  case Endpoint::ready: {
    const nlohmann::json body = m_hooks.ready();
    return json_response(body.value("ready", false) ? 200 : 503, body);
  }
  case Endpoint::status:
    return json_response(200, m_hooks.status());
  case Endpoint::status_page: {
    std::optional<std::string> page = m_hooks.status_page ? m_hooks.status_page() : std::nullopt;
    if (!page) {
      return error_response(404, "no such endpoint: / (status_page: false)");
    }
    Response response;
    response.content_type = exporters::k_status_page_content_type;
    response.body = std::move(*page);
    // The page shows state that changes every few seconds, and text from outside: never
    // cached, never sniffed as another type, and no script or fetch but its own.
    response.headers = {{"Cache-Control", "no-store"},
                        {"Content-Security-Policy", exporters::status_page_csp()},
                        {"X-Content-Type-Options", "nosniff"},
                        {"Referrer-Policy", "no-referrer"}};
    return response;
  }
  case Endpoint::deploys_list: {
    // Moved in, never copied: the body may be a budget's worth (1 MiB).
    auto [status, body] = m_hooks.deploys(route.limit);
    Response response;
    response.status = status;
    response.content_type = k_json;
    response.body = std::move(body);
    return response;
  }
  case Endpoint::deploys_record: {
    const auto [status, body] = m_hooks.record_deploy(request.body);
    return json_response(status, body);
  }
  case Endpoint::heartbeat:
    if (!m_hooks.heartbeat(route.heartbeat_target)) {
      return error_response(404, "no heartbeat target with source: push named " +
                                     route.heartbeat_target);
    }
    return json_response(200, {{"target", route.heartbeat_target}, {"recorded", true}});
  case Endpoint::reload: {
    const ReloadOutcome outcome = m_hooks.reload();
    return json_response(outcome.ok ? 200 : 400,
                         {{"reloaded", outcome.ok}, {"message", outcome.message}});
  }
  }
  return error_response(500, "internal error: unknown endpoint");
}

} // namespace probe::serve
