// The /status body's JSON form, both ways; see status_wire.hpp.
#include "probe/engine/status_wire.hpp"

#include "probe/util/json_read.hpp"

namespace probe::engine {
namespace {

nlohmann::json text_or_null(const std::optional<std::string>& text) {
  return text ? nlohmann::json(*text) : nlohmann::json(nullptr);
}

std::optional<StatusTargetWire> target_from_json(const nlohmann::json& json,
                                                 const std::string& path, std::string* error) {
  util::JsonFields fields(json, path);
  StatusTargetWire target;
  fields.required("name", &target.name);
  fields.required("type", &target.type);
  fields.required("critical", &target.critical);
  fields.required("state", &target.state);
  fields.nullable("since", &target.since);
  fields.nullable("last_result", &target.last_result);
  fields.nullable("last_detail", &target.last_detail);
  fields.nullable("last_error", &target.last_error);
  fields.required("latency_ms", &target.latency_ms);
  fields.nullable("last_checked_at", &target.last_checked_at);
  fields.nullable("last_success_at", &target.last_success_at);
  fields.required("consecutive_successes", &target.consecutive_successes);
  fields.required("consecutive_failures", &target.consecutive_failures);
  fields.required("checks", &target.checks);
  fields.optional("http_status", &target.http_status);
  fields.optional("heartbeat_age_seconds", &target.heartbeat_age_seconds);
  if (!fields.ok()) {
    *error = fields.error();
    return std::nullopt;
  }
  return target;
}

std::optional<StatusGateWire> gate_from_json(const nlohmann::json& json, std::string* error) {
  util::JsonFields fields(json, "gate");
  StatusGateWire gate;
  fields.required("consecutive_successes", &gate.consecutive_successes);
  fields.required("poll_interval_ms", &gate.poll_interval_ms);
  fields.required("timeout_ms", &gate.timeout_ms);
  if (!fields.ok()) {
    *error = fields.error();
    return std::nullopt;
  }
  return gate;
}

} // namespace

nlohmann::json to_json(const StatusTargetWire& target) {
  nlohmann::json json{
      {"name", target.name},
      {"type", target.type},
      {"critical", target.critical},
      {"state", target.state},
      {"since", text_or_null(target.since)},
      {"last_result", text_or_null(target.last_result)},
      {"last_detail", text_or_null(target.last_detail)},
      {"last_error", text_or_null(target.last_error)},
      {"latency_ms", target.latency_ms},
      {"last_checked_at", text_or_null(target.last_checked_at)},
      {"last_success_at", text_or_null(target.last_success_at)},
      {"consecutive_successes", target.consecutive_successes},
      {"consecutive_failures", target.consecutive_failures},
      {"checks", target.checks},
  };
  if (target.http_status) {
    json["http_status"] = *target.http_status;
  }
  if (target.heartbeat_age_seconds) {
    json["heartbeat_age_seconds"] = *target.heartbeat_age_seconds;
  }
  return json;
}

nlohmann::json to_json(const StatusGateWire& gate) {
  return {{"consecutive_successes", gate.consecutive_successes},
          {"poll_interval_ms", gate.poll_interval_ms},
          {"timeout_ms", gate.timeout_ms}};
}

nlohmann::json to_json(const StatusWire& status) {
  nlohmann::json targets = nlohmann::json::array();
  for (const StatusTargetWire& target : status.targets) {
    targets.push_back(to_json(target));
  }
  nlohmann::json json{{"ready", status.ready}, {"version", status.version}, {"targets", targets}};
  if (status.gate) {
    json["gate"] = to_json(*status.gate);
  }
  return json;
}

std::optional<StatusWire> status_from_json(const nlohmann::json& json, std::string* error) {
  util::JsonFields fields(json, "");
  StatusWire status;
  // "targets" first: its absence is what says most plainly that a body is not probe's.
  const nlohmann::json* targets = fields.array("targets", true);
  fields.required("ready", &status.ready);
  fields.required("version", &status.version);
  const nlohmann::json* gate = fields.member("gate", false);
  if (!fields.ok()) {
    *error = fields.error();
    return std::nullopt;
  }
  for (std::size_t i = 0; i < targets->size(); ++i) {
    std::optional<StatusTargetWire> target =
        target_from_json((*targets)[i], util::element_path("targets", i), error);
    if (!target) {
      return std::nullopt;
    }
    status.targets.push_back(std::move(*target));
  }
  if (gate != nullptr && !gate->is_null()) {
    status.gate = gate_from_json(*gate, error);
    if (!status.gate) {
      return std::nullopt;
    }
  }
  return status;
}

} // namespace probe::engine
