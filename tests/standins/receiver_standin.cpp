// The notification receiver; see receiver_standin.hpp. One cpp-httplib server with a catch-all
// POST route; each request is recorded under the mutex, so lines never interleave.
#include "tests/standins/receiver_standin.hpp"

#include <chrono>
#include <stdexcept>
#include <utility>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <sys/socket.h>

namespace probe::fakes {

std::string receiver_record(std::string_view path, std::string_view body) {
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    parsed = std::string(body);
  }
  const nlohmann::json record{{"path", std::string(path)}, {"body", std::move(parsed)}};
  return record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string receiver_answer(std::size_t message_id) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::system_clock::now().time_since_epoch());
  const nlohmann::json answer{{"ok", true},
                              {"result",
                               {{"message_id", message_id},
                                {"date", now.count()},
                                {"chat", {{"id", 0}, {"type", "private"}}}}}};
  return answer.dump();
}

ReceiverStandin::ReceiverStandin(ReceiverStandinOptions options)
    : m_options(std::move(options)), m_server(std::make_unique<httplib::Server>()),
      m_out(m_options.out_path, std::ios::app) {
  if (!m_out) {
    throw std::runtime_error("receiver stand-in: cannot open " + m_options.out_path);
  }
  httplib::Server& server = *m_server;
  // As in HttpStandin: a short keep-alive so stop() is quick, no Nagle delay, and a fixed port
  // that is taken fails instead of being shared (SO_REUSEADDR, not cpp-httplib's SO_REUSEPORT).
  server.set_keep_alive_timeout(1);
  server.set_tcp_nodelay(true);
  server.set_socket_options([](int fd) {
    const int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  });
  server.Post(".*", [this](const httplib::Request& request, httplib::Response& response) {
    handle(request, response);
  });

  m_port = m_options.port == 0
               ? server.bind_to_any_port(m_options.host)
               : (server.bind_to_port(m_options.host, m_options.port) ? m_options.port : -1);
  if (m_port <= 0) {
    throw std::runtime_error("receiver stand-in: cannot listen on " + m_options.host + ":" +
                             std::to_string(m_options.port));
  }
  m_thread = std::thread([this] { m_server->listen_after_bind(); });
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!m_server->is_running()) {
    if (std::chrono::steady_clock::now() > give_up) {
      throw std::runtime_error("receiver stand-in: server thread did not start");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

ReceiverStandin::~ReceiverStandin() {
  stop();
}

void ReceiverStandin::stop() {
  if (m_thread.joinable()) {
    m_server->stop();
    m_thread.join();
  }
}

std::size_t ReceiverStandin::requests() const {
  const std::lock_guard<std::mutex> lock(m_mutex);
  return m_requests;
}

void ReceiverStandin::handle(const httplib::Request& request, httplib::Response& response) {
  const std::string line = receiver_record(request.path, request.body);
  std::size_t message_id = 0;
  {
    const std::lock_guard<std::mutex> lock(m_mutex);
    m_out << line << '\n' << std::flush;
    message_id = ++m_requests;
  }
  response.set_content(receiver_answer(message_id), "application/json");
}

} // namespace probe::fakes
