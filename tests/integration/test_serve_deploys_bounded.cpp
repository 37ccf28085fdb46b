// GET /deploys needs no token, so what it costs must not depend on what was stored: events with
// the largest details PostgreSQL holds are written straight into the table (as an old probe, a
// hand-made row or another tool could have left them), then 16 clients ask twice each for
// limit=1000 at once. Every answer stays within the answer budget and says when it was cut, no
// event's details pass the per-event budget, and the sidecar's peak RSS stays under a bound (the
// plain build only: sanitizers add shadow memory and quarantines). Before the budgets one such
// answer was 30 MB and the peak 1.2 GB.
#include <atomic>
#include <fstream>
#include <iostream>
#include <thread>
#include <vector>

#include "pg_env.hpp"
#include "serve_fixture.hpp"
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "tests/support/proc_status.hpp"
#include "tests/support/sanitizers.hpp"

namespace probe::tests {
namespace {

using namespace std::chrono_literals;
using test_support::proc_status_kib;

constexpr std::size_t k_answer_budget = 1024 * 1024; // the README's per-answer budget
constexpr std::size_t k_details_budget = 8 * 1024;   // and per event's details
constexpr int k_events = 1000;
constexpr int k_details_bytes = 30 * 1024;     // odd rows' details: ~30 KB of text
constexpr int k_kept_details_bytes = 7 * 1024; // even rows': ~7 KB
constexpr int k_clients = 16;
constexpr int k_requests_per_client = 2;

TEST(ServeDeploysBounded, LargeStoredEventsCostABoundedAnswerAndBoundedMemory) {
  PROBE_REQUIRE_PG();
  const std::string dsn = fresh_database_dsn("probe_bounded_" + std::to_string(getpid()));
  fakes::TempDir dir;
  RunningProbe probe(
      dir, "targets:\n"
           "  - {name: cache, type: tcp, address: \"127.0.0.1:1\", critical: false}\n"
           "deploy: {dsn: \"" +
               dsn + "\", journal: \"" + dir.path() + "/journal.jsonl\", token: \"tok-123\"}\n");
  // The sidecar migrates the table at its first use of the store; a POST makes that happen.
  ASSERT_EQ(probe
                .post("/deploys", "tok-123",
                      R"({"kind": "deploy_started", "sha": "aaaaaaa", "actor": "first"})")
                .first,
            201);
  // Odd rows: details far past the per-event budget (stubbed when read); even rows: details just
  // under it (kept), so 1000 of them are ~7 MB and the answer budget has to cut.
  exec_outside_transaction(
      dsn, "INSERT INTO probe_deploy_events (event_id, occurred_at, kind, sha, actor, host, "
           "details) SELECT gen_random_uuid(), now(), 'deploy_failed', 'bbbbbbb', 'ci', 'web-1', "
           "jsonb_build_object('db_revision', '4f2a9c', 'output_tail', repeat(md5(i::text), "
           "CASE WHEN i % 2 = 1 THEN " +
               std::to_string(k_details_bytes / 32) + " ELSE " +
               std::to_string(k_kept_details_bytes / 32) + " END)) FROM generate_series(1, " +
               std::to_string(k_events) + ") AS i");
  const auto started = std::chrono::steady_clock::now();
  ASSERT_EQ(probe.get("/deploys?limit=1000").first, 200);
  const auto alone = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  const long before_kib = proc_status_kib(probe.process().pid(), "VmHWM");

  std::atomic<int> ok{0};
  std::atomic<int> busy{0};
  std::atomic<std::size_t> largest{0};
  std::vector<std::string> problems(k_clients);
  std::vector<std::thread> clients;
  for (int c = 0; c < k_clients; ++c) {
    clients.emplace_back([&, c] {
      for (int r = 0; r < k_requests_per_client; ++r) {
        httplib::Client client("127.0.0.1", probe.port());
        client.set_read_timeout(60s);
        const httplib::Result result = client.Get("/deploys?limit=1000");
        if (!result) {
          problems[c] += "request failed: " + httplib::to_string(result.error()) + "\n";
          continue;
        }
        if (result->status == 503) {
          ++busy; // the documented answer when two reads are already running for long
          continue;
        }
        if (result->status != 200) {
          problems[c] += "status " + std::to_string(result->status) + "\n";
          continue;
        }
        ++ok;
        std::size_t seen = largest.load();
        while (result->body.size() > seen &&
               !largest.compare_exchange_weak(seen, result->body.size())) {
        }
        const nlohmann::json answer = nlohmann::json::parse(result->body, nullptr, false);
        if (!answer.is_object() || !answer.contains("events") || answer["events"].empty()) {
          problems[c] += "not a list of events: " + result->body.substr(0, 200) + "\n";
          continue;
        }
        if (answer.value("truncated", false) != true) {
          problems[c] += "a cut answer does not say \"truncated\": true\n";
        }
        int stubs = 0;
        for (const nlohmann::json& event : answer["events"]) {
          const nlohmann::json& details = event["details"];
          if (details.dump().size() > k_details_budget) {
            problems[c] += "details of " + std::to_string(details.dump().size()) + " bytes\n";
            break;
          }
          if (details.value("truncated", false)) {
            ++stubs;
            if (details.value("db_revision", "") != "4f2a9c" || !details.contains("bytes") ||
                details.contains("output_tail")) {
              problems[c] += "not the documented stub: " + details.dump().substr(0, 200) + "\n";
              break;
            }
          }
        }
        if (stubs == 0) {
          problems[c] += "no large details replaced by the stub\n";
        }
      }
    });
  }
  for (std::thread& client : clients) {
    client.join();
  }
  const long peak_kib = proc_status_kib(probe.process().pid(), "VmHWM");
  std::cout << "GET /deploys?limit=1000 x " << k_clients * k_requests_per_client << " ("
            << k_clients << " clients): " << ok << " answered 200, " << busy
            << " 503; largest answer " << largest << " bytes; one read alone " << alone.count()
            << " ms; VmHWM " << before_kib << " KiB after it, " << peak_kib << " KiB after all\n";
  for (const std::string& problem : problems) {
    EXPECT_EQ(problem, "");
  }
  EXPECT_GT(ok, 0);
  EXPECT_LE(largest.load(), k_answer_budget);
  if (!test_support::k_sanitized) {
    // Measured 26-28 MiB (README, "Deploys"): ~20 MiB as started and after one read, plus two
    // reads of at most a budget each (their events and the body being built) and up to 16
    // answers of at most 1 MiB in flight: ~40 MiB at worst; 1.2-1.8 GiB before the budgets.
    EXPECT_LT(peak_kib, 64 * 1024);
  }
  // The stored first event is still there, oldest, after the large ones.
  const nlohmann::json small = nlohmann::json::parse(probe.get("/deploys?limit=1").second);
  EXPECT_EQ(small["events"].size(), 1U) << small.dump().substr(0, 300);
}

} // namespace
} // namespace probe::tests
