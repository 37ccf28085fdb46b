// A deploy event as the contract defines it: what happened (kind), to which SHA, coming from
// which, by whom, where, and details. One struct for every path an event travels — Postgres,
// the journal, POST /deploys, notifications — with one JSON form, so nothing is lost between
// them. `event_id` (a UUID) makes storing idempotent: replays and retries never double.
//
// Every way in (a POST /deploys body, CLI flags, a hook's output, a journal line) goes through
// the same door, normalized(): an event that PostgreSQL could refuse for its text would jam the
// journal behind it, and a client's text reaches chat messages and terminals. So text fields are
// stored without control characters (details strings keep '\n' and '\t'), invalid UTF-8 is
// replaced, the id is lower-case, and details larger than k_max_details_bytes are replaced by a
// small stub — the same rule when an event is stored and when it is read.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "probe/deploy/event_kind.hpp"

namespace probe::deploy {

struct DeployEvent {
  std::string event_id; // UUID, lower-case hex with dashes
  std::chrono::system_clock::time_point occurred_at;
  // An EventKind's name (to_string()): text, as the spec's schema and the wire have it. Read it
  // through is_kind() or parse_event_kind(); from_json() accepts no other text.
  std::string kind;
  std::string sha;
  std::string previous_sha; // empty when unknown
  std::string actor;
  std::string host;
  nlohmann::json details = nlohmann::json::object();

  bool operator==(const DeployEvent&) const = default;
};

// A fresh random (version 4) UUID from getrandom(2).
std::string new_event_id();

// True for "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" in hex of either case (stored lower-case).
bool valid_event_id(const std::string& text);

// True for a git SHA (^[0-9a-f]{7,40}$) or an image tag (^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$,
// e.g. docker/metadata-action's "sha-1a2b3c4"). Nothing else may reach a hook.
bool valid_ref(const std::string& text);

// True when `kind` names an EventKind.
bool valid_kind(const std::string& kind);

// True when `event` is of `kind`.
bool is_kind(const DeployEvent& event, EventKind kind);

// How large an event's `details` may be, serialized (compact JSON). Larger details are replaced
// by {"truncated": true, "bytes": N} plus those of k_kept_detail_keys whose own value serializes
// to at most k_max_kept_detail_bytes, so what a deploy script and the rollback need survives.
inline constexpr std::size_t k_max_details_bytes = std::size_t{8} * 1024;
inline constexpr std::size_t k_max_kept_detail_bytes = 1024;
const std::vector<std::string>& kept_detail_keys();

// `details` within k_max_details_bytes: itself when it fits, else the stub described above.
nlohmann::json bounded_details(const nlohmann::json& details);

// `event` as it may be stored: event_id lower-case; actor and host without control characters;
// every string in details (keys too) without control characters except '\n' and '\t' in
// values; invalid UTF-8 replaced by U+FFFD; details bounded. Applying it twice changes nothing.
DeployEvent normalized(DeployEvent event);

// True when `a` and `b` are the same event offered twice: equal kind, SHAs, actor and details.
// occurred_at is not compared (a retry without one gets a new time), nor host (a retry without
// one gets the host of the replica that receives it: see event.cpp), nor a details.db_revision
// that only one of them has (the sidecar adds it when it can read it).
bool same_event(const DeployEvent& a, const DeployEvent& b);

// False, with `error` set ("db_revision: not a revision (...)"), when `details` holds a
// db_revision that is not null and not a valid_ref(): it becomes PROBE_DB_REVISION in a rollback
// hook's environment. Checked at the door (POST /deploys bodies, `deploy record --details`).
bool valid_details(const nlohmann::json& details, std::string* error);

// The size of to_json(`event`) serialized compactly: what one event costs in an answer.
std::size_t json_size(const DeployEvent& event);

// The event's JSON form: {"event_id", "occurred_at" (RFC 3339 UTC, ms), "kind", "sha",
// "previous_sha" (null when empty), "actor", "host", "details"}.
nlohmann::json to_json(const DeployEvent& event);

// Parses and validates the JSON form, normalized (see normalized()); on failure returns nullopt
// and sets `error` to "field: problem". Missing event_id / occurred_at / actor / host are filled
// in when `fill_defaults` (POST /deploys from a script: the door, where details.db_revision must
// also be a valid_ref() since it reaches a hook's environment), required otherwise (journal
// replay, reading a sidecar's answer).
std::optional<DeployEvent> from_json(const nlohmann::json& json, bool fill_defaults,
                                     std::string* error);

// A POST /deploys body turned into an event, defaults filled in: nullopt with `error` set when
// it is not JSON, is nested deeper than k_max_body_depth (nlohmann::json copies, prints and
// frees recursively, so a 64 KiB body of brackets would exhaust a thread's stack) or is not a
// valid event.
constexpr int k_max_body_depth = 32;
std::optional<DeployEvent> event_from_body(std::string_view body, std::string* error);

// An event of `kind` for `sha` now, with a new id, this host and `actor`.
DeployEvent make_event(EventKind kind, const std::string& sha, const std::string& previous_sha,
                       const std::string& actor);

// The host events made here carry: the override set by set_host_override() (PROBE_HOST), else
// this machine's host name; "unknown" when it cannot be read.
std::string this_host();

// Two processes on one machine, or two containers of one pod, would otherwise be one host: the
// CLI reads PROBE_HOST (Kubernetes: the pod name from the downward API) into this. `host` is a
// parse_host_name() value; "" restores the machine's name. Thread-safe.
void set_host_override(std::string host);

// The longest host name taken from PROBE_HOST: what every text field of an event may hold
// (a Kubernetes pod name is at most 253 characters).
inline constexpr std::size_t k_max_host_chars = 256;

// `value` (PROBE_HOST) as a host name: trimmed of blanks (space, tab, CR, LF); "" when nothing is
// left (unset, as Compose's `${PROBE_HOST:-}` gives it: the machine's name is used). nullopt with
// `error` set ("PROBE_HOST: character 4 is not printable ASCII ...") when longer than
// k_max_host_chars or holding anything but printable ASCII (inner spaces allowed).
std::optional<std::string> parse_host_name(std::string_view value, std::string* error);

// RFC 3339 UTC with milliseconds.
std::string format_time(std::chrono::system_clock::time_point when);

// Strict RFC 3339: "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)", every field in its range
// (month 01-12, day within the month, hour 00-23, minute and second 00-59: no leap second), the
// separator 'T' or, as RFC 3339 allows, 't' or a space, the zone 'Z' or 'z' or an offset within
// ±23:59, nothing after it, and within what system_clock holds (years 1678-2261). Fractions
// past microseconds are read and dropped. On failure nullopt, with `why` (when given) naming the
// part: "month 13 is out of range (01-12)".
std::optional<std::chrono::system_clock::time_point> parse_time(const std::string& text,
                                                                std::string* why = nullptr);

} // namespace probe::deploy
