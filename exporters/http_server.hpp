// probe serve's one HTTP server (cpp-httplib): /metrics, /healthz, /ready, /status,
// POST /heartbeat/{target}, POST /-/reload. It only moves bytes: every answer comes from the
// hooks, which read state in memory and never run a check. Mutating endpoints need
// `Authorization: Bearer TOKEN` (constant-time compare; 401 and nothing changed otherwise);
// bodies over 64 KiB get 413.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

namespace httplib {
class Server;
}

namespace probe::exporters {

struct ReloadOutcome {
  bool ok = false;
  std::string message;
};

// What the server asks of the rest of probe. Each hook is called on a server thread.
struct ServerHooks {
  // The exposition text, shared with the render cache: streamed out, never copied per scrape.
  std::function<std::shared_ptr<const std::string>()> metrics;
  std::function<nlohmann::json()> ready;             // /ready body; "ready" decides 200 vs 503
  std::function<nlohmann::json()> status;            // /status body
  std::function<bool(const std::string&)> heartbeat; // false: no push target of that name
  std::function<ReloadOutcome()> reload;
  std::function<std::string()> token; // the bearer token now ("" = none set)
  // GET /deploys: the HTTP status and the JSON body, already serialized (the hook bounds it).
  std::function<std::pair<int, std::string>(std::size_t limit)> deploys;
  // POST /deploys: records the event in `body`; returns the HTTP status and the answer.
  std::function<std::pair<int, nlohmann::json>(const std::string& body)> record_deploy;
};

class HttpServer {
public:
  static constexpr std::size_t k_max_body_bytes = 64 * 1024;

  explicit HttpServer(ServerHooks hooks);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds `host`:`port` (0 = any free port) and returns the port; throws probe::Error when
  // the address cannot be bound.
  int bind(const std::string& host, int port);
  // Serves until stop(); call after bind().
  void serve();
  void stop();

  // Lets other modules (deploy endpoints) add routes before serve().
  httplib::Server& raw() { return *m_server; }

  // True when `authorization` is "Bearer <token>" with the right token (constant time).
  static bool authorized(const std::string& authorization, const std::string& token);

private:
  void add_routes();

  ServerHooks m_hooks;
  std::unique_ptr<httplib::Server> m_server;
};

} // namespace probe::exporters
