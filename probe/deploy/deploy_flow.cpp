// The verify state machine; see deploy_flow.hpp.
#include "probe/deploy/deploy_flow.hpp"

#include "probe/deploy/event_kind.hpp"
#include "probe/deploy/history.hpp"
#include "probe/util/duration.hpp"
#include "probe/util/strings.hpp"

namespace probe::deploy {
namespace {

// One verify run: the request, the wiring, and what it has learned so far.
class Verify {
public:
  Verify(const VerifyRequest& request, VerifyWiring& wiring)
      : m_request(request), m_wiring(wiring) {}

  int run();

private:
  void say(const std::string& line) const {
    if (m_wiring.log) {
      m_wiring.log(line);
    }
  }
  DeployEvent record(EventKind kind, const std::string& sha, const std::string& previous_sha,
                     nlohmann::json details);
  // The gate, then the verification window; the failing targets, empty when healthy.
  std::vector<std::pair<std::string, std::string>> gate_and_watch(const char* what);
  int roll_back(const std::string& previous);
  std::string revision_for(const std::string& previous, const std::vector<DeployEvent>& log) const;

  const VerifyRequest& m_request;
  VerifyWiring& m_wiring;
  std::optional<std::string> m_revision_before;
};

// The last `count` lines of `text`.
std::vector<std::string> last_lines(const std::string& text, std::size_t count) {
  std::vector<std::string> lines = util::split(text, '\n');
  while (!lines.empty() && lines.back().empty()) {
    lines.pop_back();
  }
  if (lines.size() > count) {
    lines.erase(lines.begin(), lines.end() - static_cast<std::ptrdiff_t>(count));
  }
  return lines;
}

nlohmann::json failing_json(const std::vector<std::pair<std::string, std::string>>& failing) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [target, error] : failing) {
    list.push_back({{"target", target}, {"error", error}});
  }
  return list;
}

DeployEvent Verify::record(EventKind kind, const std::string& sha, const std::string& previous_sha,
                           nlohmann::json details) {
  DeployEvent event = make_event(kind, sha, previous_sha, m_request.actor);
  if (const std::optional<std::string> revision = m_wiring.events->db_revision()) {
    details["db_revision"] = *revision;
  }
  event.details = std::move(details);
  m_wiring.events->record(event);
  say(std::string(to_string(kind)) + " " + sha);
  if (m_wiring.notify) {
    m_wiring.notify(event);
  }
  return event;
}

std::vector<std::pair<std::string, std::string>> Verify::gate_and_watch(const char* what) {
  const GateResult gate = m_wiring.gate();
  if (!gate.open) {
    const auto failing =
        gate.failing.empty()
            ? std::vector<std::pair<std::string, std::string>>{{"gate", "timed out"}}
            : gate.failing;
    say(std::string(what) + ": gate failed after " + util::format_duration(gate.waited) +
        "; not ready:");
    for (const auto& [target, error] : failing) {
      say("  " + target + ": " + error);
    }
    return failing;
  }
  say(std::string(what) + ": gate passed after " + util::format_duration(gate.waited));
  if (m_request.watch.count() > 0 && m_wiring.watch) {
    std::vector<std::pair<std::string, std::string>> failing;
    for (const std::string& down : m_wiring.watch(m_request.watch)) {
      const std::size_t colon = down.find(": ");
      failing.emplace_back(down.substr(0, colon),
                           colon == std::string::npos ? "down" : down.substr(colon + 2));
    }
    if (!failing.empty()) {
      say(std::string(what) + ": a critical target went DOWN in the verification window:");
      for (const auto& [target, error] : failing) {
        say("  " + target + ": " + error);
      }
    }
    return failing;
  }
  return {};
}

std::string Verify::revision_for(const std::string& previous,
                                 const std::vector<DeployEvent>& log) const {
  // The revision the previous good SHA last ran with, so the hook can downgrade to it.
  for (const DeployEvent& event : log) {
    if (event.sha == previous && is_good_release(event) && event.details.contains("db_revision") &&
        event.details["db_revision"].is_string() &&
        valid_ref(event.details["db_revision"].get<std::string>())) { // it reaches the hook's env
      return event.details["db_revision"].get<std::string>();
    }
  }
  return m_revision_before.value_or("");
}

int Verify::roll_back(const std::string& previous) {
  const std::string& failed = m_request.sha;
  const std::vector<DeployEvent> log = m_wiring.events->recent(1000);
  record(EventKind::rollback_started, previous, failed, {{"failed_sha", failed}});
  if (m_wiring.rollback.command.empty()) {
    const std::string why = "no rollback hook: " + m_wiring.rollback_origin + " is not set";
    say("rollback failed: " + why);
    record(EventKind::rollback_failed, previous, failed, {{"error", why}});
    return k_rollback_failed;
  }
  const std::vector<std::string> argv = util::substitute_placeholders(
      m_wiring.rollback.command, {{"previous_sha", previous}, {"failed_sha", failed}});
  const std::vector<std::string> env{"PROBE_PREVIOUS_SHA=" + previous, "PROBE_FAILED_SHA=" + failed,
                                     "PROBE_DB_REVISION=" + revision_for(previous, log)};
  const util::CommandResult hook =
      m_wiring.runner->run(argv, env, m_wiring.rollback.timeout,
                           [this](const std::string& line) { say("hook: " + line); });
  if (!hook.started || hook.timed_out || hook.exit_code != 0) {
    const std::string why =
        !hook.started      ? hook.start_error
        : hook.timed_out   ? "timed out after " + util::format_duration(m_wiring.rollback.timeout)
        : hook.signal != 0 ? "killed by signal " + std::to_string(hook.signal)
                           : "exited " + std::to_string(hook.exit_code);
    say("rollback failed: the hook (" + m_wiring.rollback_origin + ") " + why);
    const std::vector<std::string> tail = last_lines(hook.output_tail, 10);
    if (!tail.empty()) {
      say("the hook's last output:");
      for (const std::string& line : tail) {
        say("  | " + line);
      }
    }
    record(EventKind::rollback_failed, previous, failed,
           {{"error", "rollback hook " + why},
            {"exit_code", hook.exit_code},
            {"timed_out", hook.timed_out},
            {"output_tail", hook.output_tail}});
    return k_rollback_failed;
  }
  const auto failing = gate_and_watch("rollback");
  if (!failing.empty()) {
    record(EventKind::rollback_failed, previous, failed,
           {{"error", "unhealthy after the rollback"}, {"failing", failing_json(failing)}});
    return k_rollback_failed;
  }
  record(EventKind::rollback_succeeded, previous, failed, {{"failed_sha", failed}});
  return k_rolled_back;
}

int Verify::run() {
  m_revision_before = m_wiring.events->db_revision();
  std::string previous = m_request.previous.value_or("");
  if (previous.empty()) {
    if (const auto good = previous_good(m_wiring.events->recent(1000), m_request.sha)) {
      previous = good->sha;
    }
  }
  record(EventKind::deploy_started, m_request.sha, previous,
         {{"watch_ms", m_request.watch.count()}});
  const auto failing = gate_and_watch("deploy");
  if (failing.empty()) {
    record(EventKind::deploy_succeeded, m_request.sha, previous, nlohmann::json::object());
    return k_deployed;
  }
  record(EventKind::deploy_failed, m_request.sha, previous, {{"failing", failing_json(failing)}});
  if (previous.empty() || previous == m_request.sha) {
    say("no previous good SHA to roll back to");
    return k_failed_nothing_to_roll_back;
  }
  if (!m_request.roll_back) {
    say("not rolling back (--no-rollback): the caller rolls back to " + previous);
    if (m_wiring.hand_over) {
      m_wiring.hand_over(
          {previous, m_request.sha, revision_for(previous, m_wiring.events->recent(1000))});
    }
    return k_failed_nothing_to_roll_back;
  }
  return roll_back(previous);
}

} // namespace

int verify(const VerifyRequest& request, VerifyWiring& wiring) {
  return Verify(request, wiring).run();
}

} // namespace probe::deploy
