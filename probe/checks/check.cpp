// The default run()/start() bridges and shared CheckResult helpers; see check.hpp.
#include "probe/checks/check.hpp"

#include <thread>

#include "probe/checks/check_io.hpp"

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

void Check::start(CheckIo& io, std::chrono::milliseconds timeout, CheckDone done) {
  // A thread per run: only for checks that exist solely in blocking form (test scripts). It
  // hands the result to the loop and touches nothing after, so the loop may end right then.
  util::EventLoop* loop = &io.loop();
  std::thread([this, loop, timeout, done = std::move(done)]() mutable {
    CheckResult result;
    try {
      result = run(timeout);
    } catch (const std::exception& e) {
      result = make_result(CheckStatus::error, e.what(), "error");
    }
    loop->post([done = std::move(done), result = std::move(result)]() mutable {
      done(std::move(result));
    });
  }).detach();
}

CheckResult Check::run(std::chrono::milliseconds timeout) {
  // One loop per thread, kept: its connection cache keeps a check's connection alive from one
  // run() to the next, as the sidecar's loop does.
  thread_local CheckIo io;
  std::optional<CheckResult> result;
  start(io, timeout, [&result](CheckResult finished) { result = std::move(finished); });
  io.loop().run_until([&result] { return result.has_value(); });
  return std::move(*result);
}

CheckResult make_result(CheckStatus status, std::string detail, std::string reason) {
  CheckResult result;
  result.status = status;
  result.detail = std::move(detail);
  result.reason = std::move(reason);
  return result;
}

} // namespace probe::checks
