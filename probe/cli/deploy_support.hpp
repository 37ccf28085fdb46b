// The parts of the deploy commands that decide something and can be tested without running
// one: what to say when events have no database, and the audit log as a terminal table that no
// field can break. Where the rollback hook comes from is deploy/rollback_hook.hpp.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "probe/config/config.hpp"
#include "probe/deploy/event.hpp"

namespace probe::cli {

// "events are kept only in the journal FILE: deploy.dsn is not set" when `deploy` has no
// database, else empty.
std::string journal_only_note(const config::Deploy& deploy);

// The audit log for a terminal, one line per event, newest first; every field terminal-safe
// (an actor holding "\r\n" or ESC shows them escaped and cannot fake a row); "no deploy
// events" when there are none.
std::string render_event_list(const std::vector<deploy::DeployEvent>& events);

} // namespace probe::cli
