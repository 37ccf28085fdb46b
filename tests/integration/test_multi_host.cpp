// Many probes, one database (issue 17, part 4): what the advisory lock and event_id promise when
// several hosts share one PostgreSQL, proved with real processes rather than assumed. Each
// "host" is a process of its own with its own directory (config, journal, lock file) and its own
// PROBE_HOST, so two processes on this one machine are two hosts to probe.
// - Five `probe deploy verify --config` started at once: exactly one takes the advisory lock and
//   records; the other four exit 5 naming the database lock (their file locks are different
//   files, so only the database can refuse them) and record nothing. The winner is held in its
//   gate (its target answers 500) until all four have exited, so they overlap it however slowly
//   they start; then the target turns healthy and the winner deploys. Control: once it is done,
//   a loser's host deploys (exit 0), so exit 5 meant the lock and nothing else.
// - Two `probe serve` replicas whose journals hold events written while the database was down,
//   some of them the same events (same event_id) in both — each stamped with the host of the
//   replica that received it, as a POST without a host is, or with the client's host — start
//   together: every event is stored once, nothing is set aside, both GET /deploys show the same
//   history, and each event keeps the host its journal gave it.
// - The same POST /deploys (same event_id, no host) sent to both replicas at once, ten rounds:
//   both answer 201 and one row is stored. Control: the id with another SHA is 409 from either.
// Waits only tell "happened" from "never will" (tests/support/bounds.hpp); ordering is by events
// (a process exited, a row exists, a barrier), never by sleeping.
#include <barrier>
#include <filesystem>
#include <iostream>
#include <thread>

#include "pg_env.hpp"
#include "serve_fixture.hpp"
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "probe/deploy/event.hpp"
#include "probe/deploy/journal.hpp"
#include "tests/standins/http_standin.hpp"
#include "tests/support/bounds.hpp"

namespace probe::tests {
namespace {

using namespace std::chrono_literals;
using test_support::k_event_deadline;

constexpr const char* k_replica_token = "tok-123";
constexpr std::size_t k_hosts = 5;
constexpr int k_rounds = 10;

long long elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               since)
      .count();
}

class MultiHost : public ::testing::Test {
protected:
  void SetUp() override {
    PROBE_REQUIRE_PG();
    m_dsn = fresh_database_dsn("probe_multi_" + std::to_string(getpid()));
  }

  // How many stored events match the SQL condition `where`, as text ("error: ..." before the
  // table exists).
  std::string rows(const std::string& where = "true") const {
    return query_one(m_dsn, "SELECT count(*) FROM probe_deploy_events WHERE " + where);
  }

  // A config in `dir` for a probe on the shared database, gating on the stand-in.
  std::string config(const fakes::TempDir& dir) const {
    return "defaults: {interval: 1s, timeout: 1s}\n"
           "targets:\n"
           "  - {name: api, type: http, url: \"" +
           m_api.url("/health") +
           "\"}\n"
           "gate: {consecutive_successes: 1, poll_interval: 100ms, timeout: 300s}\n"
           "deploy: {dsn: \"" +
           m_dsn + "\", journal: \"" + dir.path() + "/journal.jsonl\", token: \"" +
           k_replica_token + "\"}\n";
  }

  fakes::HttpStandin m_api;
  std::string m_dsn;
};

// One host running `probe deploy verify` with a config of its own.
struct VerifyHost {
  std::string name;
  std::string sha;
  fakes::TempDir dir;
  std::string config_path;
  std::unique_ptr<fakes::BackgroundProcess> process;
  int exit_code = -1;

  std::vector<std::string> argv() const {
    return {PROBE_BINARY, "deploy", "verify", "--config",
            config_path,  "--sha",  sha,      "--no-rollback"};
  }
  std::vector<std::string> env() const { return {"PROBE_HOST=" + name, "PROBE_ACTOR=ci"}; }
  std::string journal() const { return dir.path() + "/journal.jsonl"; }
};

TEST_F(MultiHost, OneOfFiveVerifiesTakesTheDatabaseLockAndTheOthersExit5RecordingNothing) {
  m_api.set_mode(fakes::HttpMode::error_500); // the winner waits in its gate until released
  std::vector<std::unique_ptr<VerifyHost>> hosts;
  for (std::size_t i = 1; i <= k_hosts; ++i) {
    auto host = std::make_unique<VerifyHost>();
    host->name = "host-" + std::to_string(i);
    host->sha = "aaaaaa" + std::to_string(i);
    host->config_path = host->dir.write("probe.yaml", config(host->dir));
    hosts.push_back(std::move(host));
  }
  const auto started = std::chrono::steady_clock::now();
  for (const auto& host : hosts) {
    host->process = std::make_unique<fakes::BackgroundProcess>(
        host->argv(), host->dir.path() + "/verify.log", host->env());
  }
  // Every loser exits by itself; the winner cannot, its gate being closed.
  const auto exited = [&] {
    std::size_t count = 0;
    for (const auto& host : hosts) {
      count += host->process->running() ? 0 : 1;
    }
    return count;
  };
  ASSERT_TRUE(fakes::eventually([&] { return exited() == k_hosts - 1; }, k_event_deadline))
      << exited() << " of " << k_hosts << " exited";
  const long long losers_ms = elapsed_ms(started);
  VerifyHost* winner = nullptr;
  for (const auto& host : hosts) {
    if (host->process->running()) {
      ASSERT_EQ(winner, nullptr) << "two verifies hold the lock";
      winner = host.get();
      continue;
    }
    host->exit_code = host->process->stop(SIGKILL, 1s); // already exited: its own exit code
    EXPECT_EQ(host->exit_code, 5) << host->name << ": " << host->process->log();
    EXPECT_NE(host->process->log().find(
                  "deploy: another probe sharing the database holds the deploy lock"),
              std::string::npos)
        << host->name << ": " << host->process->log();
  }
  ASSERT_NE(winner, nullptr);

  // The winner recorded deploy_started and waits in its gate; the losers recorded nothing,
  // neither in the database nor in a journal of their own.
  ASSERT_TRUE(fakes::eventually([&] { return rows() == "1"; }, k_event_deadline))
      << rows() << "\n"
      << winner->process->log();
  EXPECT_EQ(rows("host = '" + winner->name + "' AND sha = '" + winner->sha +
                 "' AND kind = 'deploy_started'"),
            "1");
  for (const auto& host : hosts) {
    if (host.get() != winner) {
      EXPECT_EQ(rows("host = '" + host->name + "' OR sha = '" + host->sha + "'"), "0");
      EXPECT_FALSE(std::filesystem::exists(host->journal())) << host->name;
    }
  }
  EXPECT_TRUE(winner->process->running()) << "still in its gate: " << winner->process->log();

  m_api.set_mode(fakes::HttpMode::healthy);
  ASSERT_TRUE(fakes::eventually([&] { return !winner->process->running(); }, k_event_deadline))
      << winner->process->log();
  const long long winner_ms = elapsed_ms(started);
  EXPECT_EQ(winner->process->stop(SIGKILL, 1s), 0) << winner->process->log();
  EXPECT_EQ(rows(), "2");
  EXPECT_EQ(rows("host = '" + winner->name + "' AND sha = '" + winner->sha + "'"), "2");

  // Control: with the winner gone, its session and advisory lock are gone; a loser's host
  // deploys, so exit 5 above was the lock and not that host's setup.
  VerifyHost& loser = *hosts[winner == hosts[0].get() ? 1 : 0];
  fakes::ProcessOptions options;
  options.timeout = 120s;
  options.set_env = loser.env();
  const fakes::ProcessResult again = fakes::run_process(loser.argv(), options);
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(rows("host = '" + loser.name + "' AND sha = '" + loser.sha + "'"), "2");
  EXPECT_EQ(rows(), "4");
  std::cout << "[multi-host] " << k_hosts << " verify processes on one database: " << (k_hosts - 1)
            << " exited 5 within " << losers_ms << " ms of the start, the winner (" << winner->name
            << ") exited 0 at " << winner_ms << " ms; rows: winner 2, losers 0\n";
}

// A probe serve replica as one host: its own directory, journal and PROBE_HOST.
struct Replica {
  std::string host;
  fakes::TempDir dir;
  std::unique_ptr<RunningProbe> probe;

  std::string journal() const { return dir.path() + "/journal.jsonl"; }
  nlohmann::json deploys() const {
    return nlohmann::json::parse(probe->get("/deploys?limit=100").second, nullptr, false);
  }
};

class TwoReplicas : public MultiHost {
protected:
  TwoReplicas() {
    m_replicas[0].host = "replica-a";
    m_replicas[1].host = "replica-b";
  }

  // Starts both replicas at once (each RunningProbe waits for its own start); "" or what failed.
  std::string start_replicas() {
    std::array<std::string, 2> errors;
    std::vector<std::thread> starting;
    for (std::size_t i = 0; i < m_replicas.size(); ++i) {
      starting.emplace_back([&, i] {
        Replica& replica = m_replicas[i];
        try {
          replica.probe = std::make_unique<RunningProbe>(
              replica.dir, config(replica.dir), std::vector<std::string>{},
              std::vector<std::string>{"PROBE_HOST=" + replica.host});
        } catch (const std::exception& e) {
          errors[i] = e.what();
        }
      });
    }
    for (std::thread& thread : starting) {
      thread.join();
    }
    return errors[0] + errors[1];
  }

  std::array<Replica, 2> m_replicas;
};

deploy::DeployEvent journaled_event(const std::string& id, const std::string& kind,
                                    const std::string& sha, const std::string& host) {
  deploy::DeployEvent event;
  event.event_id = id;
  event.occurred_at =
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  event.kind = kind;
  event.sha = sha;
  event.actor = "ci";
  event.host = host;
  return event;
}

std::string event_id_ending(char last) {
  return std::string("0b7e4c1a-1111-4222-8333-44445555666") + last;
}

TEST_F(TwoReplicas, JournalsReplayedTogetherStoreEachEventOnceAndShowOneHistory) {
  using deploy::Journal;
  // Seen by both while the database was down: 1 and 2 came without a host (each replica
  // stamped its own), 3 named its client's host. 4 and 5 reached only A, 6 and 7 only B.
  Journal a(m_replicas[0].journal());
  Journal b(m_replicas[1].journal());
  a.append(journaled_event(event_id_ending('1'), "deploy_started", "aaaaaaa", "replica-a"));
  b.append(journaled_event(event_id_ending('1'), "deploy_started", "aaaaaaa", "replica-b"));
  a.append(journaled_event(event_id_ending('4'), "deploy_started", "ccccccc", "replica-a"));
  b.append(journaled_event(event_id_ending('6'), "deploy_started", "ddddddd", "replica-b"));
  a.append(journaled_event(event_id_ending('2'), "deploy_succeeded", "aaaaaaa", "replica-a"));
  b.append(journaled_event(event_id_ending('2'), "deploy_succeeded", "aaaaaaa", "replica-b"));
  b.append(journaled_event(event_id_ending('3'), "deploy_started", "bbbbbbb", "ci-runner-1"));
  a.append(journaled_event(event_id_ending('3'), "deploy_started", "bbbbbbb", "ci-runner-1"));
  a.append(journaled_event(event_id_ending('5'), "deploy_failed", "ccccccc", "replica-a"));
  b.append(journaled_event(event_id_ending('7'), "deploy_failed", "ddddddd", "replica-b"));
  ASSERT_EQ(a.pending(), 5U);
  ASSERT_EQ(b.pending(), 5U);

  const auto started = std::chrono::steady_clock::now();
  const std::string failed = start_replicas();
  ASSERT_EQ(failed, "");
  // Each replica replays its journal by itself at start; nothing here asks it to.
  ASSERT_TRUE(fakes::eventually(
      [&] { return rows() == "7" && a.pending() == 0 && b.pending() == 0; }, k_event_deadline))
      << rows() << " stored; pending " << a.pending() << " and " << b.pending() << "\n"
      << m_replicas[0].probe->process().log() << m_replicas[1].probe->process().log();
  const long long replayed_ms = elapsed_ms(started);
  const std::string replayed_rows = rows();
  EXPECT_EQ(query_one(m_dsn, "SELECT count(DISTINCT event_id) FROM probe_deploy_events"), "7");
  double quarantined = 0;
  for (const Replica& replica : m_replicas) {
    EXPECT_FALSE(std::filesystem::exists(replica.journal() + ".quarantine"))
        << replica.host << ": " << replica.probe->process().log();
    quarantined += replica.probe->metric("probe_events_quarantined_total");
  }
  EXPECT_EQ(quarantined, 0);

  const nlohmann::json from_a = m_replicas[0].deploys();
  const nlohmann::json from_b = m_replicas[1].deploys();
  ASSERT_EQ(from_a["events"].size(), 7U) << from_a.dump();
  EXPECT_EQ(from_a["events"], from_b["events"]);
  EXPECT_EQ(from_a["pending"], 0);
  EXPECT_EQ(from_b["pending"], 0);
  std::map<std::string, std::string> host_of;
  for (const nlohmann::json& event : from_a["events"]) {
    host_of[event["event_id"]] = event["host"];
  }
  EXPECT_EQ(host_of[event_id_ending('4')], "replica-a");
  EXPECT_EQ(host_of[event_id_ending('5')], "replica-a");
  EXPECT_EQ(host_of[event_id_ending('6')], "replica-b");
  EXPECT_EQ(host_of[event_id_ending('7')], "replica-b");
  EXPECT_EQ(host_of[event_id_ending('3')], "ci-runner-1");
  for (const char shared : {'1', '2'}) {
    EXPECT_TRUE(host_of[event_id_ending(shared)] == "replica-a" ||
                host_of[event_id_ending(shared)] == "replica-b")
        << host_of[event_id_ending(shared)] << ": the first replica to store it";
  }

  // Now received by each: a POST without a host carries the receiving replica's PROBE_HOST.
  for (std::size_t i = 0; i < m_replicas.size(); ++i) {
    const std::string body = nlohmann::json{
        {"event_id", event_id_ending(static_cast<char>('8' + i))},
        {"kind", "deploy_started"},
        {"sha", "eeeeeee"}}.dump();
    EXPECT_EQ(m_replicas[i].probe->post("/deploys", k_replica_token, body).first, 201);
  }
  EXPECT_EQ(rows("event_id = '" + event_id_ending('8') + "' AND host = 'replica-a'"), "1");
  EXPECT_EQ(rows("event_id = '" + event_id_ending('9') + "' AND host = 'replica-b'"), "1");
  EXPECT_EQ(m_replicas[0].deploys()["events"], m_replicas[1].deploys()["events"]);
  std::cout << "[multi-host] 2 replicas, journals of 5 events each (3 shared): " << replayed_rows
            << " rows, " << quarantined << " quarantined, replayed within " << replayed_ms
            << " ms of the start\n";
}

TEST_F(TwoReplicas, TheSamePostToBothReplicasAtOnceIsStoredOnceAndAnsweredTwice) {
  ASSERT_EQ(start_replicas(), "");
  std::map<std::string, int> stored_by;
  const auto started = std::chrono::steady_clock::now();
  for (int round = 0; round < k_rounds; ++round) {
    const std::string event_id = deploy::new_event_id();
    const std::string body = nlohmann::json{
        {"event_id", event_id},
        {"kind", "deploy_succeeded"},
        {"sha", "aaaaaaa"},
        {"actor", "ci"}}.dump();
    std::array<std::pair<int, std::string>, 2> answers;
    std::barrier together(2);
    std::vector<std::thread> posting;
    for (std::size_t i = 0; i < m_replicas.size(); ++i) {
      posting.emplace_back([&, i] {
        together.arrive_and_wait();
        answers[i] = m_replicas[i].probe->post("/deploys", k_replica_token, body);
      });
    }
    for (std::thread& thread : posting) {
      thread.join();
    }
    for (std::size_t i = 0; i < answers.size(); ++i) {
      EXPECT_EQ(answers[i].first, 201)
          << "round " << round << ", " << m_replicas[i].host << ": " << answers[i].second;
      EXPECT_EQ(nlohmann::json::parse(answers[i].second, nullptr, false)["event_id"], event_id);
    }
    EXPECT_EQ(rows("event_id = '" + event_id + "'"), "1") << "round " << round;
    ++stored_by[query_one(m_dsn, "SELECT host FROM probe_deploy_events WHERE event_id = '" +
                                     event_id + "'")];
  }
  const long long rounds_ms = elapsed_ms(started);
  EXPECT_EQ(rows(), std::to_string(k_rounds));
  EXPECT_EQ(stored_by["replica-a"] + stored_by["replica-b"], k_rounds);
  EXPECT_EQ(m_replicas[0].deploys()["events"], m_replicas[1].deploys()["events"]);

  // Control: the id reused for another SHA is a conflict through either replica, and the
  // stored event stays as it was.
  const std::string reused = query_one(m_dsn, "SELECT event_id FROM probe_deploy_events LIMIT 1");
  const std::string other = nlohmann::json{
      {"event_id", reused},
      {"kind", "deploy_succeeded"},
      {"sha", "bbbbbbb"},
      {"actor", "ci"}}.dump();
  for (const Replica& replica : m_replicas) {
    EXPECT_EQ(replica.probe->post("/deploys", k_replica_token, other).first, 409) << replica.host;
  }
  EXPECT_EQ(rows("event_id = '" + reused + "' AND sha = 'aaaaaaa'"), "1");
  EXPECT_EQ(rows(), std::to_string(k_rounds));
  std::cout << "[multi-host] " << k_rounds
            << " rounds of one POST to both replicas at once: " << 2 * k_rounds << " answers 201, "
            << k_rounds << " rows (stored first by replica-a " << stored_by["replica-a"]
            << ", replica-b " << stored_by["replica-b"] << "), " << rounds_ms << " ms\n";
}

} // namespace
} // namespace probe::tests
