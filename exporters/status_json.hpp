// The JSON bodies of /ready and /status, built from a scheduler snapshot: pure functions, so
// their shape is tested without a server. Neither ever contains a secret: target configs are
// not echoed, check details are masked by the checks, and each target's own secrets (URL query
// values, secret headers, DSN password) are scrubbed from its detail here once more.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "probe/engine/scheduler.hpp"
#include "probe/engine/status_wire.hpp"

namespace probe::exporters {

// {"ready": bool, "targets": {"api": {"state": "up", "critical": true, "type": "http",
//  "consecutive_successes": 3, "checks": 12, "last_checked_at": "...", "error": null}, ...}}
nlohmann::json ready_document(const std::vector<engine::TargetSnapshot>& targets, bool ready);

// The /status body of `targets` (engine/status_wire.hpp has its fields); the caller adds the
// gate settings, which come from the config.
engine::StatusWire status_wire(const std::vector<engine::TargetSnapshot>& targets, bool ready,
                               const std::string& version);

// to_json(status_wire(...)): {"ready": bool, "version": "...", "targets": [{name, type,
// critical, state, since, last_result, last_detail, last_error, latency_ms, last_checked_at,
// last_success_at, consecutive_successes, consecutive_failures, checks, http_status?,
// heartbeat_age_seconds?}]}
nlohmann::json status_document(const std::vector<engine::TargetSnapshot>& targets, bool ready,
                               const std::string& version);

// RFC 3339 UTC with milliseconds; null (nullopt) for a never-set time point.
nlohmann::json timestamp_json(std::chrono::system_clock::time_point when);
std::optional<std::string> timestamp_text(std::chrono::system_clock::time_point when);

} // namespace probe::exporters
