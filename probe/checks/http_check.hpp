// http: one request with cpp-httplib, judged by http_expect. The client is kept between runs
// (keep-alive: a sidecar checking every 10 s should not pay a handshake each time); a check
// never overlaps itself, so one client per check needs no locking.
#pragma once

#include <memory>

#include "probe/checks/check.hpp"
#include "probe/util/url.hpp"

namespace httplib {
class Client;
}

namespace probe::checks {

class HttpCheck final : public Check {
public:
  HttpCheck(config::HttpTarget target, const CheckContext& context);
  ~HttpCheck() override;
  CheckResult run(std::chrono::milliseconds timeout) override;

  // Bodies larger than this are not read further: a health endpoint that sends megabytes is
  // broken, and probe's memory must stay bounded whatever a target sends.
  static constexpr std::size_t k_max_body_bytes = 1024 * 1024;

private:
  config::HttpTarget m_target;
  util::Url m_url;
  CheckContext m_context;
  std::unique_ptr<httplib::Client> m_client;
};

} // namespace probe::checks
