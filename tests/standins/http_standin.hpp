// A real HTTP server on loopback that plays a target: healthy, failing, slow, lying, trickling.
// Integration tests drive probe's HTTP check against it, and the probe-standin executable
// wraps it for shell scripts and the demo. Its behaviour can be switched while it runs, and
// every handler that waits (slow, trickle) wakes when the stand-in stops, so destroying one
// never hangs a test on a check that gave up long ago.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace httplib {
class Server;
struct Request;
struct Response;
} // namespace httplib

namespace probe::fakes {

// What the stand-in answers on `/` and `/health` (`/version` and `/elsewhere` always answer).
enum class HttpMode {
  healthy,    // /health -> 200 {"status":"ok","version":V}; / -> 200 small HTML
  error_500,  // 500 {"status":"error"}
  slow,       // waits `delay`, then answers as healthy
  wrong_body, // 200 {"status":"degraded"}
  bad_json,   // 200 `not json{`
  redirect,   // 302 to /elsewhere
  huge_body,  // 200 with a body of `huge_body_bytes` (5 MiB by default), streamed
  trickle,    // 200, then one byte of chunked body every 200 ms for minutes
};

std::string_view to_string(HttpMode mode);
// Parses a mode name as to_string() writes it; nullopt when unknown.
std::optional<HttpMode> parse_http_mode(std::string_view text);

// One request as the stand-in saw it, so tests can assert what the check sent.
struct RecordedRequest {
  std::string method;
  std::string path;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The first value of header `name` (case-insensitive), or nullopt.
  std::optional<std::string> header(std::string_view name) const;
};

struct HttpStandinOptions {
  std::string host = "127.0.0.1";
  int port = 0; // 0: any free port, read back with port()
  HttpMode mode = HttpMode::healthy;
  std::string version = "v1";
  std::chrono::milliseconds delay{1000}; // how long `slow` waits
  // Enough that a test's concurrent checks never queue behind each other (cpp-httplib's
  // default is 8 on a small machine; slow handlers and each kept-alive client connection hold
  // a worker while they last): a benchmark with N targets (N connections) needs at least N.
  std::size_t worker_threads = 48;
  // The Content-Length `huge_body` announces and streams, 64 KiB at a time from one buffer,
  // so a 100 MiB body costs the stand-in no more memory than a 5 MiB one. Last, so existing
  // positional initializers keep their meaning.
  std::size_t huge_body_bytes = std::size_t{5} * 1024 * 1024;
};

class HttpStandin {
public:
  using Mode = HttpMode;
  static constexpr std::chrono::milliseconds k_trickle_interval{200};

  // Starts serving on 127.0.0.1, any free port, healthy.
  HttpStandin();
  // Starts serving as `options` says; returns once the server accepts connections and throws
  // std::runtime_error when it cannot bind (for a fixed port: already in use).
  explicit HttpStandin(HttpStandinOptions options);
  ~HttpStandin();
  HttpStandin(const HttpStandin&) = delete;
  HttpStandin& operator=(const HttpStandin&) = delete;

  int port() const { return m_port; }
  // "http://127.0.0.1:PORT" followed by `path`.
  std::string url(std::string_view path = "/health") const;

  // Switches what `/` and `/health` answer; takes effect for the next request.
  void set_mode(HttpMode mode);
  HttpMode mode() const;
  // How long `slow` waits before answering.
  void set_delay(std::chrono::milliseconds delay);
  // The version /health and /version report; "bad" makes /health answer 500.
  void set_version(std::string version);

  // Requests received so far (every path).
  std::size_t requests() const;
  // Distinct client connections seen so far (by client port): keep-alive shows as 1.
  std::size_t connections() const;
  // The most requests whose handlers ran at the same time (a `slow` one runs for its delay):
  // how a test sees that checks run concurrently without timing them.
  std::size_t max_in_flight() const;
  // The most recent request, or nullopt before the first.
  std::optional<RecordedRequest> last_request() const;

  // Stops serving and wakes every waiting handler; idempotent, and what the destructor does.
  // Returns at once, or within ~1 s while a client still holds an idle keep-alive connection
  // (cpp-httplib 0.11 waits out the keep-alive timeout, set to 1 s here).
  void stop();

private:
  void handle(const httplib::Request& request, httplib::Response& response);
  // Waits up to `how_long`; returns false when the stand-in is stopping.
  bool wait_unless_stopping(std::chrono::milliseconds how_long);

  HttpStandinOptions m_options;
  int m_port = 0;
  std::unique_ptr<httplib::Server> m_server;
  std::thread m_thread;

  mutable std::mutex m_mutex;
  std::condition_variable m_wake; // notified on stop()
  bool m_stopping = false;
  HttpMode m_mode;
  std::string m_version;
  std::chrono::milliseconds m_delay;
  std::size_t m_requests = 0;
  std::size_t m_in_flight = 0;
  std::size_t m_max_in_flight = 0;
  std::set<int> m_client_ports;
  std::optional<RecordedRequest> m_last;
};

} // namespace probe::fakes
