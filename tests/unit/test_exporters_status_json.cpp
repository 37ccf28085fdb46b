// The /ready and /status bodies deploy scripts and `probe wait --url` parse: field names,
// states, timestamps in RFC 3339 UTC, nulls before the first check, no target config echoed.
#include <gtest/gtest.h>

#include "exporters/status_json.hpp"

namespace probe::exporters {
namespace {

using namespace std::chrono_literals;

engine::TargetSnapshot snapshot(const std::string& name, bool critical) {
  engine::TargetSnapshot s;
  s.target.name = name;
  s.target.type = config::TargetType::postgres;
  s.target.critical = critical;
  s.target.spec = config::PostgresTarget{util::Secret("postgresql://u:pw@db/x"), "SELECT 1"};
  return s;
}

TEST(StatusJson, BeforeTheFirstCheckEverythingIsUnknownOrNull) {
  const nlohmann::json status = status_document({snapshot("db", true)}, false, "probe 1");
  const nlohmann::json& db = status["targets"][0];
  EXPECT_EQ(db["state"], "unknown");
  EXPECT_EQ(db["last_result"], nullptr);
  EXPECT_EQ(db["last_error"], nullptr);
  EXPECT_EQ(db["last_checked_at"], nullptr);
  EXPECT_EQ(db["checks"], 0);
  EXPECT_EQ(status["version"], "probe 1");
  EXPECT_EQ(status.dump().find("pw"), std::string::npos) << "no config, so no secret, in /status";
}

TEST(StatusJson, AFailureShowsItsErrorAndTimes) {
  engine::TargetSnapshot db = snapshot("db", true);
  checks::CheckResult result =
      checks::make_result(checks::CheckStatus::failure, "connect: refused", "no_response");
  result.latency = 1500us;
  db.state.apply(result, 1, 1, std::chrono::system_clock::time_point(1'700'000'000'250ms));
  const nlohmann::json status = status_document({db}, false, "v");
  const nlohmann::json& entry = status["targets"][0];
  EXPECT_EQ(entry["state"], "down");
  EXPECT_EQ(entry["last_result"], "failure");
  EXPECT_EQ(entry["last_error"], "connect: refused");
  EXPECT_EQ(entry["latency_ms"], 1.5);
  EXPECT_EQ(entry["last_checked_at"], "2023-11-14T22:13:20.250Z");
  EXPECT_EQ(entry["last_success_at"], nullptr);
  EXPECT_EQ(entry["consecutive_failures"], 1);
}

TEST(StatusJson, ReadyDocumentKeysTargetsByName) {
  engine::TargetSnapshot db = snapshot("db", true);
  db.state.apply(checks::make_result(checks::CheckStatus::success, "ok"), 1, 1,
                 std::chrono::system_clock::now());
  const nlohmann::json ready = ready_document({db, snapshot("cache", false)}, true);
  EXPECT_EQ(ready["ready"], true);
  EXPECT_EQ(ready["targets"]["db"]["state"], "up");
  EXPECT_EQ(ready["targets"]["db"]["error"], nullptr);
  EXPECT_EQ(ready["targets"]["cache"]["critical"], false);
  EXPECT_EQ(ready["targets"]["cache"]["state"], "unknown");
}

// /ready is unauthenticated and /status read-only for anyone who reaches the port: a target's
// own secrets are scrubbed from its detail even when a check let one through (here a detail
// that quotes the URL unmasked, as a redirect or a library's error text could). Fails before
// the scrubbing: the api_key and the DSN password were served as they came.
TEST(StatusJson, TargetSecretsAreScrubbedFromDetailsInStatusAndReady) {
  engine::TargetSnapshot api;
  api.target.name = "api";
  api.target.type = config::TargetType::http;
  config::HttpTarget http;
  http.url = "http://api:8000/health?api_key=hunter2-key&v=1";
  http.headers = {{"X-Api-Key", "header-secret"}, {"Accept", "application/json"}};
  api.target.spec = http;
  api.state.apply(checks::make_result(checks::CheckStatus::failure,
                                      "GET /health?api_key=hunter2-key -> 503 (X-Api-Key: "
                                      "header-secret, Accept: application/json)",
                                      "status"),
                  1, 1, std::chrono::system_clock::now());
  engine::TargetSnapshot db = snapshot("db", true);
  db.state.apply(checks::make_result(checks::CheckStatus::failure,
                                     "password authentication failed (pw was pw-secret)",
                                     "auth_failed"),
                 1, 1, std::chrono::system_clock::now());
  std::get<config::PostgresTarget>(db.target.spec).dsn =
      util::Secret("postgresql://u:pw-secret@db/x");

  const std::string status = status_document({api, db}, false, "v").dump();
  const std::string ready = ready_document({api, db}, false).dump();
  for (const std::string& body : {status, ready}) {
    for (const char* secret : {"hunter2-key", "header-secret", "pw-secret"}) {
      EXPECT_EQ(body.find(secret), std::string::npos) << secret << " in " << body;
    }
  }
  EXPECT_EQ(status_document({api}, false, "v")["targets"][0]["last_error"],
            "GET /health?api_key=*** -> 503 (X-Api-Key: ***, Accept: application/json)");
}

} // namespace
} // namespace probe::exporters
