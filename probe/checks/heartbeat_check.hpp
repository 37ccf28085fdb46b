// heartbeat: liveness of a process with no port (the Telegram bot) from the last sign of life
// it left behind — a timestamp in PostgreSQL, a file's mtime, or a push to probe's
// POST /heartbeat/{target}. Fails when the beat is older than `max_age`; reports the age.
// The postgres source asks on the check loop (pg_session.hpp); a file's mtime and a push are
// read at once, their result handed to the loop.
#pragma once

#include <atomic>
#include <optional>

#include "probe/checks/check.hpp"
#include "probe/checks/pg_session.hpp"
#include "probe/checks/push_registry.hpp"

namespace probe::checks {

class HeartbeatCheck final : public Check {
public:
  // `name` is the target's, under which a push-fed check takes pushes from context.pushes.
  HeartbeatCheck(config::HeartbeatTarget target, const CheckContext& context,
                 const std::string& name = {});
  void start(CheckIo& io, std::chrono::milliseconds timeout, CheckDone done) override;

  // For source: push — records a beat now. With a push registry in the context, pushes to the
  // target's name arrive here through it (from the HTTP endpoint's thread).
  void record_push();

private:
  CheckResult judge_age(std::chrono::nanoseconds latency, std::optional<double> age_seconds,
                        const std::string& what) const;
  void start_postgres(CheckIo& io, std::chrono::milliseconds timeout, CheckDone done);
  CheckResult judge_postgres(PgQueryOutcome outcome, std::chrono::nanoseconds latency) const;
  CheckResult read_now(); // file or push
  CheckResult run_file();
  CheckResult run_push();

  config::HeartbeatTarget m_target;
  const util::Clock* m_clock;
  // Last push as system_clock nanoseconds since the epoch; 0 = never.
  std::atomic<std::int64_t> m_last_push_ns{0};
  PgSession m_session;
  // Last: unregistered before the rest of the check goes.
  PushRegistry::Registration m_push_registration;
};

// The SQL that turns the target's query into an age in seconds, measured on the database
// server's clock so clock skew between hosts cannot make a live bot look dead.
std::string heartbeat_age_sql(const std::string& query);

} // namespace probe::checks
