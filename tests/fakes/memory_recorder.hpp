// An event log in memory for the verify state machine's tests: what verify() records, in order,
// and the Alembic revision it is told the previous good SHA ran with.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "probe/deploy/event_recorder.hpp"

namespace probe::test_support {

class MemoryRecorder final : public deploy::EventRecorder {
public:
  void record(const deploy::DeployEvent& event) override { events.push_back(event); }
  std::vector<deploy::DeployEvent> recent(std::size_t) override {
    return {events.rbegin(), events.rend()};
  }
  std::optional<std::string> db_revision() override { return revision; }

  // "kind:sha" of each event from the `from`th on.
  std::vector<std::string> kinds(std::size_t from = 0) const {
    std::vector<std::string> out;
    for (std::size_t i = from; i < events.size(); ++i) {
      out.push_back(events[i].kind + ":" + events[i].sha);
    }
    return out;
  }

  std::vector<deploy::DeployEvent> events;
  std::optional<std::string> revision;
};

} // namespace probe::test_support
