// Heartbeat freshness from Postgres, a file, or a push; see heartbeat_check.hpp.
#include "probe/checks/heartbeat_check.hpp"

#include <array>
#include <cerrno>
#include <cstring>

#include <sys/stat.h>

#include "probe/checks/check_io.hpp"
#include "probe/util/clock.hpp"
#include "probe/util/duration.hpp"
#include "probe/util/strings.hpp"

namespace probe::checks {
namespace {

using Clock = std::chrono::steady_clock;

std::string format_age(double seconds) {
  std::array<char, 32> buf{};
  std::snprintf(buf.data(), buf.size(), "%.1fs", seconds);
  return buf.data();
}

} // namespace

std::string heartbeat_age_sql(const std::string& query) {
  std::string inner(util::trim(query));
  while (!inner.empty() && (inner.back() == ';' || inner.back() == ' ')) {
    inner.pop_back(); // a trailing ';' would end the subquery early
  }
  return "SELECT extract(epoch FROM (clock_timestamp() - beat.at))::float8 FROM (" + inner +
         ") AS beat(at) LIMIT 1";
}

HeartbeatCheck::HeartbeatCheck(config::HeartbeatTarget target, const CheckContext& context,
                               const std::string& name)
    : m_target(std::move(target)),
      m_clock(context.clock != nullptr ? context.clock : &util::system_clock()) {
  if (m_target.source == config::HeartbeatSource::push && context.pushes != nullptr) {
    m_push_registration = context.pushes->add(name, [this] { record_push(); });
  }
}

void HeartbeatCheck::record_push() {
  const auto now = m_clock->system_now().time_since_epoch();
  m_last_push_ns.store(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count());
}

void HeartbeatCheck::start(CheckIo& io, std::chrono::milliseconds timeout, CheckDone done) {
  if (m_target.source == config::HeartbeatSource::postgres) {
    start_postgres(io, timeout, std::move(done));
    return;
  }
  // A file's mtime and a push are read at once; the result still goes through the loop, never
  // from inside start(), whose caller may not be ready for it yet.
  io.loop().post(
      [done = std::move(done), result = read_now()]() mutable { done(std::move(result)); });
}

CheckResult HeartbeatCheck::read_now() {
  switch (m_target.source) {
  case config::HeartbeatSource::file:
    return run_file();
  case config::HeartbeatSource::push:
    return run_push();
  case config::HeartbeatSource::postgres:
    break;
  }
  return make_result(CheckStatus::error, "unknown heartbeat source", "error");
}

CheckResult HeartbeatCheck::judge_age(std::chrono::nanoseconds latency,
                                      std::optional<double> age_seconds,
                                      const std::string& what) const {
  const double max_age = static_cast<double>(m_target.max_age.count()) / 1000.0;
  CheckResult result;
  if (!age_seconds) {
    result = make_result(CheckStatus::failure, "no heartbeat recorded (" + what + ")", "missing");
  } else if (*age_seconds > max_age) {
    result = make_result(CheckStatus::failure,
                         "last beat " + format_age(*age_seconds) + " ago, max_age " +
                             util::format_duration(m_target.max_age),
                         "stale");
  } else {
    result = make_result(CheckStatus::success, "last beat " + format_age(*age_seconds) + " ago");
  }
  result.heartbeat_age_seconds = age_seconds;
  result.latency = latency;
  return result;
}

void HeartbeatCheck::start_postgres(CheckIo& io, std::chrono::milliseconds timeout,
                                    CheckDone done) {
  const Clock::time_point started = Clock::now();
  m_session.start(io, m_target.dsn.reveal(), heartbeat_age_sql(m_target.query), started + timeout,
                  [this, started, done = std::move(done)](PgQueryOutcome outcome) {
                    done(judge_postgres(std::move(outcome), Clock::now() - started));
                  });
}

CheckResult HeartbeatCheck::judge_postgres(PgQueryOutcome outcome,
                                           std::chrono::nanoseconds latency) const {
  if (!outcome.ok) {
    outcome.failure.latency = latency;
    return outcome.failure;
  }
  std::optional<double> age;
  if (outcome.value) {
    try {
      age = std::max(0.0, std::stod(*outcome.value)); // a beat "from the future" is fresh
    } catch (const std::exception&) {
      return make_result(CheckStatus::error, "query did not return a timestamp", "query_failed");
    }
  }
  return judge_age(latency, age, "the query returned no row or NULL");
}

CheckResult HeartbeatCheck::run_file() {
  const Clock::time_point start = Clock::now();
  struct stat info {};
  if (stat(m_target.path.c_str(), &info) != 0) {
    const int err = errno;
    if (err == ENOENT) {
      return judge_age(Clock::now() - start, std::nullopt, m_target.path + " does not exist");
    }
    CheckResult result =
        make_result(CheckStatus::error, m_target.path + ": " + std::strerror(err), "error");
    result.latency = Clock::now() - start;
    return result;
  }
  const auto mtime =
      std::chrono::seconds(info.st_mtim.tv_sec) + std::chrono::nanoseconds(info.st_mtim.tv_nsec);
  const auto now = m_clock->system_now().time_since_epoch();
  const double age = std::chrono::duration<double>(now - mtime).count();
  return judge_age(Clock::now() - start, std::max(0.0, age), m_target.path);
}

CheckResult HeartbeatCheck::run_push() {
  const std::int64_t last = m_last_push_ns.load();
  if (last == 0) {
    return judge_age({}, std::nullopt, "nothing pushed since probe started");
  }
  const auto now = m_clock->system_now().time_since_epoch();
  const double age = std::chrono::duration<double>(now - std::chrono::nanoseconds(last)).count();
  return judge_age({}, std::max(0.0, age), "push");
}

} // namespace probe::checks
