// Deploy event identity, validation and JSON; see event.hpp.
#include "probe/deploy/event.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <random>
#include <regex>

#include <unistd.h>

#include "probe/config/config.hpp"
#include "probe/util/time_format.hpp"

namespace probe::deploy {
namespace {

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

} // namespace

std::string new_event_id() {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  std::array<unsigned char, 16> bytes{};
  for (std::size_t i = 0; i < bytes.size(); i += 8) {
    const std::uint64_t word = random();
    for (std::size_t j = 0; j < 8; ++j) {
      bytes[i + j] = static_cast<unsigned char>(word >> (8 * j));
    }
  }
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0F) | 0x40); // version 4
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3F) | 0x80); // RFC 4122 variant
  std::string out;
  static const char* k_hex = "0123456789abcdef";
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) {
      out += '-';
    }
    out += k_hex[bytes[i] >> 4];
    out += k_hex[bytes[i] & 0x0F];
  }
  return out;
}

bool valid_event_id(const std::string& text) {
  if (text.size() != 36) {
    return false;
  }
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? text[i] != '-' : !is_hex(text[i])) {
      return false;
    }
  }
  return true;
}

bool valid_ref(const std::string& text) {
  static const std::regex k_sha("[0-9a-f]{7,40}");
  static const std::regex k_tag("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
  return std::regex_match(text, k_sha) || std::regex_match(text, k_tag);
}

bool valid_kind(const std::string& kind) {
  const std::vector<std::string>& kinds = config::event_kinds();
  return std::find(kinds.begin(), kinds.end(), kind) != kinds.end();
}

std::string format_time(std::chrono::system_clock::time_point when) {
  return util::format_rfc3339(when);
}

std::optional<std::chrono::system_clock::time_point> parse_time(const std::string& text) {
  // Accepts "YYYY-MM-DDTHH:MM:SS[.fff...](Z|+HH:MM|+HH)" and a space for the "T" (Postgres).
  std::tm tm{};
  int year = 0;
  int month = 0;
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d%*1[T ]%2d:%2d:%2d%n", &year, &month, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6) {
    return std::nullopt;
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  std::size_t pos = static_cast<std::size_t>(consumed);
  long long micros = 0;
  if (pos < text.size() && text[pos] == '.') {
    long long scale = 100000;
    for (++pos; pos < text.size() && text[pos] >= '0' && text[pos] <= '9'; ++pos) {
      micros += (text[pos] - '0') * scale;
      scale /= 10;
    }
  }
  long offset_seconds = 0;
  if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const int sign = text[pos] == '-' ? -1 : 1;
    int hours = 0;
    int minutes = 0;
    std::sscanf(text.c_str() + pos + 1, "%2d:%2d", &hours, &minutes);
    offset_seconds = sign * (hours * 3600L + minutes * 60L);
  } else if (pos >= text.size() || text[pos] != 'Z') {
    return std::nullopt;
  }
  const std::time_t seconds = timegm(&tm) - offset_seconds;
  // system_clock counts 64-bit nanoseconds, years 1678 to 2262: a time outside (a year 1013 or
  // 9999 in a POST /deploys body) would overflow the conversion below into a wrong time.
  constexpr std::int64_t k_limit =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::duration::max())
          .count() -
      1;
  if (seconds < -k_limit || seconds > k_limit) {
    return std::nullopt;
  }
  return std::chrono::system_clock::time_point(std::chrono::seconds(seconds) +
                                               std::chrono::microseconds(micros));
}

std::string this_host() {
  std::array<char, 256> name{};
  if (gethostname(name.data(), name.size() - 1) != 0) {
    return "unknown";
  }
  return name.data();
}

namespace {

// How deep arrays and objects nest in JSON `text`, counted without parsing (brackets inside
// strings do not count).
int nesting_depth(std::string_view text) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      escaped = !escaped && c == '\\';
      in_string = escaped || c != '"';
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

} // namespace

std::optional<DeployEvent> event_from_body(std::string_view body, std::string* error) {
  if (nesting_depth(body) > k_max_body_depth) {
    *error = "body: nested deeper than " + std::to_string(k_max_body_depth) + " levels";
    return std::nullopt;
  }
  const nlohmann::json json = nlohmann::json::parse(body, nullptr, false);
  if (json.is_discarded()) {
    *error = "body: not JSON";
    return std::nullopt;
  }
  return from_json(json, true, error);
}

DeployEvent make_event(const std::string& kind, const std::string& sha,
                       const std::string& previous_sha, const std::string& actor) {
  DeployEvent event;
  event.event_id = new_event_id();
  event.occurred_at =
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  event.kind = kind;
  event.sha = sha;
  event.previous_sha = previous_sha;
  event.actor = actor;
  event.host = this_host();
  return event;
}

nlohmann::json to_json(const DeployEvent& event) {
  return {
      {"event_id", event.event_id},
      {"occurred_at", format_time(event.occurred_at)},
      {"kind", event.kind},
      {"sha", event.sha},
      {"previous_sha",
       event.previous_sha.empty() ? nlohmann::json(nullptr) : nlohmann::json(event.previous_sha)},
      {"actor", event.actor},
      {"host", event.host},
      {"details", event.details},
  };
}

std::optional<DeployEvent> from_json(const nlohmann::json& json, bool fill_defaults,
                                     std::string* error) {
  auto fail = [&](const std::string& message) -> std::optional<DeployEvent> {
    *error = message;
    return std::nullopt;
  };
  if (!json.is_object()) {
    return fail("body: must be a JSON object");
  }
  auto text = [&](const char* key, std::string* out, bool required) -> bool {
    if (!json.contains(key) || json[key].is_null()) {
      if (required) {
        *error = std::string(key) + ": missing";
        return false;
      }
      return true;
    }
    if (!json[key].is_string()) {
      *error = std::string(key) + ": must be a string";
      return false;
    }
    *out = json[key].get<std::string>();
    if (out->size() > 256) {
      *error = std::string(key) + ": longer than 256 characters";
      return false;
    }
    return true;
  };
  DeployEvent event;
  std::string occurred_at;
  if (!text("event_id", &event.event_id, !fill_defaults) || !text("kind", &event.kind, true) ||
      !text("sha", &event.sha, true) || !text("previous_sha", &event.previous_sha, false) ||
      !text("actor", &event.actor, !fill_defaults) || !text("host", &event.host, !fill_defaults) ||
      !text("occurred_at", &occurred_at, !fill_defaults)) {
    return std::nullopt;
  }
  if (event.event_id.empty()) {
    event.event_id = new_event_id();
  } else if (!valid_event_id(event.event_id)) {
    return fail("event_id: \"" + event.event_id + "\" is not a UUID");
  }
  if (!valid_kind(event.kind)) {
    return fail("kind: \"" + event.kind + "\" is not an event kind");
  }
  if (!valid_ref(event.sha)) {
    return fail("sha: not a git SHA or image tag");
  }
  if (!event.previous_sha.empty() && !valid_ref(event.previous_sha)) {
    return fail("previous_sha: not a git SHA or image tag");
  }
  if (occurred_at.empty()) {
    event.occurred_at =
        std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  } else if (const auto parsed = parse_time(occurred_at)) {
    event.occurred_at = std::chrono::time_point_cast<std::chrono::milliseconds>(*parsed);
  } else {
    return fail("occurred_at: not an RFC 3339 time");
  }
  if (event.host.empty()) {
    event.host = this_host();
  }
  if (event.actor.empty()) {
    event.actor = "unknown"; // a script that did not say who: the audit log says so, not ""
  }
  if (json.contains("details") && !json["details"].is_null()) {
    if (!json["details"].is_object()) {
      return fail("details: must be a JSON object");
    }
    event.details = json["details"];
  }
  return event;
}

} // namespace probe::deploy
