// Release rules over the event log; see history.hpp.
#include "probe/deploy/history.hpp"

#include <algorithm>

#include "probe/deploy/event_kind.hpp"

namespace probe::deploy {

bool is_good_release(const DeployEvent& event) {
  return is_kind(event, EventKind::deploy_succeeded) ||
         is_kind(event, EventKind::rollback_succeeded);
}

bool is_outcome(const DeployEvent& event) {
  return is_good_release(event) || is_kind(event, EventKind::deploy_failed) ||
         is_kind(event, EventKind::rollback_failed);
}

std::optional<DeployEvent> current_release(const std::vector<DeployEvent>& newest_first) {
  const auto found = std::find_if(newest_first.begin(), newest_first.end(), is_good_release);
  return found == newest_first.end() ? std::nullopt : std::optional<DeployEvent>(*found);
}

std::optional<DeployEvent> previous_good(const std::vector<DeployEvent>& newest_first,
                                         const std::string& excluding) {
  // The first outcome seen for a SHA is its last outcome; a SHA judged once is not judged again.
  std::vector<std::string> judged;
  for (const DeployEvent& event : newest_first) {
    if (!is_outcome(event) || std::find(judged.begin(), judged.end(), event.sha) != judged.end()) {
      continue;
    }
    judged.push_back(event.sha);
    if (is_good_release(event) && event.sha != excluding) {
      return event;
    }
  }
  return std::nullopt;
}

} // namespace probe::deploy
