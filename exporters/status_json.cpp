// /ready and /status bodies; see status_json.hpp.
#include "exporters/status_json.hpp"

#include <array>
#include <cmath>

#include "probe/util/time_format.hpp"

namespace probe::exporters {
namespace {

double round3(double value) {
  return std::round(value * 1000) / 1000;
}

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

nlohmann::json timestamp_json(std::chrono::system_clock::time_point when) {
  if (when.time_since_epoch().count() == 0) {
    return nullptr;
  }
  return util::format_rfc3339(when);
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

nlohmann::json status_document(const std::vector<engine::TargetSnapshot>& targets, bool ready,
                               const std::string& version) {
  nlohmann::json list = nlohmann::json::array();
  for (const engine::TargetSnapshot& snapshot : targets) {
    const engine::TargetState& state = snapshot.state;
    nlohmann::json entry{
        {"name", snapshot.target.name},
        {"type", config::to_string(snapshot.target.type)},
        {"critical", snapshot.target.critical},
        {"state", engine::to_string(state.health)},
        {"since", timestamp_json(state.since)},
        {"last_result", state.checks == 0 ? nlohmann::json(nullptr)
                                          : nlohmann::json(checks::to_string(state.last.status))},
        {"last_detail",
         state.checks == 0 ? nlohmann::json(nullptr) : nlohmann::json(shown_detail(snapshot))},
        {"last_error", error_or_null(snapshot)},
        {"latency_ms",
         round3(std::chrono::duration<double, std::milli>(state.last.latency).count())},
        {"last_checked_at", timestamp_json(state.last_checked)},
        {"last_success_at", timestamp_json(state.last_success)},
        {"consecutive_successes", state.consecutive_successes},
        {"consecutive_failures", state.consecutive_failures},
        {"checks", state.checks},
    };
    if (state.last.http_status) {
      entry["http_status"] = *state.last.http_status;
    }
    if (state.last.heartbeat_age_seconds) {
      entry["heartbeat_age_seconds"] = round3(*state.last.heartbeat_age_seconds);
    }
    list.push_back(std::move(entry));
  }
  return {{"ready", ready}, {"version", version}, {"targets", list}};
}

} // namespace probe::exporters
