// The HTTP stand-in; see http_standin.hpp. One cpp-httplib server with a catch-all route per
// method; the mode is read under the mutex at the start of each request.
#include "tests/standins/http_standin.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

#include <httplib.h>
#include <strings.h>
#include <sys/socket.h>

namespace probe::fakes {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::array<std::pair<HttpMode, std::string_view>, 8> k_mode_names{{
    {HttpMode::healthy, "healthy"},
    {HttpMode::error_500, "error_500"},
    {HttpMode::slow, "slow"},
    {HttpMode::wrong_body, "wrong_body"},
    {HttpMode::bad_json, "bad_json"},
    {HttpMode::redirect, "redirect"},
    {HttpMode::huge_body, "huge_body"},
    {HttpMode::trickle, "trickle"},
}};

// A trickle lasts this long at most, far beyond any check timeout.
constexpr std::size_t k_trickle_bytes = 600;
constexpr std::size_t k_huge_chunk = std::size_t{64} * 1024;

// cpp-httplib is compiled with a listen backlog of 5: a burst of concurrent checks would see
// SYNs dropped and a one-second retransmit, which is the stand-in's limit, not probe's. The
// listening socket is protected in httplib::Server, hence the subclass.
class WideBacklogServer final : public httplib::Server {
public:
  bool widen_backlog() { return ::listen(svr_sock_, 256) == 0; }
};

std::string health_json(std::string_view status, const std::string& version) {
  return std::string(R"({"status":")") + std::string(status) + R"(","version":")" + version + "\"}";
}

// What a healthy target answers on `path`; a "bad" version is a broken build.
void answer_healthy(const std::string& path, const std::string& version,
                    httplib::Response& response) {
  if (path == "/") {
    response.set_content("<!doctype html><html><head><title>stand-in</title></head>"
                         "<body><h1>HomeGuru</h1></body></html>\n",
                         "text/html");
    return;
  }
  if (version == "bad") {
    response.status = 500;
    response.set_content(health_json("error", version), "application/json");
    return;
  }
  response.set_content(health_json("ok", version), "application/json");
}

} // namespace

std::string_view to_string(HttpMode mode) {
  for (const auto& [value, name] : k_mode_names) {
    if (value == mode) {
      return name;
    }
  }
  return "healthy";
}

std::optional<HttpMode> parse_http_mode(std::string_view text) {
  for (const auto& [value, name] : k_mode_names) {
    if (name == text) {
      return value;
    }
  }
  return std::nullopt;
}

std::optional<std::string> RecordedRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key.size() == name.size() && strncasecmp(key.data(), name.data(), name.size()) == 0) {
      return value;
    }
  }
  return std::nullopt;
}

HttpStandin::HttpStandin() : HttpStandin(HttpStandinOptions{}) {}

HttpStandin::HttpStandin(HttpStandinOptions options)
    : m_options(std::move(options)), m_server(std::make_unique<WideBacklogServer>()),
      m_mode(m_options.mode), m_version(m_options.version), m_delay(m_options.delay) {
  httplib::Server& server = *m_server;
  server.new_task_queue = [threads = m_options.worker_threads] {
    return new httplib::ThreadPool(threads);
  };
  // Keep-alive must outlast a test's back-to-back checks (the default is 5 requests), and an
  // idle kept-alive connection holds a worker until this timeout even after stop().
  server.set_keep_alive_max_count(10'000);
  server.set_keep_alive_timeout(1);
  // The response head and body go out in two writes; without this, Nagle holds the body for
  // the client's delayed ACK and every kept-alive request takes ~40 ms.
  server.set_tcp_nodelay(true);
  // cpp-httplib's default is SO_REUSEPORT, which lets a second server bind a port in use and
  // share it silently; a fixed-port stand-in must fail instead. SO_REUSEADDR still allows a
  // restart on the same port while old connections sit in TIME_WAIT.
  server.set_socket_options([](int fd) {
    const int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  });
  const auto handler = [this](const httplib::Request& request, httplib::Response& response) {
    handle(request, response);
  };
  server.Get(".*", handler);
  server.Post(".*", handler);
  server.Put(".*", handler);
  server.Patch(".*", handler);
  server.Delete(".*", handler);
  server.Options(".*", handler);

  if (m_options.port == 0) {
    m_port = server.bind_to_any_port(m_options.host);
  } else if (server.bind_to_port(m_options.host, m_options.port)) {
    m_port = m_options.port;
  } else {
    m_port = -1;
  }
  if (m_port <= 0 || !static_cast<WideBacklogServer&>(server).widen_backlog()) {
    throw std::runtime_error("http stand-in: cannot listen on " + m_options.host + ":" +
                             std::to_string(m_options.port));
  }
  m_thread = std::thread([this] { m_server->listen_after_bind(); });
  // stop() is a no-op until the accept loop runs, so do not hand out a stand-in before then.
  const Clock::time_point give_up = Clock::now() + std::chrono::seconds(60);
  while (!m_server->is_running()) {
    if (Clock::now() > give_up) {
      throw std::runtime_error("http stand-in: server thread did not start");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

HttpStandin::~HttpStandin() {
  stop();
}

void HttpStandin::stop() {
  {
    const std::lock_guard<std::mutex> lock(m_mutex);
    m_stopping = true;
  }
  m_wake.notify_all();
  if (m_thread.joinable()) {
    m_server->stop();
    m_thread.join();
  }
}

std::string HttpStandin::url(std::string_view path) const {
  return m_options.host.find(':') == std::string::npos
             ? "http://" + m_options.host + ":" + std::to_string(m_port) + std::string(path)
             : "http://[" + m_options.host + "]:" + std::to_string(m_port) + std::string(path);
}

void HttpStandin::set_mode(HttpMode mode) {
  const std::lock_guard<std::mutex> lock(m_mutex);
  m_mode = mode;
}

HttpMode HttpStandin::mode() const {
  const std::lock_guard<std::mutex> lock(m_mutex);
  return m_mode;
}

void HttpStandin::set_delay(std::chrono::milliseconds delay) {
  const std::lock_guard<std::mutex> lock(m_mutex);
  m_delay = delay;
}

void HttpStandin::set_version(std::string version) {
  const std::lock_guard<std::mutex> lock(m_mutex);
  m_version = std::move(version);
}

std::size_t HttpStandin::requests() const {
  const std::lock_guard<std::mutex> lock(m_mutex);
  return m_requests;
}

std::size_t HttpStandin::connections() const {
  const std::lock_guard<std::mutex> lock(m_mutex);
  return m_client_ports.size();
}

std::size_t HttpStandin::max_in_flight() const {
  const std::lock_guard<std::mutex> lock(m_mutex);
  return m_max_in_flight;
}

std::optional<RecordedRequest> HttpStandin::last_request() const {
  const std::lock_guard<std::mutex> lock(m_mutex);
  return m_last;
}

bool HttpStandin::wait_unless_stopping(std::chrono::milliseconds how_long) {
  std::unique_lock<std::mutex> lock(m_mutex);
  return !m_wake.wait_for(lock, how_long, [this] { return m_stopping; });
}

void HttpStandin::handle(const httplib::Request& request, httplib::Response& response) {
  HttpMode mode = HttpMode::healthy;
  std::string version;
  std::chrono::milliseconds delay{0};
  {
    const std::lock_guard<std::mutex> lock(m_mutex);
    ++m_requests;
    m_max_in_flight = std::max(m_max_in_flight, ++m_in_flight);
    m_client_ports.insert(request.remote_port);
    RecordedRequest recorded{request.method, request.path, {}, request.body};
    for (const auto& [name, value] : request.headers) {
      recorded.headers.emplace_back(name, value);
    }
    m_last = std::move(recorded);
    mode = m_mode;
    version = m_version;
    delay = m_delay;
  }
  struct Leaving {
    HttpStandin& standin;
    ~Leaving() {
      const std::lock_guard<std::mutex> lock(standin.m_mutex);
      --standin.m_in_flight;
    }
  } const leaving{*this};

  const std::string& path = request.path;
  if (path == "/version") {
    response.set_content(version, "text/plain");
    return;
  }
  if (path == "/elsewhere") {
    response.set_content("you were redirected here\n", "text/plain");
    return;
  }
  if (path != "/" && path != "/health") {
    response.status = 404;
    response.set_content("no such path\n", "text/plain");
    return;
  }

  switch (mode) {
  case HttpMode::healthy:
    answer_healthy(path, version, response);
    return;
  case HttpMode::error_500:
    response.status = 500;
    response.set_content(R"({"status":"error"})", "application/json");
    return;
  case HttpMode::slow:
    if (!wait_unless_stopping(delay)) {
      response.status = 503;
      return;
    }
    answer_healthy(path, version, response);
    return;
  case HttpMode::wrong_body:
    response.set_content(R"({"status":"degraded"})", "application/json");
    return;
  case HttpMode::bad_json:
    response.set_content("not json{", "application/json");
    return;
  case HttpMode::redirect:
    response.set_redirect("/elsewhere", 302);
    return;
  case HttpMode::huge_body:
    response.set_content_provider(
        m_options.huge_body_bytes, "application/octet-stream",
        [this](std::size_t /*offset*/, std::size_t length, httplib::DataSink& sink) {
          static const std::string chunk(k_huge_chunk, 'x');
          {
            const std::lock_guard<std::mutex> lock(m_mutex);
            if (m_stopping) {
              return false;
            }
          }
          return sink.write(chunk.data(), std::min(length, chunk.size()));
        });
    return;
  case HttpMode::trickle:
    response.set_chunked_content_provider("text/plain",
                                          [this](std::size_t offset, httplib::DataSink& sink) {
                                            if (offset >= k_trickle_bytes) {
                                              sink.done();
                                              return true;
                                            }
                                            if (!wait_unless_stopping(k_trickle_interval)) {
                                              return false;
                                            }
                                            return sink.write("x", 1);
                                          });
    return;
  }
}

} // namespace probe::fakes
