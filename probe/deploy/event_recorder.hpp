// Where the deploy flow and the deploy commands send events: an EventRecorder records an event
// durably (or says it could not) and reads back the recent log. It is not a storage backend
// (that is EventStore, event_store.hpp): LocalEventRecorder keeps events in an EventStore with
// the journal behind it, SidecarEventRecorder hands them to a running sidecar over HTTP, and the
// flow's tests record into memory (tests/fakes/memory_recorder.hpp).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "probe/deploy/event.hpp"

namespace probe::deploy {

class EventRecorder {
public:
  virtual ~EventRecorder() = default;
  // Records `event` durably or throws probe::Error: nothing is claimed that was not kept.
  virtual void record(const DeployEvent& event) = 0;
  // The newest `limit` events, newest received first (best effort).
  virtual std::vector<DeployEvent> recent(std::size_t limit) = 0;
  // The application database's Alembic revision, when known.
  virtual std::optional<std::string> db_revision() = 0;
};

} // namespace probe::deploy
