// What the event log says about releases, decided in one place: which events leave a SHA
// running and healthy, which SHA runs now (probe_deploy_info), and which SHA a failed deploy
// rolls back to (the spec's "previous good SHA"). The deploy flow, the sidecar's metrics and
// anything else reading the log ask these functions instead of comparing kinds themselves, so
// the rules cannot drift apart.
//
// Every function takes the log newest received first, as EventStore::list() and
// EventRecorder::recent() return it: the order the store received events decides, never
// `occurred_at`, which a client chooses.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "probe/deploy/event.hpp"

namespace probe::deploy {

// True for an event after which its SHA runs and passed the gate: deploy_succeeded or
// rollback_succeeded.
bool is_good_release(const DeployEvent& event);

// True for an event that ends a deploy or a rollback, well or badly: the *_succeeded and
// *_failed kinds (not the *_started ones).
bool is_outcome(const DeployEvent& event);

// The release running now: the newest event that is_good_release(), or nullopt when the log has
// none. Its `sha` is the current SHA, its `previous_sha` the one it replaced.
std::optional<DeployEvent> current_release(const std::vector<DeployEvent>& newest_first);

// The previous good SHA: the newest SHA whose last outcome was a good release, skipping
// `excluding` (the SHA being deployed) and never a SHA whose last outcome was a failure. The
// event it came from, or nullopt.
std::optional<DeployEvent> previous_good(const std::vector<DeployEvent>& newest_first,
                                         const std::string& excluding);

} // namespace probe::deploy
