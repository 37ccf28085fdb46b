// Notes and the event table; see deploy_support.hpp.
#include "probe/cli/deploy_support.hpp"

#include <sstream>

#include "probe/util/terminal.hpp"

namespace probe::cli {

std::string journal_only_note(const config::Deploy& deploy) {
  if (!deploy.dsn.empty()) {
    return {};
  }
  return "deploy.dsn is not set: deploy events are kept only in the journal " + deploy.journal;
}

std::string render_event_list(const std::vector<deploy::DeployEvent>& events) {
  if (events.empty()) {
    return "no deploy events\n";
  }
  std::ostringstream out;
  for (const deploy::DeployEvent& event : events) {
    const std::string kind = util::terminal_safe(event.kind);
    out << deploy::format_time(event.occurred_at) << "  " << kind
        << std::string(kind.size() < 19 ? 19 - kind.size() : 1, ' ')
        << util::terminal_safe(event.sha)
        << (event.previous_sha.empty() ? ""
                                       : " (from " + util::terminal_safe(event.previous_sha) + ")")
        << "  " << util::terminal_safe(event.actor) << "@" << util::terminal_safe(event.host)
        << "\n";
  }
  return out.str();
}

} // namespace probe::cli
