// The TCP check against real loopback sockets: a listener passes, a closed port is refused at
// once, a listener whose accept queue is full (SYNs dropped, the nearest thing to a black-holed
// address on loopback) times out within the timeout, and an unresolvable name fails as "dns".
// The reasons are the `reason` an operator filters on, so each is asserted exactly. Also a
// check of the PostgreSQL "starting up" stand-in against libpq itself, since the postgres
// tests rely on it being indistinguishable from a real server in that state. Time bounds only
// tell a wait for the timeout from none (tests/support/bounds.hpp).
#include <chrono>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include "probe/checks/check.hpp"
#include "probe/checks/tcp_check.hpp"
#include "probe/config/config.hpp"
#include "probe/util/clock.hpp"
#include "tests/standins/http_standin.hpp"
#include "tests/standins/tcp_standin.hpp"
#include "tests/support/bounds.hpp"

namespace probe {
namespace {

using namespace std::chrono_literals;
using checks::CheckResult;
using checks::CheckStatus;
using Clock = std::chrono::steady_clock;

config::Target tcp_target(const std::string& host, int port,
                          std::chrono::milliseconds timeout = 1s) {
  config::Target target;
  target.name = "cache";
  target.type = config::TargetType::tcp;
  target.interval = 10s;
  target.timeout = timeout;
  target.spec = config::TcpTarget{host, static_cast<std::uint16_t>(port)};
  return target;
}

class TcpCheckTest : public ::testing::Test {
protected:
  CheckResult run(const config::Target& target) {
    const std::unique_ptr<checks::Check> check = checks::make_check(target, m_context);
    const Clock::time_point start = Clock::now();
    CheckResult result = check->run(target.timeout);
    m_took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    return result;
  }

  checks::CheckContext m_context{&util::system_clock()};
  std::chrono::milliseconds m_took{0};
};

TEST_F(TcpCheckTest, OpenPortPasses) {
  const fakes::HttpStandin listener;

  const CheckResult result = run(tcp_target("127.0.0.1", listener.port()));

  EXPECT_EQ(result.status, CheckStatus::success) << result.detail;
  EXPECT_EQ(result.reason, "");
  EXPECT_EQ(result.detail, "connected to 127.0.0.1:" + std::to_string(listener.port()));
  EXPECT_GT(result.latency.count(), 0);
}

TEST_F(TcpCheckTest, LocalhostNameResolvesAndPasses) {
  const fakes::TcpStandin listener(fakes::TcpMode::hang_after_accept);

  const CheckResult result = run(tcp_target("localhost", listener.port()));

  EXPECT_EQ(result.status, CheckStatus::success) << result.detail;
}

TEST_F(TcpCheckTest, ClosedPortIsRefusedAtOnce) {
  const int port = fakes::closed_port();

  const CheckResult result = run(tcp_target("127.0.0.1", port, 2s));

  EXPECT_EQ(result.status, CheckStatus::failure) << result.detail;
  EXPECT_EQ(result.reason, "connection_refused");
  EXPECT_NE(result.detail.find("127.0.0.1:" + std::to_string(port)), std::string::npos)
      << result.detail;
  EXPECT_LT(m_took, 2s) << "a refused connection waited for the timeout";
}

TEST_F(TcpCheckTest, FullAcceptQueueTimesOutWithinTheTimeout) {
  const fakes::TcpStandin full(fakes::TcpMode::backlog_full);

  const CheckResult result = run(tcp_target("127.0.0.1", full.port(), 300ms));

  EXPECT_EQ(result.status, CheckStatus::timeout) << result.detail;
  EXPECT_EQ(result.reason, "timeout");
  EXPECT_GE(m_took, 280ms);
  EXPECT_LT(m_took, test_support::hang_bound(300ms)) << "the SYNs are dropped for good";
}

TEST_F(TcpCheckTest, UnknownHostFailsAsDns) {
  // .invalid is reserved (RFC 6761): no resolver can answer it.
  const CheckResult result = run(tcp_target("no-such-target.invalid", 6379, 2s));

  EXPECT_EQ(result.status, CheckStatus::failure) << result.detail;
  EXPECT_EQ(result.reason, "dns");
  EXPECT_NE(result.detail.find("no-such-target.invalid"), std::string::npos) << result.detail;
}

TEST(TcpStandinSelfTest, StartingUpStandinLooksToLibpqLikeAStartingServer) {
  const fakes::TcpStandin starting(fakes::TcpMode::postgres_rejecting);
  const std::string dsn = "host=127.0.0.1 port=" + std::to_string(starting.port()) +
                          " user=probe dbname=probe connect_timeout=2 sslmode=prefer";

  PGconn* connection = PQconnectdb(dsn.c_str());
  const ConnStatusType status = PQstatus(connection);
  const std::string message = PQerrorMessage(connection);
  PQfinish(connection);

  EXPECT_EQ(status, CONNECTION_BAD);
  EXPECT_NE(message.find("the database system is starting up"), std::string::npos) << message;
  EXPECT_GE(starting.rejected(), 1U);
}

} // namespace
} // namespace probe
