// The config loader is the contract's first line of defence: bad configuration must never start
// half a service, and every message must name the file, line, column and field so the operator
// can fix it without guessing ("probe.yaml:12:5: targets[1].timeout: ..."). These tests pin the
// exact text of each message (people and scripts grep them), check that DSN passwords and tokens
// never leak into one, and check that a good config — the spec's own example — comes out as the
// structs the rest of probe reads. The environment is a fake map, so nothing here depends on
// the real process environment or on the working directory (except the resolve_config_path
// tests, which use a private temporary directory and restore the cwd).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <variant>
#include <vector>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "probe/config/config_loader.hpp"
#include "probe/util/error.hpp"

namespace probe::config {
namespace {

using util::EnvLookup;

// The password every DSN below carries, so a test can prove it never reaches a message.
constexpr const char* k_password = "hunter2";

EnvLookup fake_env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) {
      return std::nullopt;
    }
    return it->second;
  };
}

// The variables the spec's example config reads, plus an empty one.
EnvLookup stack_env() {
  return fake_env({
      {"DATABASE_URL", "postgresql://app:hunter2@db:5432/app"},
      {"PROBE_TOKEN", "tok-123"},
      {"TELEGRAM_BOT_TOKEN", "123:abc"},
      {"TELEGRAM_CHAT_ID", "-1001"},
      {"SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T/B/X"},
      {"EMPTY", ""},
  });
}

Config load(const std::string& yaml, const EnvLookup& env = stack_env()) {
  return load_config_string(yaml, "probe.yaml", env);
}

// The message `yaml` is rejected with; records a test failure when it loads or the exit code
// is not 2 (usage/config error).
std::string load_error(const std::string& yaml, const EnvLookup& env = stack_env()) {
  try {
    load(yaml, env);
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "config was accepted:\n" << yaml;
  return "";
}

// The message `text` is refused with, whatever it is (load_error for files that are no config).
std::string load_config_error_of(const std::string& text) {
  return load_error(text);
}

// --- malformed configs: one exact message each -------------------------------------------------

struct BadConfig {
  const char* name; // the behaviour, as a gtest name
  std::string yaml;
  std::string message;
};

void PrintTo(const BadConfig& bad, std::ostream* out) {
  *out << bad.name;
}

class MalformedConfig : public ::testing::TestWithParam<BadConfig> {};

TEST_P(MalformedConfig, IsRejectedWithLocatedMessage) {
  const BadConfig& bad = GetParam();
  const std::string message = load_error(bad.yaml);
  EXPECT_EQ(message, bad.message) << bad.yaml;
  EXPECT_EQ(message.find(k_password), std::string::npos) << "password leaked: " << message;
}

const std::string k_target = R"(targets:
  - {name: a, type: tcp, address: "h:1"}
)";

const std::vector<BadConfig> k_bad_configs{
    // YAML and the document's shape
    {"invalid_yaml_unclosed_flow_list", "targets: [a\n",
     "probe.yaml:2:1: invalid YAML: end of sequence flow not found"},
    {"invalid_yaml_bad_indentation", R"(targets:
  - name: a
   type: http
)",
     "probe.yaml:3:4: invalid YAML: end of sequence not found"},
    {"root_scalar", "hello\n",
     "probe.yaml:1:1: the config must be a mapping with a \"targets\" list, not a scalar"},
    {"root_list", "- a\n",
     "probe.yaml:1:1: the config must be a mapping with a \"targets\" list, not a list"},
    {"empty_file", "",
     "probe.yaml: the config must be a mapping with a \"targets\" list, not empty"},
    {"unknown_top_level_key", "bogus: 1\n" + k_target,
     "probe.yaml:1:1: bogus: unknown key (allowed here: defaults, deploy, gate, listen, notify, "
     "status_page, targets)"},
    {"duplicate_top_level_key", k_target + "targets: []\n",
     "probe.yaml:3:1: targets: duplicate key"},
    {"missing_targets", "listen: \"0.0.0.0:9464\"\n",
     "probe.yaml:1:1: missing required field \"targets\""},
    {"empty_targets", "targets: []\n",
     "probe.yaml:1:10: targets: must be a non-empty list of targets"},
    {"targets_not_a_list", "targets: {a: 1}\n",
     "probe.yaml:1:10: targets: must be a non-empty list of targets"},
    {"target_not_a_mapping", "targets:\n  - - a\n",
     "probe.yaml:2:5: targets[0]: must be a mapping, not a list"},

    // unknown keys, at every level
    {"unknown_target_key", R"(targets:
  - name: api
    type: http
    urll: "http://api:8000/health"
)",
     "probe.yaml:4:5: targets[0].urll: unknown key (allowed here: body, ca_file, critical, expect, "
     "failure_threshold, follow_redirects, headers, insecure_skip_verify, interval, method, name, "
     "success_threshold, timeout, type, url)"},
    {"key_of_another_target_type", R"(targets:
  - name: bot
    type: heartbeat
    source: push
    max_age: 90s
    url: "http://x/"
)",
     "probe.yaml:6:5: targets[0].url: unknown key (allowed here: critical, dsn, failure_threshold, "
     "interval, max_age, name, path, query, source, success_threshold, timeout, type)"},
    {"unknown_expect_key", R"(targets:
  - name: api
    type: http
    url: "http://api/"
    expect: {status: [200], bogus: 1}
)",
     "probe.yaml:5:29: targets[0].expect.bogus: unknown key (allowed here: body_contains, json, "
     "max_latency, status, tls_min_days)"},
    {"unknown_defaults_key", "defaults: {interval: 10s, tmeout: 1s}\n" + k_target,
     "probe.yaml:1:27: defaults.tmeout: unknown key (allowed here: failure_threshold, interval, "
     "success_threshold, timeout)"},
    {"unknown_gate_key", "gate: {timeot: 1s}\n" + k_target,
     "probe.yaml:1:8: gate.timeot: unknown key (allowed here: consecutive_successes, "
     "poll_interval, timeout)"},
    {"unknown_deploy_key", "deploy: {dsnn: x}\n" + k_target,
     "probe.yaml:1:10: deploy.dsnn: unknown key (allowed here: dsn, heartbeat_token, journal, "
     "rollback, token)"},
    {"unknown_rollback_key", "deploy:\n  rollback: {commnd: [x]}\n" + k_target,
     "probe.yaml:2:14: deploy.rollback.commnd: unknown key (allowed here: command, timeout)"},
    {"unknown_notify_key", k_target + R"(notify:
  - {type: slack, webhook_url: "https://x/", chanel: y}
)",
     "probe.yaml:4:46: notify[0].chanel: unknown key (allowed here: on, optional, type, "
     "webhook_url)"},
    {"duplicate_target_key", R"(targets:
  - name: a
    type: tcp
    address: "h:1"
    name: b
)",
     "probe.yaml:5:5: targets[0].name: duplicate key"},
    {"duplicate_expect_key", R"(targets:
  - name: a
    type: http
    url: "http://api/"
    expect: {status: [200], status: [201]}
)",
     "probe.yaml:5:29: targets[0].expect.status: duplicate key"},

    // names and types
    {"missing_name", R"(targets:
  - type: http
    url: "http://api/"
)",
     "probe.yaml:2:5: targets[0]: missing required field \"name\""},
    {"uppercase_name", R"(targets:
  - name: Api
    type: http
)",
     "probe.yaml:2:11: targets[0].name: \"Api\" is not a valid name (1-63 of a-z 0-9 _ -)"},
    {"name_with_space", R"(targets:
  - name: "api server"
    type: http
)",
     "probe.yaml:2:11: targets[0].name: \"api server\" is not a valid name (1-63 of a-z 0-9 _ -)"},
    {"name_with_dot", R"(targets:
  - name: api.v1
    type: http
)",
     "probe.yaml:2:11: targets[0].name: \"api.v1\" is not a valid name (1-63 of a-z 0-9 _ -)"},
    {"empty_name", R"(targets:
  - name: ""
    type: http
)",
     "probe.yaml:2:11: targets[0].name: \"\" is not a valid name (1-63 of a-z 0-9 _ -)"},
    {"name_longer_than_63", "targets:\n  - name: " + std::string(64, 'a') + "\n    type: http\n",
     "probe.yaml:2:11: targets[0].name: \"" + std::string(64, 'a') +
         "\" is not a valid name (1-63 of a-z 0-9 _ -)"},
    {"duplicate_target_name", R"(targets:
  - {name: a, type: tcp, address: "h:1"}
  - {name: a, type: tcp, address: "h:2"}
)",
     "probe.yaml:3:12: targets[1].name: \"a\" is already the name of targets[0]"},
    {"missing_type", R"(targets:
  - name: a
    address: "h:1"
)",
     "probe.yaml:2:5: targets[0]: missing required field \"type\""},
    {"unknown_type", R"(targets:
  - name: a
    type: udp
)",
     "probe.yaml:3:11: targets[0].type: \"udp\" is not a target type (http, tcp, postgres, "
     "heartbeat)"},

    // durations, thresholds, flags
    {"duration_in_words", R"(targets:
  - name: a
    type: tcp
    address: "h:1"
    timeout: 5 seconds
)",
     "probe.yaml:5:14: targets[0].timeout: \"5 seconds\" is not a duration (write e.g. 250ms, "
     "10s, 2m, 1h)"},
    {"duration_without_unit", R"(targets:
  - name: a
    type: tcp
    address: "h:1"
    interval: 10
)",
     "probe.yaml:5:15: targets[0].interval: \"10\" is not a duration (write e.g. 250ms, 10s, 2m, "
     "1h)"},
    {"negative_duration", R"(targets:
  - name: a
    type: tcp
    address: "h:1"
    timeout: -1s
)",
     "probe.yaml:5:14: targets[0].timeout: \"-1s\" is not a duration (write e.g. 250ms, 10s, 2m, "
     "1h)"},
    {"fractional_duration", R"(targets:
  - name: a
    type: tcp
    address: "h:1"
    timeout: 1.5s
)",
     "probe.yaml:5:14: targets[0].timeout: \"1.5s\" is not a duration (write e.g. 250ms, 10s, 2m, "
     "1h)"},
    {"zero_timeout", R"(targets:
  - name: a
    type: tcp
    address: "h:1"
    timeout: 0s
)",
     "probe.yaml:5:14: targets[0].timeout: must be greater than 0"},
    {"zero_gate_poll_interval", "gate: {poll_interval: 0ms}\n" + k_target,
     "probe.yaml:1:23: gate.poll_interval: must be greater than 0"},
    {"bad_defaults_duration", "defaults: {interval: 1 minute}\n" + k_target,
     "probe.yaml:1:22: defaults.interval: \"1 minute\" is not a duration (write e.g. 250ms, 10s, "
     "2m, 1h)"},
    {"target_timeout_exceeds_interval", R"(targets:
  - name: a
    type: tcp
    address: "h:1"
    interval: 5s
    timeout: 6s
)",
     "probe.yaml:6:14: targets[0].timeout: timeout 6s exceeds interval 5s"},
    {"target_interval_below_default_timeout", R"(targets:
  - name: a
    type: tcp
    address: "h:1"
    interval: 1s
)",
     // The target wrote no timeout, so the message points at the target and names the values.
     "probe.yaml:2:5: targets[0].timeout: timeout 2s exceeds interval 1s"},
    {"threshold_zero", R"(targets:
  - name: a
    type: tcp
    address: "h:1"
    failure_threshold: 0
)",
     "probe.yaml:5:24: targets[0].failure_threshold: must be between 1 and 1000, not 0"},
    {"threshold_not_a_number", R"(targets:
  - name: a
    type: tcp
    address: "h:1"
    success_threshold: three
)",
     "probe.yaml:5:24: targets[0].success_threshold: \"three\" is not a whole number"},
    {"threshold_fraction", R"(targets:
  - name: a
    type: tcp
    address: "h:1"
    failure_threshold: 1.5
)",
     "probe.yaml:5:24: targets[0].failure_threshold: \"1.5\" is not a whole number"},
    {"threshold_too_big", R"(targets:
  - name: a
    type: tcp
    address: "h:1"
    failure_threshold: 1001
)",
     "probe.yaml:5:24: targets[0].failure_threshold: must be between 1 and 1000, not 1001"},
    {"threshold_beyond_64_bits", R"(targets:
  - name: a
    type: tcp
    address: "h:1"
    failure_threshold: 99999999999999999999
)",
     "probe.yaml:5:24: targets[0].failure_threshold: \"99999999999999999999\" is not a whole "
     "number"},
    {"defaults_threshold_zero", "defaults: {success_threshold: 0}\n" + k_target,
     "probe.yaml:1:31: defaults.success_threshold: must be between 1 and 1000, not 0"},
    {"gate_consecutive_successes_zero", "gate: {consecutive_successes: 0}\n" + k_target,
     "probe.yaml:1:31: gate.consecutive_successes: must be between 1 and 1000, not 0"},
    {"critical_yes_is_not_a_bool", R"(targets:
  - {name: a, type: tcp, address: "h:1", critical: yes}
)",
     "probe.yaml:2:52: targets[0].critical: \"yes\" is not true or false"},

    // http
    {"missing_url", R"(targets:
  - name: a
    type: http
)",
     "probe.yaml:2:5: targets[0]: missing required field \"url\""},
    {"url_without_scheme", R"(targets:
  - name: a
    type: http
    url: "api:8000/health"
)",
     "probe.yaml:4:10: targets[0].url: \"api:8000/health\" is not an http:// or https:// URL"},
    {"url_ftp", R"(targets:
  - name: a
    type: http
    url: "ftp://api/x"
)",
     "probe.yaml:4:10: targets[0].url: \"ftp://api/x\" is not an http:// or https:// URL"},
    {"url_with_credentials_does_not_echo_them", R"(targets:
  - name: a
    type: http
    url: "http://admin:hunter2@api/x"
)",
     "probe.yaml:4:10: targets[0].url: URL credentials (user:password@) are not supported; use "
     "headers"},
    {"url_port_out_of_range", R"(targets:
  - name: a
    type: http
    url: "http://api:99999/"
)",
     "probe.yaml:4:10: targets[0].url: \"http://api:99999/\" has no valid host or port"},
    {"url_port_not_a_number", R"(targets:
  - name: a
    type: http
    url: "http://api:http/"
)",
     "probe.yaml:4:10: targets[0].url: \"http://api:http/\" has no valid host or port"},
    {"url_without_host", R"(targets:
  - name: a
    type: http
    url: "http:///health"
)",
     "probe.yaml:4:10: targets[0].url: \"http:///health\" has no valid host or port"},
    {"url_with_space", R"(targets:
  - name: a
    type: http
    url: "http://api/a b"
)",
     "probe.yaml:4:10: targets[0].url: URL path has a space or control character; percent-encode "
     "it"},
    {"method_not_allowed", R"(targets:
  - name: a
    type: http
    url: "http://api/"
    method: DELETE
)",
     "probe.yaml:5:13: targets[0].method: \"DELETE\" is not one of GET, HEAD, POST, PUT, OPTIONS"},
    {"method_lowercase", R"(targets:
  - name: a
    type: http
    url: "http://api/"
    method: get
)",
     "probe.yaml:5:13: targets[0].method: \"get\" is not one of GET, HEAD, POST, PUT, OPTIONS"},
    {"header_value_with_newline", R"(targets:
  - name: a
    type: http
    url: "http://api/"
    headers:
      X-Token: "abc\ndef"
)",
     "probe.yaml:6:16: targets[0].headers.X-Token: header values may not contain line breaks"},
    {"header_name_with_space", R"(targets:
  - name: a
    type: http
    url: "http://api/"
    headers: {"X Token": "abc"}
)",
     "probe.yaml:5:15: targets[0].headers.X Token: is not a valid header name"},
    {"headers_not_a_mapping", R"(targets:
  - name: a
    type: http
    url: "http://api/"
    headers: ["X-Token: abc"]
)",
     "probe.yaml:5:14: targets[0].headers: must be a mapping, not a list"},
    {"follow_redirects_not_a_bool", R"(targets:
  - name: a
    type: http
    url: "http://api/"
    follow_redirects: 1
)",
     "probe.yaml:5:23: targets[0].follow_redirects: \"1\" is not true or false"},
    {"ca_file_missing", R"(targets:
  - name: a
    type: http
    url: "https://api/"
    ca_file: /nonexistent/ca.pem
)",
     "probe.yaml:5:14: targets[0].ca_file: \"/nonexistent/ca.pem\" is not a readable file"},
    // Found with tests/fuzz/fuzz_config_loader: std::filesystem_error escaped the loader (and a
    // SIGHUP reload with such a config aborted probe serve).
    {"ca_file_name_too_long",
     "targets:\n  - {name: a, type: http, url: \"https://api/\", ca_file: /" +
         std::string(300, 'a') + "}\n",
     "probe.yaml:2:57: targets[0].ca_file: \"/" + std::string(300, 'a') +
         "\" is not a readable file"},
    {"expect_not_a_mapping", R"(targets:
  - name: a
    type: http
    url: "http://api/"
    expect: [200]
)",
     "probe.yaml:5:13: targets[0].expect: must be a mapping, not a list"},
    {"expect_status_empty", R"(targets:
  - name: a
    type: http
    url: "http://api/"
    expect: {status: []}
)",
     "probe.yaml:5:22: targets[0].expect.status: must be a non-empty list of status codes, e.g. "
     "[200, 204]"},
    {"expect_status_not_a_list", R"(targets:
  - name: a
    type: http
    url: "http://api/"
    expect: {status: 200}
)",
     "probe.yaml:5:22: targets[0].expect.status: must be a non-empty list of status codes, e.g. "
     "[200, 204]"},
    {"expect_status_out_of_range", R"(targets:
  - name: a
    type: http
    url: "http://api/"
    expect: {status: [200, 600]}
)",
     "probe.yaml:5:28: targets[0].expect.status[1]: must be between 100 and 599, not 600"},
    {"expect_status_below_range", R"(targets:
  - name: a
    type: http
    url: "http://api/"
    expect: {status: [99]}
)",
     "probe.yaml:5:23: targets[0].expect.status[0]: must be between 100 and 599, not 99"},
    {"expect_json_pointer_without_slash", R"(targets:
  - name: a
    type: http
    url: "http://api/"
    expect: {json: {"status": "ok"}}
)",
     "probe.yaml:5:21: targets[0].expect.json.status: \"status\" is not a JSON pointer (e.g. "
     "/status)"},
    {"expect_json_pointer_bad_escape", R"(targets:
  - name: a
    type: http
    url: "http://api/"
    expect: {json: {"/a~2": "ok"}}
)",
     "probe.yaml:5:21: targets[0].expect.json./a~2: \"/a~2\" is not a JSON pointer (e.g. /status)"},
    {"expect_json_value_is_a_list", R"(targets:
  - name: a
    type: http
    url: "http://api/"
    expect: {json: {"/a": [1, 2]}}
)",
     "probe.yaml:5:27: targets[0].expect.json./a: the expected value must be a scalar"},
    // Found by tests/fuzz/fuzz_config_loader: nlohmann::json threw when printing such a value.
    {"expect_json_value_not_utf8",
     R"(targets:
  - name: a
    type: http
    url: "http://api/"
    expect: {json: {"/a": ")"
     "\xff"
     R"("}}
)",
     "probe.yaml:5:27: targets[0].expect.json./a: the expected value is not valid UTF-8"},
    {"expect_max_latency_zero", R"(targets:
  - name: a
    type: http
    url: "http://api/"
    expect: {max_latency: 0ms}
)",
     "probe.yaml:5:27: targets[0].expect.max_latency: must be greater than 0"},
    {"expect_tls_min_days_negative", R"(targets:
  - name: web
    type: http
    url: "https://web/"
    expect: {tls_min_days: -1}
)",
     "probe.yaml:5:28: targets[0].expect.tls_min_days: must be 0 or more days, not -1"},
    {"expect_tls_min_days_not_a_number", R"(targets:
  - name: web
    type: http
    url: "https://web/"
    expect: {tls_min_days: two weeks}
)",
     "probe.yaml:5:28: targets[0].expect.tls_min_days: \"two weeks\" is not a number of days "
     "(write e.g. 14 or 0.5)"},
    {"expect_tls_min_days_a_duration", R"(targets:
  - name: web
    type: http
    url: "https://web/"
    expect: {tls_min_days: 14d}
)",
     "probe.yaml:5:28: targets[0].expect.tls_min_days: \"14d\" is not a number of days "
     "(write e.g. 14 or 0.5)"},
    {"expect_tls_min_days_not_finite", R"(targets:
  - name: web
    type: http
    url: "https://web/"
    expect: {tls_min_days: .inf}
)",
     "probe.yaml:5:28: targets[0].expect.tls_min_days: \".inf\" is not a number of days "
     "(write e.g. 14 or 0.5)"},
    {"expect_tls_min_days_too_large", R"(targets:
  - name: web
    type: http
    url: "https://web/"
    expect: {tls_min_days: 3651}
)",
     "probe.yaml:5:28: targets[0].expect.tls_min_days: must be at most 3650 days, not 3651"},
    {"expect_tls_min_days_a_list", R"(targets:
  - name: web
    type: http
    url: "https://web/"
    expect: {tls_min_days: [14]}
)",
     "probe.yaml:5:28: targets[0].expect.tls_min_days: must be a string, not a list"},
    {"expect_tls_min_days_on_plain_http", R"(targets:
  - {name: a, type: tcp, address: "h:1"}
  - name: api
    type: http
    url: "http://api:8000/health"
    expect: {status: [200], tls_min_days: 14}
)",
     "probe.yaml:6:43: targets[1].expect.tls_min_days: needs an https:// url; target \"api\" is "
     "checked over plain http://"},

    // tcp
    {"tcp_missing_address", R"(targets:
  - name: a
    type: tcp
)",
     "probe.yaml:2:5: targets[0]: missing required field \"address\""},
    {"tcp_address_without_port", R"(targets:
  - name: a
    type: tcp
    address: cache
)",
     "probe.yaml:4:14: targets[0].address: \"cache\" is not host:port"},
    {"tcp_address_empty_port", R"(targets:
  - name: a
    type: tcp
    address: "cache:"
)",
     "probe.yaml:4:14: targets[0].address: \"cache:\" has no valid port (1-65535)"},
    {"tcp_address_port_too_big", R"(targets:
  - name: a
    type: tcp
    address: "cache:70000"
)",
     "probe.yaml:4:14: targets[0].address: \"cache:70000\" has no valid port (1-65535)"},
    {"tcp_address_port_zero", R"(targets:
  - name: a
    type: tcp
    address: "cache:0"
)",
     "probe.yaml:4:14: targets[0].address: \"cache:0\" has no valid port (1-65535)"},
    {"tcp_address_unbracketed_ipv6", R"(targets:
  - name: a
    type: tcp
    address: "::1:6379"
)",
     "probe.yaml:4:14: targets[0].address: \"::1:6379\" is not host:port"},

    // postgres: the DSN is a secret, so none of these may show the password
    {"postgres_missing_dsn", R"(targets:
  - name: db
    type: postgres
)",
     "probe.yaml:2:5: targets[0]: missing required field \"dsn\""},
    {"postgres_dsn_without_host", R"(targets:
  - name: db
    type: postgres
    dsn: "dbname=app password=hunter2"
)",
     "probe.yaml:4:10: targets[0].dsn: must name a TCP host (host=... or "
     "postgresql://user@host/db); "
     "a Unix socket reports ready while the image's init scripts still run"},
    {"postgres_dsn_unix_socket_host", R"(targets:
  - name: db
    type: postgres
    dsn: "host=/var/run/postgresql dbname=app password=hunter2"
)",
     "probe.yaml:4:10: targets[0].dsn: must name a TCP host (host=... or "
     "postgresql://user@host/db); "
     "a Unix socket reports ready while the image's init scripts still run"},
    {"postgres_uri_without_host", R"(targets:
  - name: db
    type: postgres
    dsn: "postgresql://app:hunter2@/app"
)",
     "probe.yaml:4:10: targets[0].dsn: must name a TCP host (host=... or "
     "postgresql://user@host/db); "
     "a Unix socket reports ready while the image's init scripts still run"},
    {"postgres_dsn_unterminated_quote", R"(targets:
  - name: db
    type: postgres
    dsn: "host=db password='hunter2"
)",
     "probe.yaml:4:10: targets[0].dsn: is not a libpq connection string (key=value pairs or a "
     "postgresql:// URI): it has an unterminated quoted value"},

    // heartbeat
    {"heartbeat_missing_source", R"(targets:
  - name: bot
    type: heartbeat
    max_age: 90s
)",
     "probe.yaml:2:5: targets[0]: missing required field \"source\""},
    {"heartbeat_unknown_source", R"(targets:
  - name: bot
    type: heartbeat
    source: redis
    max_age: 90s
)",
     "probe.yaml:4:13: targets[0].source: \"redis\" is not postgres, file or push"},
    {"heartbeat_missing_max_age", R"(targets:
  - name: bot
    type: heartbeat
    source: push
)",
     "probe.yaml:2:5: targets[0]: missing required field \"max_age\""},
    {"heartbeat_path_with_postgres_source", R"(targets:
  - name: bot
    type: heartbeat
    source: postgres
    dsn: "host=db password=hunter2"
    query: "SELECT max(seen_at) FROM bot_heartbeats"
    path: /var/lib/bot/beat
    max_age: 90s
)",
     "probe.yaml:7:11: targets[0].path: does not apply to source: postgres"},
    {"heartbeat_dsn_with_push_source", R"(targets:
  - name: bot
    type: heartbeat
    source: push
    dsn: "host=db password=hunter2"
    max_age: 90s
)",
     "probe.yaml:5:10: targets[0].dsn: does not apply to source: push"},
    {"heartbeat_file_source_without_path", R"(targets:
  - name: bot
    type: heartbeat
    source: file
    max_age: 90s
)",
     "probe.yaml:2:5: targets[0]: missing required field \"path\""},
    {"heartbeat_postgres_source_without_query", R"(targets:
  - name: bot
    type: heartbeat
    source: postgres
    dsn: "host=db"
    max_age: 90s
)",
     "probe.yaml:2:5: targets[0]: missing required field \"query\""},

    // environment expansion
    {"env_var_unset_names_the_variable", "deploy:\n  token: \"${PROBE_TOKEN_UNSET}\"\n" + k_target,
     "probe.yaml:2:10: deploy.token: environment variable PROBE_TOKEN_UNSET is not set (use "
     "${PROBE_TOKEN_UNSET:-default} to allow a default)"},
    {"env_reference_unterminated", "deploy:\n  token: \"${PROBE_TOKEN\"\n" + k_target,
     "probe.yaml:2:10: deploy.token: unterminated \"${\" (write $$ for a literal $)"},

    // deploy and rollback
    {"rollback_placeholder_embedded", R"(deploy:
  rollback:
    command: ["deploy/scripts/rollback.sh", "--sha={previous_sha}"]
)" + k_target,
     "probe.yaml:3:45: deploy.rollback.command[1]: placeholders {previous_sha} and {failed_sha} "
     "must stand as a whole argument"},
    {"rollback_command_empty", "deploy:\n  rollback:\n    command: []\n" + k_target,
     "probe.yaml:3:14: deploy.rollback.command: must be a non-empty argv list, e.g. "
     "[\"deploy/scripts/rollback.sh\", \"{previous_sha}\"]"},
    {"rollback_command_shell_string",
     "deploy:\n  rollback:\n    command: \"deploy/scripts/rollback.sh {previous_sha}\"\n" +
         k_target,
     "probe.yaml:3:14: deploy.rollback.command: must be a list, not a scalar"},
    {"deploy_journal_empty", "deploy:\n  journal: \"\"\n" + k_target,
     "probe.yaml:2:12: deploy.journal: must be a file path"},

    // notify
    {"notify_not_a_list", k_target + "notify: {type: slack}\n",
     "probe.yaml:3:9: notify: must be a list of channels, not a mapping"},
    {"notify_unknown_type", k_target + "notify:\n  - {type: email, to: ops}\n",
     "probe.yaml:4:12: notify[0].type: \"email\" is not telegram, slack or webhook"},
    {"notify_missing_type", k_target + "notify:\n  - {url: \"http://x/\"}\n",
     "probe.yaml:4:5: notify[0]: missing required field \"type\""},
    {"notify_key_of_another_type", k_target + R"(notify:
  - {type: telegram, bot_token: x, chat_id: "1", webhook_url: "https://x/"}
)",
     "probe.yaml:4:50: notify[0].webhook_url: unknown key (allowed here: api_url, bot_token, "
     "chat_id, on, optional, type)"},
    {"notify_empty_bot_token",
     k_target + "notify:\n  - {type: telegram, bot_token: \"${EMPTY}\", chat_id: \"1\"}\n",
     "probe.yaml:4:33: notify[0].bot_token: is empty (mark the channel `optional: true` to leave "
     "it out when it is unset)"},
    {"notify_empty_webhook_url", k_target + "notify:\n  - {type: slack, webhook_url: \"\"}\n",
     "probe.yaml:4:32: notify[0].webhook_url: is empty (mark the channel `optional: true` to "
     "leave it out when it is unset)"},
    {"notify_optional_not_a_bool",
     k_target + "notify:\n  - {type: webhook, url: \"https://x/\", optional: maybe}\n",
     "probe.yaml:4:50: notify[0].optional: \"maybe\" is not true or false"},
    {"notify_telegram_missing_bot_token",
     k_target + "notify:\n  - {type: telegram, chat_id: \"1\"}\n",
     "probe.yaml:4:5: notify[0]: missing required field \"bot_token\""},
    {"notify_on_unknown_kind", k_target + R"(notify:
  - {type: slack, webhook_url: "https://x/", on: [deploy_failed, deploy_exploded]}
)",
     "probe.yaml:4:66: notify[0].on[1]: \"deploy_exploded\" is not an event kind (deploy_started, "
     "deploy_succeeded, deploy_failed, rollback_started, rollback_succeeded, rollback_failed)"},
    {"notify_on_not_a_list", k_target + R"(notify:
  - {type: slack, webhook_url: "https://x/", on: deploy_failed}
)",
     "probe.yaml:4:50: notify[0].on: must be a list, not a scalar"},

    // listen
    {"listen_port_only", "listen: \"9464\"\n" + k_target,
     "probe.yaml:1:9: listen: \"9464\" is not host:port"},
    {"listen_without_host", "listen: \":9464\"\n" + k_target,
     "probe.yaml:1:9: listen: \":9464\" has no valid host"},
    {"listen_bad_port", "listen: \"0.0.0.0:abc\"\n" + k_target,
     "probe.yaml:1:9: listen: \"0.0.0.0:abc\" has no valid port (0-65535)"},
    {"listen_port_too_big", "listen: \"localhost:65536\"\n" + k_target,
     "probe.yaml:1:9: listen: \"localhost:65536\" has no valid port (0-65535)"},

    // status_page
    {"status_page_not_a_bool", k_target + "status_page: yes\n",
     "probe.yaml:3:14: status_page: \"yes\" is not true or false; must be true, false or a "
     "mapping with enabled and repository_url"},
    {"status_page_a_list", k_target + "status_page: [a]\n",
     "probe.yaml:3:14: status_page: must be true, false or a mapping with enabled and "
     "repository_url, not a list"},
    {"status_page_unknown_key", k_target + "status_page: {enabled: true, repo: x}\n",
     "probe.yaml:3:30: status_page.repo: unknown key (allowed here: enabled, repository_url)"},
    {"status_page_enabled_not_a_bool", k_target + "status_page: {enabled: 1}\n",
     "probe.yaml:3:24: status_page.enabled: \"1\" is not true or false"},
    {"status_page_repository_url_not_http",
     k_target + "status_page: {repository_url: \"git@github.com:org/repo\"}\n",
     "probe.yaml:3:31: status_page.repository_url: \"git@github.com:org/repo\" is not an http:// "
     "or https:// URL"},
    {"status_page_repository_url_javascript",
     k_target + "status_page: {repository_url: \"javascript:alert(1)//\"}\n",
     "probe.yaml:3:31: status_page.repository_url: \"javascript:alert(1)//\" is not an http:// "
     "or https:// URL"},
    {"status_page_repository_url_with_a_quote",
     k_target + "status_page: {repository_url: \"https://x/a\\\"onmouseover=b\"}\n",
     "probe.yaml:3:31: status_page.repository_url: a space, quote, non-ASCII or one of "
     "<>\\`{}|^?# is not allowed; write the repository's web address, e.g. "
     "https://github.com/org/repo"},
    {"status_page_repository_url_with_a_space",
     k_target + "status_page: {repository_url: \"https://x/a b\"}\n",
     "probe.yaml:3:31: status_page.repository_url: a space, quote, non-ASCII or one of "
     "<>\\`{}|^?# is not allowed; write the repository's web address, e.g. "
     "https://github.com/org/repo"},
    {"status_page_repository_url_with_credentials",
     k_target + "status_page: {repository_url: \"https://u:pw@github.com/org/repo\"}\n",
     "probe.yaml:3:31: status_page.repository_url: URL credentials (user:password@) are not "
     "supported here"},
};

INSTANTIATE_TEST_SUITE_P(Loader, MalformedConfig, ::testing::ValuesIn(k_bad_configs),
                         [](const ::testing::TestParamInfo<BadConfig>& param_info) {
                           return std::string(param_info.param.name);
                         });

// --- status_page --------------------------------------------------------------------------------

TEST(ConfigLoaderStatusPage, IsOnByDefaultWithNoRepository) {
  const Config config = load(k_target);
  EXPECT_TRUE(config.status_page.enabled);
  EXPECT_EQ(config.status_page.repository_url, "");
}

TEST(ConfigLoaderStatusPage, FalseTurnsItOff) {
  EXPECT_FALSE(load(k_target + "status_page: false\n").status_page.enabled);
  EXPECT_TRUE(load(k_target + "status_page: true\n").status_page.enabled);
}

TEST(ConfigLoaderStatusPage, TheMappingFormTakesARepositoryUrlWithoutItsTrailingSlash) {
  const Config config =
      load(k_target +
           "status_page: {enabled: true, repository_url: \"https://github.com/org/repo/\"}\n");
  EXPECT_TRUE(config.status_page.enabled);
  EXPECT_EQ(config.status_page.repository_url, "https://github.com/org/repo");
  EXPECT_FALSE(load(k_target + "status_page: {enabled: false}\n").status_page.enabled);
}

TEST(ConfigLoaderStatusPage, TheRepositoryUrlMayComeFromTheEnvironment) {
  const Config config = load(k_target + "status_page: {repository_url: \"${REPO_URL}\"}\n",
                             fake_env({{"REPO_URL", "http://git.example/org/app"}}));
  EXPECT_EQ(config.status_page.repository_url, "http://git.example/org/app");
}

// --- malformed configs the loader gets wrong today (see the report) -----------------------------

// The defaults block says where the timeout is; the message must point there, as it does for a
// target, not at the start of the `defaults` mapping.
TEST(ConfigLoaderErrors, DefaultsTimeoutExceedingIntervalPointsAtTheTimeoutKey) {
  EXPECT_EQ(load_error("defaults:\n  interval: 5s\n  timeout: 6s\n" + k_target),
            "probe.yaml:3:12: defaults.timeout: timeout 6s exceeds interval 5s");
}

// YAML forbids duplicate keys and the loader promises to reject them; a repeated JSON pointer
// silently adds a second expectation that can never hold together with the first.
TEST(ConfigLoaderErrors, DuplicateJsonPointerInExpectIsRejected) {
  EXPECT_EQ(load_error(R"(targets:
  - name: a
    type: http
    url: "http://api/"
    expect: {json: {"/a": 1, "/a": 2}}
)"),
            "probe.yaml:5:30: targets[0].expect.json./a: duplicate key");
}

TEST(ConfigLoaderErrors, DuplicateHeaderKeyIsRejected) {
  EXPECT_EQ(load_error(R"(targets:
  - name: a
    type: http
    url: "http://api/"
    headers: {X-A: "1", X-A: "2"}
)"),
            "probe.yaml:5:25: targets[0].headers.X-A: duplicate key");
}

// An invalid ${...} reference must not echo its `:-default` part: the default of a token or a
// DSN is as secret as the variable's value.
TEST(ConfigLoaderErrors, InvalidEnvReferenceDoesNotEchoItsDefault) {
  const std::string message = load_error("deploy:\n  token: \"${1TOKEN:-hunter2}\"\n" + k_target);
  EXPECT_EQ(message.rfind("probe.yaml:2:10: deploy.token: ", 0), 0U) << message;
  EXPECT_EQ(message.find(k_password), std::string::npos) << message;
}

// libpq's parse errors quote pieces of the DSN, so the loader cuts them at the first quote —
// which leaves "missing " or "invalid connection option " dangling. The reason must still be
// a complete statement (and still without the password).
TEST(ConfigLoaderErrors, UnparseableDsnReasonIsNotCutMidSentence) {
  for (const std::string dsn :
       {"host=db password=hunter2 bogus", "host=db password=hunter2 foo=bar",
        "postgresql://app:hunter2@db/app?bogus=1"}) {
    const std::string message = load_error(R"(targets:
  - name: db
    type: postgres
    dsn: ")" + dsn + "\"\n");
    const std::string prefix = "probe.yaml:4:10: targets[0].dsn: is not a libpq connection string "
                               "(key=value pairs or a postgresql:// URI): ";
    EXPECT_EQ(message.rfind(prefix, 0), 0U) << message;
    EXPECT_EQ(message.find(k_password), std::string::npos) << message;
    ASSERT_FALSE(message.empty());
    EXPECT_NE(message.back(), ' ') << "reason cut short: " << message;
  }
}

// --- secrets never reach a message ------------------------------------------------------------

TEST(ConfigLoaderSecrets, DsnPasswordNeverAppearsInAnyDsnError) {
  const std::vector<std::string> dsns{
      "dbname=app password=hunter2",
      "host=/tmp password=hunter2",
      "host=db password='hunter2",
      "host=db password=hunter2 bogus",
      "host=db password=hunter2 nosuchoption=1",
      "postgresql://app:hunter2@/app",
      "postgresql://app:hunter2@db/app?nosuchparam=1",
      "postgresql://app:hunter2@[::1/app",
      "postgresql://app:hunter2@db/app?password=hunter2&host=/tmp",
  };
  for (const std::string& dsn : dsns) {
    for (const std::string& yaml :
         {"targets:\n  - {name: db, type: postgres, dsn: \"" + dsn + "\"}\n",
          "targets:\n  - {name: bot, type: heartbeat, source: postgres, query: \"SELECT 1\", "
          "max_age: 9s, dsn: \"" +
              dsn + "\"}\n",
          "deploy: {dsn: \"" + dsn + "\"}\n" + k_target}) {
      // The event store may use a Unix socket, so some of these load there; when they do not,
      // the message must not carry the password.
      std::string message;
      try {
        load(yaml);
      } catch (const Error& e) {
        message = e.what();
      }
      if (yaml.rfind("deploy:", 0) != 0) {
        EXPECT_FALSE(message.empty()) << "accepted: " << yaml;
      }
      EXPECT_EQ(message.find(k_password), std::string::npos) << message;
    }
  }
}

TEST(ConfigLoaderExample, DeployDsnMayUseAUnixSocket) {
  const Config config = load("deploy: {dsn: \"host=/var/run/postgresql dbname=app\"}\n" + k_target);
  EXPECT_EQ(config.deploy.dsn.reveal(), "host=/var/run/postgresql dbname=app");
}

// The apps' DATABASE_URL is SQLAlchemy's (postgresql+asyncpg://, postgresql+psycopg2://): probe
// takes the same variable, in every field that holds a DSN.
TEST(ConfigLoaderDsn, SqlAlchemyUrlsAreReadAsTheLibpqUriTheyName) {
  const Config config =
      load(R"yaml(targets:
  - {name: db, type: postgres, dsn: "${DATABASE_URL}"}
  - {name: bot, type: heartbeat, source: postgres, dsn: "${DATABASE_URL}", query: "SELECT now()", max_age: 90s}
deploy: {dsn: "${DATABASE_URL}"}
)yaml",
           fake_env({{"DATABASE_URL",
                      "postgresql+asyncpg://app:hunter2@db:5432/homeguru?ssl=require"}}));
  const std::string libpq = "postgresql://app:hunter2@db:5432/homeguru?sslmode=require";
  EXPECT_EQ(std::get<config::PostgresTarget>(config.targets[0].spec).dsn.reveal(), libpq);
  EXPECT_EQ(std::get<config::HeartbeatTarget>(config.targets[1].spec).dsn.reveal(), libpq);
  EXPECT_EQ(config.deploy.dsn.reveal(), libpq);
}

TEST(ConfigLoaderDsn, AnUnparseableSqlAlchemyUrlNamesTheDriverButNotThePassword) {
  const std::string message =
      load_error("targets:\n  - {name: db, type: postgres, dsn: \"${DB}\"}\n",
                 fake_env({{"DB", "postgresql+psycopg2://app:hunter2@db/h?nosuch=1"}}));
  EXPECT_EQ(message, "probe.yaml:2:37: targets[0].dsn: is not a libpq connection string (key=value "
                     "pairs or a postgresql:// URI), once its SQLAlchemy driver (+psycopg2) is "
                     "dropped: it has an unknown URI query parameter");
}

TEST(ConfigLoaderSecrets, DsnFromEnvironmentIsNotShownWhenItHasNoHost) {
  const std::string message =
      load_error("targets:\n  - {name: db, type: postgres, dsn: \"${DB}\"}\n",
                 fake_env({{"DB", "dbname=app password=hunter2"}}));
  EXPECT_EQ(message, "probe.yaml:2:37: targets[0].dsn: must name a TCP host (host=... or "
                     "postgresql://user@host/db); a Unix socket reports ready while the image's "
                     "init scripts still run");
}

TEST(ConfigLoaderSecrets, HeaderValueIsNotShownWhenItHasALineBreak) {
  const std::string message = load_error(R"(targets:
  - name: a
    type: http
    url: "http://api/"
    headers: {Authorization: "${AUTH}"}
)",
                                         fake_env({{"AUTH", "Bearer hunter2\r\nX-Evil: 1"}}));
  EXPECT_EQ(message,
            "probe.yaml:5:30: targets[0].headers.Authorization: header values may not contain line "
            "breaks");
}

// --- environment expansion in context --------------------------------------------------------

TEST(ConfigLoaderEnv, DefaultIsUsedWhenVariableIsUnset) {
  const Config config = load("deploy: {journal: \"${JOURNAL:-/tmp/j.jsonl}\"}\n" + k_target);
  EXPECT_EQ(config.deploy.journal, "/tmp/j.jsonl");
}

TEST(ConfigLoaderEnv, DefaultIsUsedWhenVariableIsSetButEmpty) {
  const Config config = load("deploy: {journal: \"${EMPTY:-/tmp/j.jsonl}\"}\n" + k_target);
  EXPECT_EQ(config.deploy.journal, "/tmp/j.jsonl");
}

TEST(ConfigLoaderEnv, SetButEmptyWithoutDefaultExpandsToEmpty) {
  const Config config = load("deploy: {token: \"${EMPTY}\"}\n" + k_target);
  EXPECT_TRUE(config.deploy.token.empty());
}

TEST(ConfigLoaderEnv, SetButEmptyValueIsThenValidatedLikeAnyOther) {
  EXPECT_EQ(load_error("deploy: {journal: \"${EMPTY}\"}\n" + k_target),
            "probe.yaml:1:19: deploy.journal: must be a file path");
}

TEST(ConfigLoaderEnv, EmptyDefaultIsAllowed) {
  const Config config = load("deploy: {token: \"${PROBE_TOKEN_UNSET:-}\"}\n" + k_target);
  EXPECT_TRUE(config.deploy.token.empty());
}

TEST(ConfigLoaderEnv, DoubleDollarIsALiteralDollar) {
  const Config config = load(R"(targets:
  - name: a
    type: http
    url: "http://api/"
    method: POST
    body: "$${NOT_A_VAR} costs $$5"
)");
  const auto& http = std::get<HttpTarget>(config.targets[0].spec);
  EXPECT_EQ(http.body, "${NOT_A_VAR} costs $5");
}

TEST(ConfigLoaderEnv, ExpansionCannotInjectYamlStructure) {
  const Config config = load(R"(targets:
  - name: a
    type: http
    url: "http://api/"
    body: "${BODY}"
)",
                             fake_env({{"BODY", "x\n  - name: injected\n    type: tcp"}}));
  ASSERT_EQ(config.targets.size(), 1U);
  EXPECT_EQ(std::get<HttpTarget>(config.targets[0].spec).body,
            "x\n  - name: injected\n    type: tcp");
}

// --- a good config comes out as the structs the rest of probe reads ----------------------------

const std::string k_spec_example = R"(listen: "0.0.0.0:9464"
defaults: {interval: 10s, timeout: 2s, success_threshold: 1, failure_threshold: 3}
targets:
  - name: db
    type: postgres
    dsn: "${DATABASE_URL}"
  - name: api
    type: http
    url: "http://api:8000/health"
    interval: 5s
    timeout: 1s
    failure_threshold: 2
    expect: {status: [200], body_contains: "ok", json: {"/status": "ok", "/ready": true, "/workers": 3, "/version": "3", "/ratio": 0.5}, max_latency: 500ms}
  - name: frontend
    type: http
    url: "http://frontend:3000/"
  - name: bot
    type: heartbeat
    source: postgres
    dsn: "${DATABASE_URL}"
    query: "SELECT max(seen_at) FROM bot_heartbeats"
    max_age: 90s
  - name: cache
    type: tcp
    address: "cache:6379"
    critical: false
gate: {timeout: 120s, consecutive_successes: 3, poll_interval: 250ms}
deploy:
  dsn: "${DATABASE_URL}"
  journal: /var/lib/probe/journal.jsonl
  token: "${PROBE_TOKEN}"
  rollback:
    command: ["deploy/scripts/rollback.sh", "{previous_sha}"]
    timeout: 300s
notify:
  - {type: telegram, bot_token: "${TELEGRAM_BOT_TOKEN}", chat_id: "${TELEGRAM_CHAT_ID}", on: [deploy_failed, rollback_succeeded, rollback_failed]}
  - {type: slack, webhook_url: "${SLACK_WEBHOOK_URL}"}
  - {type: webhook, url: "http://example/hook"}
)";

TEST(ConfigLoaderExample, SpecExampleParsesToExpectedStructs) {
  const Config config = load(k_spec_example);
  EXPECT_EQ(config.path, "probe.yaml");
  EXPECT_EQ(config.listen, "0.0.0.0:9464");
  EXPECT_EQ(config.defaults.interval, Duration(10'000));
  EXPECT_EQ(config.defaults.timeout, Duration(2'000));
  EXPECT_EQ(config.defaults.success_threshold, 1);
  EXPECT_EQ(config.defaults.failure_threshold, 3);
  ASSERT_EQ(config.targets.size(), 5U);

  const Target& db = config.targets[0];
  EXPECT_EQ(db.name, "db");
  EXPECT_EQ(db.type, TargetType::postgres);
  EXPECT_TRUE(db.critical);
  const auto& postgres = std::get<PostgresTarget>(db.spec);
  EXPECT_EQ(postgres.dsn.reveal(), "postgresql://app:hunter2@db:5432/app");
  EXPECT_EQ(postgres.query, "SELECT 1");

  const Target& bot = config.targets[3];
  EXPECT_EQ(bot.type, TargetType::heartbeat);
  const auto& heartbeat = std::get<HeartbeatTarget>(bot.spec);
  EXPECT_EQ(heartbeat.source, HeartbeatSource::postgres);
  EXPECT_EQ(heartbeat.dsn.reveal(), "postgresql://app:hunter2@db:5432/app");
  EXPECT_EQ(heartbeat.query, "SELECT max(seen_at) FROM bot_heartbeats");
  EXPECT_EQ(heartbeat.max_age, Duration(90'000));

  const Target& cache = config.targets[4];
  EXPECT_EQ(cache.type, TargetType::tcp);
  EXPECT_FALSE(cache.critical);
  const auto& tcp = std::get<TcpTarget>(cache.spec);
  EXPECT_EQ(tcp.host, "cache");
  EXPECT_EQ(tcp.port, 6379);

  EXPECT_EQ(config.gate.timeout, Duration(120'000));
  EXPECT_EQ(config.gate.consecutive_successes, 3);
  EXPECT_EQ(config.gate.poll_interval, Duration(250));

  EXPECT_EQ(config.deploy.dsn.reveal(), "postgresql://app:hunter2@db:5432/app");
  EXPECT_EQ(config.deploy.journal, "/var/lib/probe/journal.jsonl");
  EXPECT_EQ(config.deploy.token.reveal(), "tok-123");
  EXPECT_EQ(config.deploy.rollback.command,
            (std::vector<std::string>{"deploy/scripts/rollback.sh", "{previous_sha}"}));
  EXPECT_EQ(config.deploy.rollback.timeout, Duration(300'000));

  ASSERT_EQ(config.notify.size(), 3U);
  EXPECT_EQ(config.notify[0].type, NotifyType::telegram);
  EXPECT_EQ(config.notify[0].bot_token.reveal(), "123:abc");
  EXPECT_EQ(config.notify[0].chat_id, "-1001");
  EXPECT_EQ(config.notify[0].api_url, "https://api.telegram.org");
  EXPECT_EQ(config.notify[0].on,
            (std::vector<std::string>{"deploy_failed", "rollback_succeeded", "rollback_failed"}));
  EXPECT_EQ(config.notify[1].type, NotifyType::slack);
  EXPECT_EQ(config.notify[1].url.reveal(), "https://hooks.slack.com/services/T/B/X");
  EXPECT_TRUE(config.notify[1].on.empty());
  EXPECT_EQ(config.notify[2].type, NotifyType::webhook);
  EXPECT_EQ(config.notify[2].url.reveal(), "http://example/hook");
}

TEST(ConfigLoaderExample, TargetsInheritDefaultsUnlessTheyOverride) {
  const Config config = load(k_spec_example);
  const Target& api = config.targets[1];
  EXPECT_EQ(api.interval, Duration(5'000));
  EXPECT_EQ(api.timeout, Duration(1'000));
  EXPECT_EQ(api.success_threshold, 1);
  EXPECT_EQ(api.failure_threshold, 2);
  const Target& frontend = config.targets[2];
  EXPECT_EQ(frontend.interval, Duration(10'000));
  EXPECT_EQ(frontend.timeout, Duration(2'000));
  EXPECT_EQ(frontend.success_threshold, 1);
  EXPECT_EQ(frontend.failure_threshold, 3);
}

TEST(ConfigLoaderExample, HttpTargetCarriesUrlAndExpectations) {
  const Config config = load(k_spec_example);
  const auto& api = std::get<HttpTarget>(config.targets[1].spec);
  EXPECT_EQ(api.url, "http://api:8000/health");
  EXPECT_EQ(api.method, "GET");
  EXPECT_FALSE(api.follow_redirects);
  EXPECT_FALSE(api.insecure_skip_verify);
  EXPECT_EQ(api.expect.status, std::vector<int>{200});
  EXPECT_EQ(api.expect.body_contains, "ok");
  EXPECT_EQ(api.expect.max_latency, Duration(500));
  const auto& frontend = std::get<HttpTarget>(config.targets[2].spec);
  EXPECT_TRUE(frontend.expect.status.empty()); // any 2xx
  EXPECT_FALSE(frontend.expect.body_contains.has_value());
  EXPECT_FALSE(frontend.expect.max_latency.has_value());
}

// A plain YAML scalar keeps its JSON type; a quoted one is always a string.
TEST(ConfigLoaderExample, JsonExpectationsKeepTheirYamlTypes) {
  const Config config = load(k_spec_example);
  const auto& json = std::get<HttpTarget>(config.targets[1].spec).expect.json;
  ASSERT_EQ(json.size(), 5U);
  EXPECT_EQ(json[0].first, "/status");
  EXPECT_EQ(json[0].second, nlohmann::json("ok"));
  EXPECT_EQ(json[1].first, "/ready");
  EXPECT_TRUE(json[1].second.is_boolean());
  EXPECT_EQ(json[1].second, nlohmann::json(true));
  EXPECT_EQ(json[2].first, "/workers");
  EXPECT_TRUE(json[2].second.is_number_integer());
  EXPECT_EQ(json[2].second, nlohmann::json(3));
  EXPECT_EQ(json[3].first, "/version");
  EXPECT_TRUE(json[3].second.is_string());
  EXPECT_EQ(json[3].second, nlohmann::json("3"));
  EXPECT_EQ(json[4].first, "/ratio");
  EXPECT_TRUE(json[4].second.is_number_float());
  EXPECT_DOUBLE_EQ(json[4].second.get<double>(), 0.5);
}

TEST(ConfigLoaderExample, QuotedTrueIsAStringAndUnquotedWordIsAString) {
  const Config config = load(R"(targets:
  - name: a
    type: http
    url: "http://api/"
    expect: {json: {"/a": "true", "/b": 'false', "/c": degraded}}
)");
  const auto& json = std::get<HttpTarget>(config.targets[0].spec).expect.json;
  ASSERT_EQ(json.size(), 3U);
  EXPECT_EQ(json[0].second, nlohmann::json("true"));
  EXPECT_EQ(json[1].second, nlohmann::json("false"));
  EXPECT_EQ(json[2].second, nlohmann::json("degraded"));
}

// The loader's own comment promises `null` keeps its JSON type like `true` and `3`; today a
// YAML null is rejected as "not a scalar" (see the report).
TEST(ConfigLoaderExample, JsonExpectationNullIsJsonNull) {
  try {
    const Config config = load(R"(targets:
  - name: a
    type: http
    url: "http://api/"
    expect: {json: {"/error": null}}
)");
    const auto& json = std::get<HttpTarget>(config.targets[0].spec).expect.json;
    ASSERT_EQ(json.size(), 1U);
    EXPECT_TRUE(json[0].second.is_null());
  } catch (const Error& e) {
    FAIL() << e.what();
  }
}

TEST(ConfigLoaderExample, MinimalConfigGetsAllDefaults) {
  const Config config = load("targets:\n  - {name: web, type: http, url: \"https://web\"}\n");
  EXPECT_EQ(config.listen, "0.0.0.0:9464");
  EXPECT_EQ(config.gate.timeout, Duration(120'000));
  EXPECT_EQ(config.gate.consecutive_successes, 3);
  EXPECT_EQ(config.gate.poll_interval, Duration(250));
  EXPECT_EQ(config.deploy.journal, "/var/lib/probe/journal.jsonl");
  EXPECT_TRUE(config.deploy.dsn.empty());
  EXPECT_TRUE(config.deploy.token.empty());
  EXPECT_TRUE(config.deploy.rollback.command.empty());
  EXPECT_EQ(config.deploy.rollback.timeout, Duration(300'000));
  EXPECT_TRUE(config.notify.empty());
  ASSERT_EQ(config.targets.size(), 1U);
  const Target& web = config.targets[0];
  EXPECT_TRUE(web.critical);
  EXPECT_EQ(web.interval, Duration(10'000));
  EXPECT_EQ(web.timeout, Duration(2'000));
  EXPECT_EQ(web.success_threshold, 1);
  EXPECT_EQ(web.failure_threshold, 3);
}

// One config for servers with and without a channel's secrets: an optional channel whose
// credential is empty is left out and noted; with its credentials it is kept like any other.
TEST(ConfigLoaderExample, OptionalChannelWithAnEmptyCredentialIsLeftOutAndNoted) {
  const Config config = load(k_target + R"(notify:
  - {type: telegram, bot_token: "${TELEGRAM_BOT_TOKEN}", chat_id: "${UNSET_CHAT:-}", optional: true}
  - {type: slack, webhook_url: "${SLACK_WEBHOOK_URL}", optional: true}
  - {type: webhook, url: "${UNSET_HOOK:-}", optional: true}
)");
  ASSERT_EQ(config.notify.size(), 1U);
  EXPECT_EQ(config.notify[0].type, NotifyType::slack);
  EXPECT_EQ(config.notes, (std::vector<std::string>{
                              "notify[0]: telegram left out: optional, and its chat_id is empty",
                              "notify[2]: webhook left out: optional, and its url is empty"}));
}

// Port 0 asks the kernel for a free port: fine for listening, never for a target.
TEST(ConfigLoaderExample, ListenAcceptsPortZero) {
  EXPECT_EQ(load("listen: \"127.0.0.1:0\"\n" + k_target).listen, "127.0.0.1:0");
}

TEST(ConfigLoaderExample, TargetsInheritChangedDefaults) {
  const Config config =
      load(R"(defaults: {interval: 30s, timeout: 5s, success_threshold: 2, failure_threshold: 5}
targets:
  - {name: a, type: tcp, address: "h:1"}
)");
  const Target& target = config.targets[0];
  EXPECT_EQ(target.interval, Duration(30'000));
  EXPECT_EQ(target.timeout, Duration(5'000));
  EXPECT_EQ(target.success_threshold, 2);
  EXPECT_EQ(target.failure_threshold, 5);
}

TEST(ConfigLoaderExample, TimeoutEqualToIntervalIsAllowed) {
  const Config config =
      load("targets:\n  - {name: a, type: tcp, address: \"h:1\", interval: 2s, timeout: 2s}\n");
  EXPECT_EQ(config.targets[0].timeout, config.targets[0].interval);
}

TEST(ConfigLoaderExample, HeartbeatFileAndPushSources) {
  const Config config = load(R"(targets:
  - {name: beat-file, type: heartbeat, source: file, path: /var/lib/bot/beat, max_age: 2m}
  - {name: beat_push, type: heartbeat, source: push, max_age: 1m30s}
)");
  const auto& file = std::get<HeartbeatTarget>(config.targets[0].spec);
  EXPECT_EQ(file.source, HeartbeatSource::file);
  EXPECT_EQ(file.path, "/var/lib/bot/beat");
  EXPECT_EQ(file.max_age, Duration(120'000));
  const auto& push = std::get<HeartbeatTarget>(config.targets[1].spec);
  EXPECT_EQ(push.source, HeartbeatSource::push);
  EXPECT_EQ(push.max_age, Duration(90'000));
}

TEST(ConfigLoaderExample, HttpOptionsAndIpv6Addresses) {
  const Config config = load(R"(listen: "[::]:9464"
targets:
  - name: api
    type: http
    url: "https://[::1]:8443/health?full=1"
    method: POST
    body: '{"ping": true}'
    headers: {Authorization: "Bearer ${PROBE_TOKEN}", X-Probe: "1"}
    follow_redirects: true
    insecure_skip_verify: true
  - {name: cache, type: tcp, address: "[fd00::5]:6379"}
  - {name: db, type: postgres, dsn: "hostaddr=10.0.0.5 user=app", query: "SELECT 2"}
)");
  EXPECT_EQ(config.listen, "[::]:9464");
  const auto& api = std::get<HttpTarget>(config.targets[0].spec);
  EXPECT_EQ(api.method, "POST");
  EXPECT_EQ(api.body, "{\"ping\": true}");
  EXPECT_EQ(api.headers, (std::vector<std::pair<std::string, std::string>>{
                             {"Authorization", "Bearer tok-123"}, {"X-Probe", "1"}}));
  EXPECT_TRUE(api.follow_redirects);
  EXPECT_TRUE(api.insecure_skip_verify);
  const auto& cache = std::get<TcpTarget>(config.targets[1].spec);
  EXPECT_EQ(cache.host, "fd00::5");
  EXPECT_EQ(cache.port, 6379);
  EXPECT_EQ(std::get<PostgresTarget>(config.targets[2].spec).query, "SELECT 2");
}

TEST(ConfigLoaderExample, TlsMinDaysTakesWholeAndFractionalDaysOnHttps) {
  const Config config = load(R"(targets:
  - {name: a, type: http, url: "https://a/", expect: {tls_min_days: 14}}
  - {name: b, type: http, url: "https://b/", expect: {tls_min_days: 0.5}}
  - {name: c, type: http, url: "https://c/", expect: {tls_min_days: "0"}}
  - {name: d, type: http, url: "https://d/", expect: {tls_min_days: 3650}}
  - {name: e, type: http, url: "https://e/"}
)");
  const auto min_days = [&](std::size_t i) {
    return std::get<HttpTarget>(config.targets[i].spec).expect.tls_min_days;
  };
  EXPECT_EQ(min_days(0), 14.0);
  EXPECT_EQ(min_days(1), 0.5);
  EXPECT_EQ(min_days(2), 0.0);
  EXPECT_EQ(min_days(3), 3650.0);
  EXPECT_FALSE(min_days(4).has_value()); // unset: not judged
}

TEST(ConfigLoaderErrors, TlsMinDaysOnAUrlFromTheEnvironmentIsJudgedByItsValue) {
  const EnvLookup env = fake_env({{"WEB_URL", "http://web/"}});
  const std::string yaml = R"(targets:
  - {name: web, type: http, url: "${WEB_URL}", expect: {tls_min_days: 7}}
)";
  EXPECT_EQ(load_error(yaml, env),
            "probe.yaml:2:71: targets[0].expect.tls_min_days: needs an https:// url; target "
            "\"web\" is checked over plain http://");
  EXPECT_NO_THROW(load(yaml, fake_env({{"WEB_URL", "https://web/"}})));
}

TEST(ConfigLoaderExample, RollbackFailedShaPlaceholderIsAllowed) {
  const Config config = load(R"(deploy:
  rollback:
    command: [deploy/scripts/rollback.sh, "{previous_sha}", "{failed_sha}"]
    timeout: 5m
)" + k_target);
  EXPECT_EQ(
      config.deploy.rollback.command,
      (std::vector<std::string>{"deploy/scripts/rollback.sh", "{previous_sha}", "{failed_sha}"}));
  EXPECT_EQ(config.deploy.rollback.timeout, Duration(300'000));
}

TEST(ConfigLoaderFile, MissingFileNamesThePath) {
  const std::string path = "/nonexistent/dir/probe.yaml";
  try {
    load_config_file(path, stack_env());
    FAIL() << "loaded a missing file";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), path + ": cannot read config: No such file or directory");
    EXPECT_EQ(e.exit_code(), 2);
  }
}

// --- resolve_config_path: flag > $PROBE_CONFIG > ./probe.yaml > /etc/probe/probe.yaml ---------

// Runs each test in a fresh empty directory and restores the working directory afterwards.
class ResolveConfigPath : public ::testing::Test {
protected:
  void SetUp() override {
    m_old_cwd = std::filesystem::current_path();
    std::string pattern =
        (std::filesystem::temp_directory_path() / "probe-resolve-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    m_dir = pattern;
    std::filesystem::current_path(m_dir);
  }

  void TearDown() override {
    std::filesystem::current_path(m_old_cwd);
    std::error_code ignored;
    std::filesystem::remove_all(m_dir, ignored);
  }

  static void touch_probe_yaml() { std::ofstream("probe.yaml") << "targets: []\n"; }

  std::filesystem::path m_old_cwd;
  std::filesystem::path m_dir;
};

TEST_F(ResolveConfigPath, FlagWinsOverEverything) {
  touch_probe_yaml();
  EXPECT_EQ(resolve_config_path("/x/flag.yaml", fake_env({{"PROBE_CONFIG", "/x/env.yaml"}})),
            "/x/flag.yaml");
}

TEST_F(ResolveConfigPath, EnvironmentWinsOverWorkingDirectory) {
  touch_probe_yaml();
  EXPECT_EQ(resolve_config_path(std::nullopt, fake_env({{"PROBE_CONFIG", "/x/env.yaml"}})),
            "/x/env.yaml");
}

TEST_F(ResolveConfigPath, WorkingDirectoryFileWinsOverEtc) {
  touch_probe_yaml();
  EXPECT_EQ(resolve_config_path(std::nullopt, fake_env({})), "probe.yaml");
}

TEST_F(ResolveConfigPath, EmptyProbeConfigIsIgnored) {
  touch_probe_yaml();
  EXPECT_EQ(resolve_config_path(std::nullopt, fake_env({{"PROBE_CONFIG", ""}})), "probe.yaml");
}

TEST_F(ResolveConfigPath, FallsBackToEtcWhenNothingElse) {
  EXPECT_EQ(resolve_config_path(std::nullopt, fake_env({})), "/etc/probe/probe.yaml");
}

// --- hostile files (issue 12, items 6 and 7) --------------------------------------------------

// A private directory for files of every kind; removed with everything in it.
class HostileFile : public ::testing::Test {
protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "probe-hostile-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    m_dir = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(m_dir, ignored);
  }
  std::string path(const std::string& name) const { return (m_dir / name).string(); }
  std::string write(const std::string& name, const std::string& text, mode_t mode = 0600) const {
    const std::string file = path(name);
    std::ofstream(file, std::ios::binary) << text;
    ::chmod(file.c_str(), mode);
    return file;
  }
  // The message loading `file` fails with; records a failure when it loads.
  static std::string file_error(const std::string& file) {
    try {
      load_config_file(file, stack_env());
    } catch (const Error& e) {
      EXPECT_EQ(e.exit_code(), 2);
      return e.what();
    }
    ADD_FAILURE() << file << " loaded";
    return "";
  }

  std::filesystem::path m_dir;
};

// Today: "DIR: the config must be a mapping with a "targets" list, not empty".
TEST_F(HostileFile, DirectoryIsRefusedAsNotARegularFile) {
  EXPECT_EQ(file_error(m_dir.string()),
            m_dir.string() + ": cannot read config: it is a directory, not a regular file");
}

// Today opening a FIFO waits for a writer forever (and a reload holds the config lock meanwhile).
TEST_F(HostileFile, FifoIsRefusedWithoutWaitingForAWriter) {
  const std::string fifo = path("probe.yaml");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(file_error(fifo), fifo + ": cannot read config: it is a FIFO, not a regular file");
}

// Today a symlink to /dev/zero reads until the 4 MiB check, 2 GB in all.
TEST_F(HostileFile, SymlinkToADeviceIsRefusedByWhatItPointsAt) {
  const std::string link = path("probe.yaml");
  std::filesystem::create_symlink("/dev/zero", link);
  EXPECT_EQ(file_error(link),
            link + ": cannot read config: it is a character device, not a regular file");
}

TEST_F(HostileFile, SymlinkToARegularFileIsFollowed) {
  const std::string target = write("real.yaml", k_target);
  const std::string link = path("probe.yaml");
  std::filesystem::create_symlink(target, link);
  EXPECT_EQ(load_config_file(link, stack_env()).targets.size(), 1U);
}

TEST_F(HostileFile, FileOverOneMiBIsRefusedBySizeBeforeReading) {
  const std::string text = k_target + "#" + std::string(1024 * 1024, 'x');
  const std::string big = write("probe.yaml", text);
  EXPECT_EQ(file_error(big),
            big + ": config is larger than 1 MiB (" + std::to_string(text.size()) + " bytes)");
}

TEST_F(HostileFile, FileOfExactlyOneMiBIsRead) {
  const std::string text = k_target + "#";
  const std::string file =
      write("probe.yaml", text + std::string(k_max_config_bytes - text.size(), 'x'));
  EXPECT_EQ(load_config_file(file, stack_env()).targets.size(), 1U);
}

// The issue's alias bomb: a 100 KB anchored string repeated 30,000 times (220 KB of text, a
// 3 GB document). Today `config check` dies of std::bad_alloc and a SIGHUP aborts serve.
std::string flat_alias_bomb(std::size_t string_bytes, std::size_t aliases) {
  std::string yaml = k_target + "deploy:\n  rollback:\n    command: [&a \"" +
                     std::string(string_bytes, 'x') + "\"";
  for (std::size_t i = 0; i < aliases; ++i) {
    yaml += ", *a";
  }
  return yaml + "]\n";
}

TEST(ConfigLoaderBounds, AliasBombIsRefusedBeforeItExpands) {
  const std::string yaml = flat_alias_bomb(100'000, 30'000);
  ASSERT_LT(yaml.size(), 250'000U);
  // The 41st alias crosses 4 MiB: 41 copies of 100,001 bytes plus the anchor itself.
  EXPECT_EQ(load_error(yaml), "probe.yaml:5:100182: YAML aliases expand the config past 4 MiB");
}

// Billion laughs: each level doubles ten times; a few hundred bytes of text.
TEST(ConfigLoaderBounds, NestedAliasBombIsRefused) {
  std::string yaml = k_target + "x-0: &l0 [\"lol\"]\n";
  for (int level = 1; level <= 9; ++level) {
    const std::string prev = "*l" + std::to_string(level - 1);
    yaml += "x-" + std::to_string(level) + ": &l" + std::to_string(level) + " [" + prev;
    for (int i = 1; i < 10; ++i) {
      yaml += ", " + prev;
    }
    yaml += "]\n";
  }
  const std::string message = load_error(yaml);
  EXPECT_NE(message.find(": YAML aliases expand the config past 4 MiB"), std::string::npos)
      << message;
}

TEST(ConfigLoaderBounds, TooManyAliasesAreRefusedEvenWhenSmall) {
  EXPECT_EQ(load_error(flat_alias_bomb(1, 10'001)),
            "probe.yaml:5:40023: more than 10000 YAML aliases (*name)");
}

TEST(ConfigLoaderBounds, AliasesWithinTheBoundsLoad) {
  EXPECT_EQ(load(flat_alias_bomb(10, 1'000)).deploy.rollback.command.size(), 1'001U);
}

TEST(ConfigLoaderBounds, AliasInsideTheNodeItNamesIsACycle) {
  EXPECT_EQ(load_error("targets:\n  - &a {name: a, type: tcp, address: \"h:1\", x: [*a]}\n"),
            "probe.yaml:2:49: an alias inside the node it refers to (a cycle)");
}

// Today the second document is silently ignored.
TEST(ConfigLoaderBounds, SecondDocumentIsRefused) {
  EXPECT_EQ(load_error(k_target + "---\ntargets: []\n"),
            "probe.yaml:3:1: a second YAML document (after \"---\"): a probe config is one "
            "document");
}

TEST(ConfigLoaderBounds, ExplicitDocumentMarkersAroundOneDocumentAreFine) {
  EXPECT_EQ(load("---\n" + k_target + "...\n").targets.size(), 1U);
}

// --- item 7: a file that is not a probe config is never quoted ---------------------------------

// /etc/shadow's lines end in ":::", so YAML reads the file as a mapping whose keys are the
// lines. Today: "shadow:1:1: root:$6$...::: unknown key (allowed here: ...)".
constexpr const char* k_fake_shadow = "root:$6$FAKESALT$FAKESECRETHASHxyz:19000:0:99999:7:::\n"
                                      "daemon:*:19000:0:99999:7:::\n";

TEST(ConfigLoaderForeignFile, ShadowLikeFileIsDescribedNotQuoted) {
  const std::string message = load_config_error_of(k_fake_shadow);
  EXPECT_EQ(message,
            "probe.yaml:1:1: not a probe config: a mapping with 2 key(s), none of them one "
            "of defaults, deploy, gate, listen, notify, status_page, targets (the file's text "
            "is not shown)");
}

TEST(ConfigLoaderForeignFile, NothingOfItsTextInAnyMessage) {
  const std::vector<std::string> foreign{
      k_fake_shadow,
      "FAKESECRET=abc\n",                   // a scalar
      "- FAKESECRET\n- two\n",              // a list
      "FAKESECRET: [unclosed\n",            // bad YAML
      "key: \"FAKESECRET \\q\"\n",          // an unknown escape: yaml-cpp appends it
      "%YAML 9.FAKESECRET\n---\na: 1\n",    // a bad version: yaml-cpp appends it
      "password: FAKESECRET\nuser: root\n", // keys that are plain names
      "? [FAKESECRET]\n: x\n",              // a key that is not a scalar
      "targets:\n  - {name: a, type: tcp, address: \"h:1\"}\n\"FAKE\\x01SECRET\": 1\n",
  };
  for (const std::string& text : foreign) {
    const std::string message = load_config_error_of(text);
    EXPECT_EQ(message.find("FAKE"), std::string::npos) << message;
    EXPECT_EQ(message.rfind("probe.yaml", 0), 0U) << message;
  }
}

TEST(ConfigLoaderForeignFile, YamlProblemsKeepOnlyYamlCppsFixedWords) {
  EXPECT_EQ(load_config_error_of("key: \"FAKESECRET \\q\"\n"),
            "probe.yaml:1:20: invalid YAML: unknown escape character");
}

TEST(ConfigLoaderForeignFile, AnUnknownKeyThatIsNotAPlainNameIsNotShown) {
  EXPECT_EQ(
      load_config_error_of(k_target + "\"FAKE SECRET!\": 1\n"),
      "probe.yaml:3:1: (a key that is not a plain name): unknown key (allowed here: defaults, "
      "deploy, gate, listen, notify, status_page, targets)");
}

// --- YAML merge keys (issue 12, item 18) -------------------------------------------------------

TEST(ConfigLoaderMerge, MergedKeysFillInAndWrittenKeysWin) {
  const Config config = load(R"(x-defaults: &defaults
  type: http
  url: "http://api:8000/health"
  interval: 5s
  timeout: 1s
targets:
  - <<: *defaults
    name: api
  - <<: *defaults
    name: slow
    timeout: 4s
)");
  ASSERT_EQ(config.targets.size(), 2U);
  EXPECT_EQ(config.targets[0].name, "api");
  EXPECT_EQ(config.targets[0].interval, Duration(5'000));
  EXPECT_EQ(config.targets[0].timeout, Duration(1'000));
  EXPECT_EQ(std::get<HttpTarget>(config.targets[0].spec).url, "http://api:8000/health");
  EXPECT_EQ(config.targets[1].timeout, Duration(4'000));
}

TEST(ConfigLoaderMerge, AListOfMappingsMergesInOrderTheFirstWinning) {
  const Config config = load(R"(x-fast: &fast {interval: 2s, timeout: 1s}
x-tcp: &tcp {type: tcp, address: "cache:6379", interval: 30s, critical: false}
targets:
  - <<: [*fast, *tcp]
    name: cache
)");
  EXPECT_EQ(config.targets[0].interval, Duration(2'000));
  EXPECT_FALSE(config.targets[0].critical);
  EXPECT_EQ(std::get<TcpTarget>(config.targets[0].spec).port, 6379);
}

TEST(ConfigLoaderMerge, ErrorsInMergedKeysPointAtWhereTheyAreWritten) {
  EXPECT_EQ(load_error(R"(x-defaults: &defaults {type: tcp, address: "h:1", interval: soon}
targets:
  - <<: *defaults
    name: a
)"),
            "probe.yaml:1:61: targets[0].interval: \"soon\" is not a duration (write e.g. 250ms, "
            "10s, 2m, 1h)");
}

TEST(ConfigLoaderMerge, MergeOfAScalarIsRefused) {
  EXPECT_EQ(load_error("targets:\n  - {<<: 3, name: a, type: tcp, address: \"h:1\"}\n"),
            "probe.yaml:2:10: <<: a merge key takes a mapping or a list of mappings "
            "(<<: *defaults), not a scalar");
}

TEST(ConfigLoaderMerge, QuotedMergeKeyIsAnOrdinaryKey) {
  EXPECT_EQ(load_error("targets:\n  - {\"<<\": {}, name: a, type: tcp, address: \"h:1\"}\n"),
            "probe.yaml:2:6: targets[0].(a key that is not a plain name): unknown key (allowed "
            "here: address, critical, "
            "failure_threshold, interval, name, success_threshold, timeout, type)");
}

// --- secrets a command does not use (issue 12, item 18) ----------------------------------------

const std::string k_with_secrets = k_target + R"(deploy:
  token: "${PROBE_TOKEN}"
notify:
  - {type: telegram, bot_token: "${TELEGRAM_BOT_TOKEN}", chat_id: "${TELEGRAM_CHAT_ID}"}
)";

TEST(ConfigLoaderOptions, UnsetTokenIsAnErrorForCommandsThatUseIt) {
  EXPECT_EQ(load_error(k_with_secrets, fake_env({})),
            "probe.yaml:4:10: deploy.token: environment variable PROBE_TOKEN is not set (use "
            "${PROBE_TOKEN:-default} to allow a default)");
}

TEST(ConfigLoaderOptions, UnsetTokenAndNotifySecretsAreLeftOutForCommandsThatDoNotUseThem) {
  const Config config =
      load_config_string(k_with_secrets, "probe.yaml", fake_env({}), LoadOptions{false, false});
  EXPECT_TRUE(config.deploy.token.empty());
  EXPECT_TRUE(config.notify.empty());
  EXPECT_EQ(config.notes,
            (std::vector<std::string>{
                "deploy.token: PROBE_TOKEN is not set; left empty, as this command does not use it",
                "notify[0].bot_token: TELEGRAM_BOT_TOKEN is not set; left empty, as this command "
                "does not use it",
                "notify[0].chat_id: TELEGRAM_CHAT_ID is not set; left empty, as this command does "
                "not use it",
                "notify[0]: telegram left out: this command sends no notifications, and its "
                "bot_token is empty"}));
}

TEST(ConfigLoaderOptions, SetSecretsAreKeptWhateverTheOptions) {
  const Config config =
      load_config_string(k_with_secrets, "probe.yaml", stack_env(), LoadOptions{false, false});
  EXPECT_EQ(config.deploy.token.reveal(), "tok-123");
  EXPECT_EQ(config.notify.size(), 1U);
  EXPECT_TRUE(config.notes.empty());
}

TEST(ConfigLoaderOptions, HeartbeatTokenIsASecretLikeTheDeployToken) {
  const std::string text = k_target + "deploy: {heartbeat_token: \"${PROBE_HEARTBEAT_TOKEN}\"}\n";
  EXPECT_EQ(load_error(text, fake_env({})),
            "probe.yaml:3:27: deploy.heartbeat_token: environment variable PROBE_HEARTBEAT_TOKEN "
            "is not set (use ${PROBE_HEARTBEAT_TOKEN:-default} to allow a default)");
  const Config config =
      load_config_string(text, "probe.yaml", fake_env({}), LoadOptions{false, false});
  EXPECT_TRUE(config.deploy.heartbeat_token.empty());
  EXPECT_EQ(config.notes, (std::vector<std::string>{
                              "deploy.heartbeat_token: PROBE_HEARTBEAT_TOKEN is not set; left "
                              "empty, as this command does not use it"}));
}

TEST(ConfigLoaderOptions, TheDsnIsNeededWhateverTheOptions) {
  EXPECT_EQ(load_error(k_target + "deploy: {dsn: \"${DATABASE_URL}\"}\n", fake_env({})),
            "probe.yaml:3:15: deploy.dsn: environment variable DATABASE_URL is not set (use "
            "${DATABASE_URL:-default} to allow a default)");
}

// --- notes (issue 12, item 15) -----------------------------------------------------------------

TEST(ConfigLoaderNotes, PushHeartbeatIsNotedAsCheckedOnlyByServe) {
  const Config config =
      load(k_target + "  - {name: bot, type: heartbeat, source: push, max_age: 90s}\n");
  EXPECT_EQ(config.notes,
            (std::vector<std::string>{
                "targets[1] bot: source: push is checked only by probe serve; probe check, probe "
                "wait --config and probe deploy verify --config report it as \"skipped\""}));
}

// --- telegram api_url (issue 12, item 13) ------------------------------------------------------

TEST(ConfigLoaderSecrets, TelegramApiUrlWithCredentialsIsRefusedUnquoted) {
  const std::string message = load_error(k_target + R"(notify:
  - {type: telegram, bot_token: "t", chat_id: "1", api_url: "https://user:hunter2@tg.example"}
)");
  EXPECT_EQ(message, "probe.yaml:4:61: notify[0].api_url: URL credentials (user:password@) are not "
                     "supported here");
}

TEST(ConfigLoaderSecrets, TelegramApiUrlMustBeHttp) {
  EXPECT_EQ(load_error(k_target + R"(notify:
  - {type: telegram, bot_token: "t", chat_id: "1", api_url: "ftp://tg.example/?key=hunter2"}
)"),
            "probe.yaml:4:61: notify[0].api_url: \"ftp://tg.example/?key=***\" is not an http:// "
            "or https:// URL");
}

TEST(ConfigLoaderSecrets, BadTargetUrlIsQuotedWithItsQueryValuesMasked) {
  EXPECT_EQ(
      load_error("targets:\n  - {name: a, type: http, url: \"http://a:0/x?api_key=hunter2\"}\n"),
      "probe.yaml:2:32: targets[0].url: \"http://a:0/x?api_key=***\" has no valid host or port");
}

// --- a readable file that holds secrets (issue 12, item 13) ------------------------------------

TEST_F(HostileFile, WorldReadableFileWithALiteralTokenGetsAWarning) {
  const std::string file = write("probe.yaml", k_target + R"(deploy:
  token: "tok-literal"
  dsn: "postgresql://app:pw@db/app"
)",
                                 0644);
  const Config config = load_config_file(file, stack_env());
  EXPECT_EQ(config.notes, (std::vector<std::string>{
                              "warning: " + file +
                              " is readable by group or others (mode 0644) and holds "
                              "secrets written in it (deploy.dsn, deploy.token): chmod 600 " +
                              file + ", or take them from the environment (${VAR})"}));
}

TEST_F(HostileFile, ALiteralHeartbeatTokenInAReadableFileGetsAWarning) {
  const std::string file =
      write("probe.yaml", k_target + "deploy: {heartbeat_token: \"hb-literal\"}\n", 0644);
  const Config config = load_config_file(file, stack_env());
  ASSERT_EQ(config.notes.size(), 1U);
  EXPECT_NE(config.notes[0].find("(mode 0644) and holds secrets written in it "
                                 "(deploy.heartbeat_token)"),
            std::string::npos)
      << config.notes[0];
}

TEST_F(HostileFile, PrivateFileOrSecretsFromTheEnvironmentGetNoWarning) {
  const std::string literal = k_target + "deploy: {token: \"tok-literal\"}\n";
  EXPECT_TRUE(load_config_file(write("private.yaml", literal, 0600), stack_env()).notes.empty());
  const std::string from_env = k_target + R"(deploy:
  token: "${PROBE_TOKEN}"
  dsn: "${DATABASE_URL}"
notify:
  - {type: slack, webhook_url: "${SLACK_WEBHOOK_URL}"}
)";
  EXPECT_TRUE(load_config_file(write("shared.yaml", from_env, 0644), stack_env()).notes.empty());
}

TEST_F(HostileFile, ALiteralDefaultOfAVariableIsASecretInTheFile) {
  const std::string file =
      write("probe.yaml", k_target + "deploy: {token: \"${PROBE_TOKEN:-tok-default}\"}\n", 0640);
  const Config config = load_config_file(file, stack_env());
  ASSERT_EQ(config.notes.size(), 1U);
  EXPECT_NE(config.notes[0].find("(mode 0640) and holds secrets written in it (deploy.token)"),
            std::string::npos)
      << config.notes[0];
}

} // namespace
} // namespace probe::config
