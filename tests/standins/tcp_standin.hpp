// Raw-socket stand-ins for the ways a TCP service misbehaves below HTTP: one that accepts and
// then says nothing, one that resets every connection, one whose accept queue is full, one
// that closes a kept-alive connection as it is reused, and a PostgreSQL that is still
// starting up. No real server can be made to do these on demand, yet they are exactly what
// probe meets during a deploy, so the checks are tested against them.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace probe::fakes {

enum class TcpMode {
  // Accepts, reads nothing, never answers; connections stay open until the stand-in dies.
  hang_after_accept,
  // Accepts and closes at once with SO_LINGER 0, so the client sees a reset (RST).
  reset,
  // Speaks enough of the PostgreSQL wire protocol to refuse like a server in startup:
  // answers 'N' to SSLRequest/GSSENCRequest, then an ErrorResponse FATAL 57P03 "the database
  // system is starting up" to the StartupMessage, and closes.
  postgres_rejecting,
  // Answers every connection with an HTTP status line and then one byte of a header line
  // every 200 ms, never finishing the headers: each read succeeds well within any read
  // timeout, so only an overall deadline can stop a client.
  trickle_headers,
  // Listens with a backlog of 0 that the stand-in fills itself and never accepts: further
  // SYNs are dropped, so a connect hangs like one to a black-holed address.
  backlog_full,
  // Answers the first HTTP request on each connection `200 ok`, keeping the connection open,
  // then closes it unanswered when the next request arrives: a server whose keep-alive
  // timeout runs out just as the client reuses the connection, every time.
  drop_kept_alive,
};

std::string_view to_string(TcpMode mode);
// Parses a mode name as to_string() writes it; nullopt when unknown.
std::optional<TcpMode> parse_tcp_mode(std::string_view text);

class TcpStandin {
public:
  using Mode = TcpMode;

  // Listens on `host`:`port` (0: any free port) and serves `mode` from a background thread;
  // throws std::runtime_error when it cannot listen.
  explicit TcpStandin(TcpMode mode, const std::string& host = "127.0.0.1", int port = 0);
  // Stops the accept thread (within ~50 ms), closes every connection it holds.
  ~TcpStandin();
  TcpStandin(const TcpStandin&) = delete;
  TcpStandin& operator=(const TcpStandin&) = delete;

  int port() const { return m_port; }
  // Connections accepted so far.
  std::size_t accepted() const { return m_accepted.load(); }
  // Startup messages refused so far (postgres_rejecting).
  std::size_t rejected() const { return m_rejected.load(); }

private:
  void accept_loop();
  void serve_postgres(int fd);
  void serve_trickle(int fd);
  void serve_drop_kept_alive(int fd);
  // Reads until the end of an HTTP request head (no body); false when the peer closes, 30 s
  // pass or the stand-in stops.
  bool read_head(int fd);
  void fill_backlog();
  // Reads exactly `length` bytes unless the peer closes, 30 s pass or the stand-in stops.
  bool read_exact(int fd, char* data, std::size_t length);

  TcpMode m_mode;
  int m_listen_fd = -1;
  int m_port = 0;
  std::atomic<bool> m_stopping{false};
  std::atomic<std::size_t> m_accepted{0};
  std::atomic<std::size_t> m_rejected{0};
  std::mutex m_mutex;
  std::vector<int> m_held;             // connections kept open (hang, backlog fillers)
  std::vector<std::thread> m_sessions; // postgres, trickle and drop_kept_alive conversations
  std::thread m_acceptor;
};

// A loopback port with nothing listening on it: bound to port 0, read back, closed. Another
// process could take it in between, which on a test machine does not happen in practice.
int closed_port();

// A loopback port that was free a moment ago, for a server that must listen on a fixed port.
int free_loopback_port();

} // namespace probe::fakes
