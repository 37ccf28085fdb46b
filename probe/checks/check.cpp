// Shared CheckResult helpers; see check.hpp.
#include "probe/checks/check.hpp"

namespace probe::checks {

std::string_view to_string(CheckStatus status) {
  switch (status) {
  case CheckStatus::success:
    return "success";
  case CheckStatus::failure:
    return "failure";
  case CheckStatus::timeout:
    return "timeout";
  case CheckStatus::error:
    return "error";
  }
  return "error";
}

CheckResult make_result(CheckStatus status, std::string detail, std::string reason) {
  CheckResult result;
  result.status = status;
  result.detail = std::move(detail);
  result.reason = std::move(reason);
  return result;
}

} // namespace probe::checks
