// probe's own HTTP server against clients that hold connections: 500 idle connections that
// never send a byte, 500 slowloris connections (a request head that never ends, a byte at a
// time), and 500 kept-alive connections left idle after a request. While they are open, a
// fresh client's GET /metrics and GET /ready must each answer within 100 ms — a scrape never
// queues behind them — and once they close, the server's threads go back down.
#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "serve_fixture.hpp"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/fakes/http_standin.hpp"
#include "tests/fakes/sanitizers.hpp"

namespace probe::tests {
namespace {

using namespace std::chrono_literals;
constexpr int k_connections = 500;

// An open TCP connection to 127.0.0.1:`port`, or -1.
int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

class HeldConnections {
public:
  ~HeldConnections() {
    for (const int fd : m_fds) {
      ::close(fd);
    }
  }
  void open(int port, int count) {
    for (int i = 0; i < count; ++i) {
      const int fd = connect_to(port);
      ASSERT_GE(fd, 0) << "connection " << i;
      m_fds.push_back(fd);
    }
  }
  void send_all(const std::string& bytes) {
    for (const int fd : m_fds) {
      ASSERT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL),
                static_cast<ssize_t>(bytes.size()));
    }
  }
  // Reads one response head from every connection (they stay open: keep-alive).
  void read_heads() {
    for (const int fd : m_fds) {
      std::string head;
      char c = 0;
      while (head.find("\r\n\r\n") == std::string::npos && ::recv(fd, &c, 1, 0) == 1) {
        head += c;
      }
      ASSERT_NE(head.find(" 200 "), std::string::npos) << head;
    }
  }

private:
  std::vector<int> m_fds;
};

// The slower of GET /metrics and GET /ready from a fresh client, both required to be 200.
std::chrono::milliseconds slowest_answer(const RunningProbe& probe) {
  std::chrono::milliseconds slowest{0};
  for (const char* path : {"/metrics", "/ready", "/metrics", "/ready"}) {
    const auto start = std::chrono::steady_clock::now();
    const auto [status, body] = probe.get(path);
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    EXPECT_EQ(status, 200) << path;
    slowest = std::max(slowest, took);
  }
  return slowest;
}

int threads_of(RunningProbe& probe) {
  std::ifstream status("/proc/" + std::to_string(probe.process().pid()) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) {
      return std::stoi(line.substr(8));
    }
  }
  return -1;
}

class ServeSlowClients : public ::testing::Test {
protected:
  std::string config() const {
    return "defaults: {interval: 1s, timeout: 500ms}\n"
           "targets:\n  - {name: api, type: http, url: \"" +
           m_api.url("/health") + "\"}\n";
  }
  fakes::TempDir m_dir;
  fakes::HttpStandin m_api;
};

TEST_F(ServeSlowClients, IdleConnectionsDoNotDelayAScrape) {
  RunningProbe probe(m_dir, config());
  ASSERT_TRUE(fakes::eventually([&] { return probe.get("/ready").first == 200; }, 5s));
  const int quiet_threads = threads_of(probe);
  {
    HeldConnections idle;
    idle.open(probe.port(), k_connections); // connected, never a byte
    std::this_thread::sleep_for(200ms);
    EXPECT_LT(slowest_answer(probe), test_support::latency_bound(100ms));
  }
  // The connection threads end after their idle time (10 s); well before that they are free.
  EXPECT_TRUE(fakes::eventually([&] { return threads_of(probe) <= quiet_threads + 4; }, 20s))
      << threads_of(probe) << " threads, " << quiet_threads << " when quiet";
}

TEST_F(ServeSlowClients, SlowlorisConnectionsDoNotDelayAScrape) {
  RunningProbe probe(m_dir, config());
  ASSERT_TRUE(fakes::eventually([&] { return probe.get("/ready").first == 200; }, 5s));
  HeldConnections slow;
  slow.open(probe.port(), k_connections);
  slow.send_all("GET /metrics HTTP/1.1\r\nHost: x\r\n"); // the head never ends
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(300ms);
    slow.send_all("X"); // ... a byte at a time, each within the read timeout
    EXPECT_LT(slowest_answer(probe), test_support::latency_bound(100ms)) << "round " << round;
  }
}

TEST_F(ServeSlowClients, KeptAliveConnectionsDoNotDelayAScrape) {
  RunningProbe probe(m_dir, config());
  ASSERT_TRUE(fakes::eventually([&] { return probe.get("/ready").first == 200; }, 5s));
  HeldConnections kept;
  kept.open(probe.port(), k_connections);
  kept.send_all("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  kept.read_heads(); // answered; each connection now waits for its next request
  EXPECT_LT(slowest_answer(probe), test_support::latency_bound(100ms));
}

} // namespace
} // namespace probe::tests
