// The /deploys answers as they travel: what `probe serve` writes (probe/cli/sidecar.cpp) and
// `probe deploy verify | record | list --url` read (sidecar_recorder.cpp, through the sidecar
// client), with one writer and one reader each, so the envelope's field names live here only.
// The events inside are DeployEvent's own JSON form (event.hpp).
//
//   GET /deploys   200 {"events": [event, ...newest received first], "pending": N,
//                       "truncated": bool}
//   POST /deploys  201 {"event_id": "<uuid>", "recorded": true}
//
// The list is written event by event into one string (deploys_body()): its size is bounded by
// the sidecar's answer budget, and a JSON tree of up to a thousand events next to the text would
// double what a read holds. The bytes are what nlohmann would print for the same object (keys in
// order, compact, invalid UTF-8 replaced) plus a newline.
//
// Reading is for a body from the network: a missing or mistyped member is an error naming it
// ("events: must be an array"), never an exception. An event that is not a valid event
// ("events[3].kind: \"shipped\" is not an event kind", e.g. a kind from a newer sidecar) is left
// out and named in `skipped`, as the list has always done, so one odd event does not hide the
// others. "pending" and "truncated" may be absent (a sidecar from before they were added).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "probe/deploy/event.hpp"

namespace probe::deploy {

// The GET /deploys answer.
struct DeploysPage {
  std::vector<DeployEvent> events; // newest received first
  std::uint64_t pending = 0;       // journal entries not yet stored in PostgreSQL
  bool truncated = false;          // events stopped before the answer's byte budget ran out

  bool operator==(const DeploysPage&) const = default;
};

// The POST /deploys answer when the event is recorded (201).
struct RecordedWire {
  std::string event_id;
  bool recorded = true;

  bool operator==(const RecordedWire&) const = default;
};

// The GET /deploys body, newline-terminated, built without a JSON tree of the whole list.
std::string deploys_body(const DeploysPage& page);
nlohmann::json to_json(const RecordedWire& recorded);

// `json` read as a GET /deploys body; nullopt with `error` set when the envelope is not one.
// Events that do not read as events are left out, each named in `skipped` when it is given.
std::optional<DeploysPage> deploys_page_from_json(const nlohmann::json& json, std::string* error,
                                                  std::vector<std::string>* skipped = nullptr);

// `json` read as a POST /deploys answer; nullopt with `error` set ("event_id: missing", or
// "recorded: must be true" for an answer that does not say the event was recorded).
std::optional<RecordedWire> recorded_from_json(const nlohmann::json& json, std::string* error);

} // namespace probe::deploy
