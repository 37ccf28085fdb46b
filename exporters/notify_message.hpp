// What a deploy notification says, as a pure function of the event: the one-line message each
// channel carries, and which event kinds a channel is subscribed to. No socket, no clock: the
// transport (retries, timeouts, redaction of what servers answer) is notify.hpp's.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "probe/deploy/event.hpp"

namespace probe::exporters {

// Messages longer than this are cut (Telegram refuses more than 4096 characters).
inline constexpr std::size_t k_max_message_bytes = 4000;

// The event kinds a channel with an empty `on` list is subscribed to: outcomes, not starts.
const std::vector<std::string>& default_notify_kinds();

// True when a channel configured with `on` wants events of `kind` (empty `on`: the default set).
bool notify_wants(const std::vector<std::string>& on, const std::string& kind);

// How a channel's text is read. Telegram messages are sent without parse_mode, so Telegram shows
// them as plain text (nothing in them is markup); a Slack incoming webhook reads `text` as mrkdwn,
// where "<!channel>", "<!here>" and "<@U123>" ping and "<url|label>" links.
enum class MessageFormat { plain, slack_mrkdwn };

// The one-line message for `event`, e.g. "❌ deploy failed: 1a2b3c4 on host web-1 (previous:
// 9f8e7d6) — api: GET /health -> 500"; at most k_max_message_bytes bytes. Every value taken from
// the event is shown through util::visible_text(), so a control character (CR, LF, ...), a line
// separator or a bidi override in a host, a SHA or a failing target's error shows as an escape
// ("\n") and no field can start a line of its own. For slack_mrkdwn, '&', '<' and '>' are then
// escaped as Slack requires ("&amp;", "&lt;", "&gt;"), so "<!channel>" is shown, not sent.
std::string describe_event(const deploy::DeployEvent& event,
                           MessageFormat format = MessageFormat::plain);

} // namespace probe::exporters
