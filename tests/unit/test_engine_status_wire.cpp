// The /status body between `probe serve` and `probe wait --url` (issue 14): what to_json writes
// status_from_json reads back as the same struct, and a body from the network that lacks a
// member or has one of the wrong type is refused with the member named — never an exception
// (nlohmann's value() and get() throw type_error on a wrong type, which the hand-written reader
// did for "checks": "12").
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "probe/engine/status_wire.hpp"

namespace probe::engine {
namespace {

StatusTargetWire checked_target() {
  StatusTargetWire api;
  api.name = "api";
  api.type = "http";
  api.critical = true;
  api.state = "down";
  api.since = "2026-11-27T09:40:00.123Z";
  api.last_result = "failure";
  api.last_detail = "GET /health -> 503";
  api.last_error = "GET /health -> 503";
  api.latency_ms = 12.345;
  api.last_checked_at = "2026-11-27T09:40:01.000Z";
  api.last_success_at = "2026-11-27T09:39:00.500Z";
  api.consecutive_successes = 0;
  api.consecutive_failures = 3;
  api.checks = 42;
  api.http_status = 503;
  return api;
}

StatusTargetWire unchecked_target() {
  StatusTargetWire bot;
  bot.name = "bot";
  bot.type = "heartbeat";
  bot.critical = false;
  bot.state = "unknown";
  return bot;
}

StatusWire full_status() {
  StatusWire status;
  status.ready = false;
  status.version = "probe 1.2.3 (abc1234)";
  StatusTargetWire bot = unchecked_target();
  bot.heartbeat_age_seconds = 1.5;
  status.targets = {checked_target(), bot};
  status.gate = StatusGateWire{2, 100, 30'000};
  return status;
}

// Reads `json`; the error when it fails, "" when it reads.
std::string error_of(const nlohmann::json& json) {
  std::string error;
  const std::optional<StatusWire> status = status_from_json(json, &error);
  return status ? "" : error;
}

TEST(StatusWire, WhatIsWrittenReadsBackTheSame) {
  for (const StatusWire& status : {full_status(), StatusWire{}}) {
    std::string error;
    const std::optional<StatusWire> read = status_from_json(to_json(status), &error);
    ASSERT_TRUE(read) << error;
    EXPECT_EQ(*read, status);
    // And through the text, as it travels.
    const std::optional<StatusWire> from_text =
        status_from_json(nlohmann::json::parse(to_json(status).dump()), &error);
    ASSERT_TRUE(from_text) << error;
    EXPECT_EQ(*from_text, status);
  }
}

TEST(StatusWire, NullsBeforeTheFirstCheckAndOptionalMembersLeftOut) {
  StatusWire status;
  status.targets = {unchecked_target()};
  const nlohmann::json json = to_json(status);
  const nlohmann::json& bot = json["targets"][0];
  for (const char* key : {"since", "last_result", "last_detail", "last_error", "last_checked_at",
                          "last_success_at"}) {
    ASSERT_TRUE(bot.contains(key)) << key;
    EXPECT_TRUE(bot[key].is_null()) << key;
  }
  EXPECT_FALSE(bot.contains("http_status"));
  EXPECT_FALSE(bot.contains("heartbeat_age_seconds"));
  EXPECT_FALSE(json.contains("gate")); // no config, no gate settings
}

// The exact text, so a change to a name or a type shows here and in review: these bytes are
// what deploy scripts and older `probe wait --url` binaries read.
TEST(StatusWire, TheTextIsPinned) {
  StatusWire status = full_status();
  status.targets.resize(1);
  EXPECT_EQ(to_json(status).dump(),
            R"({"gate":{"consecutive_successes":2,"poll_interval_ms":100,"timeout_ms":30000},)"
            R"("ready":false,"targets":[{"checks":42,"consecutive_failures":3,)"
            R"("consecutive_successes":0,"critical":true,"http_status":503,)"
            R"("last_checked_at":"2026-11-27T09:40:01.000Z","last_detail":"GET /health -> 503",)"
            R"("last_error":"GET /health -> 503","last_result":"failure",)"
            R"("last_success_at":"2026-11-27T09:39:00.500Z","latency_ms":12.345,"name":"api",)"
            R"("since":"2026-11-27T09:40:00.123Z","state":"down","type":"http"}],)"
            R"x("version":"probe 1.2.3 (abc1234)"})x");
}

TEST(StatusWire, AMissingMemberIsNamed) {
  const nlohmann::json good = to_json(full_status());
  EXPECT_EQ(error_of(good), "");
  struct Case {
    nlohmann::json::json_pointer pointer;
    std::string error;
  };
  for (const Case& c : {
           Case{"/targets"_json_pointer, "targets: missing"},
           Case{"/ready"_json_pointer, "ready: missing"},
           Case{"/version"_json_pointer, "version: missing"},
           Case{"/targets/0/name"_json_pointer, "targets[0].name: missing"},
           Case{"/targets/1/checks"_json_pointer, "targets[1].checks: missing"},
           Case{"/targets/0/last_detail"_json_pointer, "targets[0].last_detail: missing"},
           Case{"/gate/timeout_ms"_json_pointer, "gate.timeout_ms: missing"},
       }) {
    nlohmann::json body = good;
    body[c.pointer.parent_pointer()].erase(c.pointer.back());
    EXPECT_EQ(error_of(body), c.error) << c.pointer.to_string();
  }
  // The members a target may lack, and the gate (a sidecar older than its settings).
  nlohmann::json body = good;
  body["targets"][0].erase("http_status");
  body["targets"][1].erase("heartbeat_age_seconds");
  body.erase("gate");
  EXPECT_EQ(error_of(body), "");
}

TEST(StatusWire, AMistypedMemberIsNamedWithWhatItMustBe) {
  const nlohmann::json good = to_json(full_status());
  struct Case {
    nlohmann::json::json_pointer pointer;
    nlohmann::json value;
    std::string error;
  };
  for (const Case& c : {
           Case{"/targets/0/checks"_json_pointer, "12",
                "targets[0].checks: must be a whole number >= 0, not a string"},
           Case{"/targets/0/checks"_json_pointer, -1,
                "targets[0].checks: must be a whole number >= 0, not a number"},
           Case{"/targets/0/checks"_json_pointer, 1.5,
                "targets[0].checks: must be a whole number >= 0, not a fraction"},
           Case{"/targets/1/critical"_json_pointer, "yes",
                "targets[1].critical: must be true or false, not a string"},
           Case{"/targets/0/name"_json_pointer, nullptr,
                "targets[0].name: must be a string, not null"},
           Case{"/targets/0/last_result"_json_pointer, 7,
                "targets[0].last_result: must be a string or null, not a number"},
           Case{"/targets/0/consecutive_successes"_json_pointer, 1LL << 40,
                "targets[0].consecutive_successes: must be a whole number from -2147483648 to "
                "2147483647, not a number"},
           Case{"/targets/0/latency_ms"_json_pointer, nlohmann::json::array(),
                "targets[0].latency_ms: must be a number, not an array"},
           Case{"/targets/0/http_status"_json_pointer, "503",
                "targets[0].http_status: must be a whole number, not a string"},
           Case{"/targets/0"_json_pointer, "api",
                "targets[0]: must be a JSON object, not a string"},
           Case{"/targets"_json_pointer, nlohmann::json::object(),
                "targets: must be an array, not an object"},
           Case{"/gate"_json_pointer, 3, "gate: must be a JSON object, not a number"},
           Case{"/ready"_json_pointer, 1, "ready: must be true or false, not a number"},
       }) {
    nlohmann::json body = good;
    body[c.pointer] = c.value;
    EXPECT_EQ(error_of(body), c.error) << c.pointer.to_string();
  }
}

// Every member of every type, and every cut of the text: read or refused with the member
// named, and never an exception.
TEST(StatusWire, HostileBodiesAreRefusedWithoutAnException) {
  const nlohmann::json good = to_json(full_status());
  const std::vector<nlohmann::json> values{
      nullptr, true, 1, -1, 1.5, "x", nlohmann::json::array(), nlohmann::json::object()};
  std::vector<nlohmann::json::json_pointer> members;
  for (const auto& [key, value] : good.items()) {
    members.emplace_back("/" + key);
  }
  for (const auto& [key, value] : good["targets"][0].items()) {
    members.emplace_back("/targets/0/" + key);
  }
  for (const auto& [key, value] : good["gate"].items()) {
    members.emplace_back("/gate/" + key);
  }
  for (const nlohmann::json::json_pointer& pointer : members) {
    for (const nlohmann::json& value : values) {
      nlohmann::json body = good;
      body[pointer] = value;
      std::string error;
      std::optional<StatusWire> read;
      EXPECT_NO_THROW(read = status_from_json(body, &error)) << pointer.to_string();
      std::string path = pointer.to_string().substr(1);
      for (const std::string& from : {std::string("targets/0/"), std::string("gate/")}) {
        if (path.rfind(from, 0) == 0) {
          path = (from == "gate/" ? "gate." : "targets[0].") + path.substr(from.size());
        }
      }
      if (!read) { // the member, or one inside it ("gate.timeout_ms: missing" for "gate": {})
        EXPECT_EQ(error.rfind(path, 0), 0U) << error << " for " << pointer.to_string();
        EXPECT_NE(std::string(":.[").find(error.at(path.size())), std::string::npos) << error;
      }
    }
  }
  const std::string text = good.dump();
  for (std::size_t cut = 0; cut < text.size(); ++cut) {
    const nlohmann::json body = nlohmann::json::parse(text.substr(0, cut), nullptr, false);
    std::string error;
    EXPECT_NO_THROW(status_from_json(body, &error)) << cut;
  }
}

TEST(StatusWire, ABodyThatIsNotAnObjectIsRefused) {
  EXPECT_EQ(error_of(nlohmann::json::array()), "body: must be a JSON object, not an array");
  EXPECT_EQ(error_of("ok"), "body: must be a JSON object, not a string");
  EXPECT_EQ(error_of(nlohmann::json::object()), "targets: missing");
  EXPECT_EQ(error_of({{"status", "ok"}}), "targets: missing"); // another app's /status
}

TEST(StatusWire, WholeNumbersAtTheirLimitsAreRead) {
  StatusWire status = full_status();
  status.targets[0].checks = std::numeric_limits<std::uint64_t>::max();
  status.targets[0].consecutive_successes = std::numeric_limits<int>::max();
  status.gate->timeout_ms = std::numeric_limits<long long>::max();
  std::string error;
  const std::optional<StatusWire> read =
      status_from_json(nlohmann::json::parse(to_json(status).dump()), &error);
  ASSERT_TRUE(read) << error;
  EXPECT_EQ(*read, status);
}

} // namespace
} // namespace probe::engine
