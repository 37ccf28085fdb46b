// The message text and subscriptions; see notify_message.hpp.
#include "exporters/notify_message.hpp"

#include <algorithm>
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "probe/deploy/event_kind.hpp"
#include "probe/util/hex.hpp"
#include "probe/util/json_text.hpp"
#include "probe/util/strings.hpp"
#include "probe/util/unicode.hpp"

namespace probe::exporters {
namespace {

using json = nlohmann::json;

// A value from the event as it may be shown on one line: a string as itself, anything else as
// its JSON text, control characters escaped (see describe_event()).
std::string as_text(const json& value) {
  return util::visible_text(value.is_string() ? value.get<std::string>() : util::json_text(value));
}

// Slack's mrkdwn escaping: the three characters Slack asks senders to escape, so no value can
// open a mention, a channel ping or a link ("<!channel>", "<@U123>", "<https://x|click>").
std::string slack_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    default:
      out += c;
    }
  }
  return out;
}

std::string headline(deploy::EventKind kind) {
  switch (kind) {
  case deploy::EventKind::deploy_started:
    return "🚀 deploy started";
  case deploy::EventKind::deploy_succeeded:
    return "✅ deploy succeeded";
  case deploy::EventKind::deploy_failed:
    return "❌ deploy failed";
  case deploy::EventKind::rollback_started:
    return "⏪ rollback started";
  case deploy::EventKind::rollback_succeeded:
    return "↩️ rollback succeeded";
  case deploy::EventKind::rollback_failed:
    return "🔥 rollback failed";
  }
  return "";
}

std::string headline(const std::string& kind) {
  if (const std::optional<deploy::EventKind> known = deploy::parse_event_kind(kind)) {
    return headline(*known);
  }
  // A kind this build does not know still gets a readable line rather than nothing.
  std::string words = util::visible_text(kind);
  for (char& c : words) {
    c = c == '_' ? ' ' : c;
  }
  return "ℹ️ " + words;
}

// Full 40-hex SHAs are cut to 12 like `git log --abbrev=12`; image tags are names, kept whole.
std::string short_ref(const std::string& ref) {
  return util::is_lower_hex(ref) && ref.size() > 12 ? ref.substr(0, 12) : util::visible_text(ref);
}

std::string describe_failing(const json& failing) {
  std::vector<std::string> parts;
  for (const json& entry : failing) {
    if (!entry.is_object()) {
      parts.push_back(as_text(entry));
      continue;
    }
    const bool has_target = entry.contains("target") && !entry["target"].is_null();
    const bool has_error = entry.contains("error") && !entry["error"].is_null();
    if (has_target && has_error) {
      parts.push_back(as_text(entry["target"]) + ": " + as_text(entry["error"]));
    } else if (has_target || has_error) {
      parts.push_back(as_text(has_target ? entry["target"] : entry["error"]));
    } else {
      parts.push_back(util::visible_text(util::json_text(entry)));
    }
  }
  return util::join(parts, "; ");
}

} // namespace

const std::vector<std::string>& default_notify_kinds() {
  using deploy::EventKind;
  static const std::vector<std::string> kinds = [] {
    std::vector<std::string> names;
    for (const EventKind kind : {EventKind::deploy_succeeded, EventKind::deploy_failed,
                                 EventKind::rollback_succeeded, EventKind::rollback_failed}) {
      names.emplace_back(deploy::to_string(kind));
    }
    return names;
  }();
  return kinds;
}

bool notify_wants(const std::vector<std::string>& on, const std::string& kind) {
  const std::vector<std::string>& kinds = on.empty() ? default_notify_kinds() : on;
  return std::find(kinds.begin(), kinds.end(), kind) != kinds.end();
}

std::string describe_event(const deploy::DeployEvent& event, MessageFormat format) {
  std::string text = headline(event.kind) + ": " + (event.sha.empty() ? "?" : short_ref(event.sha));
  if (!event.host.empty()) {
    text += " on host " + util::visible_text(event.host);
  }
  if (!event.previous_sha.empty()) {
    text += " (previous: " + short_ref(event.previous_sha) + ")";
  }
  std::vector<std::string> notes;
  const json& details = event.details;
  if (deploy::is_kind(event, deploy::EventKind::rollback_failed) && details.is_object() &&
      details.contains("exit_code") && !details["exit_code"].is_null()) {
    notes.push_back("rollback hook exit code " + as_text(details["exit_code"]));
  }
  if (details.is_object() && details.contains("failing") && details["failing"].is_array() &&
      !details["failing"].empty()) {
    notes.push_back(describe_failing(details["failing"]));
  }
  if (!notes.empty()) {
    text += " — " + util::join(notes, "; ");
  }
  if (format == MessageFormat::slack_mrkdwn) {
    text = slack_escape(text);
  }
  // truncate() appends "...", which must fit under the cap too.
  return util::truncate(text, k_max_message_bytes - 3);
}

} // namespace probe::exporters
