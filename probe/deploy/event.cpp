// Deploy event identity, validation, normalization and JSON; see event.hpp.
#include "probe/deploy/event.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <ctime>
#include <mutex>
#include <regex>

#include <unistd.h>

#include "probe/util/hex.hpp"
#include "probe/util/json_read.hpp"
#include "probe/util/json_text.hpp"
#include "probe/util/random.hpp"
#include "probe/util/time_format.hpp"
#include "probe/util/unicode.hpp"

namespace probe::deploy {
namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return text;
}

// Every string in `value` cleaned: values keep '\n' and '\t', keys keep no control character.
// Two keys that clean to the same text keep the later one's value.
nlohmann::json clean_json(const nlohmann::json& value) {
  if (value.is_string()) {
    return util::clean_text(value.get_ref<const std::string&>(), true);
  }
  if (value.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const nlohmann::json& item : value) {
      out.push_back(clean_json(item));
    }
    return out;
  }
  if (value.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [key, item] : value.items()) {
      out[util::clean_text(key, false)] = clean_json(item);
    }
    return out;
  }
  return value;
}

// Reads `count` decimal digits at `pos` of `text` into `out`; false unless all are digits.
bool read_digits(const std::string& text, std::size_t pos, std::size_t count, int* out) {
  if (pos + count > text.size()) {
    return false;
  }
  int value = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9') {
      return false;
    }
    value = value * 10 + (text[i] - '0');
  }
  *out = value;
  return true;
}

int days_in_month(int year, int month) {
  static constexpr std::array<int, 12> k_days{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : k_days[static_cast<std::size_t>(month - 1)];
}

std::string two_digits(int value) {
  return (value < 10 ? "0" : "") + std::to_string(value);
}

} // namespace

std::string new_event_id() {
  return util::random_uuid();
}

bool valid_event_id(const std::string& text) {
  if (text.size() != 36) {
    return false;
  }
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? text[i] != '-' : util::hex_digit_value(text[i]) < 0) {
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
  return parse_event_kind(kind).has_value();
}

bool is_kind(const DeployEvent& event, EventKind kind) {
  return event.kind == to_string(kind);
}

const std::vector<std::string>& kept_detail_keys() {
  // What deploy_flow writes and a reader needs: the migration to roll back to, the failing
  // targets, the hook's outcome. output_tail, the usual bulk, is what goes.
  static const std::vector<std::string> keys{"db_revision", "failed_sha", "failing", "error",
                                             "exit_code",   "timed_out",  "watch_ms"};
  return keys;
}

nlohmann::json bounded_details(const nlohmann::json& details) {
  const std::size_t bytes = util::json_text(details).size();
  if (bytes <= k_max_details_bytes) {
    return details;
  }
  nlohmann::json stub = {{"truncated", true}, {"bytes", bytes}};
  if (details.is_object()) {
    for (const std::string& key : kept_detail_keys()) {
      const auto found = details.find(key);
      if (found != details.end() && util::json_text(*found).size() <= k_max_kept_detail_bytes) {
        stub[key] = *found;
      }
    }
  }
  return stub;
}

DeployEvent normalized(DeployEvent event) {
  event.event_id = lower(std::move(event.event_id));
  event.actor = util::clean_text(event.actor, false);
  event.host = util::clean_text(event.host, false);
  event.details = bounded_details(clean_json(event.details));
  return event;
}

// host is where the event was received from, not what it says: a POST /deploys body without
// one (curl in a deploy script) is stamped by whichever replica receives it (from_json's
// defaults), so one event retried through a load balancer reaches the database, or two
// replicas' journals, carrying two hosts. Comparing host made that retry a 409, and the replay of
// the second journal quarantine a good event. An id reused for another deploy still conflicts:
// kind, SHAs, actor and details are what a rollback and the audit log rely on, and they are
// compared. The first host to reach the database is the one kept.
bool same_event(const DeployEvent& a, const DeployEvent& b) {
  if (a.kind != b.kind || a.sha != b.sha || a.previous_sha != b.previous_sha ||
      a.actor != b.actor) {
    return false;
  }
  nlohmann::json left = a.details;
  nlohmann::json right = b.details;
  if (left.is_object() && right.is_object() &&
      left.contains("db_revision") != right.contains("db_revision")) {
    left.erase("db_revision");
    right.erase("db_revision");
  }
  return left == right;
}

bool valid_details(const nlohmann::json& details, std::string* error) {
  if (!details.is_object() || !details.contains("db_revision") ||
      details["db_revision"].is_null()) {
    return true;
  }
  const nlohmann::json& revision = details["db_revision"];
  if (revision.is_string() && valid_ref(revision.get<std::string>())) {
    return true;
  }
  *error = "db_revision: not a revision (hex, or a word of [A-Za-z0-9_.-], at most 128 "
           "characters)";
  return false;
}

std::size_t json_size(const DeployEvent& event) {
  return util::json_text(to_json(event)).size();
}

std::string format_time(std::chrono::system_clock::time_point when) {
  return util::format_rfc3339(when);
}

namespace {

// The date and time fields of RFC 3339 text into `tm`, each checked against its range; "" or
// what is wrong.
std::string read_date_time(const std::string& text, std::tm* tm) {
  int year = 0;
  int month = 0;
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  if (!read_digits(text, 0, 4, &year) || text.size() < 19 || text[4] != '-' ||
      !read_digits(text, 5, 2, &month) || text[7] != '-' || !read_digits(text, 8, 2, &day) ||
      (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || !read_digits(text, 11, 2, &hour) ||
      text[13] != ':' || !read_digits(text, 14, 2, &minute) || text[16] != ':' ||
      !read_digits(text, 17, 2, &second)) {
    return "not an RFC 3339 time (YYYY-MM-DDTHH:MM:SS[.frac] then Z or ±HH:MM)";
  }
  if (month < 1 || month > 12) {
    return "month " + two_digits(month) + " is out of range (01-12)";
  }
  const int last_day = days_in_month(year, month);
  if (day < 1 || day > last_day) {
    return "day " + two_digits(day) + " is out of range for " + text.substr(0, 7) + " (01-" +
           two_digits(last_day) + ")";
  }
  if (hour > 23) {
    return "hour " + two_digits(hour) + " is out of range (00-23)";
  }
  if (minute > 59) {
    return "minute " + two_digits(minute) + " is out of range (00-59)";
  }
  if (second > 59) {
    return "second " + two_digits(second) + " is out of range (00-59)";
  }
  tm->tm_year = year - 1900;
  tm->tm_mon = month - 1;
  tm->tm_mday = day;
  tm->tm_hour = hour;
  tm->tm_min = minute;
  tm->tm_sec = second;
  return "";
}

// An optional ".digits" at `*pos` into microseconds (further digits read and dropped).
std::string read_fraction(const std::string& text, std::size_t* pos, long long* micros) {
  if (*pos >= text.size() || text[*pos] != '.') {
    return "";
  }
  const std::size_t first = ++*pos;
  long long scale = 100000;
  for (; *pos < text.size() && text[*pos] >= '0' && text[*pos] <= '9'; ++*pos) {
    *micros += (text[*pos] - '0') * scale;
    scale /= 10;
  }
  return *pos == first ? "a fraction of a second needs digits after the '.'" : "";
}

// The zone at `*pos` — Z, z or ±HH:MM — as seconds east of UTC; it must end the text.
std::string read_zone(const std::string& text, std::size_t pos, long* offset_seconds) {
  if (pos >= text.size()) {
    return "no time zone (end with Z or ±HH:MM)";
  }
  if (text[pos] == 'Z' || text[pos] == 'z') {
    ++pos;
  } else if (text[pos] == '+' || text[pos] == '-') {
    const long sign = text[pos] == '-' ? -1 : 1;
    int hours = 0;
    int minutes = 0;
    if (!read_digits(text, pos + 1, 2, &hours) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
        !read_digits(text, pos + 4, 2, &minutes)) {
      return "the time zone offset must be ±HH:MM";
    }
    if (hours > 23 || minutes > 59) {
      return "offset " + text.substr(pos, 6) + " is out of range (±00:00 to ±23:59)";
    }
    *offset_seconds = sign * (hours * 3600L + minutes * 60L);
    pos += 6;
  } else {
    return "no time zone (end with Z or ±HH:MM)";
  }
  return pos == text.size() ? "" : "unexpected text after the time zone";
}

} // namespace

std::optional<std::chrono::system_clock::time_point> parse_time(const std::string& text,
                                                                std::string* why) {
  std::tm tm{};
  std::size_t pos = 19;
  long long micros = 0;
  long offset_seconds = 0;
  std::string problem = read_date_time(text, &tm);
  if (problem.empty()) {
    problem = read_fraction(text, &pos, &micros);
  }
  if (problem.empty()) {
    problem = read_zone(text, pos, &offset_seconds);
  }
  // system_clock counts 64-bit nanoseconds, years 1678 to 2262: a time outside (a year 1013 or
  // 9999 in a POST /deploys body) would overflow the conversion below into a wrong time.
  constexpr std::int64_t k_limit =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::duration::max())
          .count() -
      1;
  const std::time_t seconds = problem.empty() ? timegm(&tm) - offset_seconds : 0;
  if (problem.empty() && (seconds < -k_limit || seconds > k_limit)) {
    problem = "outside the years this clock holds (1678-2261)";
  }
  if (!problem.empty()) {
    if (why != nullptr) {
      *why = problem;
    }
    return std::nullopt;
  }
  return std::chrono::system_clock::time_point(std::chrono::seconds(seconds) +
                                               std::chrono::microseconds(micros));
}

namespace {

std::mutex g_host_mutex;
std::string g_host_override; // guarded by g_host_mutex; "" = the machine's name

} // namespace

void set_host_override(std::string host) {
  const std::lock_guard<std::mutex> lock(g_host_mutex);
  g_host_override = std::move(host);
}

std::optional<std::string> parse_host_name(std::string_view value, std::string* error) {
  const std::size_t first = value.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    return std::string();
  }
  const std::string_view host = value.substr(first, value.find_last_not_of(" \t\r\n") - first + 1);
  if (host.size() > k_max_host_chars) {
    *error = "PROBE_HOST: " + std::to_string(host.size()) + " characters, longer than " +
             std::to_string(k_max_host_chars);
    return std::nullopt;
  }
  for (std::size_t i = 0; i < host.size(); ++i) {
    if (host[i] < 0x20 || host[i] > 0x7e) {
      // The value is not echoed: it may hold a terminal escape.
      *error = "PROBE_HOST: character " + std::to_string(i + 1) +
               " is not printable ASCII (a host or pod name, e.g. web-1 or probe-7d9f-x2k4q)";
      return std::nullopt;
    }
  }
  return std::string(host);
}

std::string this_host() {
  {
    const std::lock_guard<std::mutex> lock(g_host_mutex);
    if (!g_host_override.empty()) {
      return g_host_override;
    }
  }
  std::array<char, 256> name{};
  if (gethostname(name.data(), name.size() - 1) != 0) {
    return "unknown";
  }
  return name.data();
}

std::optional<DeployEvent> event_from_body(std::string_view body, std::string* error) {
  if (util::json_nesting_depth(body) > k_max_body_depth) {
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

DeployEvent make_event(EventKind kind, const std::string& sha, const std::string& previous_sha,
                       const std::string& actor) {
  DeployEvent event;
  event.event_id = new_event_id();
  event.occurred_at =
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  event.kind = to_string(kind);
  event.sha = sha;
  event.previous_sha = previous_sha;
  event.actor = actor;
  event.host = this_host();
  return normalized(std::move(event));
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
    return fail("event_id: \"" + util::visible_text(event.event_id) + "\" is not a UUID");
  }
  if (!valid_kind(event.kind)) {
    return fail("kind: \"" + util::visible_text(event.kind) + "\" is not an event kind");
  }
  if (!valid_ref(event.sha)) {
    return fail("sha: not a git SHA or image tag");
  }
  if (!event.previous_sha.empty() && !valid_ref(event.previous_sha)) {
    return fail("previous_sha: not a git SHA or image tag");
  }
  std::string why;
  if (occurred_at.empty()) {
    event.occurred_at =
        std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  } else if (const auto parsed = parse_time(occurred_at, &why)) {
    event.occurred_at = std::chrono::time_point_cast<std::chrono::milliseconds>(*parsed);
  } else {
    return fail("occurred_at: " + why);
  }
  // Cleaned before the defaults, so a host of control characters only is no host.
  event.host = util::clean_text(event.host, false);
  event.actor = util::clean_text(event.actor, false);
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
  // db_revision becomes PROBE_DB_REVISION in a rollback hook's environment: at the door it must
  // look like a revision (Alembic's are hex or word-like). Events already stored or journaled are
  // kept as they are; deploy_flow ignores an invalid one when it chooses the hook's environment.
  if (std::string problem; fill_defaults && !valid_details(event.details, &problem)) {
    return fail("details." + problem);
  }
  return normalized(std::move(event));
}

} // namespace probe::deploy
