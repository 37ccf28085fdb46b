// probe serve's routes, and what each answers, with no socket in sight: the server hands a parsed
// request here and sends back the Response it gets. Split in two because the server must decide
// some things from the head alone (for `Expect: 100-continue`, before reading a body):
// route() is pure — path, method and query, matched on the raw path and never on a
// percent-decoded one — and runs on the I/O thread; admit() and handle() call the hooks (the
// token, the sidecar's state, the event store, a reload), which may block, so the server runs
// them on a worker. Every error answer is JSON {"error": "<reason>"}, which `--url` clients show.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "probe/serve/http_request.hpp"

namespace probe::serve {

struct ReloadOutcome {
  bool ok = false;
  std::string message;
};

// What the server asks of the rest of probe. Each hook is called on a worker thread, never on
// the I/O thread, and may block.
struct ServerHooks {
  // The exposition text, shared with the render cache: written out, never copied per scrape.
  std::function<std::shared_ptr<const std::string>()> metrics;
  std::function<nlohmann::json()> ready;  // /ready body; "ready" decides 200 vs 503
  std::function<nlohmann::json()> status; // /status body
  // GET /: the status page's HTML, or nullopt when it is turned off (status_page: false).
  std::function<std::optional<std::string>()> status_page;
  std::function<bool(const std::string&)> heartbeat; // false: no push target of that name
  std::function<ReloadOutcome()> reload;
  std::function<std::string()> token; // deploy.token now ("" = none set)
  // deploy.heartbeat_token now ("" or no hook = none: heartbeats take the deploy token).
  std::function<std::string()> heartbeat_token;
  // GET /deploys: the HTTP status and the JSON body, already serialized (the hook bounds it).
  std::function<std::pair<int, std::string>(std::size_t limit)> deploys;
  // POST /deploys: records the event in `body`; returns the HTTP status and the answer.
  std::function<std::pair<int, nlohmann::json>(const std::string& body)> record_deploy;
};

struct Response {
  int status = 200;
  std::string content_type;
  std::string body;
  // When set, sent instead of `body` without a copy (/metrics: the render cache's text).
  std::shared_ptr<const std::string> shared_body;
  std::vector<std::pair<std::string, std::string>> headers; // besides Date, Content-*, Connection
  bool close = false; // close the connection after this answer

  std::size_t body_size() const { return shared_body ? shared_body->size() : body.size(); }
};

// A JSON error answer: {"error": `reason`} with `status` (and WWW-Authenticate on 401).
Response error_response(int status, std::string_view reason);

// The standard reason phrase of `status` ("Not Found"); "Unknown" for one probe never sends.
const char* reason_phrase(int status);

enum class Endpoint {
  healthz,
  metrics,
  ready,
  status,
  status_page,
  deploys_list,
  deploys_record,
  heartbeat,
  reload
};

// Which worker pool runs an endpoint: `memory` answers from state in memory (metrics, ready,
// status, the status page, heartbeats), `storage` may wait on the event store or a reload. A flood
// of slow requests to the one never delays the other; healthz needs no worker at all.
enum class Work { none, memory, storage };

struct Route {
  Endpoint endpoint = Endpoint::healthz;
  Work work = Work::none;
  bool needs_token = false;
  std::string heartbeat_target; // Endpoint::heartbeat
  std::size_t limit = 20;       // Endpoint::deploys_list
};

// The route of `request` (its head is enough), or the refusal to answer: 404 for an unknown
// path, 405 with Allow for a known path and another method, 400 for a bad query or a repeated
// Authorization header.
struct RouteResult {
  std::optional<Route> route;
  Response refusal;
};
RouteResult route(const Request& request);

class Router {
public:
  explicit Router(ServerHooks hooks);

  // For a route that needs a token: the 401 to answer when `request` (its head) does not bring
  // the right one, nullopt when it does. Calls the token hooks.
  std::optional<Response> admit(const Route& route, const Request& request) const;
  // The answer to `request` on `route`: admit() first, then the endpoint's hook. An exception
  // from a hook is logged and answered 500.
  Response handle(const Route& route, const Request& request) const;

  // True when `authorization` is "Bearer <token>" with the right token: the scheme in any case,
  // one or more spaces before the token (RFC 9110 11.1, 11.4), compared in constant time.
  static bool authorized(std::string_view authorization, const std::string& token);

private:
  Response run(const Route& route, const Request& request) const;

  ServerHooks m_hooks;
};

} // namespace probe::serve
