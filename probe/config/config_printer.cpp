// Resolved-config printing; see config_printer.hpp.
#include "probe/config/config_printer.hpp"

#include <array>
#include <charconv>

#include <yaml-cpp/yaml.h>

namespace probe::config {
namespace {

using util::format_duration;

// The shortest text that reads back as `value` ("14", "0.5"); yaml-cpp would print 0.1 with
// seventeen digits.
std::string shortest(double value) {
  std::array<char, 32> text{};
  const std::to_chars_result written = std::to_chars(text.data(), text.data() + text.size(), value);
  return std::string(text.data(), written.ptr);
}

void emit_http(YAML::Emitter& out, const HttpTarget& http) {
  // Query values are often API keys (?api_key=...): names shown, values masked.
  out << YAML::Key << "url" << YAML::Value << util::mask_url_secrets(http.url);
  out << YAML::Key << "method" << YAML::Value << http.method;
  if (!http.headers.empty()) {
    // Header values are often credentials (Authorization): show only the names.
    out << YAML::Key << "headers" << YAML::Value << YAML::BeginMap;
    for (const auto& [name, value] : http.headers) {
      out << YAML::Key << name << YAML::Value << "***";
    }
    out << YAML::EndMap;
  }
  out << YAML::Key << "expect" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "status" << YAML::Value << YAML::Flow;
  if (http.expect.status.empty()) {
    out << "2xx";
  } else {
    out << http.expect.status;
  }
  if (http.expect.body_contains) {
    out << YAML::Key << "body_contains" << YAML::Value << *http.expect.body_contains;
  }
  if (!http.expect.json.empty()) {
    out << YAML::Key << "json" << YAML::Value << YAML::BeginMap;
    for (const auto& [pointer, value] : http.expect.json) {
      out << YAML::Key << pointer << YAML::Value << value.dump();
    }
    out << YAML::EndMap;
  }
  if (http.expect.max_latency) {
    out << YAML::Key << "max_latency" << YAML::Value << format_duration(*http.expect.max_latency);
  }
  if (http.expect.tls_min_days) {
    out << YAML::Key << "tls_min_days" << YAML::Value << shortest(*http.expect.tls_min_days);
  }
  out << YAML::EndMap;
  out << YAML::Key << "follow_redirects" << YAML::Value << http.follow_redirects;
  if (!http.ca_file.empty()) {
    out << YAML::Key << "ca_file" << YAML::Value << http.ca_file;
  }
  if (http.insecure_skip_verify) {
    out << YAML::Key << "insecure_skip_verify" << YAML::Value << true;
  }
}

void emit_target(YAML::Emitter& out, const Target& target) {
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << target.name;
  out << YAML::Key << "type" << YAML::Value << std::string(to_string(target.type));
  out << YAML::Key << "critical" << YAML::Value << target.critical;
  out << YAML::Key << "interval" << YAML::Value << format_duration(target.interval);
  out << YAML::Key << "timeout" << YAML::Value << format_duration(target.timeout);
  out << YAML::Key << "success_threshold" << YAML::Value << target.success_threshold;
  out << YAML::Key << "failure_threshold" << YAML::Value << target.failure_threshold;
  if (const auto* http = std::get_if<HttpTarget>(&target.spec)) {
    emit_http(out, *http);
  } else if (const auto* tcp = std::get_if<TcpTarget>(&target.spec)) {
    out << YAML::Key << "address" << YAML::Value << tcp->host + ":" + std::to_string(tcp->port);
  } else if (const auto* postgres = std::get_if<PostgresTarget>(&target.spec)) {
    out << YAML::Key << "dsn" << YAML::Value << util::mask_dsn(postgres->dsn.reveal());
    out << YAML::Key << "query" << YAML::Value << postgres->query;
  } else if (const auto* heartbeat = std::get_if<HeartbeatTarget>(&target.spec)) {
    out << YAML::Key << "source" << YAML::Value << std::string(to_string(heartbeat->source));
    if (heartbeat->source == HeartbeatSource::postgres) {
      out << YAML::Key << "dsn" << YAML::Value << util::mask_dsn(heartbeat->dsn.reveal());
      out << YAML::Key << "query" << YAML::Value << heartbeat->query;
    } else if (heartbeat->source == HeartbeatSource::file) {
      out << YAML::Key << "path" << YAML::Value << heartbeat->path;
    }
    out << YAML::Key << "max_age" << YAML::Value << format_duration(heartbeat->max_age);
  }
  out << YAML::EndMap;
}

void emit_deploy(YAML::Emitter& out, const Deploy& deploy) {
  out << YAML::Key << "deploy" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "dsn" << YAML::Value << util::mask_dsn(deploy.dsn.reveal());
  out << YAML::Key << "journal" << YAML::Value << deploy.journal;
  out << YAML::Key << "token" << YAML::Value << util::mask_token(deploy.token);
  out << YAML::Key << "heartbeat_token" << YAML::Value << util::mask_token(deploy.heartbeat_token);
  out << YAML::Key << "rollback" << YAML::Value << YAML::BeginMap;
  // Arguments that carry a secret (--token=..., DB_PASSWORD=...) are masked; see mask_argv.
  out << YAML::Key << "command" << YAML::Value << YAML::Flow
      << util::mask_argv(deploy.rollback.command);
  out << YAML::Key << "timeout" << YAML::Value << format_duration(deploy.rollback.timeout);
  out << YAML::EndMap << YAML::EndMap;
}

void emit_notifier(YAML::Emitter& out, const Notifier& notifier) {
  out << YAML::BeginMap;
  out << YAML::Key << "type" << YAML::Value << std::string(to_string(notifier.type));
  switch (notifier.type) {
  case NotifyType::telegram:
    out << YAML::Key << "bot_token" << YAML::Value << util::mask_token(notifier.bot_token);
    out << YAML::Key << "chat_id" << YAML::Value << notifier.chat_id;
    out << YAML::Key << "api_url" << YAML::Value << util::mask_url_secrets(notifier.api_url);
    break;
  case NotifyType::slack:
    out << YAML::Key << "webhook_url" << YAML::Value << util::mask_url(notifier.url.reveal());
    break;
  case NotifyType::webhook:
    out << YAML::Key << "url" << YAML::Value << util::mask_url(notifier.url.reveal());
    break;
  }
  if (!notifier.on.empty()) {
    out << YAML::Key << "on" << YAML::Value << YAML::Flow << notifier.on;
  }
  out << YAML::EndMap;
}

} // namespace

std::string print_config(const Config& config) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "listen" << YAML::Value << config.listen;
  out << YAML::Key << "targets" << YAML::Value << YAML::BeginSeq;
  for (const Target& target : config.targets) {
    emit_target(out, target);
  }
  out << YAML::EndSeq;
  out << YAML::Key << "gate" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "timeout" << YAML::Value << format_duration(config.gate.timeout);
  out << YAML::Key << "consecutive_successes" << YAML::Value << config.gate.consecutive_successes;
  out << YAML::Key << "poll_interval" << YAML::Value << format_duration(config.gate.poll_interval);
  out << YAML::EndMap;
  emit_deploy(out, config.deploy);
  out << YAML::Key << "notify" << YAML::Value << YAML::BeginSeq;
  for (const Notifier& notifier : config.notify) {
    emit_notifier(out, notifier);
  }
  out << YAML::EndSeq;
  out << YAML::Key << "status_page" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "enabled" << YAML::Value << config.status_page.enabled;
  out << YAML::Key << "repository_url" << YAML::Value << config.status_page.repository_url;
  out << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

} // namespace probe::config
