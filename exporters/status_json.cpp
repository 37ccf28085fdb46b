// /ready and /status bodies; see status_json.hpp.
#include "exporters/status_json.hpp"

#include <array>
#include <cmath>

#include "exporters/json_numbers.hpp"
#include "probe/util/time_format.hpp"

namespace probe::exporters {
namespace {

// The check's detail with the target's own secrets masked. The checks mask what they know to
// (an HTTP check's query values); this is the second line, for a secret that reaches a detail
// another way (a server that echoes the request, a library's error text).
std::string shown_detail(const engine::TargetSnapshot& snapshot) {
  return config::scrub(snapshot.state.last.detail, snapshot.target);
}

nlohmann::json error_or_null(const engine::TargetSnapshot& snapshot) {
  const engine::TargetState& state = snapshot.state;
  if (state.checks == 0 || state.last.ok()) {
    return nullptr;
  }
  return shown_detail(snapshot);
}

} // namespace

std::optional<std::string> timestamp_text(std::chrono::system_clock::time_point when) {
  if (when.time_since_epoch().count() == 0) {
    return std::nullopt;
  }
  return util::format_rfc3339(when);
}

nlohmann::json timestamp_json(std::chrono::system_clock::time_point when) {
  const std::optional<std::string> text = timestamp_text(when);
  return text ? nlohmann::json(*text) : nlohmann::json(nullptr);
}

nlohmann::json ready_document(const std::vector<engine::TargetSnapshot>& targets, bool ready) {
  nlohmann::json by_name = nlohmann::json::object();
  for (const engine::TargetSnapshot& snapshot : targets) {
    const engine::TargetState& state = snapshot.state;
    by_name[snapshot.target.name] = {
        {"state", engine::to_string(state.health)},
        {"critical", snapshot.target.critical},
        {"type", config::to_string(snapshot.target.type)},
        {"consecutive_successes", state.consecutive_successes},
        {"checks", state.checks},
        {"last_checked_at", timestamp_json(state.last_checked)},
        {"error", error_or_null(snapshot)},
    };
  }
  return {{"ready", ready}, {"targets", by_name}};
}

engine::StatusTargetWire status_target_wire(const engine::TargetSnapshot& snapshot) {
  const engine::TargetState& state = snapshot.state;
  const bool checked = state.checks != 0;
  engine::StatusTargetWire wire;
  wire.name = snapshot.target.name;
  wire.type = config::to_string(snapshot.target.type);
  wire.critical = snapshot.target.critical;
  wire.state = engine::to_string(state.health);
  wire.since = timestamp_text(state.since);
  if (checked) {
    wire.last_result = checks::to_string(state.last.status);
    wire.last_detail = shown_detail(snapshot);
  }
  if (checked && !state.last.ok()) {
    wire.last_error = shown_detail(snapshot);
  }
  wire.latency_ms = round3(std::chrono::duration<double, std::milli>(state.last.latency).count());
  wire.last_checked_at = timestamp_text(state.last_checked);
  wire.last_success_at = timestamp_text(state.last_success);
  wire.consecutive_successes = state.consecutive_successes;
  wire.consecutive_failures = state.consecutive_failures;
  wire.checks = state.checks;
  wire.http_status = state.last.http_status;
  if (state.last.heartbeat_age_seconds) {
    wire.heartbeat_age_seconds = round3(*state.last.heartbeat_age_seconds);
  }
  return wire;
}

engine::StatusWire status_wire(const std::vector<engine::TargetSnapshot>& targets, bool ready,
                               const std::string& version) {
  engine::StatusWire status;
  status.ready = ready;
  status.version = version;
  for (const engine::TargetSnapshot& snapshot : targets) {
    status.targets.push_back(status_target_wire(snapshot));
  }
  return status;
}

nlohmann::json status_document(const std::vector<engine::TargetSnapshot>& targets, bool ready,
                               const std::string& version) {
  return engine::to_json(status_wire(targets, ready, version));
}

} // namespace probe::exporters
