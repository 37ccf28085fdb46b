// Names of config enums; see config.hpp.
#include "probe/config/config.hpp"

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

} // namespace probe::config
