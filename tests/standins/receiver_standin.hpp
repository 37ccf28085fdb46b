// A notification receiver on loopback for the alerting tests: it plays both the Telegram Bot
// API and a webhook endpoint for a real Alertmanager, and writes down what it was sent. Every
// POST, on any path, is answered 200 and appended to a file as one JSON line, flushed at once,
// so a shell test can poll the file while Alertmanager keeps sending.
#pragma once

#include <cstddef>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace httplib {
class Server;
struct Request;
struct Response;
} // namespace httplib

namespace probe::fakes {

// The line recorded for a request to `path` with `body`: {"path": ..., "body": ...}, where body
// is the parsed JSON when `body` is JSON and the text otherwise (invalid UTF-8 replaced).
std::string receiver_record(std::string_view path, std::string_view body);

// What every POST is answered with: a Telegram sendMessage success, `{"ok":true,"result":
// {"message_id":N,...}}`. A webhook sender ignores it; Alertmanager's Telegram notifier reads
// the sent message from `result` and fails without it.
std::string receiver_answer(std::size_t message_id);

struct ReceiverStandinOptions {
  std::string host = "127.0.0.1";
  int port = 0;         // 0: any free port, read back with port()
  std::string out_path; // the JSON-lines file, created if missing and appended to
};

class ReceiverStandin {
public:
  // Opens `out_path` and starts serving; returns once the server accepts connections and throws
  // std::runtime_error when the file cannot be opened or the port cannot be bound.
  explicit ReceiverStandin(ReceiverStandinOptions options);
  ~ReceiverStandin();
  ReceiverStandin(const ReceiverStandin&) = delete;
  ReceiverStandin& operator=(const ReceiverStandin&) = delete;

  int port() const { return m_port; }
  // Requests recorded so far.
  std::size_t requests() const;

  // Stops serving; idempotent, and what the destructor does. Returns within ~1 s while a client
  // holds an idle keep-alive connection (cpp-httplib 0.11 waits out the keep-alive timeout).
  void stop();

private:
  void handle(const httplib::Request& request, httplib::Response& response);

  ReceiverStandinOptions m_options;
  int m_port = 0;
  std::unique_ptr<httplib::Server> m_server;
  std::thread m_thread;

  mutable std::mutex m_mutex; // guards m_out and m_requests
  std::ofstream m_out;
  std::size_t m_requests = 0;
};

} // namespace probe::fakes
