// probe serve's HTTP/1.1 server: one epoll thread owns every connection (non-blocking sockets,
// a read buffer, a phase and a deadline each) and hands requests to two small elastic worker
// pools, so a handler that blocks (a reload, a PostgreSQL write) never stalls the I/O thread
// and a client that holds a connection costs a few hundred bytes, not a thread.
//
// Our own rather than cpp-httplib's Server (which probe still uses as an HTTP client): that
// one keeps a thread per connection for as long as it lasts, so 1,100 drip-fed connections
// made a fresh /metrics take 7 s; it answers a POST without Content-Length with 400, decodes
// the path before routing, sends `100 Continue` before any handler runs, cuts header values at
// a NUL, accepts differing Content-Lengths and Content-Length beside chunked, and drops
// pipelined requests. The parser (http_request.hpp) and the routes (router.hpp) are pure; this
// file only moves bytes and keeps time.
//
// What a client can hold, and for how long (the README's "probe serve" section has the same):
// - a request's head must arrive within k_head_timeout of its first byte (of the accept for a
//   new connection) and the whole request within k_request_timeout, however it trickles:
//   then 408 and close; a kept-alive connection idle for k_keep_alive_idle is closed; an
//   answer the client does not read within k_write_timeout is cut;
// - at most k_max_connections_per_client connections per client address (IPv6: per /64; the
//   next one gets 503 and is closed) and at most k_max_connections in all, fewer when
//   RLIMIT_NOFILE is lower (its soft limit is raised to the hard one at bind). At the global
//   cap a newcomer is let in by closing the connection that has done least: the longest idle,
//   else the one whose request has trickled longest. So a fresh scrape always gets in.
// Requests on one connection are answered in order, one at a time (pipelining).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "probe/serve/router.hpp"

namespace probe::serve {

inline constexpr std::chrono::seconds k_head_timeout{5};
inline constexpr std::chrono::seconds k_request_timeout{10};
inline constexpr std::chrono::seconds k_keep_alive_idle{2};
inline constexpr std::chrono::seconds k_write_timeout{10};
inline constexpr std::size_t k_max_connections = 8192;
inline constexpr std::size_t k_max_connections_per_client = 256;
// File descriptors kept free of connections (checks, PostgreSQL, the config, logs).
inline constexpr std::size_t k_reserved_fds = 256;

class HttpServer {
public:
  static constexpr std::size_t k_max_body_bytes = serve::k_max_body_bytes;

  explicit HttpServer(ServerHooks hooks);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds `host`:`port` (0 = any free port), listens, and returns the port: from here on
  // connections queue until serve() takes them. Throws probe::Error when it cannot bind.
  int bind(const std::string& host, int port);
  // Serves until stop(); call after bind(), on the thread that should be the I/O thread
  // (workers are started from it and inherit its signal mask).
  void serve();
  // Stops accepting, lets handlers in flight finish and their answers go out (for up to 5 s),
  // closes the rest; serve() then returns. Safe from any thread, before or during serve().
  void stop();

  // How many connections may be open at once here (k_max_connections or the fd limit's share).
  std::size_t max_connections() const;

  // True when `authorization` is "Bearer <token>" with the right token (see Router).
  static bool authorized(std::string_view authorization, const std::string& token) {
    return Router::authorized(authorization, token);
  }

private:
  class Loop;
  std::unique_ptr<Loop> m_loop;
};

} // namespace probe::serve
