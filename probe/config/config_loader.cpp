// YAML -> Config with located errors; see config_loader.hpp. yaml-cpp exceptions stop here:
// every problem leaves as a probe::Error that starts "FILE:LINE:COL: field: ".
#include "probe/config/config_loader.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <regex>
#include <set>
#include <string_view>
#include <system_error>

#include <fcntl.h>
#include <libpq-fe.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include "probe/config/yaml_document.hpp"
#include "probe/util/error.hpp"
#include "probe/util/pg_dsn.hpp"
#include "probe/util/secret.hpp"
#include "probe/util/strings.hpp"
#include "probe/util/unique_fd.hpp"
#include "probe/util/url.hpp"

namespace probe::config {
namespace {

using Keys = std::set<std::string>;

// Walks one document, remembering the file name and the environment for every message.
class Reader {
public:
  Reader(std::string file, const util::EnvLookup& env, const LoadOptions& options)
      : m_file(std::move(file)), m_env(env), m_options(options) {}

  Config read(const YAML::Node& root);

  // The secret fields whose value is written in the file itself, not taken from ${VAR}.
  const std::vector<std::string>& literal_secrets() const { return m_literal_secrets; }

private:
  [[noreturn]] void fail(const YAML::Node& node, const std::string& field,
                         const std::string& problem) const;
  [[noreturn]] void fail_at(const YAML::Mark& mark, const std::string& field,
                            const std::string& problem) const;

  void expect_map(const YAML::Node& node, const std::string& field) const;
  void check_keys(const YAML::Node& map, const std::string& field, const Keys& allowed) const;
  YAML::Node require(const YAML::Node& map, const std::string& key, const std::string& field) const;

  // Scalars, after ${VAR} expansion. `secret` keeps the value out of messages.
  std::string string_value(const YAML::Node& node, const std::string& field,
                           bool secret = false) const;
  // A secret only some commands use: with `needed` false, an unset ${VAR} leaves it empty
  // (noted) instead of failing. Remembers a value written in the file itself, as
  // `holds_literal` judges the text with every variable unset.
  std::string secret_value(const YAML::Node& node, const std::string& field, bool needed,
                           bool (*holds_literal)(const std::string& text));
  Duration duration_value(const YAML::Node& node, const std::string& field,
                          bool allow_zero = false) const;
  int int_value(const YAML::Node& node, const std::string& field, int min, int max) const;
  bool bool_value(const YAML::Node& node, const std::string& field) const;
  double days_value(const YAML::Node& node, const std::string& field, int max) const;
  std::vector<std::string> string_list(const YAML::Node& node, const std::string& field) const;

  Defaults read_defaults(const YAML::Node& node) const;
  Target read_target(const YAML::Node& node, const std::string& field, const Defaults& defaults);
  HttpTarget read_http(const YAML::Node& node, const std::string& field,
                       const std::string& target_name);
  HttpExpect read_expect(const YAML::Node& node, const std::string& field) const;
  TcpTarget read_tcp(const YAML::Node& node, const std::string& field) const;
  PostgresTarget read_postgres(const YAML::Node& node, const std::string& field);
  HeartbeatTarget read_heartbeat(const YAML::Node& node, const std::string& field);
  // `require_tcp`: liveness checks must go over TCP; the event store may use a socket.
  Secret read_dsn(const YAML::Node& node, const std::string& field, bool require_tcp = true);
  Gate read_gate(const YAML::Node& node) const;
  Deploy read_deploy(const YAML::Node& node);
  StatusPage read_status_page(const YAML::Node& node) const;
  std::string repository_url_value(const YAML::Node& node) const;
  Notifier read_notifier(const YAML::Node& node, const std::string& field);
  void read_notify(const YAML::Node& notify, Config& config);

  std::string m_file;
  const util::EnvLookup& m_env;
  LoadOptions m_options;
  std::vector<std::string> m_notes;
  std::vector<std::string> m_literal_secrets;
};

const Keys k_top_keys{"listen", "defaults", "targets", "gate", "deploy", "notify", "status_page"};
const Keys k_status_page_keys{"enabled", "repository_url"};
// A repository URL is pasted into every commit link's href: bounded, and without a character
// that could end the attribute or be read differently by a browser than by people.
constexpr std::size_t k_max_repository_url = 512;
const Keys k_defaults_keys{"interval", "timeout", "success_threshold", "failure_threshold"};
const Keys k_common_target_keys{
    "name", "type", "critical", "interval", "timeout", "success_threshold", "failure_threshold"};
const Keys k_http_keys{"url",    "method",           "headers", "body",
                       "expect", "follow_redirects", "ca_file", "insecure_skip_verify"};
const Keys k_expect_keys{"status", "body_contains", "json", "max_latency", "tls_min_days"};
// Ten years: more than any certificate is issued for, and small enough that days -> seconds
// stays exact; a larger number is a typo (e.g. seconds written as days).
constexpr int k_max_tls_min_days = 3650;
const Keys k_tcp_keys{"address"};
const Keys k_postgres_keys{"dsn", "query"};
const Keys k_heartbeat_keys{"source", "dsn", "query", "path", "max_age"};
const Keys k_gate_keys{"timeout", "consecutive_successes", "poll_interval"};
const Keys k_deploy_keys{"dsn", "journal", "token", "heartbeat_token", "rollback"};
const Keys k_rollback_keys{"command", "timeout"};
const Keys k_methods{"GET", "HEAD", "POST", "PUT", "OPTIONS"};

// True when the strings in `value` are valid UTF-8, i.e. when nlohmann::json can print it.
bool valid_utf8(const nlohmann::json& value) {
  try {
    (void)value.dump();
    return true;
  } catch (const nlohmann::json::type_error&) {
    return false;
  }
}

std::string in_quotes(const std::string& text) {
  return "\"" + text + "\"";
}

// "14", "0.5": digits, optionally a point and more digits. By hand, not std::regex, whose
// recursion a long enough value would take past the stack.
bool plain_decimal(std::string_view text) {
  const auto digits = [](std::string_view part) {
    return !part.empty() &&
           std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  const std::size_t point = text.find('.');
  return point == std::string_view::npos
             ? digits(text)
             : digits(text.substr(0, point)) && digits(text.substr(point + 1));
}

// Whether a key may be echoed in a message: a plain name, not text that may be anything.
bool showable_key(const std::string& key) {
  static const std::regex k_plain("[A-Za-z0-9_.-]{1,64}");
  return std::regex_match(key, k_plain);
}

// `holds_literal` judges for secret_value(), on the text with every ${VAR} unset.
bool any_text(const std::string& text) {
  return !text.empty();
}
bool dsn_with_password(const std::string& text) {
  return !util::dsn_password(text).empty();
}
bool url_with_path(const std::string& text) {
  return util::mask_url(text) != text; // a path, query or userinfo: a webhook's credential
}
// Userinfo, or a query parameter whose name says it is a secret (?api_key=...).
bool url_with_credentials(const std::string& text) {
  const std::size_t scheme = text.find("://");
  const std::size_t authority = scheme == std::string::npos ? 0 : scheme + 3;
  const std::size_t at = text.find('@', authority);
  if (at != std::string::npos && at < text.find_first_of("/?#", authority)) {
    return true;
  }
  const std::size_t question = text.find('?');
  if (question == std::string::npos) {
    return false;
  }
  for (const std::string& part :
       util::split(text.substr(question + 1, text.find('#') - question - 1), '&')) {
    const std::size_t eq = part.find('=');
    if (eq != std::string::npos && eq + 1 < part.size() &&
        util::is_secret_name(part.substr(0, eq))) {
      return true;
    }
  }
  return false;
}
bool never(const std::string& /*text*/) {
  return false;
}

void Reader::fail_at(const YAML::Mark& mark, const std::string& field,
                     const std::string& problem) const {
  throw Error(location(m_file, mark) + ": " + (field.empty() ? "" : field + ": ") + problem);
}

void Reader::fail(const YAML::Node& node, const std::string& field,
                  const std::string& problem) const {
  fail_at(node.Mark(), field, problem);
}

void Reader::expect_map(const YAML::Node& node, const std::string& field) const {
  if (!node.IsMap()) {
    fail(node, field, "must be a mapping, not " + node_kind(node));
  }
}

void Reader::check_keys(const YAML::Node& map, const std::string& field,
                        const Keys& allowed) const {
  Keys seen;
  for (const auto& entry : map) {
    const YAML::Node& key = entry.first;
    const std::string name = key.IsScalar() ? key.Scalar() : "?";
    const std::string shown = showable_key(name) ? name : "(a key that is not a plain name)";
    const std::string where = field.empty() ? shown : field + "." + shown;
    if (!key.IsScalar()) {
      fail(key, field, "keys must be plain names");
    }
    if (field.empty() && name.rfind("x-", 0) == 0) {
      continue; // a Compose-style extension field: a place for anchors (x-defaults: &defaults)
    }
    if (allowed.count(name) == 0) {
      // A near miss is usually a typo: say which keys are allowed.
      std::string list;
      for (const std::string& candidate : allowed) {
        list += (list.empty() ? "" : ", ") + candidate;
      }
      fail(key, where, "unknown key (allowed here: " + list + ")");
    }
    if (!seen.insert(name).second) {
      fail(key, where, "duplicate key");
    }
  }
}

YAML::Node Reader::require(const YAML::Node& map, const std::string& key,
                           const std::string& field) const {
  YAML::Node value = map[key];
  if (!value.IsDefined() || value.IsNull()) {
    fail(map, field, "missing required field " + in_quotes(key));
  }
  return value;
}

std::string Reader::string_value(const YAML::Node& node, const std::string& field,
                                 bool secret) const {
  if (!node.IsScalar()) {
    fail(node, field, "must be a string, not " + node_kind(node));
  }
  util::ExpandResult expanded = util::expand_env(node.Scalar(), m_env);
  if (!expanded.error.empty()) {
    fail(node, field, expanded.error);
  }
  (void)secret; // expansion errors never carry values, so nothing to hide yet
  return expanded.value;
}

std::string Reader::secret_value(const YAML::Node& node, const std::string& field, bool needed,
                                 bool (*holds_literal)(const std::string& text)) {
  if (node.IsScalar() && holds_literal(util::literal_text(node.Scalar()))) {
    m_literal_secrets.push_back(field);
  }
  if (!needed && node.IsScalar()) {
    const util::ExpandResult expanded = util::expand_env(node.Scalar(), m_env);
    if (!expanded.unset.empty()) {
      m_notes.push_back(field + ": " + expanded.unset +
                        " is not set; left empty, as this command does not use it");
      return "";
    }
  }
  return string_value(node, field, true);
}

Duration Reader::duration_value(const YAML::Node& node, const std::string& field,
                                bool allow_zero) const {
  const std::string text = string_value(node, field);
  const std::optional<Duration> value = util::parse_duration(text);
  if (!value) {
    fail(node, field, in_quotes(text) + " is not a duration (write e.g. 250ms, 10s, 2m, 1h)");
  }
  if (!allow_zero && value->count() == 0) {
    fail(node, field, "must be greater than 0");
  }
  return *value;
}

int Reader::int_value(const YAML::Node& node, const std::string& field, int min, int max) const {
  const std::string text = string_value(node, field);
  long long value = 0;
  std::size_t used = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size()) {
    fail(node, field, in_quotes(text) + " is not a whole number");
  }
  if (value < min || value > max) {
    fail(node, field,
         "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", not " +
             text);
  }
  return static_cast<int>(value);
}

double Reader::days_value(const YAML::Node& node, const std::string& field, int max) const {
  const std::string text = string_value(node, field);
  // Plain decimals only: a general number parser would also take "0x10", "inf", "nan", "1e3".
  if (!plain_decimal(text)) {
    fail(node, field,
         text.size() > 1 && text[0] == '-' && plain_decimal(text.substr(1))
             ? "must be 0 or more days, not " + text
             : in_quotes(text) + " is not a number of days (write e.g. 14 or 0.5)");
  }
  double days = 0;
  const std::from_chars_result parsed =
      std::from_chars(text.data(), text.data() + text.size(), days);
  if (parsed.ec != std::errc() || days > max) { // out of range: more digits than a double holds
    fail(node, field, "must be at most " + std::to_string(max) + " days, not " + text);
  }
  return days;
}

bool Reader::bool_value(const YAML::Node& node, const std::string& field) const {
  const std::string text = string_value(node, field);
  if (text == "true") {
    return true;
  }
  if (text == "false") {
    return false;
  }
  fail(node, field, in_quotes(text) + " is not true or false");
}

std::vector<std::string> Reader::string_list(const YAML::Node& node,
                                             const std::string& field) const {
  if (!node.IsSequence()) {
    fail(node, field, "must be a list, not " + node_kind(node));
  }
  std::vector<std::string> out;
  for (std::size_t i = 0; i < node.size(); ++i) {
    out.push_back(string_value(node[i], field + "[" + std::to_string(i) + "]"));
  }
  return out;
}

Defaults Reader::read_defaults(const YAML::Node& node) const {
  Defaults defaults;
  if (!node.IsDefined() || node.IsNull()) {
    return defaults;
  }
  expect_map(node, "defaults");
  check_keys(node, "defaults", k_defaults_keys);
  if (node["interval"]) {
    defaults.interval = duration_value(node["interval"], "defaults.interval");
  }
  if (node["timeout"]) {
    defaults.timeout = duration_value(node["timeout"], "defaults.timeout");
  }
  if (node["success_threshold"]) {
    defaults.success_threshold =
        int_value(node["success_threshold"], "defaults.success_threshold", 1, 1000);
  }
  if (node["failure_threshold"]) {
    defaults.failure_threshold =
        int_value(node["failure_threshold"], "defaults.failure_threshold", 1, 1000);
  }
  return defaults;
}

TargetType parse_type(const std::string& text, bool* ok) {
  *ok = true;
  if (text == "http") {
    return TargetType::http;
  }
  if (text == "tcp") {
    return TargetType::tcp;
  }
  if (text == "postgres") {
    return TargetType::postgres;
  }
  if (text == "heartbeat") {
    return TargetType::heartbeat;
  }
  *ok = false;
  return TargetType::http;
}

Target Reader::read_target(const YAML::Node& node, const std::string& field,
                           const Defaults& defaults) {
  expect_map(node, field);
  Target target;
  target.name = string_value(require(node, "name", field), field + ".name");
  static const std::regex k_name_pattern("[a-z0-9_-]{1,63}");
  if (!std::regex_match(target.name, k_name_pattern)) {
    fail(node["name"], field + ".name",
         in_quotes(target.name) + " is not a valid name (1-63 of a-z 0-9 _ -)");
  }
  const YAML::Node type_node = require(node, "type", field);
  const std::string type_text = string_value(type_node, field + ".type");
  bool known = false;
  target.type = parse_type(type_text, &known);
  if (!known) {
    fail(type_node, field + ".type",
         in_quotes(type_text) + " is not a target type (http, tcp, postgres, heartbeat)");
  }
  Keys allowed = k_common_target_keys;
  const Keys& specific = target.type == TargetType::http       ? k_http_keys
                         : target.type == TargetType::tcp      ? k_tcp_keys
                         : target.type == TargetType::postgres ? k_postgres_keys
                                                               : k_heartbeat_keys;
  allowed.insert(specific.begin(), specific.end());
  check_keys(node, field, allowed);

  target.interval =
      node["interval"] ? duration_value(node["interval"], field + ".interval") : defaults.interval;
  target.timeout =
      node["timeout"] ? duration_value(node["timeout"], field + ".timeout") : defaults.timeout;
  target.success_threshold =
      node["success_threshold"]
          ? int_value(node["success_threshold"], field + ".success_threshold", 1, 1000)
          : defaults.success_threshold;
  target.failure_threshold =
      node["failure_threshold"]
          ? int_value(node["failure_threshold"], field + ".failure_threshold", 1, 1000)
          : defaults.failure_threshold;
  if (node["critical"]) {
    target.critical = bool_value(node["critical"], field + ".critical");
  }
  if (target.timeout > target.interval) {
    // Like Prometheus' scrape_timeout: a check may not outlast its own interval.
    fail(node["timeout"] ? node["timeout"] : node, field + ".timeout",
         "timeout " + util::format_duration(target.timeout) + " exceeds interval " +
             util::format_duration(target.interval));
  }
  switch (target.type) {
  case TargetType::http:
    target.spec = read_http(node, field, target.name);
    break;
  case TargetType::tcp:
    target.spec = read_tcp(node, field);
    break;
  case TargetType::postgres:
    target.spec = read_postgres(node, field);
    break;
  case TargetType::heartbeat:
    target.spec = read_heartbeat(node, field);
    break;
  }
  return target;
}

HttpTarget Reader::read_http(const YAML::Node& node, const std::string& field,
                             const std::string& target_name) {
  HttpTarget http;
  const YAML::Node url_node = require(node, "url", field);
  http.url = secret_value(url_node, field + ".url", true, url_with_credentials);
  std::string url_error;
  if (!util::parse_http_url(http.url, &url_error)) {
    fail(url_node, field + ".url", url_error);
  }
  if (node["method"]) {
    http.method = string_value(node["method"], field + ".method");
    if (k_methods.count(http.method) == 0) {
      fail(node["method"], field + ".method",
           in_quotes(http.method) + " is not one of GET, HEAD, POST, PUT, OPTIONS");
    }
  }
  if (const YAML::Node headers = node["headers"]) {
    expect_map(headers, field + ".headers");
    Keys seen;
    for (const auto& entry : headers) {
      const std::string name = entry.first.Scalar();
      const std::string header_field = field + ".headers." + name;
      if (!seen.insert(name).second) {
        fail(entry.first, header_field, "duplicate key");
      }
      if (name.empty() || name.find_first_of(" :\r\n\t") != std::string::npos) {
        fail(entry.first, header_field, "is not a valid header name");
      }
      // Authorization, X-Api-Key, Cookie: a value written in the file is a secret in it.
      const std::string value = secret_value(entry.second, header_field, true,
                                             util::is_secret_name(name) ? any_text : never);
      if (value.find_first_of("\r\n") != std::string::npos) {
        fail(entry.second, header_field, "header values may not contain line breaks");
      }
      http.headers.emplace_back(name, value);
    }
  }
  if (node["body"]) {
    http.body = string_value(node["body"], field + ".body");
  }
  if (node["expect"]) {
    http.expect = read_expect(node["expect"], field + ".expect");
    if (http.expect.tls_min_days && http.url.rfind("https://", 0) != 0) {
      // Plain http presents no certificate: the expectation could never be judged.
      fail(node["expect"]["tls_min_days"], field + ".expect.tls_min_days",
           "needs an https:// url; target " + in_quotes(target_name) +
               " is checked over plain http://");
    }
  }
  if (node["follow_redirects"]) {
    http.follow_redirects = bool_value(node["follow_redirects"], field + ".follow_redirects");
  }
  if (node["ca_file"]) {
    http.ca_file = string_value(node["ca_file"], field + ".ca_file");
    std::error_code error; // the throwing overload would let ENAMETOOLONG, ELOOP... escape
    if (!std::filesystem::is_regular_file(http.ca_file, error)) {
      fail(node["ca_file"], field + ".ca_file",
           in_quotes(http.ca_file) + " is not a readable file");
    }
  }
  if (node["insecure_skip_verify"]) {
    http.insecure_skip_verify =
        bool_value(node["insecure_skip_verify"], field + ".insecure_skip_verify");
  }
  return http;
}

HttpExpect Reader::read_expect(const YAML::Node& node, const std::string& field) const {
  expect_map(node, field);
  check_keys(node, field, k_expect_keys);
  HttpExpect expect;
  if (const YAML::Node status = node["status"]) {
    if (!status.IsSequence() || status.size() == 0) {
      fail(status, field + ".status", "must be a non-empty list of status codes, e.g. [200, 204]");
    }
    for (std::size_t i = 0; i < status.size(); ++i) {
      expect.status.push_back(
          int_value(status[i], field + ".status[" + std::to_string(i) + "]", 100, 599));
    }
  }
  if (node["body_contains"]) {
    expect.body_contains = string_value(node["body_contains"], field + ".body_contains");
  }
  if (const YAML::Node json = node["json"]) {
    expect_map(json, field + ".json");
    Keys seen;
    for (const auto& entry : json) {
      const std::string pointer = entry.first.Scalar();
      const std::string entry_field = field + ".json." + pointer;
      if (!seen.insert(pointer).second) {
        fail(entry.first, entry_field, "duplicate key");
      }
      try {
        (void)nlohmann::json::json_pointer(pointer);
      } catch (const nlohmann::json::exception&) {
        fail(entry.first, entry_field,
             in_quotes(pointer) + " is not a JSON pointer (e.g. /status)");
      }
      if (entry.second.IsNull()) {
        expect.json.emplace_back(pointer, nullptr); // plain `null`: the JSON null
        continue;
      }
      if (!entry.second.IsScalar()) {
        fail(entry.second, entry_field, "the expected value must be a scalar");
      }
      // A plain YAML scalar keeps its JSON type (true, 3, null); a quoted one is a string.
      const std::string text = string_value(entry.second, entry_field);
      nlohmann::json expected = text;
      if (entry.second.Tag() != "!") {
        const nlohmann::json parsed = nlohmann::json::parse(text, nullptr, false);
        if (!parsed.is_discarded() && !parsed.is_structured()) {
          expected = parsed;
        }
      }
      // A parsed body never holds invalid UTF-8, so such a value could never match; and
      // nlohmann::json throws when asked to print it (check details, `probe config check`).
      if (!valid_utf8(expected)) {
        fail(entry.second, entry_field, "the expected value is not valid UTF-8");
      }
      expect.json.emplace_back(pointer, expected);
    }
  }
  if (node["max_latency"]) {
    expect.max_latency = duration_value(node["max_latency"], field + ".max_latency");
  }
  if (node["tls_min_days"]) {
    expect.tls_min_days =
        days_value(node["tls_min_days"], field + ".tls_min_days", k_max_tls_min_days);
  }
  return expect;
}

TcpTarget Reader::read_tcp(const YAML::Node& node, const std::string& field) const {
  const YAML::Node address = require(node, "address", field);
  const std::string text = string_value(address, field + ".address");
  std::string error;
  const std::optional<util::HostPort> host_port = util::parse_host_port(text, &error);
  if (!host_port) {
    fail(address, field + ".address", error);
  }
  return TcpTarget{host_port->host, host_port->port};
}

// libpq's parse errors quote pieces of the DSN (password included): say what kind of problem
// it is in our own words instead.
std::string dsn_problem(const std::string& libpq_message) {
  static const std::vector<std::pair<std::string, std::string>> k_known{
      {"missing \"=\"", "a key without \"=value\""},
      {"invalid connection option", "an unknown connection option"},
      {"invalid URI query parameter", "an unknown URI query parameter"},
      {"unterminated quoted string", "an unterminated quoted value"},
      {"invalid percent-encoded token", "a bad %-escape"},
      {"invalid URI", "a malformed URI"},
  };
  for (const auto& [needle, meaning] : k_known) {
    if (libpq_message.find(needle) != std::string::npos) {
      return "it has " + meaning;
    }
  }
  return "libpq cannot parse it";
}

Secret Reader::read_dsn(const YAML::Node& node, const std::string& field, bool require_tcp) {
  // One DATABASE_URL for probe and the apps: an SQLAlchemy URL is read as the URI it names.
  const std::string written = secret_value(node, field, true, dsn_with_password);
  const std::string dsn = util::libpq_dsn(written);
  char* parse_error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &parse_error);
  if (options == nullptr) {
    const std::string reason = dsn_problem(parse_error != nullptr ? parse_error : "");
    PQfreemem(parse_error);
    const std::string driver = util::sqlalchemy_driver(written);
    const std::string dropped =
        driver.empty() ? "" : ", once its SQLAlchemy driver (+" + driver + ") is dropped";
    fail(node, field,
         "is not a libpq connection string (key=value pairs or a postgresql:// URI)" + dropped +
             ": " + reason);
  }
  std::string host;
  std::string hostaddr;
  for (PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
    if (option->val != nullptr && std::string(option->keyword) == "host") {
      host = option->val;
    }
    if (option->val != nullptr && std::string(option->keyword) == "hostaddr") {
      hostaddr = option->val;
    }
  }
  PQconninfoFree(options);
  // The official image answers on its Unix socket while its init scripts still run; only a
  // TCP connection tells that the server is really serving.
  if (require_tcp && hostaddr.empty() && (host.empty() || host.front() == '/')) {
    fail(node, field,
         "must name a TCP host (host=... or postgresql://user@host/db); a Unix "
         "socket reports ready while the image's init scripts still run");
  }
  return Secret(dsn);
}

PostgresTarget Reader::read_postgres(const YAML::Node& node, const std::string& field) {
  PostgresTarget postgres;
  postgres.dsn = read_dsn(require(node, "dsn", field), field + ".dsn");
  if (node["query"]) {
    postgres.query = string_value(node["query"], field + ".query");
  }
  return postgres;
}

HeartbeatTarget Reader::read_heartbeat(const YAML::Node& node, const std::string& field) {
  HeartbeatTarget heartbeat;
  const YAML::Node source = require(node, "source", field);
  const std::string source_text = string_value(source, field + ".source");
  if (source_text == "postgres") {
    heartbeat.source = HeartbeatSource::postgres;
    heartbeat.dsn = read_dsn(require(node, "dsn", field), field + ".dsn");
    heartbeat.query = string_value(require(node, "query", field), field + ".query");
  } else if (source_text == "file") {
    heartbeat.source = HeartbeatSource::file;
    heartbeat.path = string_value(require(node, "path", field), field + ".path");
  } else if (source_text == "push") {
    heartbeat.source = HeartbeatSource::push;
  } else {
    fail(source, field + ".source", in_quotes(source_text) + " is not postgres, file or push");
  }
  const char* misplaced = nullptr;
  if (heartbeat.source != HeartbeatSource::postgres && (node["dsn"] || node["query"])) {
    misplaced = node["dsn"] ? "dsn" : "query";
  } else if (heartbeat.source != HeartbeatSource::file && node["path"]) {
    misplaced = "path";
  }
  if (misplaced != nullptr) {
    fail(node[misplaced], field + "." + misplaced, "does not apply to source: " + source_text);
  }
  heartbeat.max_age = duration_value(require(node, "max_age", field), field + ".max_age");
  return heartbeat;
}

Gate Reader::read_gate(const YAML::Node& node) const {
  Gate gate;
  if (!node.IsDefined() || node.IsNull()) {
    return gate;
  }
  expect_map(node, "gate");
  check_keys(node, "gate", k_gate_keys);
  if (node["timeout"]) {
    gate.timeout = duration_value(node["timeout"], "gate.timeout");
  }
  if (node["consecutive_successes"]) {
    gate.consecutive_successes =
        int_value(node["consecutive_successes"], "gate.consecutive_successes", 1, 1000);
  }
  if (node["poll_interval"]) {
    gate.poll_interval = duration_value(node["poll_interval"], "gate.poll_interval");
  }
  return gate;
}

Deploy Reader::read_deploy(const YAML::Node& node) {
  Deploy deploy;
  if (!node.IsDefined() || node.IsNull()) {
    return deploy;
  }
  expect_map(node, "deploy");
  check_keys(node, "deploy", k_deploy_keys);
  if (node["dsn"]) {
    deploy.dsn = read_dsn(node["dsn"], "deploy.dsn", false);
  }
  if (node["journal"]) {
    deploy.journal = string_value(node["journal"], "deploy.journal");
    if (deploy.journal.empty()) {
      fail(node["journal"], "deploy.journal", "must be a file path");
    }
  }
  if (node["token"]) {
    deploy.token =
        Secret(secret_value(node["token"], "deploy.token", m_options.need_tokens, any_text));
  }
  if (node["heartbeat_token"]) {
    deploy.heartbeat_token = Secret(secret_value(node["heartbeat_token"], "deploy.heartbeat_token",
                                                 m_options.need_tokens, any_text));
  }
  if (const YAML::Node rollback = node["rollback"]) {
    expect_map(rollback, "deploy.rollback");
    check_keys(rollback, "deploy.rollback", k_rollback_keys);
    if (rollback["command"]) {
      deploy.rollback.command = string_list(rollback["command"], "deploy.rollback.command");
      if (deploy.rollback.command.empty() || deploy.rollback.command.front().empty()) {
        fail(rollback["command"], "deploy.rollback.command",
             "must be a non-empty argv list, e.g. [\"deploy/scripts/rollback.sh\", "
             "\"{previous_sha}\"]");
      }
      for (std::size_t i = 0; i < deploy.rollback.command.size(); ++i) {
        const std::string& arg = deploy.rollback.command[i];
        const bool placeholder = arg == "{previous_sha}" || arg == "{failed_sha}";
        if (!placeholder && arg.find('{') != std::string::npos &&
            arg.find('}') != std::string::npos) {
          fail(rollback["command"][i], "deploy.rollback.command[" + std::to_string(i) + "]",
               "placeholders {previous_sha} and {failed_sha} must stand as a whole argument");
        }
      }
    }
    if (rollback["timeout"]) {
      deploy.rollback.timeout = duration_value(rollback["timeout"], "deploy.rollback.timeout");
    }
  }
  return deploy;
}

std::string Reader::repository_url_value(const YAML::Node& node) const {
  const std::string field = "status_page.repository_url";
  std::string url = string_value(node, field);
  if (url.size() > k_max_repository_url) {
    fail(node, field, "longer than " + std::to_string(k_max_repository_url) + " characters");
  }
  const auto unsafe = [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte <= 0x20 || byte >= 0x7f ||
           std::string_view("\"'<>\\`{}|^?#").find(c) != std::string_view::npos;
  };
  if (std::any_of(url.begin(), url.end(), unsafe)) {
    fail(node, field,
         "a space, quote, non-ASCII or one of <>\\`{}|^?# is not allowed; write the "
         "repository's web address, e.g. https://github.com/org/repo");
  }
  std::string error;
  if (!util::parse_http_url(url, &error)) {
    fail(node, field,
         error.rfind("URL credentials", 0) == 0
             ? "URL credentials (user:password@) are not supported here"
             : error);
  }
  while (!url.empty() && url.back() == '/') {
    url.pop_back(); // links are <repository_url>/commit/<sha>
  }
  return url;
}

StatusPage Reader::read_status_page(const YAML::Node& node) const {
  StatusPage page;
  if (!node.IsDefined() || node.IsNull()) {
    return page;
  }
  const std::string shape = "must be true, false or a mapping with enabled and repository_url";
  if (node.IsScalar()) {
    const std::string text = string_value(node, "status_page");
    if (text != "true" && text != "false") {
      fail(node, "status_page", in_quotes(text) + " is not true or false; " + shape);
    }
    page.enabled = text == "true";
    return page;
  }
  if (!node.IsMap()) {
    fail(node, "status_page", shape + ", not " + node_kind(node));
  }
  check_keys(node, "status_page", k_status_page_keys);
  if (node["enabled"]) {
    page.enabled = bool_value(node["enabled"], "status_page.enabled");
  }
  if (node["repository_url"]) {
    page.repository_url = repository_url_value(node["repository_url"]);
  }
  return page;
}

Notifier Reader::read_notifier(const YAML::Node& node, const std::string& field) {
  expect_map(node, field);
  Notifier notifier;
  const YAML::Node type = require(node, "type", field);
  const std::string type_text = string_value(type, field + ".type");
  Keys allowed{"type", "on", "optional"};
  const bool needed = m_options.need_notify;
  if (type_text == "telegram") {
    notifier.type = NotifyType::telegram;
    notifier.bot_token = Secret(
        secret_value(require(node, "bot_token", field), field + ".bot_token", needed, any_text));
    notifier.chat_id =
        secret_value(require(node, "chat_id", field), field + ".chat_id", needed, never);
    if (node["api_url"]) {
      notifier.api_url = string_value(node["api_url"], field + ".api_url");
      // The Bot API takes its token in the path: credentials in the URL could only be a
      // mistake, and would be printed wherever the URL is shown. Refused, like a target's.
      std::string error;
      if (!util::parse_http_url(notifier.api_url, &error)) {
        fail(node["api_url"], field + ".api_url",
             error.rfind("URL credentials", 0) == 0
                 ? "URL credentials (user:password@) are not supported here"
                 : error);
      }
    }
    allowed.insert({"bot_token", "chat_id", "api_url"});
  } else if (type_text == "slack") {
    notifier.type = NotifyType::slack;
    notifier.url = Secret(secret_value(require(node, "webhook_url", field), field + ".webhook_url",
                                       needed, url_with_path));
    allowed.insert("webhook_url");
  } else if (type_text == "webhook") {
    notifier.type = NotifyType::webhook;
    notifier.url = Secret(
        secret_value(require(node, "url", field), field + ".url", needed, url_with_credentials));
    allowed.insert("url");
  } else {
    fail(type, field + ".type", in_quotes(type_text) + " is not telegram, slack or webhook");
  }
  check_keys(node, field, allowed); // keys of another channel type are errors too
  if (node["on"]) {
    notifier.on = string_list(node["on"], field + ".on");
    const std::vector<std::string>& kinds = event_kinds();
    for (std::size_t i = 0; i < notifier.on.size(); ++i) {
      if (std::find(kinds.begin(), kinds.end(), notifier.on[i]) == kinds.end()) {
        fail(node["on"][i], field + ".on[" + std::to_string(i) + "]",
             in_quotes(notifier.on[i]) + " is not an event kind (" + util::join(kinds, ", ") + ")");
      }
    }
  }
  return notifier;
}

Config Reader::read(const YAML::Node& root) {
  if (!root.IsMap()) {
    fail(root, "", "the config must be a mapping with a \"targets\" list, not " + node_kind(root));
  }
  // A mapping none of whose keys is probe's is some other file (`--config /etc/shadow` parses
  // as one): its keys are its content, so they are counted, not shown.
  const bool probe_config = std::any_of(root.begin(), root.end(), [](const auto& entry) {
    return entry.first.IsScalar() && k_top_keys.count(entry.first.Scalar()) != 0;
  });
  if (!probe_config) {
    fail(root, "",
         "not a probe config: a mapping with " + std::to_string(root.size()) +
             " key(s), none of them one of " +
             util::join({k_top_keys.begin(), k_top_keys.end()}, ", ") +
             " (the file's text is not shown)");
  }
  check_keys(root, "", k_top_keys);
  Config config;
  config.path = m_file;
  if (root["listen"]) {
    config.listen = string_value(root["listen"], "listen");
    std::string error;
    if (!util::parse_host_port(config.listen, &error, true)) {
      fail(root["listen"], "listen", error);
    }
  }
  config.defaults = read_defaults(root["defaults"]);
  if (config.defaults.timeout > config.defaults.interval) {
    const YAML::Node defaults = root["defaults"];
    fail(defaults["timeout"] ? defaults["timeout"] : defaults, "defaults.timeout",
         "timeout " + util::format_duration(config.defaults.timeout) + " exceeds interval " +
             util::format_duration(config.defaults.interval));
  }
  const YAML::Node targets = require(root, "targets", "");
  if (!targets.IsSequence() || targets.size() == 0) {
    fail(targets, "targets", "must be a non-empty list of targets");
  }
  std::map<std::string, std::string> names; // name -> field of first use
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const std::string field = "targets[" + std::to_string(i) + "]";
    Target target = read_target(targets[i], field, config.defaults);
    const auto [it, inserted] = names.emplace(target.name, field);
    if (!inserted) {
      fail(targets[i]["name"], field + ".name",
           in_quotes(target.name) + " is already the name of " + it->second);
    }
    const auto* heartbeat = std::get_if<HeartbeatTarget>(&target.spec);
    if (heartbeat != nullptr && heartbeat->source == HeartbeatSource::push) {
      // Only serve receives pushes: a one-shot command cannot judge such a target.
      m_notes.push_back(field + " " + target.name +
                        ": source: push is checked only by probe serve; probe check, probe wait "
                        "--config and probe deploy verify --config report it as \"skipped\"");
    }
    config.targets.push_back(std::move(target));
  }
  config.gate = read_gate(root["gate"]);
  config.deploy = read_deploy(root["deploy"]);
  if (!config.deploy.heartbeat_token.empty() &&
      config.deploy.heartbeat_token == config.deploy.token) {
    config.notes.push_back("deploy.heartbeat_token is deploy.token: a heartbeat sender can also "
                           "record deploys and reload");
  }
  if (const YAML::Node notify = root["notify"]) {
    read_notify(notify, config);
  }
  config.status_page = read_status_page(root["status_page"]);
  config.notes.insert(config.notes.begin(), m_notes.begin(), m_notes.end());
  return config;
}

namespace {

// The credential a channel cannot send without that is empty, if any: "bot_token", ...
const char* missing_credential(const Notifier& notifier) {
  switch (notifier.type) {
  case NotifyType::telegram:
    return notifier.bot_token.empty() ? "bot_token"
           : notifier.chat_id.empty() ? "chat_id"
                                      : nullptr;
  case NotifyType::slack:
    return notifier.url.empty() ? "webhook_url" : nullptr;
  case NotifyType::webhook:
    return notifier.url.empty() ? "url" : nullptr;
  }
  return nullptr;
}

} // namespace

// A channel with an empty credential could only fail at every send, so it is an error —
// unless marked `optional: true`, the way to write one config for servers with and without
// the channel's secrets (`bot_token: "${TELEGRAM_BOT_TOKEN:-}"`): then it is left out, noted.
void Reader::read_notify(const YAML::Node& notify, Config& config) {
  if (!notify.IsSequence()) {
    fail(notify, "notify", "must be a list of channels, not " + node_kind(notify));
  }
  for (std::size_t i = 0; i < notify.size(); ++i) {
    const std::string field = "notify[" + std::to_string(i) + "]";
    Notifier notifier = read_notifier(notify[i], field);
    const bool optional =
        notify[i]["optional"] && bool_value(notify[i]["optional"], field + ".optional");
    if (const char* missing = missing_credential(notifier)) {
      if (!optional && m_options.need_notify) {
        fail(notify[i][missing], field + "." + missing,
             "is empty (mark the channel `optional: true` to leave it out when it is unset)");
      }
      config.notes.push_back(field + ": " + std::string(to_string(notifier.type)) + " left out: " +
                             (optional ? "optional" : "this command sends no notifications") +
                             ", and its " + missing + " is empty");
      continue;
    }
    config.notify.push_back(std::move(notifier));
  }
}

} // namespace

namespace {

// The kind of a file that is not a regular one, for the refusal.
std::string file_kind(mode_t mode) {
  if (S_ISDIR(mode)) {
    return "a directory";
  }
  if (S_ISFIFO(mode)) {
    return "a FIFO";
  }
  if (S_ISCHR(mode)) {
    return "a character device";
  }
  if (S_ISBLK(mode)) {
    return "a block device";
  }
  if (S_ISSOCK(mode)) {
    return "a socket";
  }
  return "not a regular file";
}

struct FileText {
  std::string text;
  mode_t mode = 0;
};

// Reads the config at `path` (a symlink is followed) only when it is a regular file of at most
// k_max_config_bytes, judged on the opened descriptor before a byte is read: O_NONBLOCK makes
// opening a FIFO return at once instead of waiting for a writer, and a device or a directory
// is refused by its type, so nothing here can block or read without end.
FileText read_config_text(const std::string& path) {
  const util::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) {
    throw Error(path + ": cannot read config: " + std::strerror(errno));
  }
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) {
    throw Error(path + ": cannot read config: " + std::strerror(errno));
  }
  if (!S_ISREG(info.st_mode)) {
    throw Error(path + ": cannot read config: it is " + file_kind(info.st_mode) +
                ", not a regular file");
  }
  const std::string too_large =
      path + ": config is larger than " + std::to_string(k_max_config_bytes / 1024 / 1024) + " MiB";
  if (static_cast<std::uintmax_t>(info.st_size) > k_max_config_bytes) {
    throw Error(too_large + " (" + std::to_string(info.st_size) + " bytes)");
  }
  // One byte more than fstat said, to notice a file that grows while it is read.
  FileText file{std::string(static_cast<std::size_t>(info.st_size) + 1, '\0'), info.st_mode};
  std::size_t used = 0;
  while (used <= k_max_config_bytes) {
    if (used == file.text.size()) {
      file.text.resize(std::min(file.text.size() * 2, k_max_config_bytes + 1));
    }
    const ssize_t n = ::read(fd.get(), file.text.data() + used, file.text.size() - used);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      throw Error(path + ": cannot read config: " + std::strerror(errno));
    }
    if (n == 0) {
      break;
    }
    used += static_cast<std::size_t>(n);
  }
  if (used > k_max_config_bytes) {
    throw Error(too_large);
  }
  file.text.resize(used);
  return file;
}

Config load_text(const std::string& text, const std::string& name, const util::EnvLookup& env,
                 const LoadOptions& options, std::vector<std::string>* literal_secrets) {
  const YAML::Node root =
      parse_document(text, name, DocumentLimits{k_max_expanded_bytes, k_max_aliases});
  try {
    Reader reader(name, env, options);
    Config config = reader.read(root);
    *literal_secrets = reader.literal_secrets();
    return config;
  } catch (const YAML::Exception& e) {
    // A conversion yaml-cpp refused that the checks above did not foresee.
    throw Error(location(name, e.mark) + ": " + yaml_problem(e));
  }
}

} // namespace

Config load_config_string(const std::string& text, const std::string& name,
                          const util::EnvLookup& env, const LoadOptions& options) {
  std::vector<std::string> literal_secrets;
  return load_text(text, name, env, options, &literal_secrets);
}

Config load_config_file(const std::string& path, const util::EnvLookup& env,
                        const LoadOptions& options) {
  const FileText file = read_config_text(path);
  std::vector<std::string> literal_secrets;
  Config config = load_text(file.text, path, env, options, &literal_secrets);
  // As ssh does for a private key: a secret in a file others can read is worth a warning,
  // not a refusal (the file may be meant for a group, or the secret a harmless default).
  if ((file.mode & (S_IRGRP | S_IROTH)) != 0 && !literal_secrets.empty()) {
    std::array<char, 8> mode{};
    std::snprintf(mode.data(), mode.size(), "%04o", static_cast<unsigned>(file.mode & 07777));
    config.notes.push_back("warning: " + path + " is readable by group or others (mode " +
                           mode.data() + ") and holds secrets written in it (" +
                           util::join(literal_secrets, ", ") + "): chmod 600 " + path +
                           ", or take them from the environment (${VAR})");
  }
  return config;
}

std::string resolve_config_path(const std::optional<std::string>& flag,
                                const util::EnvLookup& env) {
  if (flag) {
    return *flag;
  }
  if (std::optional<std::string> from_env = env("PROBE_CONFIG"); from_env && !from_env->empty()) {
    return *from_env;
  }
  if (std::filesystem::exists("probe.yaml")) {
    return "probe.yaml";
  }
  return "/etc/probe/probe.yaml";
}

} // namespace probe::config
