// Names of config enums, and the secrets a target holds for scrubbing text; see config.hpp.
#include "probe/config/config.hpp"

#include <algorithm>

#include "probe/util/pg_dsn.hpp"
#include "probe/util/secret.hpp"
#include "probe/util/strings.hpp"

namespace probe::config {

std::string_view to_string(TargetType type) {
  switch (type) {
  case TargetType::http:
    return "http";
  case TargetType::tcp:
    return "tcp";
  case TargetType::postgres:
    return "postgres";
  case TargetType::heartbeat:
    return "heartbeat";
  }
  return "unknown";
}

std::string_view to_string(HeartbeatSource source) {
  switch (source) {
  case HeartbeatSource::postgres:
    return "postgres";
  case HeartbeatSource::file:
    return "file";
  case HeartbeatSource::push:
    return "push";
  }
  return "unknown";
}

std::string_view to_string(NotifyType type) {
  switch (type) {
  case NotifyType::telegram:
    return "telegram";
  case NotifyType::slack:
    return "slack";
  case NotifyType::webhook:
    return "webhook";
  }
  return "unknown";
}

const std::vector<std::string>& event_kinds() {
  static const std::vector<std::string> kinds{"deploy_started",     "deploy_succeeded",
                                              "deploy_failed",      "rollback_started",
                                              "rollback_succeeded", "rollback_failed"};
  return kinds;
}

namespace {

void add_secret(std::vector<std::string>& out, std::string value) {
  if (value.size() >= util::k_min_redacted) {
    out.push_back(std::move(value));
  }
}

void add_url_secrets(std::vector<std::string>& out, const std::string& url) {
  const std::size_t scheme = url.find("://");
  const std::size_t authority = scheme == std::string::npos ? 0 : scheme + 3;
  const std::size_t path = url.find_first_of("/?#", authority);
  const std::size_t at = url.rfind('@', path);
  if (at != std::string::npos && at >= authority) {
    add_secret(out, url.substr(authority, at - authority));
  }
  const std::size_t question = url.find('?');
  if (question == std::string::npos) {
    return;
  }
  const std::size_t hash = url.find('#', question);
  const std::string query =
      url.substr(question + 1, hash == std::string::npos ? std::string::npos : hash - question - 1);
  for (const std::string& part : util::split(query, '&')) {
    const std::size_t eq = part.find('=');
    add_secret(out, eq == std::string::npos ? part : part.substr(eq + 1));
  }
}

} // namespace

std::vector<std::string> secret_values(const Target& target) {
  std::vector<std::string> out;
  if (const auto* http = std::get_if<HttpTarget>(&target.spec)) {
    add_url_secrets(out, http->url);
    for (const auto& [name, value] : http->headers) {
      if (util::is_secret_name(name)) {
        add_secret(out, value);
      }
    }
  } else if (const auto* postgres = std::get_if<PostgresTarget>(&target.spec)) {
    add_secret(out, util::dsn_password(postgres->dsn.reveal()));
  } else if (const auto* heartbeat = std::get_if<HeartbeatTarget>(&target.spec)) {
    add_secret(out, util::dsn_password(heartbeat->dsn.reveal()));
  }
  // Longest first, so a value that contains a shorter one is masked whole.
  std::sort(out.begin(), out.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return out;
}

std::string scrub(std::string text, const Target& target) {
  for (const std::string& secret : secret_values(target)) {
    text = util::redact(std::move(text), secret);
  }
  return text;
}

} // namespace probe::config
