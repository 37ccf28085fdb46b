// The six things a deploy event can say happened, as one enum. On the wire (the spec's event
// schema, the table's `kind` column, the journal, POST /deploys) a kind stays text; code reads it
// through parse_event_kind() and compares EventKind values, so a misspelt kind is a compile
// error instead of a branch that silently never runs. config/ sits below deploy/ and keeps its
// own list of the names (config::event_kinds(), for notify.on); a unit test holds the two equal.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace probe::deploy {

enum class EventKind {
  deploy_started,
  deploy_succeeded,
  deploy_failed,
  rollback_started,
  rollback_succeeded,
  rollback_failed,
};

// Every kind, in the spec's order.
inline constexpr std::array<EventKind, 6> k_event_kinds{
    EventKind::deploy_started,   EventKind::deploy_succeeded,   EventKind::deploy_failed,
    EventKind::rollback_started, EventKind::rollback_succeeded, EventKind::rollback_failed,
};

// The kind's name on the wire: "deploy_started", ...
std::string_view to_string(EventKind kind);

// The kind named `text` exactly, or nullopt for anything else (a foreign or misspelt kind).
std::optional<EventKind> parse_event_kind(std::string_view text);

} // namespace probe::deploy
