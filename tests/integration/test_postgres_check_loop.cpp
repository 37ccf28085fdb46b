// The postgres check on the event loop (issue 15): many conversations in flight on one thread, a
// silent server ending each of them at its own deadline without a thread apiece, host names
// looked up off the loop within the check's timeout, and failures classed as pg_isready classes
// them without its blocking PQping. Against the real PostgreSQL tests/run.sh starts, a listener
// of the test's own that never accepts, stand-ins that reset or answer HTTP, and a lookup held
// on purpose (this machine's resolver cannot be made slow: it answers at once, and
// /etc/resolv.conf is not the tests' to change).
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "pg_env.hpp"
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probe/checks/check_io.hpp"
#include "probe/checks/heartbeat_check.hpp"
#include "probe/checks/postgres_check.hpp"
#include "tests/standins/silent_listener.hpp"
#include "tests/standins/tcp_standin.hpp"
#include "tests/support/bounds.hpp"
#include "tests/support/proc_status.hpp"

namespace probe::tests {
namespace {

using namespace std::chrono_literals;
using checks::CheckStatus;
using Clock = std::chrono::steady_clock;

config::PostgresTarget postgres(const std::string& dsn) {
  config::PostgresTarget spec;
  spec.dsn = util::Secret(dsn);
  spec.query = "SELECT 1";
  return spec;
}

std::string dsn_at(const std::string& host, int port) {
  return "postgresql://postgres:hunter2-secret@" + host + ":" + std::to_string(port) +
         "/postgres?sslmode=disable";
}

// The test server's DSN with its host 127.0.0.1 written as `host`.
std::string test_dsn_with_host(const std::string& host) {
  std::string dsn = test_pg_dsn();
  const std::size_t at = dsn.find("@127.0.0.1:");
  if (at != std::string::npos) {
    dsn.replace(at + 1, std::string("127.0.0.1").size(), host);
  }
  return dsn;
}

using fakes::SilentListener;
using test_support::thread_count;

struct Landed {
  checks::CheckResult result;
  Clock::duration took{};
};

// Starts every check at once on one loop and runs it until all have landed. `in_flight` is
// called once, just after the last start (nothing can land before the loop runs).
std::vector<Landed> run_at_once(std::vector<std::unique_ptr<checks::Check>>& checks,
                                std::chrono::milliseconds timeout,
                                const std::function<void(checks::CheckIo&)>& in_flight = {}) {
  checks::CheckIo io;
  std::vector<std::optional<Landed>> landed(checks.size());
  std::size_t count = 0;
  for (std::size_t i = 0; i < checks.size(); ++i) {
    const Clock::time_point started = Clock::now();
    checks[i]->start(io, timeout, [&, i, started](checks::CheckResult result) {
      landed[i] = Landed{std::move(result), Clock::now() - started};
      ++count;
    });
  }
  if (in_flight) {
    in_flight(io);
  }
  io.loop().run_until([&] { return count == checks.size(); });
  std::vector<Landed> results;
  for (std::optional<Landed>& one : landed) {
    results.push_back(std::move(*one));
  }
  return results;
}

TEST(PostgresCheckLoop, FiftyChecksInFlightOnOneLoopAllSucceed) {
  PROBE_REQUIRE_PG();
  const int threads_before = thread_count();
  std::vector<std::unique_ptr<checks::Check>> checks;
  for (int i = 0; i < 50; ++i) {
    checks.push_back(std::make_unique<checks::PostgresCheck>(postgres(test_pg_dsn())));
  }
  std::size_t sockets_in_flight = 0;
  int threads_in_flight = 0;
  const std::vector<Landed> landed = run_at_once(checks, 20s, [&](checks::CheckIo& io) {
    sockets_in_flight = io.loop().watched();
    threads_in_flight = thread_count();
  });
  EXPECT_EQ(sockets_in_flight, 50U) << "each check connecting on its own socket, all at once";
  EXPECT_EQ(threads_in_flight, threads_before) << "a check in flight costs no thread";
  for (const Landed& one : landed) {
    EXPECT_EQ(one.result.status, CheckStatus::success) << one.result.detail;
    EXPECT_EQ(one.result.detail, "SELECT 1 -> 1 row(s)");
  }
}

TEST(PostgresCheckLoop, TwentyChecksOnASilentServerEachTimeOutOnTimeWithNoThread) {
  SilentListener silent;
  const auto timeout = 500ms;
  const int threads_before = thread_count();
  std::vector<std::unique_ptr<checks::Check>> checks;
  for (int i = 0; i < 20; ++i) {
    checks.push_back(
        std::make_unique<checks::PostgresCheck>(postgres(dsn_at("127.0.0.1", silent.port()))));
  }
  int threads_midway = 0;
  const std::vector<Landed> landed = run_at_once(checks, timeout, [&](checks::CheckIo& io) {
    io.loop().at(Clock::now() + timeout / 2, [&] { threads_midway = thread_count(); });
  });
  EXPECT_EQ(threads_midway, threads_before) << "20 checks waiting on a silent server";
  for (const Landed& one : landed) {
    EXPECT_EQ(one.result.status, CheckStatus::timeout) << one.result.detail;
    EXPECT_EQ(one.result.reason, "timeout");
    EXPECT_GE(one.took, timeout - 10ms);
    EXPECT_LT(one.took, timeout + 500ms) << "a check past its deadline";
  }
}

TEST(PostgresCheckLoop, AHostNameThatResolvesIsLookedUpAndConnects) {
  PROBE_REQUIRE_PG();
  ASSERT_EQ(checks::host_needing_lookup(test_dsn_with_host("localhost")), "localhost");
  checks::PostgresCheck check(postgres(test_dsn_with_host("localhost")));
  const checks::CheckResult result = check.run(10s);
  EXPECT_EQ(result.status, CheckStatus::success) << result.detail;
}

TEST(PostgresCheckLoop, ANameThatDoesNotResolveIsDns) {
  const auto start = Clock::now();
  checks::PostgresCheck check(postgres(dsn_at("nonexistent.invalid", 5432)));
  const checks::CheckResult result = check.run(10s);
  EXPECT_EQ(result.status, CheckStatus::failure);
  EXPECT_EQ(result.reason, "dns") << result.detail;
  EXPECT_EQ(result.detail, "connect: could not translate host name \"nonexistent.invalid\" to "
                           "address: " +
                               std::string(gai_strerror(EAI_NONAME)));
  EXPECT_LT(Clock::now() - start, 10s) << "waited for the timeout";
}

// A lookup that answers only when the test lets it go, as a resolver that does not answer in
// time; shared with the resolver thread, which may still be inside it when the test ends.
class HeldLookup {
public:
  checks::HostAddresses lookup(const std::string&) {
    std::unique_lock<std::mutex> lock(m_mutex);
    ++m_calls;
    m_changed.notify_all();
    m_changed.wait(lock, [this] { return m_released; });
    return checks::HostAddresses{EAI_AGAIN, {}};
  }
  void release() {
    const std::lock_guard<std::mutex> lock(m_mutex);
    m_released = true;
    m_changed.notify_all();
  }
  int calls() {
    const std::lock_guard<std::mutex> lock(m_mutex);
    return m_calls;
  }

private:
  std::mutex m_mutex;
  std::condition_variable m_changed;
  bool m_released = false;
  int m_calls = 0;
};

TEST(PostgresCheckLoop, ALookupThatNeverAnswersEndsAtTheDeadlineAndBlocksNoOtherCheck) {
  const auto held = std::make_shared<HeldLookup>();
  const auto timeout = 300ms;
  std::vector<std::unique_ptr<checks::Check>> checks;
  checks.push_back(std::make_unique<checks::PostgresCheck>(
      postgres(dsn_at("db.slow.test", 5432)),
      [held](const std::string& host) { return held->lookup(host); }));
  // Beside it on the same loop, a check that needs no lookup lands at once.
  checks.push_back(
      std::make_unique<checks::PostgresCheck>(postgres(dsn_at("127.0.0.1", fakes::closed_port()))));
  const std::vector<Landed> landed = run_at_once(checks, timeout);
  held->release();

  EXPECT_EQ(held->calls(), 1);
  EXPECT_EQ(landed[0].result.status, CheckStatus::timeout) << landed[0].result.detail;
  EXPECT_EQ(landed[0].result.reason, "timeout");
  EXPECT_EQ(landed[0].result.detail, "no answer while resolving \"db.slow.test\"");
  EXPECT_GE(landed[0].took, timeout - 10ms);
  EXPECT_LT(landed[0].took, test_support::hang_bound(timeout)) << "waited for the lookup";
  EXPECT_EQ(landed[1].result.reason, "no_response") << landed[1].result.detail;
  EXPECT_LT(landed[1].took, timeout) << "the held lookup stalled the loop";
}

// An owner may drop a check in flight while its loop lives on (a reload): the check lets go of
// its socket, its deadline timer and its lookup, and nothing of it runs afterwards.
TEST(PostgresCheckLoop, ACheckDroppedInFlightLeavesNothingOnTheLoop) {
  SilentListener silent;
  const auto held = std::make_shared<HeldLookup>();
  checks::CheckIo io;
  int landed = 0;
  {
    checks::PostgresCheck connecting(postgres(dsn_at("127.0.0.1", silent.port())));
    checks::PostgresCheck resolving(postgres(dsn_at("db.slow.test", 5432)),
                                    [held](const std::string& host) { return held->lookup(host); });
    connecting.start(io, 200ms, [&](const checks::CheckResult&) { ++landed; });
    resolving.start(io, 200ms, [&](const checks::CheckResult&) { ++landed; });
    EXPECT_EQ(io.loop().watched(), 1U);
    EXPECT_EQ(io.loop().timers(), 2U);
    const auto lookup_started = Clock::now() + test_support::k_event_deadline;
    while (held->calls() == 0 && Clock::now() < lookup_started) {
      std::this_thread::sleep_for(1ms);
    }
  }
  EXPECT_EQ(io.loop().watched(), 0U);
  EXPECT_EQ(io.loop().timers(), 0U);
  held->release(); // the answer now comes to a session that is gone
  bool waited = false;
  io.loop().at(Clock::now() + 400ms, [&] { waited = true; });
  io.loop().run_until([&] { return waited; });
  EXPECT_EQ(landed, 0);
}

// Without PQping, a failure the messages do not name is classed as PQping would class it:
// nothing from a PostgreSQL server is no_response.
TEST(PostgresCheckLoop, AServerThatResetsIsNoResponse) {
  fakes::TcpStandin standin(fakes::TcpStandin::Mode::reset);
  checks::PostgresCheck check(postgres(dsn_at("127.0.0.1", standin.port())));
  const checks::CheckResult result = check.run(2s);
  EXPECT_EQ(result.status, CheckStatus::failure);
  EXPECT_EQ(result.reason, "no_response") << result.detail;
  EXPECT_EQ(result.detail.find("hunter2-secret"), std::string::npos) << result.detail;
}

TEST(PostgresCheckLoop, AServerThatSpeaksHttpIsNoResponse) {
  fakes::TcpStandin standin(fakes::TcpStandin::Mode::trickle_headers);
  checks::PostgresCheck check(postgres(dsn_at("127.0.0.1", standin.port())));
  const checks::CheckResult result = check.run(2s);
  EXPECT_EQ(result.status, CheckStatus::failure);
  EXPECT_EQ(result.reason, "no_response") << result.detail;
}

TEST(PostgresCheckLoop, AHeartbeatAndAPostgresCheckShareOneLoop) {
  PROBE_REQUIRE_PG();
  config::HeartbeatTarget heartbeat;
  heartbeat.source = config::HeartbeatSource::postgres;
  heartbeat.dsn = util::Secret(test_pg_dsn());
  heartbeat.query = "SELECT now() - interval '2 seconds'";
  heartbeat.max_age = 90s;
  std::vector<std::unique_ptr<checks::Check>> checks;
  checks.push_back(std::make_unique<checks::HeartbeatCheck>(heartbeat, checks::CheckContext{}));
  checks.push_back(std::make_unique<checks::PostgresCheck>(postgres(test_pg_dsn())));
  const std::vector<Landed> landed = run_at_once(checks, 10s);
  EXPECT_EQ(landed[0].result.status, CheckStatus::success) << landed[0].result.detail;
  ASSERT_TRUE(landed[0].result.heartbeat_age_seconds.has_value());
  EXPECT_GE(*landed[0].result.heartbeat_age_seconds, 1.9);
  EXPECT_EQ(landed[1].result.status, CheckStatus::success) << landed[1].result.detail;
}

} // namespace
} // namespace probe::tests
