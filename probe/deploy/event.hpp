// A deploy event as the contract defines it: what happened (kind), to which SHA, coming from
// which, by whom, where, and details. One struct for every path an event travels — Postgres,
// the journal, POST /deploys, notifications — with one JSON form, so nothing is lost between
// them. `event_id` (a UUID) makes storing idempotent: replays and retries never double.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace probe::deploy {

struct DeployEvent {
  std::string event_id; // UUID, lower-case hex with dashes
  std::chrono::system_clock::time_point occurred_at;
  std::string kind; // one of config::event_kinds()
  std::string sha;
  std::string previous_sha; // empty when unknown
  std::string actor;
  std::string host;
  nlohmann::json details = nlohmann::json::object();

  bool operator==(const DeployEvent&) const = default;
};

// A fresh random (version 4) UUID.
std::string new_event_id();

// True for "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" in hex.
bool valid_event_id(const std::string& text);

// True for a git SHA (^[0-9a-f]{7,40}$) or an image tag (^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$,
// e.g. docker/metadata-action's "sha-1a2b3c4"). Nothing else may reach a hook.
bool valid_ref(const std::string& text);

bool valid_kind(const std::string& kind);

// The event's JSON form: {"event_id", "occurred_at" (RFC 3339 UTC, ms), "kind", "sha",
// "previous_sha" (null when empty), "actor", "host", "details"}.
nlohmann::json to_json(const DeployEvent& event);

// Parses and validates the JSON form; on failure returns nullopt and sets `error` to
// "field: problem". Missing event_id / occurred_at / actor / host are filled in when
// `fill_defaults` (POST /deploys from a script), required otherwise (journal replay).
std::optional<DeployEvent> from_json(const nlohmann::json& json, bool fill_defaults,
                                     std::string* error);

// A POST /deploys body turned into an event, defaults filled in: nullopt with `error` set when
// it is not JSON, is nested deeper than k_max_body_depth (nlohmann::json copies, prints and
// frees recursively, so a 64 KiB body of brackets would exhaust a thread's stack) or is not a
// valid event.
constexpr int k_max_body_depth = 32;
std::optional<DeployEvent> event_from_body(std::string_view body, std::string* error);

// An event of `kind` for `sha` now, with a new id, this host and `actor`.
DeployEvent make_event(const std::string& kind, const std::string& sha,
                       const std::string& previous_sha, const std::string& actor);

// This machine's host name; "unknown" when it cannot be read.
std::string this_host();

// RFC 3339 UTC with milliseconds, and back.
std::string format_time(std::chrono::system_clock::time_point when);
std::optional<std::chrono::system_clock::time_point> parse_time(const std::string& text);

} // namespace probe::deploy
