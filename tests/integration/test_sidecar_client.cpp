// The sidecar client's typed calls against a real `probe serve` (issue 14): status() reads the
// configured targets and the sidecar's gate settings, record() stores an event (journaled: no
// database is needed for the sidecar to accept and list it) and deploys() lists it back with
// every field the same; a wrong token is named as the sidecar names it; a server that answers
// 200 with something else is "not probe's", not a crash. Waits only tell "happened" from
// "never will" (tests/support/bounds.hpp).
#include <thread>

#include "serve_fixture.hpp"
#include <httplib.h>

#include "probe/deploy/sidecar_recorder.hpp"
#include "tests/standins/http_standin.hpp"
#include "tests/standins/tcp_standin.hpp"
#include "tests/support/bounds.hpp"

namespace probe::tests {
namespace {

using namespace std::chrono_literals;
using test_support::k_event_deadline;

class SidecarClientTest : public ::testing::Test {
protected:
  void SetUp() override {
    m_probe = std::make_unique<RunningProbe>(
        m_dir, "defaults: {interval: 250ms, timeout: 250ms}\n"
               "targets:\n"
               "  - {name: api, type: http, url: \"" +
                   m_api.url("/health") +
                   "\"}\n"
                   "  - {name: cache, type: tcp, critical: false, address: \"127.0.0.1:" +
                   std::to_string(fakes::closed_port()) +
                   "\"}\n"
                   "gate: {consecutive_successes: 2, poll_interval: 100ms, timeout: 30s}\n"
                   "deploy: {token: tok-123, journal: \"" +
                   m_dir.path() + "/journal.jsonl\"}\n");
    m_client = std::make_unique<deploy::DeploySidecarClient>(base());
  }

  std::string base() const { return "http://127.0.0.1:" + std::to_string(m_probe->port()); }

  fakes::TempDir m_dir;
  fakes::HttpStandin m_api;
  std::unique_ptr<RunningProbe> m_probe;
  std::unique_ptr<deploy::DeploySidecarClient> m_client;
};

TEST_F(SidecarClientTest, StatusSeesTheConfiguredTargetsAndGate) {
  std::optional<engine::StatusWire> status;
  ASSERT_TRUE(fakes::eventually(
      [&] {
        const engine::SidecarReply<engine::StatusWire> reply = m_client->status();
        status = reply.value;
        return status && status->targets.size() == 2 && status->targets[0].checks > 0 &&
               status->targets[1].checks > 0;
      },
      k_event_deadline))
      << m_probe->process().log();
  const engine::StatusTargetWire& api = status->targets[0];
  const engine::StatusTargetWire& cache = status->targets[1];
  EXPECT_EQ(api.name, "api");
  EXPECT_EQ(api.type, "http");
  EXPECT_TRUE(api.critical);
  EXPECT_EQ(api.last_result, "success");
  EXPECT_EQ(api.http_status, 200);
  EXPECT_EQ(api.last_error, std::nullopt);
  EXPECT_TRUE(api.last_checked_at);
  EXPECT_EQ(cache.name, "cache");
  EXPECT_FALSE(cache.critical);
  EXPECT_NE(cache.last_result, "success");
  EXPECT_TRUE(cache.last_error);
  ASSERT_TRUE(status->gate);
  EXPECT_EQ(*status->gate, (engine::StatusGateWire{2, 100, 30'000}));
  EXPECT_FALSE(status->version.empty());
}

TEST_F(SidecarClientTest, ARecordedEventIsListedBackTheSame) {
  deploy::DeployEvent event =
      deploy::make_event(deploy::EventKind::deploy_started, "bbbbbbb", "aaaaaaa", "ci");
  event.details = {{"run", "https://ci.example/run/1"}, {"attempt", 2}};
  const engine::SidecarReply<std::string> recorded = m_client->record(event, "tok-123");
  ASSERT_TRUE(recorded.ok()) << recorded.problem();
  EXPECT_EQ(*recorded.value, event.event_id);
  EXPECT_EQ(recorded.answer.status, 201);
  // The same event again is the same record (idempotent on event_id), listed once.
  ASSERT_TRUE(m_client->record(event, "tok-123").ok());

  const engine::SidecarReply<deploy::DeploysPage> listed = m_client->deploys(10);
  ASSERT_TRUE(listed.ok()) << listed.problem();
  ASSERT_EQ(listed.value->events.size(), 1U) << listed.answer.body;
  EXPECT_EQ(listed.value->events[0], event);
  EXPECT_FALSE(listed.value->truncated);
}

TEST_F(SidecarClientTest, AWrongTokenIsNamedAndNothingIsRecorded) {
  const deploy::DeployEvent event =
      deploy::make_event(deploy::EventKind::deploy_started, "bbbbbbb", "", "ci");
  const engine::SidecarReply<std::string> refused = m_client->record(event, "WRONG");
  EXPECT_FALSE(refused.ok());
  EXPECT_FALSE(refused.unreadable);
  EXPECT_FALSE(refused.answer.retryable);
  EXPECT_EQ(refused.answer.status, 401);
  EXPECT_EQ(refused.problem(), "POST " + base() + "/deploys: 401: missing or wrong bearer token");
  const engine::SidecarReply<deploy::DeploysPage> listed = m_client->deploys(10);
  ASSERT_TRUE(listed.ok()) << listed.problem();
  EXPECT_TRUE(listed.value->events.empty());
}

TEST_F(SidecarClientTest, AnOutOfRangeLimitIsTheSidecarsOwnWords) {
  const engine::SidecarReply<deploy::DeploysPage> refused = m_client->deploys(5000);
  EXPECT_FALSE(refused.ok());
  EXPECT_EQ(refused.answer.status, 400);
  EXPECT_NE(refused.problem().find("GET " + base() + "/deploys?limit=5000: 400: "),
            std::string::npos)
      << refused.problem();
}

// A server that answers 200 with JSON that is not probe's: each typed call says so and names
// what is missing, with no retry (no restart fixes a wrong URL).
TEST(SidecarClientNotAProbe, TwoHundredWithOtherJsonIsUnreadable) {
  httplib::Server other;
  other.Get("/status", [](const httplib::Request&, httplib::Response& response) {
    response.set_content(R"({"status": "ok"})", "application/json");
  });
  other.Get("/deploys", [](const httplib::Request&, httplib::Response& response) {
    response.set_content(R"({"events": {"a": 1}})", "application/json");
  });
  other.Post("/deploys", [](const httplib::Request&, httplib::Response& response) {
    response.status = 201;
    response.set_content(R"({"id": 1})", "application/json");
  });
  const int port = other.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { other.listen_after_bind(); });
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  const deploy::DeploySidecarClient client(base);

  std::vector<std::string> heard;
  const engine::SidecarReply<engine::StatusWire> status = client.status(
      engine::SidecarRetry{1h, [&](const std::string& line) { heard.push_back(line); }});
  const engine::SidecarReply<deploy::DeploysPage> listed = client.deploys(5);
  const engine::SidecarReply<std::string> recorded = client.record(
      deploy::make_event(deploy::EventKind::deploy_started, "bbbbbbb", "", "ci"), "t");
  other.stop();
  serving.join();

  EXPECT_TRUE(status.unreadable);
  EXPECT_TRUE(heard.empty());
  EXPECT_EQ(status.problem(), "GET " + base +
                                  "/status: the answer is not probe's status JSON (targets: "
                                  "missing; is " +
                                  base + " a probe serve?)");
  EXPECT_TRUE(listed.unreadable);
  EXPECT_EQ(listed.problem(), "GET " + base +
                                  "/deploys?limit=5: the answer is not probe's event list (events: "
                                  "must be an array, not an object; is " +
                                  base + " a probe serve?)");
  EXPECT_TRUE(recorded.unreadable);
  EXPECT_NE(recorded.problem().find("(event_id: missing; is "), std::string::npos)
      << recorded.problem();
}

// Nothing listens: the retry is told once and the problem says for how long it was retried.
TEST(SidecarClientUnreachable, RetriesAreToldOnceAndNamed) {
  const std::string base = "http://127.0.0.1:" + std::to_string(fakes::closed_port());
  const engine::SidecarClient client(base);
  std::vector<std::string> heard;
  const engine::SidecarReply<engine::StatusWire> reply = client.status(
      engine::SidecarRetry{0ms, [&](const std::string& line) { heard.push_back(line); }});
  EXPECT_FALSE(reply.ok());
  EXPECT_TRUE(reply.answer.retryable);
  EXPECT_EQ(heard, (std::vector<std::string>{"GET " + base +
                                             "/status: connection refused; retrying for up to "
                                             "0s"}));
  EXPECT_EQ(reply.problem(), "GET " + base + "/status: connection refused (retried for 0s)");
}

} // namespace
} // namespace probe::tests
