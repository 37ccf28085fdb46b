// The type -> check table: the one place that knows every kind of target.
#include "probe/checks/heartbeat_check.hpp"
#include "probe/checks/http_check.hpp"
#include "probe/checks/postgres_check.hpp"
#include "probe/checks/tcp_check.hpp"

namespace probe::checks {

std::unique_ptr<Check> make_check(const config::Target& target, const CheckContext& context) {
  switch (target.type) {
  case config::TargetType::http:
    return std::make_unique<HttpCheck>(std::get<config::HttpTarget>(target.spec), context);
  case config::TargetType::tcp:
    return std::make_unique<TcpCheck>(std::get<config::TcpTarget>(target.spec));
  case config::TargetType::postgres:
    return std::make_unique<PostgresCheck>(std::get<config::PostgresTarget>(target.spec));
  case config::TargetType::heartbeat:
    return std::make_unique<HeartbeatCheck>(std::get<config::HeartbeatTarget>(target.spec), context,
                                            target.name);
  }
  return nullptr;
}

} // namespace probe::checks
