// Routing and authorization for probe serve; see http_server.hpp.
#include "exporters/http_server.hpp"

#include <cstdlib>

#include <httplib.h>
#include <sys/socket.h>

#include "probe/util/elastic_pool.hpp"
#include "probe/util/error.hpp"
#include "probe/util/secret.hpp"

namespace probe::exporters {
namespace {

// cpp-httplib 0.11.4 listens with a backlog of 5: a scrape arriving with a burst of deploy
// scripts' polls would be refused. listen() again on the bound socket widens it.
class WideBacklogServer final : public httplib::Server {
public:
  bool widen_backlog(int backlog) { return ::listen(svr_sock_, backlog) == 0; }
};

// cpp-httplib keeps a connection on one thread for as long as it lasts, so its fixed pool of 8
// is taken by 8 idle kept-alive (or slowloris) clients and a scrape queues behind them for
// their timeouts. An elastic pool always has a thread for a new connection: two when quiet,
// up to k_max_connection_threads under load, each ending after 10 s without work.
constexpr std::size_t k_min_connection_threads = 2;
constexpr std::size_t k_max_connection_threads = 1024;
constexpr std::chrono::seconds k_connection_thread_idle{10};

class ElasticTaskQueue final : public httplib::TaskQueue {
public:
  ElasticTaskQueue()
      : m_pool(k_min_connection_threads, k_max_connection_threads, k_connection_thread_idle) {}
  void enqueue(std::function<void()> task) override { m_pool.submit(std::move(task)); }
  void shutdown() override { m_pool.shutdown(); }

private:
  util::ElasticPool m_pool;
};

constexpr const char* k_json = "application/json";
// The exposition format Prometheus expects for text 0.0.4.
constexpr const char* k_metrics_type = "text/plain; version=0.0.4; charset=utf-8";

void json_reply(httplib::Response& response, int status, const nlohmann::json& body) {
  response.status = status;
  response.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
                       k_json);
}

void error_reply(httplib::Response& response, int status, const std::string& message) {
  json_reply(response, status, {{"error", message}});
}

} // namespace

HttpServer::HttpServer(ServerHooks hooks)
    : m_hooks(std::move(hooks)), m_server(std::make_unique<WideBacklogServer>()) {
  m_server->new_task_queue = [] { return new ElasticTaskQueue(); };
  m_server->set_payload_max_length(k_max_body_bytes);
  // A slow or idle client must not hold a server thread for long; an idle kept-alive
  // connection also holds a graceful stop for up to the keep-alive timeout.
  m_server->set_read_timeout(5, 0);
  m_server->set_write_timeout(5, 0);
  m_server->set_keep_alive_timeout(2);
  m_server->set_keep_alive_max_count(1000);
  // Head and body go out in two writes: without this, Nagle holds the body for the client's
  // delayed ACK and a kept-alive scrape takes ~40 ms.
  m_server->set_tcp_nodelay(true);
  // cpp-httplib's default is SO_REUSEPORT, which lets a second probe bind the same port and
  // silently take half the scrapes; SO_REUSEADDR still allows a quick restart.
  m_server->set_socket_options([](int fd) {
    const int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  });
  add_routes();
}

HttpServer::~HttpServer() {
  stop();
}

bool HttpServer::authorized(const std::string& authorization, const std::string& token) {
  static const std::string k_prefix = "Bearer ";
  if (token.empty() || authorization.size() <= k_prefix.size() ||
      authorization.compare(0, k_prefix.size(), k_prefix) != 0) {
    return false;
  }
  return util::constant_time_equal(authorization.substr(k_prefix.size()), token);
}

void HttpServer::add_routes() {
  m_server->Get("/metrics", [this](const httplib::Request&, httplib::Response& response) {
    // Streamed from the shared text in 64 KiB pieces: 16 concurrent scrapes of 1,000 targets
    // (1.7 MB each) would otherwise hold 16 copies.
    std::shared_ptr<const std::string> text = m_hooks.metrics();
    const std::size_t size = text->size();
    response.set_content_provider(
        size, k_metrics_type,
        [text = std::move(text)](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
          constexpr std::size_t k_piece = 64 * 1024;
          return sink.write(text->data() + offset, std::min(length, k_piece));
        });
  });
  m_server->Get("/healthz", [](const httplib::Request&, httplib::Response& response) {
    response.set_content("ok\n", "text/plain");
  });
  m_server->Get("/ready", [this](const httplib::Request&, httplib::Response& response) {
    const nlohmann::json body = m_hooks.ready();
    json_reply(response, body.value("ready", false) ? 200 : 503, body);
  });
  m_server->Get("/status", [this](const httplib::Request&, httplib::Response& response) {
    json_reply(response, 200, m_hooks.status());
  });

  // Mutating endpoints: authorize first, act only then.
  auto guarded = [this](auto action) {
    return [this, action](const httplib::Request& request, httplib::Response& response) {
      if (!authorized(request.get_header_value("Authorization"), m_hooks.token())) {
        response.set_header("WWW-Authenticate", "Bearer");
        error_reply(response, 401,
                    m_hooks.token().empty() ? "no token configured (deploy.token)"
                                            : "missing or wrong bearer token");
        return;
      }
      action(request, response);
    };
  };
  m_server->Post(R"(/heartbeat/([a-z0-9_-]{1,63}))",
                 guarded([this](const httplib::Request& request, httplib::Response& response) {
                   const std::string target = request.matches[1];
                   if (!m_hooks.heartbeat(target)) {
                     error_reply(response, 404,
                                 "no heartbeat target with source: push named " + target);
                     return;
                   }
                   json_reply(response, 200, {{"target", target}, {"recorded", true}});
                 }));
  m_server->Get("/deploys", [this](const httplib::Request& request, httplib::Response& response) {
    std::size_t limit = 20;
    if (request.has_param("limit")) {
      const std::string text = request.get_param_value("limit");
      char* end = nullptr;
      const unsigned long value = std::strtoul(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0' || value < 1 || value > 1000) {
        error_reply(response, 400, "limit: a whole number from 1 to 1000");
        return;
      }
      limit = value;
    }
    // Moved in, not set_content()'s copy: the body may be a budget's worth (1 MiB).
    auto [status, body] = m_hooks.deploys(limit);
    response.status = status;
    response.body = std::move(body);
    response.set_header("Content-Type", k_json);
  });
  m_server->Post("/deploys",
                 guarded([this](const httplib::Request& request, httplib::Response& response) {
                   const auto [status, body] = m_hooks.record_deploy(request.body);
                   json_reply(response, status, body);
                 }));
  m_server->Post("/-/reload", guarded([this](const httplib::Request&, httplib::Response& response) {
                   const ReloadOutcome outcome = m_hooks.reload();
                   json_reply(response, outcome.ok ? 200 : 400,
                              {{"reloaded", outcome.ok}, {"message", outcome.message}});
                 }));
}

int HttpServer::bind(const std::string& host, int port) {
  const int bound = port == 0 ? m_server->bind_to_any_port(host)
                              : (m_server->bind_to_port(host, port) ? port : -1);
  if (bound < 0) {
    throw Error("listen: cannot bind " + host + ":" + std::to_string(port) + ": " +
                std::strerror(errno));
  }
  static_cast<WideBacklogServer&>(*m_server).widen_backlog(SOMAXCONN);
  return bound;
}

void HttpServer::serve() {
  m_server->listen_after_bind();
}

void HttpServer::stop() {
  if (m_server->is_running()) {
    m_server->stop();
  }
}

} // namespace probe::exporters
