// Gate polling; see gate_runner.hpp.
#include "probe/engine/gate_runner.hpp"

#include <algorithm>
#include <thread>

#include "probe/util/duration.hpp"
#include "probe/util/error.hpp"
#include "probe/util/terminal.hpp"

namespace probe::engine {
namespace {

using Clock = std::chrono::steady_clock;

} // namespace

ConfigGateSource::ConfigGateSource(const config::Config& config,
                                   const std::vector<std::string>& only, int required,
                                   const checks::CheckContext& context)
    : m_checks(make_checks(select_targets(config, only), context)), m_required(required) {}

std::vector<std::pair<std::string, std::string>> ConfigGateSource::skipped() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const TargetCheck& check : m_checks) {
    if (!check.check) {
      out.emplace_back(check.target->name, check.skipped);
    }
  }
  return out;
}

void ConfigGateSource::poll(std::optional<GateTracker>& tracker) {
  if (!tracker) {
    std::vector<std::pair<std::string, bool>> names;
    for (const TargetCheck& check : m_checks) {
      if (check.check) {
        names.emplace_back(check.target->name, check.target->critical);
      }
    }
    tracker.emplace(names, m_required);
  }
  m_refused.clear();
  const std::vector<TargetResult> results = run_once(m_checks, *m_io);
  for (std::size_t i = 0; i < results.size(); ++i) {
    const TargetResult& result = results[i];
    if (result.skipped.empty()) {
      tracker->observe(result.target->name, result.result.ok(), result.result.detail,
                       result.target->failure_threshold);
      if (result.result.reason == "connection_refused") {
        m_refused.push_back(i);
      }
    }
  }
}

void ConfigGateSource::retry_refused(std::optional<GateTracker>& tracker) {
  if (m_refused.empty() || !tracker) {
    return;
  }
  // The refusing checks alone, lent to a round of their own and given back.
  std::vector<TargetCheck> refusing;
  for (const std::size_t i : m_refused) {
    refusing.push_back(std::move(m_checks[i]));
  }
  const std::vector<TargetResult> results = run_once(refusing, *m_io);
  std::vector<std::size_t> still;
  for (std::size_t k = 0; k < refusing.size(); ++k) {
    const std::size_t i = m_refused[k];
    m_checks[i] = std::move(refusing[k]);
    const checks::CheckResult& result = results[k].result;
    if (result.reason == "connection_refused") {
      still.push_back(i);
      continue;
    }
    tracker->observe(m_checks[i].target->name, result.ok(), result.detail,
                     m_checks[i].target->failure_threshold);
  }
  m_refused = std::move(still);
}

SidecarGateSource::SidecarGateSource(std::string_view url, std::vector<std::string> only,
                                     int required)
    : m_client(url), m_only(std::move(only)), m_required(required) {}

std::optional<StatusWire> SidecarGateSource::fetch_status(std::string* problem,
                                                          bool* retryable) const {
  SidecarReply<StatusWire> reply = m_client.status();
  *retryable = reply.answer.retryable; // an answer that is not probe's is 2xx: not retryable
  if (!reply.value) {
    *problem = reply.problem();
  }
  return std::move(reply.value);
}

void SidecarGateSource::discover(std::chrono::milliseconds grace,
                                 const std::function<void(const std::string&)>& say) {
  const SidecarReply<StatusWire> reply = m_client.status(SidecarRetry{grace, say});
  if (!reply.value) {
    // Unreachable: the gate cannot pass (exit 1). Not a probe: the URL is wrong (exit 2).
    throw Error(reply.problem(), reply.answer.retryable ? 1 : 2);
  }
  if (const std::optional<StatusGateWire>& gate = reply.value->gate) {
    m_poll_interval = std::chrono::milliseconds(gate->poll_interval_ms);
    m_timeout = std::chrono::milliseconds(gate->timeout_ms);
    if (m_required <= 0) {
      m_required = gate->consecutive_successes;
    }
  }
}

void SidecarGateSource::poll(std::optional<GateTracker>& tracker) {
  std::string problem;
  bool retryable = false;
  const std::optional<StatusWire> status = fetch_status(&problem, &retryable);
  if (!status) {
    if (tracker) {
      for (const GateTarget& target : tracker->targets()) {
        tracker->set_streak(target.name, 0, false, problem);
      }
    }
    const Clock::time_point now = Clock::now();
    if (!m_failing_since) {
      m_failing_since = now;
    }
    if (!retryable) {
      m_gave_up = problem;
    } else if (now - *m_failing_since >= m_grace) {
      m_gave_up = problem + " (for " + util::format_duration(m_grace) + ")";
    }
    return;
  }
  m_failing_since.reset();
  if (!tracker) {
    start_tracking(*status, tracker);
    return; // results from before the gate began do not count
  }
  for (const StatusTargetWire& target : status->targets) {
    const auto baseline = m_baseline.find(target.name);
    if (baseline == m_baseline.end()) {
      continue;
    }
    const long long fresh = static_cast<long long>(target.checks) - baseline->second;
    const long long streak = std::min<long long>(target.consecutive_successes, fresh);
    const bool ok = target.last_result == "success";
    // The sidecar's own debounced state (failure_threshold applied): DOWN seen in a check made
    // since the gate began fails a verification window.
    const bool down = fresh > 0 && target.state == "down";
    tracker->set_streak(target.name, static_cast<int>(std::max(0LL, streak)), ok && fresh > 0,
                        fresh <= 0 ? "waiting for a fresh check" : target.last_detail.value_or(""),
                        down);
  }
}

void SidecarGateSource::start_tracking(const StatusWire& status,
                                       std::optional<GateTracker>& tracker) {
  if (m_required <= 0) {
    m_required = status.gate ? status.gate->consecutive_successes : 3;
  }
  std::vector<std::pair<std::string, bool>> names;
  for (const StatusTargetWire& target : status.targets) {
    if (m_only.empty() || std::find(m_only.begin(), m_only.end(), target.name) != m_only.end()) {
      names.emplace_back(target.name, target.critical);
      m_baseline[target.name] = static_cast<long long>(target.checks);
    }
  }
  for (const std::string& name : m_only) {
    if (m_baseline.count(name) == 0) {
      throw Error("--only: the probe at " + m_client.url() + " has no target named \"" + name +
                  "\"");
    }
  }
  tracker.emplace(names, m_required);
}

namespace {

// Sleeps on `clock` until `until` (at once when it has passed).
void sleep_until(const util::Clock& clock, Clock::time_point until) {
  const Clock::duration left = until - clock.steady_now();
  if (left > Clock::duration::zero()) {
    clock.sleep_for(left);
  }
}

} // namespace

std::vector<std::string>
run_watch(GateSource& source, std::optional<GateTracker>& tracker, std::chrono::milliseconds window,
          std::chrono::milliseconds poll_interval,
          const std::function<void(const std::optional<GateTracker>&, std::chrono::milliseconds)>&
              progress,
          const util::Clock& clock) {
  const Clock::time_point end = clock.steady_now() + window;
  while (clock.steady_now() < end) {
    const Clock::time_point round_start = clock.steady_now();
    source.poll(tracker);
    if (const std::string problem = source.gave_up(); !problem.empty()) {
      return {"probe: " + problem};
    }
    if (tracker) {
      std::vector<std::string> down;
      for (const GateTarget* target : tracker->down()) {
        down.push_back(target->name + ": " + target->last_detail);
      }
      if (!down.empty()) {
        return down;
      }
    }
    if (progress) {
      progress(tracker, std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::max(Clock::duration::zero(), end - clock.steady_now())));
    }
    sleep_until(clock, std::min(round_start + poll_interval, end));
  }
  return {};
}

GateOutcome run_gate(GateSource& source, std::optional<GateTracker>& tracker,
                     std::chrono::milliseconds timeout, std::chrono::milliseconds poll_interval,
                     const std::function<void(const std::optional<GateTracker>&)>& progress,
                     const util::Clock& clock) {
  const Clock::time_point start = clock.steady_now();
  const Clock::time_point deadline = start + timeout;
  GateOutcome outcome;
  while (true) {
    const Clock::time_point round_start = clock.steady_now();
    source.poll(tracker);
    if (progress) {
      progress(tracker);
    }
    outcome.waited =
        std::chrono::duration_cast<std::chrono::milliseconds>(clock.steady_now() - start);
    if (tracker && tracker->open()) {
      outcome.open = true;
      return outcome;
    }
    outcome.error = source.gave_up();
    if (!outcome.error.empty() || clock.steady_now() >= deadline) {
      return outcome;
    }
    // Rounds start every poll_interval; one that ran long is followed at once. Until the next
    // one, targets that refused are asked again every k_refused_retry.
    const Clock::time_point next_round = std::min(round_start + poll_interval, deadline);
    while (source.refusing() && clock.steady_now() + k_refused_retry < next_round) {
      clock.sleep_for(k_refused_retry);
      source.retry_refused(tracker);
      if (tracker && tracker->open()) {
        if (progress) {
          progress(tracker);
        }
        outcome.open = true;
        outcome.waited =
            std::chrono::duration_cast<std::chrono::milliseconds>(clock.steady_now() - start);
        return outcome;
      }
    }
    sleep_until(clock, next_round);
    if (clock.steady_now() >= deadline) {
      outcome.waited = timeout;
      return outcome;
    }
  }
}

} // namespace probe::engine
