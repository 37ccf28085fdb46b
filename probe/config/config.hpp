// probe's configuration as plain structs: what the YAML file says, after environment
// expansion, defaults and validation. Everything downstream (checks, engine, deploy, exporters)
// reads these and never YAML, so a config is checked once, in one place (config_loader.cpp).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "probe/util/duration.hpp"
#include "probe/util/secret.hpp"

namespace probe::config {

using util::Duration;
using util::Secret;

struct Defaults {
  Duration interval{10'000};
  Duration timeout{2'000};
  int success_threshold = 1;
  int failure_threshold = 3;

  bool operator==(const Defaults&) const = default;
};

struct HttpExpect {
  std::vector<int> status; // empty: any 2xx
  std::optional<std::string> body_contains;
  std::vector<std::pair<std::string, nlohmann::json>> json; // JSON pointer -> expected value
  std::optional<Duration> max_latency;
  // https only: the earliest-expiring certificate the server presents must stay valid at least
  // this many days (fractions allowed, 0 = not expired); checks::evaluate_tls_expiry judges it.
  std::optional<double> tls_min_days;

  bool operator==(const HttpExpect&) const = default;
};

struct HttpTarget {
  std::string url;
  std::string method = "GET";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  HttpExpect expect;
  bool follow_redirects = false;
  std::string ca_file;               // PEM bundle to trust instead of the system CAs
  bool insecure_skip_verify = false; // https without certificate verification

  bool operator==(const HttpTarget&) const = default;
};

struct TcpTarget {
  std::string host;
  std::uint16_t port = 0;

  bool operator==(const TcpTarget&) const = default;
};

struct PostgresTarget {
  Secret dsn;
  std::string query = "SELECT 1";

  bool operator==(const PostgresTarget&) const = default;
};

enum class HeartbeatSource { postgres, file, push };

struct HeartbeatTarget {
  HeartbeatSource source = HeartbeatSource::postgres;
  Secret dsn;        // source: postgres
  std::string query; // source: postgres; returns the last beat as a timestamp
  std::string path;  // source: file; the beat is the file's mtime
  Duration max_age{90'000};

  bool operator==(const HeartbeatTarget&) const = default;
};

enum class TargetType { http, tcp, postgres, heartbeat };

struct Target {
  std::string name;
  TargetType type = TargetType::http;
  bool critical = true;
  Duration interval{};
  Duration timeout{};
  int success_threshold = 1;
  int failure_threshold = 3;
  std::variant<HttpTarget, TcpTarget, PostgresTarget, HeartbeatTarget> spec;

  bool operator==(const Target&) const = default;
};

struct Gate {
  Duration timeout{120'000};
  int consecutive_successes = 3;
  Duration poll_interval{250};

  bool operator==(const Gate&) const = default;
};

struct Rollback {
  std::vector<std::string> command; // argv; {previous_sha} and {failed_sha} are substituted
  Duration timeout{300'000};

  bool operator==(const Rollback&) const = default;
};

struct Deploy {
  Secret dsn;
  std::string journal = "/var/lib/probe/journal.jsonl";
  Secret token;
  // Also accepted by POST /heartbeat only, so the bot's credential cannot record deploys;
  // empty: heartbeats take `token`.
  Secret heartbeat_token;
  Rollback rollback;

  bool operator==(const Deploy&) const = default;
};

enum class NotifyType { telegram, slack, webhook };

struct Notifier {
  NotifyType type = NotifyType::webhook;
  Secret bot_token;                                 // telegram
  std::string chat_id;                              // telegram
  std::string api_url = "https://api.telegram.org"; // telegram; tests point it at a receiver
  Secret url;                                       // slack webhook_url, webhook url
  std::vector<std::string> on;                      // event kinds; empty = the default set

  bool operator==(const Notifier&) const = default;
};

// GET /, the status page for people: on unless `status_page: false`. `repository_url` (http or
// https, no credentials, quotes or spaces) turns each deployed SHA into a link to
// <repository_url>/commit/<sha>; empty: SHAs are plain text.
struct StatusPage {
  bool enabled = true;
  std::string repository_url;

  bool operator==(const StatusPage&) const = default;
};

struct Config {
  std::string path; // where it was read from, for messages
  std::string listen = "0.0.0.0:9464";
  Defaults defaults;
  std::vector<Target> targets;
  Gate gate;
  Deploy deploy;
  std::vector<Notifier> notify;
  StatusPage status_page;
  // Things the loader decided that a person should hear about but that are not errors, e.g.
  // "notify[1]: left out: optional, and its webhook_url is empty". Printed by `config check`,
  // logged by `serve`.
  std::vector<std::string> notes;

  bool operator==(const Config&) const = default;
};

std::string_view to_string(TargetType type);
std::string_view to_string(HeartbeatSource source);
std::string_view to_string(NotifyType type);

// The secret values `target`'s config holds: its URL's query values and userinfo, the values of
// headers named like a secret (Authorization, X-Api-Key), a DSN's password. For scrubbing text
// that may quote them (a check detail shown by /status). Values under 4 characters are left
// out: masking "1" would garble every number in the text, and they guard nothing.
std::vector<std::string> secret_values(const Target& target);

// `text` with every secret value of `target` replaced by "***".
std::string scrub(std::string text, const Target& target);

// The event kinds the contract defines, in lifecycle order.
const std::vector<std::string>& event_kinds();

} // namespace probe::config
