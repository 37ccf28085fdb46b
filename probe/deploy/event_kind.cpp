// Event kind names; see event_kind.hpp.
#include "probe/deploy/event_kind.hpp"

namespace probe::deploy {

std::string_view to_string(EventKind kind) {
  switch (kind) {
  case EventKind::deploy_started:
    return "deploy_started";
  case EventKind::deploy_succeeded:
    return "deploy_succeeded";
  case EventKind::deploy_failed:
    return "deploy_failed";
  case EventKind::rollback_started:
    return "rollback_started";
  case EventKind::rollback_succeeded:
    return "rollback_succeeded";
  case EventKind::rollback_failed:
    return "rollback_failed";
  }
  return "unknown";
}

std::optional<EventKind> parse_event_kind(std::string_view text) {
  for (const EventKind kind : k_event_kinds) {
    if (to_string(kind) == text) {
      return kind;
    }
  }
  return std::nullopt;
}

} // namespace probe::deploy
