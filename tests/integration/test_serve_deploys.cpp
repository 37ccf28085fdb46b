// The deploy half of `probe serve` against a real PostgreSQL: POST /deploys needs the token and
// is idempotent on event_id; GET /deploys is the log, newest first; the deploy metrics follow
// the log; notification channels follow a reload; and `probe deploy verify --url` gates and
// records through the sidecar alone. Waits only tell "happened" from "never will"
// (tests/support/bounds.hpp): the checks' timeouts and the gate's are far above what a healthy
// loopback target takes on a loaded machine.
#include <fstream>
#include <thread>

#include "pg_env.hpp"
#include "serve_fixture.hpp"
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "tests/standins/http_standin.hpp"
#include "tests/standins/receiver_standin.hpp"
#include "tests/support/bounds.hpp"

namespace probe::tests {
namespace {

using namespace std::chrono_literals;
using test_support::k_event_deadline;

std::string event_body(const std::string& id, const std::string& kind, const std::string& sha) {
  return nlohmann::json{{"event_id", id}, {"kind", kind}, {"sha", sha}, {"actor", "ci"}}.dump();
}

class ServeDeploys : public ::testing::Test {
protected:
  void SetUp() override {
    PROBE_REQUIRE_PG();
    m_dsn = fresh_database_dsn("probe_serve_" + std::to_string(getpid()));
    m_probe = std::make_unique<RunningProbe>(
        m_dir, "defaults: {interval: 500ms, timeout: 500ms}\n"
               "targets:\n"
               "  - {name: api, type: http, url: \"" +
                   m_api.url("/health") +
                   "\"}\n"
                   "gate: {consecutive_successes: 2, poll_interval: 100ms, timeout: 30s}\n"
                   "deploy: {dsn: \"" +
                   m_dsn + "\", journal: \"" + m_dir.path() +
                   "/journal.jsonl\", token: \"tok-123\"}\n");
  }

  fakes::TempDir m_dir;
  fakes::HttpStandin m_api;
  std::string m_dsn;
  std::unique_ptr<RunningProbe> m_probe;
};

TEST_F(ServeDeploys, PostNeedsTheTokenAndIsIdempotent) {
  const std::string id = "0b7e4c1a-1111-4222-8333-444455556666";
  EXPECT_EQ(m_probe->post("/deploys", "", event_body(id, "deploy_succeeded", "aaaaaaa")).first,
            401);
  EXPECT_EQ(m_probe->post("/deploys", "nope", event_body(id, "deploy_succeeded", "aaaaaaa")).first,
            401);
  EXPECT_EQ(nlohmann::json::parse(m_probe->get("/deploys").second)["events"].size(), 0U);

  EXPECT_EQ(
      m_probe->post("/deploys", "tok-123", event_body(id, "deploy_succeeded", "aaaaaaa")).first,
      201);
  EXPECT_EQ(
      m_probe->post("/deploys", "tok-123", event_body(id, "deploy_succeeded", "aaaaaaa")).first,
      201);
  const nlohmann::json log = nlohmann::json::parse(m_probe->get("/deploys").second);
  ASSERT_EQ(log["events"].size(), 1U) << log.dump();
  EXPECT_EQ(log["events"][0]["event_id"], id);
  EXPECT_EQ(log["events"][0]["actor"], "ci");

  EXPECT_EQ(
      m_probe->post("/deploys", "tok-123", event_body("", "deploy_started", "a;rm -rf /")).first,
      400);
  EXPECT_EQ(m_probe->post("/deploys", "tok-123", event_body("", "shipped", "aaaaaaa")).first, 400);
  EXPECT_EQ(m_probe->post("/deploys", "tok-123", "{not json").first, 400);
  EXPECT_EQ(m_probe->get("/deploys?limit=0").first, 400);
}

TEST_F(ServeDeploys, MetricsFollowTheLog) {
  m_probe->post("/deploys", "tok-123", event_body("", "deploy_started", "aaaaaaa"));
  m_probe->post("/deploys", "tok-123", event_body("", "deploy_succeeded", "aaaaaaa"));
  ASSERT_TRUE(fakes::eventually(
      [&] { return m_probe->metric("probe_deploy_info{previous_sha=\"\",sha=\"aaaaaaa\"}") == 1; },
      k_event_deadline))
      << m_probe->get("/metrics").second;
  EXPECT_EQ(m_probe->metric("probe_deploys_total{outcome=\"succeeded\"}"), 1);
  EXPECT_EQ(m_probe->metric("probe_deploys_total{outcome=\"failed\"}"), 0);
  EXPECT_EQ(m_probe->metric("probe_rollbacks_total{outcome=\"succeeded\"}"), 0);
  EXPECT_EQ(m_probe->metric("probe_events_pending"), 0);
  EXPECT_GT(m_probe->metric("probe_last_deploy_timestamp_seconds"), 1.7e9);
}

// A channel added by a reload notifies the next event; before the reload nothing was sent.
TEST_F(ServeDeploys, NotifyChannelsFollowAReload) {
  fakes::ReceiverStandin receiver({"127.0.0.1", 0, m_dir.path() + "/received.jsonl"});
  m_probe->post("/deploys", "tok-123", event_body("", "deploy_succeeded", "aaaaaaa"));
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(receiver.requests(), 0U);

  std::ofstream(m_probe->config_path())
      << "targets:\n  - {name: api, type: http, url: \"" << m_api.url("/health") << "\"}\n"
      << "deploy: {dsn: \"" << m_dsn << "\", journal: \"" << m_dir.path()
      << "/journal.jsonl\", token: \"tok-123\"}\n"
      << "notify:\n  - {type: webhook, url: \"http://127.0.0.1:" << receiver.port()
      << "/hook\"}\n  - {type: slack, webhook_url: \"\", optional: true}\n";
  ASSERT_EQ(m_probe->post("/-/reload", "tok-123").first, 200);
  m_probe->post("/deploys", "tok-123", event_body("", "deploy_failed", "bbbbbbb"));
  ASSERT_TRUE(fakes::eventually([&] { return receiver.requests() == 1; }, k_event_deadline))
      << m_probe->process().log();
  // The receiver counts the request when it arrives; probe counts it once the answer is in,
  // and /metrics serves a render that follows: wait for it too (a loaded machine lagged here).
  EXPECT_TRUE(fakes::eventually(
      [&] {
        return m_probe->metric("probe_notifications_total{channel=\"webhook\",outcome=\"ok\"}") ==
               1;
      },
      k_event_deadline))
      << m_probe->get("/metrics").second;
  EXPECT_NE(m_probe->process().log().find("notify[1]: slack left out: optional"), std::string::npos)
      << m_probe->process().log();
}

TEST_F(ServeDeploys, VerifyThroughTheSidecar) {
  exec_outside_transaction(m_dsn, "CREATE TABLE alembic_version (version_num text); "
                                  "INSERT INTO alembic_version VALUES ('9c1e7a')");
  ASSERT_TRUE(
      fakes::eventually([&] { return m_probe->get("/ready").first == 200; }, k_event_deadline));
  const std::string url = "http://127.0.0.1:" + std::to_string(m_probe->port());
  fakes::ProcessOptions options;
  options.timeout = 120s;
  options.set_env = {"PROBE_TOKEN=tok-123", "PROBE_ACTOR=gha"};
  const fakes::ProcessResult verified =
      fakes::run_process({PROBE_BINARY, "deploy", "verify", "--url", url, "--sha", "bbbbbbb",
                          "--lock-file", m_dir.path() + "/deploy.lock"},
                         options);
  EXPECT_EQ(verified.exit_code, 0) << verified.err;
  const nlohmann::json log = nlohmann::json::parse(m_probe->get("/deploys?limit=5").second);
  ASSERT_EQ(log["events"].size(), 2U) << log.dump();
  EXPECT_EQ(log["events"][0]["kind"], "deploy_succeeded");
  EXPECT_EQ(log["events"][1]["kind"], "deploy_started");
  EXPECT_EQ(log["events"][0]["actor"], "gha");
  // The host has no database connection; the sidecar adds the Alembic revision.
  EXPECT_EQ(log["events"][0]["details"]["db_revision"], "9c1e7a") << log.dump();
  ASSERT_TRUE(fakes::eventually(
      [&] { return m_probe->metric("probe_deploy_info{previous_sha=\"\",sha=\"bbbbbbb\"}") == 1; },
      k_event_deadline));

  // A wrong token: nothing can be recorded, so verify fails rather than pretend.
  options.set_env = {"PROBE_TOKEN=wrong"};
  const fakes::ProcessResult refused =
      fakes::run_process({PROBE_BINARY, "deploy", "verify", "--url", url, "--sha", "ccccccc",
                          "--lock-file", m_dir.path() + "/deploy.lock"},
                         options);
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("401"), std::string::npos) << refused.err;
}

} // namespace
} // namespace probe::tests
