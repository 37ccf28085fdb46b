// Gate polling; see gate_runner.hpp.
#include "probe/engine/gate_runner.hpp"

#include <algorithm>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "probe/util/duration.hpp"
#include "probe/util/error.hpp"
#include "probe/util/url.hpp"

namespace probe::engine {

ConfigGateSource::ConfigGateSource(const config::Config& config,
                                   const std::vector<std::string>& only, int required,
                                   const checks::CheckContext& context)
    : m_checks(make_checks(select_targets(config, only), context)), m_required(required) {}

void ConfigGateSource::poll(std::optional<GateTracker>& tracker) {
  if (!tracker) {
    std::vector<std::pair<std::string, bool>> names;
    for (const TargetCheck& check : m_checks) {
      names.emplace_back(check.target->name, check.target->critical);
    }
    tracker.emplace(names, m_required);
  }
  for (const TargetResult& result : run_once(m_checks)) {
    tracker->observe(result.target->name, result.result.ok(), result.result.detail,
                     result.target->failure_threshold);
  }
}

SidecarGateSource::SidecarGateSource(std::string url, std::vector<std::string> only, int required)
    : m_url(std::move(url)), m_only(std::move(only)), m_required(required) {
  while (!m_url.empty() && m_url.back() == '/') {
    m_url.pop_back();
  }
  std::string error;
  if (!util::parse_http_url(m_url, &error)) {
    throw Error("--url: " + error);
  }
}

std::optional<std::string> SidecarGateSource::fetch_status(std::string* error) {
  std::string parse_error;
  const util::Url url = *util::parse_http_url(m_url, &parse_error);
  httplib::Client client(url.base());
  client.set_connection_timeout(std::chrono::seconds(2));
  client.set_read_timeout(std::chrono::seconds(5));
  std::string prefix = url.path_and_query == "/" ? "" : url.path_and_query;
  const httplib::Result result = client.Get(prefix + "/status");
  if (!result) {
    *error = "cannot reach probe at " + m_url + ": " + httplib::to_string(result.error());
    return std::nullopt;
  }
  if (result->status != 200) {
    *error = "probe at " + m_url + " answered /status with " + std::to_string(result->status);
    return std::nullopt;
  }
  return result->body;
}

void SidecarGateSource::discover() {
  std::string error;
  const std::optional<std::string> body = fetch_status(&error);
  if (!body) {
    return;
  }
  const nlohmann::json status = nlohmann::json::parse(*body, nullptr, false);
  if (status.is_discarded() || !status.contains("gate")) {
    return;
  }
  const nlohmann::json& gate = status["gate"];
  if (gate.contains("poll_interval_ms")) {
    m_poll_interval = std::chrono::milliseconds(gate["poll_interval_ms"].get<long long>());
  }
  if (gate.contains("timeout_ms")) {
    m_timeout = std::chrono::milliseconds(gate["timeout_ms"].get<long long>());
  }
  if (m_required <= 0 && gate.contains("consecutive_successes")) {
    m_required = gate["consecutive_successes"].get<int>();
  }
}

void SidecarGateSource::poll(std::optional<GateTracker>& tracker) {
  std::string error;
  const std::optional<std::string> body = fetch_status(&error);
  const nlohmann::json status =
      body ? nlohmann::json::parse(*body, nullptr, false) : nlohmann::json();
  if (!body || status.is_discarded() || !status.contains("targets")) {
    const std::string problem =
        body ? "probe at " + m_url + " sent a /status that is not JSON" : error;
    if (tracker) {
      for (const GateTarget& target : tracker->targets()) {
        tracker->set_streak(target.name, 0, false, problem);
      }
    }
    m_last_error = problem;
    return;
  }
  if (!tracker) {
    if (m_required <= 0) {
      m_required = status.contains("gate") ? status["gate"].value("consecutive_successes", 3) : 3;
    }
    std::vector<std::pair<std::string, bool>> names;
    for (const nlohmann::json& target : status["targets"]) {
      const std::string name = target.value("name", "");
      if (m_only.empty() || std::find(m_only.begin(), m_only.end(), name) != m_only.end()) {
        names.emplace_back(name, target.value("critical", true));
        m_baseline[name] = target.value("checks", 0LL);
      }
    }
    for (const std::string& name : m_only) {
      if (m_baseline.count(name) == 0) {
        throw Error("--only: the probe at " + m_url + " has no target named \"" + name + "\"");
      }
    }
    tracker.emplace(names, m_required);
    return; // results from before the gate began do not count
  }
  for (const nlohmann::json& target : status["targets"]) {
    const std::string name = target.value("name", "");
    const auto baseline = m_baseline.find(name);
    if (baseline == m_baseline.end()) {
      continue;
    }
    const long long fresh = target.value("checks", 0LL) - baseline->second;
    const long long streak = std::min<long long>(target.value("consecutive_successes", 0), fresh);
    const bool ok = target.value("last_result", "") == "success";
    const nlohmann::json detail = target.contains("last_detail") ? target["last_detail"] : nullptr;
    tracker->set_streak(name, static_cast<int>(std::max(0LL, streak)), ok && fresh > 0,
                        fresh <= 0           ? "waiting for a fresh check"
                        : detail.is_string() ? detail.get<std::string>()
                                             : "");
  }
}

std::vector<std::string> run_watch(GateSource& source, std::optional<GateTracker>& tracker,
                                   std::chrono::milliseconds window,
                                   std::chrono::milliseconds poll_interval) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point end = Clock::now() + window;
  while (Clock::now() < end) {
    const Clock::time_point round_start = Clock::now();
    source.poll(tracker);
    if (tracker) {
      std::vector<std::string> down;
      for (const GateTarget* target : tracker->down()) {
        down.push_back(target->name + ": " + target->last_detail);
      }
      if (!down.empty()) {
        return down;
      }
    }
    std::this_thread::sleep_until(std::min(round_start + poll_interval, end));
  }
  return {};
}

GateOutcome run_gate(GateSource& source, std::optional<GateTracker>& tracker,
                     std::chrono::milliseconds timeout, std::chrono::milliseconds poll_interval,
                     const std::function<void(const std::optional<GateTracker>&)>& progress) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline = start + timeout;
  GateOutcome outcome;
  while (true) {
    const Clock::time_point round_start = Clock::now();
    source.poll(tracker);
    if (progress) {
      progress(tracker);
    }
    outcome.waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    if (tracker && tracker->open()) {
      outcome.open = true;
      return outcome;
    }
    if (Clock::now() >= deadline) {
      return outcome;
    }
    // Rounds start every poll_interval; one that ran long is followed at once.
    std::this_thread::sleep_until(std::min(round_start + poll_interval, deadline));
    if (Clock::now() >= deadline) {
      outcome.waited = timeout;
      return outcome;
    }
  }
}

} // namespace probe::engine
