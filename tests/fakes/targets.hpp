// Targets built in code for tests that drive checks directly, without a config file: one
// place that knows which fields a minimal valid target needs.
#pragma once

#include <chrono>
#include <string>

#include "probe/config/config.hpp"

namespace probe::fakes {

// An http target `name` for `url` with `timeout` (interval 10 s, defaults otherwise).
inline config::Target http_target(const std::string& name, const std::string& url,
                                  std::chrono::milliseconds timeout) {
  config::Target target;
  target.name = name;
  target.type = config::TargetType::http;
  target.interval = std::chrono::seconds(10);
  target.timeout = timeout;
  config::HttpTarget http;
  http.url = url;
  target.spec = http;
  return target;
}

} // namespace probe::fakes
