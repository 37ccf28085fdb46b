// Deploy events that someone holding the token — or a hook's output, or an old journal — makes
// hostile, against a real PostgreSQL and a real `probe serve` (issue 12, items 8 and 9):
// - a NUL in a POST /deploys body is stored, stripped, instead of refused by PostgreSQL and
//   journaled for ever;
// - a journaled event PostgreSQL refuses for its content (here: a character a LATIN1 database
//   cannot hold) is set aside in the quarantine file, counted and logged once, and the 24
//   events behind it are stored; `deploy verify` still finds the previous good SHA;
// - a journaled event whose id is stored with other content is set aside too;
// - the rollback target is the newest success the store received, whatever `occurred_at` says;
// - a reused event_id with other content is 409, with the same content 201;
// - a bad time or db_revision is 400 naming the field.
#include <fstream>
#include <sstream>
#include <thread>

#include "pg_env.hpp"
#include "serve_fixture.hpp"
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "probe/config/config.hpp"
#include "probe/deploy/event_store.hpp"
#include "probe/deploy/journal.hpp"
#include "probe/deploy/local_recorder.hpp"

namespace probe::tests {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* k_token = "tok-123";

// A database of its own in `encoding` (template0: the only template that allows another one).
std::string database_in(const std::string& name, const std::string& encoding) {
  const std::string admin = test_pg_dsn();
  exec_outside_transaction(admin, "DROP DATABASE IF EXISTS " + name);
  exec_outside_transaction(admin, "CREATE DATABASE " + name + " ENCODING '" + encoding +
                                      "' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
  return admin.substr(0, admin.rfind('/')) + "/" + name;
}

std::size_t count_lines(const std::string& path) {
  std::ifstream file(path);
  std::size_t lines = 0;
  for (std::string line; std::getline(file, line);) {
    ++lines;
  }
  return lines;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t found = 0;
  for (std::size_t pos = text.find(what); pos != std::string::npos;
       pos = text.find(what, pos + what.size())) {
    ++found;
  }
  return found;
}

deploy::DeployEvent event(const std::string& kind, const std::string& sha,
                          const std::string& actor = "ci") {
  return deploy::make_event(*deploy::parse_event_kind(kind), sha, "", actor);
}

// A journal as PostgreSQL being down leaves it: the first line is an event the LATIN1 database
// will refuse (its actor has an emoji), then 24 ordinary ones; the last success is `good`.
void write_jammed_journal(const std::string& path, const std::string& good) {
  deploy::Journal journal(path);
  journal.append(event("deploy_started", "aaaaaaa", "deploy 🚀 bot"));
  for (int i = 0; i < 11; ++i) {
    journal.append(event("deploy_started", "aaaaaaa"));
    journal.append(event("deploy_succeeded", "aaaaaaa"));
  }
  journal.append(event("deploy_started", good));
  journal.append(event("deploy_succeeded", good));
}

std::string serve_config(const std::string& dsn, const std::string& dir,
                         const std::string& target) {
  return "targets:\n  - " + target + "\n" +
         "gate: {consecutive_successes: 1, poll_interval: 100ms, timeout: 2s}\n"
         "deploy: {dsn: \"" +
         dsn + "\", journal: \"" + dir + "/journal.jsonl\", token: \"" + k_token +
         "\", rollback: {command: [\"touch\", \"" + dir + "/beat\"], timeout: 10s}}\n";
}

// A critical target that passes once the rollback hook has touched `dir`/beat.
std::string beat_target(const std::string& dir) {
  return "{name: app, type: heartbeat, source: file, path: \"" + dir +
         "/beat\", max_age: 1h, interval: 100ms, timeout: 100ms}";
}

// A critical target that never passes.
const char* const k_dead_target =
    "{name: api, type: tcp, address: \"127.0.0.1:1\", interval: 100ms, timeout: 100ms}";

TEST(HostileEvents, ANulInAPostedBodyIsStoredStripped) {
  PROBE_REQUIRE_PG();
  const std::string dsn = fresh_database_dsn("probe_nul_" + std::to_string(getpid()));
  fakes::TempDir dir;
  RunningProbe probe(dir, serve_config(dsn, dir.path(), k_dead_target));
  const std::string body =
      R"({"kind": "rollback_failed", "sha": "aaaaaaa", "actor": "c\u0000i", )"
      R"("details": {"x": "a\u0000b", "output_tail": "one\r\ntwo\u0000\n", "k\u0000": 1}})";
  const auto [status, answer] = probe.post("/deploys", k_token, body);
  ASSERT_EQ(status, 201) << answer;
  const json log = json::parse(probe.get("/deploys").second);
  ASSERT_EQ(log["events"].size(), 1U) << log.dump();
  EXPECT_EQ(log["pending"], 0) << "stored in PostgreSQL, not journaled";
  EXPECT_EQ(log["events"][0]["actor"], "ci");
  EXPECT_EQ(log["events"][0]["details"],
            (json{{"x", "ab"}, {"output_tail", "one\ntwo\n"}, {"k", 1}}));
  EXPECT_EQ(query_one(dsn, "SELECT details->>'x' || '|' || actor FROM probe_deploy_events"),
            "ab|ci");
  EXPECT_EQ(count_lines(dir.path() + "/journal.jsonl"), 0U);
}

TEST(HostileEvents, AnEventPostgresRefusesIsQuarantinedAndTheOthersAreStored) {
  PROBE_REQUIRE_PG();
  const std::string dsn = database_in("probe_latin1_" + std::to_string(getpid()), "LATIN1");
  fakes::TempDir dir;
  write_jammed_journal(dir.path() + "/journal.jsonl", "good003");
  RunningProbe probe(dir, serve_config(dsn, dir.path(), k_dead_target));
  // The sidecar replays at start and every 10 s.
  ASSERT_TRUE(fakes::eventually(
      [&] {
        const auto [status, text] = probe.get("/deploys?limit=100");
        const json log = json::parse(text, nullptr, false);
        return status == 200 && log.is_object() && log["events"].size() == 24U &&
               log["pending"] == 0;
      },
      15s))
      << probe.get("/deploys?limit=100").second << probe.process().log();
  const json log = json::parse(probe.get("/deploys?limit=100").second);
  EXPECT_EQ(log["events"][0]["kind"], "deploy_succeeded");
  EXPECT_EQ(log["events"][0]["sha"], "good003");
  EXPECT_EQ(query_one(dsn, "SELECT count(*) FROM probe_deploy_events"), "24");
  EXPECT_EQ(count_lines(dir.path() + "/journal.jsonl"), 0U);
  EXPECT_EQ(count_lines(dir.path() + "/journal.jsonl.quarantine"), 1U);
  const std::optional<deploy::DeployEvent> aside = [&]() -> std::optional<deploy::DeployEvent> {
    const deploy::Journal::ReadResult read =
        deploy::Journal(dir.path() + "/journal.jsonl.quarantine").read();
    return read.events.size() == 1 ? std::optional(read.events[0]) : std::nullopt;
  }();
  ASSERT_TRUE(aside);
  EXPECT_EQ(aside->actor, "deploy 🚀 bot");
  ASSERT_TRUE(fakes::eventually(
      [&] {
        return probe.metric("probe_deploy_info{previous_sha=\"\",sha=\"good003\"}") == 1 &&
               probe.metric("probe_events_quarantined_total") == 1;
      },
      15s))
      << probe.get("/metrics").second;
  EXPECT_EQ(probe.metric("probe_events_pending"), 0);
  const std::string serve_log = probe.process().log();
  EXPECT_EQ(count(serve_log, "SQLSTATE 22P05"), 1U) << serve_log;
  EXPECT_NE(serve_log.find("set aside in " + dir.path() + "/journal.jsonl.quarantine"),
            std::string::npos)
      << serve_log;
}

TEST(HostileEvents, DeployVerifyStillFindsThePreviousGoodSha) {
  PROBE_REQUIRE_PG();
  const std::string dsn = database_in("probe_verify_" + std::to_string(getpid()), "LATIN1");
  fakes::TempDir dir;
  write_jammed_journal(dir.path() + "/journal.jsonl", "good003");
  const std::string config =
      dir.write("probe.yaml", serve_config(dsn, dir.path(), beat_target(dir.path())));
  fakes::ProcessOptions options;
  options.timeout = 30s;
  const fakes::ProcessResult verified =
      fakes::run_process({PROBE_BINARY, "deploy", "verify", "--config", config, "--sha", "bad0004",
                          "--lock-file", dir.path() + "/deploy.lock"},
                         options);
  // The gate fails (no beat yet), the hook touches the beat, the rollback gate passes.
  EXPECT_EQ(verified.exit_code, 3) << verified.err;
  EXPECT_NE(verified.err.find("deploy: rollback_started good003"), std::string::npos)
      << verified.err;
  EXPECT_EQ(count_lines(dir.path() + "/journal.jsonl.quarantine"), 1U);
  EXPECT_EQ(query_one(dsn, "SELECT sha FROM probe_deploy_events WHERE kind = "
                           "'rollback_succeeded' ORDER BY id DESC LIMIT 1"),
            "good003");
}

// A rollback hook that prints a NUL: its output_tail is stored without it, in PostgreSQL, not
// journaled behind a refusal.
TEST(HostileEvents, AHookPrintingANulIsStoredStripped) {
  PROBE_REQUIRE_PG();
  const std::string dsn = fresh_database_dsn("probe_hooknul_" + std::to_string(getpid()));
  fakes::TempDir dir;
  const std::string config = dir.write(
      "probe.yaml",
      std::string("targets:\n  - ") + k_dead_target +
          "\ngate: {consecutive_successes: 1, poll_interval: 100ms, timeout: 1s}\n"
          "deploy: {dsn: \"" +
          dsn + "\", journal: \"" + dir.path() +
          "/journal.jsonl\", rollback: {command: [\"sh\", \"-c\", \"printf 'one\\\\000two\\\\n'; "
          "exit 3\"], timeout: 10s}}\n");
  fakes::ProcessOptions options;
  options.timeout = 30s;
  const fakes::ProcessResult verified =
      fakes::run_process({PROBE_BINARY, "deploy", "verify", "--config", config, "--sha", "bad0004",
                          "--previous", "good003", "--lock-file", dir.path() + "/deploy.lock"},
                         options);
  EXPECT_EQ(verified.exit_code, 4) << verified.err;
  EXPECT_EQ(query_one(dsn, "SELECT details->>'output_tail' FROM probe_deploy_events WHERE kind = "
                           "'rollback_failed'"),
            "onetwo\n");
  EXPECT_EQ(count_lines(dir.path() + "/journal.jsonl"), 0U) << "nothing left pending";
}

// Item 9's replay decision: a journaled event whose id PostgreSQL already holds with other
// content is set aside (the stored one stays), logged, and does not block the next one.
TEST(HostileEvents, AJournaledConflictIsQuarantined) {
  PROBE_REQUIRE_PG();
  const std::string dsn = fresh_database_dsn("probe_conflict_" + std::to_string(getpid()));
  fakes::TempDir dir;
  deploy::DeployEvent stored = event("deploy_succeeded", "good001");
  {
    deploy::PostgresEventStore store(dsn);
    ASSERT_TRUE(store.store(stored));
  }
  deploy::DeployEvent forged = stored;
  forged.sha = "evil123";
  deploy::Journal journal(dir.path() + "/journal.jsonl");
  journal.append(forged);
  journal.append(stored); // the same event again: idempotent, not a conflict
  journal.append(event("deploy_started", "next001"));
  config::Deploy settings;
  settings.dsn = config::Secret(dsn);
  settings.journal = dir.path() + "/journal.jsonl";
  std::vector<std::string> warnings;
  deploy::LocalEventRecorder sink(settings,
                                  [&](const std::string& warning) { warnings.push_back(warning); });
  EXPECT_EQ(sink.replay(), 2U);
  EXPECT_EQ(sink.quarantined(), 1U);
  EXPECT_EQ(sink.pending(), 0U);
  ASSERT_EQ(warnings.size(), 1U);
  EXPECT_NE(
      warnings[0].find("event_id " + stored.event_id + " is already stored with different content"),
      std::string::npos)
      << warnings[0];
  const std::vector<deploy::DeployEvent> log = sink.recent(10);
  ASSERT_EQ(log.size(), 2U);
  EXPECT_EQ(log[0].sha, "next001");
  EXPECT_EQ(log[1].sha, "good001");
  EXPECT_EQ(deploy::Journal(dir.path() + "/journal.jsonl.quarantine").read().events,
            std::vector<deploy::DeployEvent>{deploy::normalized(forged)});
}

class ServeHostile : public ::testing::Test {
protected:
  void SetUp() override {
    PROBE_REQUIRE_PG();
    m_dsn = fresh_database_dsn("probe_hostile_" + std::to_string(getpid()));
    m_probe =
        std::make_unique<RunningProbe>(m_dir, serve_config(m_dsn, m_dir.path(), k_dead_target));
  }

  int post(const json& body) { return m_probe->post("/deploys", k_token, body.dump()).first; }

  fakes::TempDir m_dir;
  std::string m_dsn;
  std::unique_ptr<RunningProbe> m_probe;
};

// The client's clock does not choose the rollback target, nor the listing order.
TEST_F(ServeHostile, TheOrderReceivedChoosesTheRollbackTargetNotOccurredAt) {
  ASSERT_EQ(post({{"kind", "deploy_succeeded"}, {"sha", "good002"}}), 201);
  ASSERT_EQ(post({{"kind", "deploy_succeeded"},
                  {"sha", "evil123"},
                  {"occurred_at", "2262-01-01T00:00:00Z"}}),
            201);
  ASSERT_EQ(post({{"kind", "deploy_succeeded"}, {"sha", "good003"}}), 201);
  const json log = json::parse(m_probe->get("/deploys").second);
  ASSERT_EQ(log["events"].size(), 3U);
  EXPECT_EQ(log["events"][0]["sha"], "good003");
  EXPECT_EQ(log["events"][1]["sha"], "evil123");
  ASSERT_TRUE(fakes::eventually(
      [&] { return m_probe->metric("probe_deploy_info{previous_sha=\"\",sha=\"good003\"}") == 1; },
      15s))
      << m_probe->get("/metrics").second;

  fakes::ProcessOptions options;
  options.timeout = 30s;
  options.set_env = {std::string("PROBE_TOKEN=") + k_token, "PROBE_ROLLBACK_COMMAND=true"};
  const fakes::ProcessResult verified =
      fakes::run_process({PROBE_BINARY, "deploy", "verify", "--url",
                          "http://127.0.0.1:" + std::to_string(m_probe->port()), "--sha", "bad0004",
                          "--lock-file", m_dir.path() + "/deploy.lock"},
                         options);
  EXPECT_NE(verified.err.find("deploy: rollback_started good003"), std::string::npos)
      << verified.err;
  EXPECT_EQ(verified.err.find("evil123"), std::string::npos) << verified.err;

  // The newest event dated 2262 does not make the last deploy a future one either.
  const double before = m_probe->metric("probe_last_deploy_timestamp_seconds");
  ASSERT_EQ(post({{"kind", "deploy_started"},
                  {"sha", "later01"},
                  {"occurred_at", "2262-01-01T00:00:00Z"}}),
            201);
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  ASSERT_TRUE(fakes::eventually(
      [&] {
        const double last = m_probe->metric("probe_last_deploy_timestamp_seconds");
        return last > before && last <= now + 60;
      },
      15s))
      << m_probe->metric("probe_last_deploy_timestamp_seconds");
}

TEST_F(ServeHostile, AReusedEventIdWithOtherContentIs409) {
  const std::string id = "0B7E4C1A-1111-4222-8333-44445555ABCD";
  const json first = {{"event_id", id}, {"kind", "deploy_succeeded"}, {"sha", "good001"}};
  ASSERT_EQ(post(first), 201);
  EXPECT_EQ(post(first), 201) << "the same event again is idempotent";
  json again = first;
  again["occurred_at"] = "2026-01-01T00:00:00Z"; // a retry's clock does not make it different
  EXPECT_EQ(post(again), 201);
  json forged = first;
  forged["sha"] = "evil123";
  const auto [status, answer] = m_probe->post("/deploys", k_token, forged.dump());
  EXPECT_EQ(status, 409);
  EXPECT_EQ(json::parse(answer)["error"],
            "event_id 0b7e4c1a-1111-4222-8333-44445555abcd is already stored with different "
            "content (deploy_succeeded good001)");
  const json log = json::parse(m_probe->get("/deploys").second);
  ASSERT_EQ(log["events"].size(), 1U);
  EXPECT_EQ(log["events"][0]["event_id"], "0b7e4c1a-1111-4222-8333-44445555abcd");
  EXPECT_EQ(log["events"][0]["sha"], "good001");
}

TEST_F(ServeHostile, BadTimesAndRevisionsAre400NamingTheField) {
  const std::vector<std::pair<json, std::string>> cases{
      {{{"kind", "deploy_succeeded"}, {"sha", "aaaaaaa"}, {"occurred_at", "2026-13-45T99:99:99Z"}},
       "occurred_at: month 13 is out of range (01-12)"},
      {{{"kind", "deploy_succeeded"},
        {"sha", "aaaaaaa"},
        {"occurred_at", "2026-11-27T09:40:00Zjunk"}},
       "occurred_at: unexpected text after the time zone"},
      {{{"kind", "deploy_succeeded"},
        {"sha", "aaaaaaa"},
        {"occurred_at", "2026-11-27T09:40:00+99:99"}},
       "occurred_at: offset +99:99 is out of range (±00:00 to ±23:59)"},
      {{{"kind", "deploy_succeeded"},
        {"sha", "aaaaaaa"},
        {"details", {{"db_revision", "$(reboot)"}}}},
       "details.db_revision: not a revision (hex, or a word of [A-Za-z0-9_.-], at most 128 "
       "characters)"},
  };
  for (const auto& [body, error] : cases) {
    const auto [status, answer] = m_probe->post("/deploys", k_token, body.dump());
    EXPECT_EQ(status, 400) << body.dump();
    EXPECT_EQ(json::parse(answer)["error"], error);
  }
  EXPECT_EQ(json::parse(m_probe->get("/deploys").second)["events"].size(), 0U);
}

// With PostgreSQL unreachable the journal is the store, and decides what a reused id means.
TEST(HostileEvents, AReusedEventIdIs409WhileJournaling) {
  fakes::TempDir dir;
  RunningProbe probe(
      dir, serve_config("postgresql://probe@127.0.0.1:1/none", dir.path(), k_dead_target));
  const json first = {{"event_id", "0b7e4c1a-1111-4222-8333-444455556666"},
                      {"kind", "deploy_succeeded"},
                      {"sha", "good001"}};
  ASSERT_EQ(probe.post("/deploys", k_token, first.dump()).first, 201);
  EXPECT_EQ(probe.post("/deploys", k_token, first.dump()).first, 201);
  json forged = first;
  forged["sha"] = "evil123";
  const auto [status, answer] = probe.post("/deploys", k_token, forged.dump());
  EXPECT_EQ(status, 409) << answer;
  EXPECT_EQ(count_lines(dir.path() + "/journal.jsonl"), 1U);
}

} // namespace
} // namespace probe::tests
