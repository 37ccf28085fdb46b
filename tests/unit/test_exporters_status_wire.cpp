// The sidecar's side of the /status wire (issue 14): status_document writes through
// engine::StatusWire, and what it writes is what the reader of `probe wait --url` takes back
// field for field. The text is pinned as it was before the wire struct (the same bytes for the
// same snapshot), so deploy scripts and older binaries reading /status see no change.
#include <gtest/gtest.h>

#include "exporters/status_json.hpp"

namespace probe::exporters {
namespace {

using namespace std::chrono_literals;

std::vector<engine::TargetSnapshot> snapshots() {
  engine::TargetSnapshot api;
  api.target.name = "api";
  api.target.type = config::TargetType::http;
  api.target.critical = true;
  api.target.spec = config::HttpTarget{};
  checks::CheckResult failed =
      checks::make_result(checks::CheckStatus::failure, "GET /health -> 503", "status");
  failed.latency = 12'345'678ns;
  failed.http_status = 503;
  const std::chrono::system_clock::time_point t0(1'700'000'000'250ms);
  api.state.apply(checks::make_result(checks::CheckStatus::success, "GET /health -> 200"), 1, 1,
                  t0);
  api.state.apply(failed, 1, 1, t0 + 1500ms);

  engine::TargetSnapshot bot;
  bot.target.name = "bot";
  bot.target.type = config::TargetType::heartbeat;
  bot.target.critical = false;
  checks::CheckResult beat = checks::make_result(checks::CheckStatus::success, "beat 2s ago");
  beat.heartbeat_age_seconds = 2.0004;
  bot.state.apply(beat, 1, 1, t0);

  engine::TargetSnapshot db;
  db.target.name = "db";
  db.target.type = config::TargetType::postgres;
  db.target.spec = config::PostgresTarget{util::Secret("postgresql://u:pw@db/x"), "SELECT 1"};
  return {api, bot, db};
}

TEST(StatusWireWriter, TheBytesAreThoseProbeHasAlwaysServed) {
  // Printed by the status_json.cpp from before the wire struct, for these snapshots.
  EXPECT_EQ(status_document(snapshots(), false, "probe 1").dump(),
            R"x({"ready":false,"targets":[{"checks":2,"consecutive_failures":1)x"
            R"x(,"consecutive_successes":0,"critical":true,"http_status":503)x"
            R"x(,"last_checked_at":"2023-11-14T22:13:21.750Z","last_detail":"GET /health -> 503")x"
            R"x(,"last_error":"GET /health -> 503","last_result":"failure")x"
            R"x(,"last_success_at":"2023-11-14T22:13:20.250Z","latency_ms":12.346,"name":"api")x"
            R"x(,"since":"2023-11-14T22:13:21.750Z","state":"down","type":"http"},{"checks":1)x"
            R"x(,"consecutive_failures":0,"consecutive_successes":1,"critical":false)x"
            R"x(,"heartbeat_age_seconds":2.0,"last_checked_at":"2023-11-14T22:13:20.250Z")x"
            R"x(,"last_detail":"beat 2s ago","last_error":null,"last_result":"success")x"
            R"x(,"last_success_at":"2023-11-14T22:13:20.250Z","latency_ms":0.0,"name":"bot")x"
            R"x(,"since":"2023-11-14T22:13:20.250Z","state":"up","type":"heartbeat"},{"checks":0)x"
            R"x(,"consecutive_failures":0,"consecutive_successes":0,"critical":true)x"
            R"x(,"last_checked_at":null,"last_detail":null,"last_error":null,"last_result":null)x"
            R"x(,"last_success_at":null,"latency_ms":0.0,"name":"db","since":null)x"
            R"x(,"state":"unknown","type":"postgres"}],"version":"probe 1"})x");
}

TEST(StatusWireWriter, WhatTheSidecarWritesTheReaderTakesBack) {
  engine::StatusWire written = status_wire(snapshots(), true, "probe 1");
  written.gate = engine::StatusGateWire{3, 250, 120'000};
  std::string error;
  const std::optional<engine::StatusWire> read =
      engine::status_from_json(nlohmann::json::parse(engine::to_json(written).dump()), &error);
  ASSERT_TRUE(read) << error;
  EXPECT_EQ(*read, written);
  EXPECT_EQ(read->targets[0].last_error, "GET /health -> 503");
  EXPECT_EQ(read->targets[0].http_status, 503);
  EXPECT_EQ(read->targets[1].heartbeat_age_seconds, 2.0);
  EXPECT_EQ(read->targets[2].last_result, std::nullopt);
}

} // namespace
} // namespace probe::exporters
