// The body of GET /status as it travels: one struct that `probe serve` writes
// (exporters/status_json.cpp fills it from the scheduler) and `probe wait --url` / `deploy
// verify --url` read (gate_runner.cpp, through the sidecar client), with one to_json and one
// status_from_json. Field names live here only, so the writer and the reader cannot drift.
//
// The JSON is the contract's /status (spec: each target's state, last result, last error,
// latency, since when) and stays byte for byte what probe has always served: a top-level
// {"ready", "version", "targets": [...], "gate"?} whose targets carry every field below, null
// where there is nothing yet, and http_status / heartbeat_age_seconds only for the targets that
// have one. Times are kept as the RFC 3339 text the sidecar wrote: nothing here computes with
// them, and a reader must not turn a sidecar's "…Z" into another spelling.
//
// Reading is for a body from the network: a missing member or one of the wrong type is an
// error naming it ("targets[1].checks: must be a whole number >= 0, not a string"), never an
// exception. "gate" may be absent (a sidecar older than the gate settings, or status_document
// without a config); so may http_status and heartbeat_age_seconds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace probe::engine {

// One target's entry in /status.
struct StatusTargetWire {
  std::string name;
  std::string type; // "http", "tcp", "postgres", "heartbeat"
  bool critical = true;
  std::string state;                      // the debounced state: "up", "down", "unknown"
  std::optional<std::string> since;       // when `state` last changed; null before
  std::optional<std::string> last_result; // "success", "failure", ...; null before a check
  std::optional<std::string> last_detail; // the last check's one line (secrets scrubbed)
  std::optional<std::string> last_error;  // last_detail when the last check failed, else null
  double latency_ms = 0;                  // the last check's, rounded to microseconds
  std::optional<std::string> last_checked_at;
  std::optional<std::string> last_success_at;
  int consecutive_successes = 0;
  int consecutive_failures = 0;
  std::uint64_t checks = 0; // results applied since the sidecar started (or the target was added)
  std::optional<int> http_status;              // http targets, once checked
  std::optional<double> heartbeat_age_seconds; // heartbeat targets, once checked

  bool operator==(const StatusTargetWire&) const = default;
};

// The sidecar's own gate settings, so `probe wait --url` gates as the sidecar would.
struct StatusGateWire {
  int consecutive_successes = 3;
  long long poll_interval_ms = 0;
  long long timeout_ms = 0;

  bool operator==(const StatusGateWire&) const = default;
};

struct StatusWire {
  bool ready = false; // every critical target UP
  std::string version;
  std::vector<StatusTargetWire> targets;
  std::optional<StatusGateWire> gate;

  bool operator==(const StatusWire&) const = default;
};

nlohmann::json to_json(const StatusTargetWire& target);
nlohmann::json to_json(const StatusGateWire& gate);
nlohmann::json to_json(const StatusWire& status);

// `json` read as a /status body; nullopt with `error` set ("targets[0].name: missing") when a
// member is missing or of the wrong type.
std::optional<StatusWire> status_from_json(const nlohmann::json& json, std::string* error);

} // namespace probe::engine
