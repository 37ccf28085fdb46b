// Metric families and their updates; see metrics.hpp.
#include "exporters/metrics.hpp"

#include <array>
#include <limits>
#include <ostream>
#include <streambuf>

#include <prometheus/text_serializer.h>

#include "probe/deploy/event_kind.hpp"

namespace probe::exporters {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

// Check latencies: a healthy local check takes well under 5 ms; timeouts go up to seconds.
const prometheus::Histogram::BucketBoundaries k_duration_buckets{
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

// The `phase` label values of probe_http_duration_seconds, in the order of checks::HttpPhases.
constexpr std::array<const char*, 5> k_http_phase_names{"resolve", "connect", "tls", "processing",
                                                        "transfer"};

std::array<std::chrono::nanoseconds, 5> phase_durations(const checks::HttpPhases& phases) {
  return {phases.resolve, phases.connect, phases.tls, phases.processing, phases.transfer};
}

// Whether `target` presents a certificate at all: only an https URL does. A reload may turn an
// https URL into http:// while the target and its series stay.
bool uses_tls(const config::Target& target) {
  const auto* http = std::get_if<config::HttpTarget>(&target.spec);
  return http != nullptr && http->url.rfind("https://", 0) == 0;
}

double seconds_since_epoch(std::chrono::system_clock::time_point when) {
  return std::chrono::duration<double>(when.time_since_epoch()).count();
}

double seconds(util::Duration duration) {
  return std::chrono::duration<double>(duration).count();
}

// What "slow" means for a target: its own latency limit when it has one, else its timeout.
util::Duration latency_budget(const config::Target& target) {
  if (const auto* http = std::get_if<config::HttpTarget>(&target.spec)) {
    if (http->expect.max_latency) {
      return *http->expect.max_latency;
    }
  }
  return target.timeout;
}

// Counts a change once it is made (at the end of the scope), so that a render which read the
// old version can never be taken for the new data.
// `rare` (optional) counts the changes a scrape must show at once; see versions().
struct VersionBump {
  explicit VersionBump(std::atomic<std::uint64_t>& all, std::atomic<std::uint64_t>* rare = nullptr)
      : m_all(all), m_rare(rare) {}
  ~VersionBump() {
    if (m_rare != nullptr) {
      ++*m_rare;
    }
    ++m_all;
  }
  VersionBump(const VersionBump&) = delete;
  VersionBump& operator=(const VersionBump&) = delete;
  std::atomic<std::uint64_t>& m_all;
  std::atomic<std::uint64_t>* m_rare;
};

// A stream buffer that appends to a string, so that the serializer writes into the exposition
// itself rather than into an ostringstream of its own.
class AppendToString : public std::streambuf {
public:
  explicit AppendToString(std::string& text) : m_text(text) {}

protected:
  int_type overflow(int_type ch) override {
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      m_text.push_back(traits_type::to_char_type(ch));
    }
    return traits_type::not_eof(ch);
  }
  std::streamsize xsputn(const char* chars, std::streamsize count) override {
    m_text.append(chars, static_cast<std::size_t>(count));
    return count;
  }

private:
  std::string& m_text;
};

} // namespace

ProbeMetrics::ProbeMetrics(const std::string& version, const std::string& revision)
    : m_registry(std::make_shared<prometheus::Registry>()),
      m_success(keep(BuildGauge()
                         .Name("probe_success")
                         .Help("1 if the last check of the target passed, else 0")
                         .Register(*m_registry))),
      m_target_up(
          keep(BuildGauge()
                   .Name("probe_target_up")
                   .Help("Debounced state: 1 when UP after success_threshold passes, 0 when "
                         "DOWN after failure_threshold failures or not yet known")
                   .Register(*m_registry))),
      m_duration(keep(BuildHistogram()
                          .Name("probe_duration_seconds")
                          .Help("Check latency in seconds")
                          .Register(*m_registry))),
      m_checks_total(keep(BuildCounter()
                              .Name("probe_checks_total")
                              .Help("Checks run, by result: success, failure, timeout, error")
                              .Register(*m_registry))),
      m_last_success(keep(BuildGauge()
                              .Name("probe_last_success_timestamp_seconds")
                              .Help("Unix time of the target's last passing check")
                              .Register(*m_registry))),
      m_consecutive_failures(keep(BuildGauge()
                                      .Name("probe_consecutive_failures")
                                      .Help("Failed checks in a row for the target")
                                      .Register(*m_registry))),
      m_http_status(keep(BuildGauge()
                             .Name("probe_http_status_code")
                             .Help("HTTP status of the last answer (http targets)")
                             .Register(*m_registry))),
      m_heartbeat_age(keep(BuildGauge()
                               .Name("probe_heartbeat_age_seconds")
                               .Help("Age of the last heartbeat (heartbeat targets)")
                               .Register(*m_registry))),
      m_http_phase_duration(
          keep(BuildGauge()
                   .Name("probe_http_duration_seconds")
                   .Help("The last answered HTTP check's duration by phase: resolve, connect, "
                         "tls, processing, transfer (http targets)")
                   .Register(*m_registry))),
      m_tls_expiry(keep(BuildGauge()
                            .Name("probe_tls_earliest_cert_expiry_timestamp_seconds")
                            .Help("Unix time of notAfter of the earliest-expiring certificate the "
                                  "server presented (https targets)")
                            .Register(*m_registry))),
      m_target_critical(keep(BuildGauge()
                                 .Name("probe_target_critical")
                                 .Help("1 if the target counts for readiness (critical), else 0")
                                 .Register(*m_registry))),
      m_latency_budget(keep(BuildGauge()
                                .Name("probe_latency_budget_seconds")
                                .Help("The target's latency budget: expect.max_latency for http "
                                      "targets that set it, else the check timeout")
                                .Register(*m_registry))),
      m_heartbeat_max_age(keep(BuildGauge()
                                   .Name("probe_heartbeat_max_age_seconds")
                                   .Help("The heartbeat target's max_age")
                                   .Register(*m_registry))),
      m_check_lag(keep(BuildGauge()
                           .Name("probe_check_lag_seconds")
                           .Help("How late the target's last check started after it was due")
                           .Register(*m_registry))),
      m_checks_skipped(
          keep(BuildCounter()
                   .Name("probe_checks_skipped_total")
                   .Help("Due checks not run, by reason: saturated = still waiting for a free "
                         "worker, in_flight = the previous check of the target still running")
                   .Register(*m_registry))),
      m_check_interval(keep(BuildGauge()
                                .Name("probe_check_interval_seconds")
                                .Help("The target's check interval")
                                .Register(*m_registry))),
      m_ready(keep(BuildGauge()
                       .Name("probe_ready")
                       .Help("1 when every critical target is UP")
                       .Register(*m_registry))
                  .Add({})),
      m_reload_successful(keep(BuildGauge()
                                   .Name("probe_config_last_reload_successful")
                                   .Help("1 if the last config reload succeeded")
                                   .Register(*m_registry))
                              .Add({})),
      m_reload_success_timestamp(
          keep(BuildGauge()
                   .Name("probe_config_last_reload_success_timestamp_seconds")
                   .Help("Unix time of the last successful config load")
                   .Register(*m_registry))
              .Add({})),
      m_deploy_info(
          keep(BuildGauge()
                   .Name("probe_deploy_info")
                   .Help("1 for the SHA deployed now (the newest successful deploy or rollback)")
                   .Register(*m_registry))),
      m_deploys_total(keep(BuildCounter()
                               .Name("probe_deploys_total")
                               .Help("Deploys by outcome: succeeded, failed, rolled_back")
                               .Register(*m_registry))),
      m_rollbacks_total(keep(BuildCounter()
                                 .Name("probe_rollbacks_total")
                                 .Help("Rollbacks by outcome: succeeded, failed")
                                 .Register(*m_registry))),
      m_last_deploy(keep(BuildGauge()
                             .Name("probe_last_deploy_timestamp_seconds")
                             .Help("Unix time of the newest deploy event")
                             .Register(*m_registry))
                        .Add({})),
      m_events_pending(keep(BuildGauge()
                                .Name("probe_events_pending")
                                .Help("Journal entries not yet stored in PostgreSQL")
                                .Register(*m_registry))
                           .Add({})),
      m_events_quarantined(
          keep(BuildCounter()
                   .Name("probe_events_quarantined_total")
                   .Help("Deploy events set aside in the journal's quarantine file: refused by "
                         "PostgreSQL for their content, or conflicting with a stored event")
                   .Register(*m_registry))
              .Add({})),
      m_notifications_total(keep(BuildCounter()
                                     .Name("probe_notifications_total")
                                     .Help("Deploy notifications sent, by channel and outcome")
                                     .Register(*m_registry))) {
  keep(BuildGauge()
           .Name("probe_build_info")
           .Help("probe's version and git revision; always 1")
           .Register(*m_registry))
      .Add({{"version", version}, {"revision", revision}})
      .Set(1);
}

ProbeMetrics::TargetSeries& ProbeMetrics::series_for(const config::Target& target) {
  const std::string type(config::to_string(target.type));
  auto found = m_series.find(target.name);
  if (found != m_series.end() && found->second.type == type) {
    return found->second;
  }
  if (found != m_series.end()) {
    remove_series(found->second); // the type label changed: old series would linger
    m_series.erase(found);
  }
  const prometheus::Labels labels{{"target", target.name}, {"type", type}};
  const prometheus::Labels name_only{{"target", target.name}};
  TargetSeries series;
  series.type = type;
  series.success = &m_success.Add(labels);
  series.up = &m_target_up.Add(labels);
  series.duration = &m_duration.Add(labels, k_duration_buckets);
  for (const char* result : {"success", "failure", "timeout", "error"}) {
    // Every result exists from the start at 0, so rate() sees the first failure.
    prometheus::Labels with_result = labels;
    with_result.emplace("result", result);
    series.checks.emplace(result, &m_checks_total.Add(with_result));
  }
  series.last_success = &m_last_success.Add(name_only);
  series.consecutive_failures = &m_consecutive_failures.Add(name_only);
  if (target.type == config::TargetType::http) {
    series.http_status = &m_http_status.Add(name_only);
  }
  if (target.type == config::TargetType::heartbeat) {
    series.heartbeat_age = &m_heartbeat_age.Add(name_only);
    series.heartbeat_max_age = &m_heartbeat_max_age.Add(name_only);
  }
  series.critical = &m_target_critical.Add(labels);
  series.latency_budget = &m_latency_budget.Add(labels);
  series.lag = &m_check_lag.Add(name_only);
  // Both reasons exist from the start at 0, so increase() sees the first skip.
  series.skipped_saturated =
      &m_checks_skipped.Add({{"target", target.name}, {"reason", "saturated"}});
  series.skipped_in_flight =
      &m_checks_skipped.Add({{"target", target.name}, {"reason", "in_flight"}});
  series.interval = &m_check_interval.Add(name_only);
  return m_series.emplace(target.name, std::move(series)).first->second;
}

void ProbeMetrics::remove_series(const TargetSeries& series) {
  m_success.Remove(series.success);
  m_target_up.Remove(series.up);
  m_duration.Remove(series.duration);
  for (const auto& [result, counter] : series.checks) {
    m_checks_total.Remove(counter);
  }
  m_last_success.Remove(series.last_success);
  m_consecutive_failures.Remove(series.consecutive_failures);
  if (series.http_status != nullptr) {
    m_http_status.Remove(series.http_status);
  }
  if (series.heartbeat_age != nullptr) {
    m_heartbeat_age.Remove(series.heartbeat_age);
    m_heartbeat_max_age.Remove(series.heartbeat_max_age);
  }
  for (prometheus::Gauge* phase : series.http_phases) {
    m_http_phase_duration.Remove(phase);
  }
  if (series.tls_expiry != nullptr) {
    m_tls_expiry.Remove(series.tls_expiry);
  }
  m_target_critical.Remove(series.critical);
  m_latency_budget.Remove(series.latency_budget);
  m_check_lag.Remove(series.lag);
  m_checks_skipped.Remove(series.skipped_saturated);
  m_checks_skipped.Remove(series.skipped_in_flight);
  m_check_interval.Remove(series.interval);
}

void ProbeMetrics::observe(const config::Target& target, const engine::TargetState& state,
                           bool ready) {
  const VersionBump bump(m_version);
  const std::lock_guard<std::mutex> lock(m_mutex);
  TargetSeries& series = series_for(target);
  const checks::CheckResult& result = state.last;
  series.success->Set(result.ok() ? 1 : 0);
  series.up->Set(state.health == engine::Health::up ? 1 : 0);
  series.duration->Observe(std::chrono::duration<double>(result.latency).count());
  series.checks.at(std::string(checks::to_string(result.status)))->Increment();
  if (state.last_success.time_since_epoch().count() != 0) {
    series.last_success->Set(seconds_since_epoch(state.last_success));
  }
  series.consecutive_failures->Set(state.consecutive_failures);
  if (series.http_status != nullptr && result.http_status) {
    series.http_status->Set(*result.http_status);
  }
  if (result.http_phases) {
    set_http_phases(series, target.name, *result.http_phases);
  }
  set_tls_expiry(series, target, result);
  if (series.heartbeat_age != nullptr) {
    // No beat at all is infinitely old: an age alert fires rather than reading 0 as fresh.
    series.heartbeat_age->Set(result.heartbeat_age_seconds
                                  ? *result.heartbeat_age_seconds
                                  : std::numeric_limits<double>::infinity());
  }
  m_ready.Set(ready ? 1 : 0);
  set_target_config(series, target);
}

void ProbeMetrics::set_http_phases(TargetSeries& series, const std::string& target,
                                   const checks::HttpPhases& phases) {
  if (series.http_phases.empty()) {
    // Created with the first answer, not at 0 before it: 0 s would read as "instant".
    for (const char* phase : k_http_phase_names) {
      series.http_phases.push_back(
          &m_http_phase_duration.Add({{"target", target}, {"phase", phase}}));
    }
  }
  const std::array<std::chrono::nanoseconds, 5> durations = phase_durations(phases);
  for (std::size_t i = 0; i < durations.size(); ++i) {
    series.http_phases[i]->Set(std::chrono::duration<double>(durations[i]).count());
  }
}

void ProbeMetrics::set_tls_expiry(TargetSeries& series, const config::Target& target,
                                  const checks::CheckResult& result) {
  if (!uses_tls(target)) {
    if (series.tls_expiry != nullptr) {
      m_tls_expiry.Remove(series.tls_expiry); // reloaded from https:// to http://
      series.tls_expiry = nullptr;
    }
    return;
  }
  // A result without a certificate (refused, timed out) keeps the last one seen: the
  // certificate still expires when it did, and the expiry alert keeps counting down.
  if (result.tls_earliest_expiry) {
    if (series.tls_expiry == nullptr) {
      series.tls_expiry = &m_tls_expiry.Add({{"target", target.name}});
    }
    series.tls_expiry->Set(seconds_since_epoch(*result.tls_earliest_expiry));
  }
}

void ProbeMetrics::set_target_config(TargetSeries& series, const config::Target& target) {
  // Set on every result, not once: a reload may change them while the series stays.
  series.critical->Set(target.critical ? 1 : 0);
  series.latency_budget->Set(seconds(latency_budget(target)));
  if (const auto* heartbeat = std::get_if<config::HeartbeatTarget>(&target.spec)) {
    series.heartbeat_max_age->Set(seconds(heartbeat->max_age));
  }
}

void ProbeMetrics::observe_timing(const config::Target& target, const engine::RunTiming& timing) {
  const VersionBump bump(m_version);
  const std::lock_guard<std::mutex> lock(m_mutex);
  TargetSeries& series = series_for(target);
  series.lag->Set(std::chrono::duration<double>(timing.lag).count());
  if (timing.skipped_saturated > 0) {
    series.skipped_saturated->Increment(static_cast<double>(timing.skipped_saturated));
  }
  if (timing.skipped_in_flight > 0) {
    series.skipped_in_flight->Increment(static_cast<double>(timing.skipped_in_flight));
  }
  series.interval->Set(seconds(target.interval));
}

void ProbeMetrics::remove_target(const std::string& name) {
  const VersionBump bump(m_version, &m_rare_version);
  const std::lock_guard<std::mutex> lock(m_mutex);
  const auto found = m_series.find(name);
  if (found != m_series.end()) {
    remove_series(found->second);
    m_series.erase(found);
  }
}

void ProbeMetrics::set_ready(bool ready) {
  const VersionBump bump(m_version);
  m_ready.Set(ready ? 1 : 0);
}

void ProbeMetrics::record_reload(bool success, std::chrono::system_clock::time_point when) {
  const VersionBump bump(m_version, &m_rare_version);
  m_reload_successful.Set(success ? 1 : 0);
  if (success) {
    m_reload_success_timestamp.Set(seconds_since_epoch(when));
  }
}

void ProbeMetrics::advance(prometheus::Counter& counter, double to) {
  if (to > counter.Value()) {
    counter.Increment(to - counter.Value());
  }
}

void ProbeMetrics::update_deploys(const std::optional<std::map<std::string, long long>>& counts,
                                  const std::string& current_sha,
                                  const std::string& current_previous,
                                  std::optional<double> last_deploy_timestamp,
                                  std::size_t pending) {
  const VersionBump bump(m_version, &m_rare_version);
  const std::lock_guard<std::mutex> lock(m_mutex);
  // The series appear with the first successful read of the log, never at 0 before it: a
  // restart while PostgreSQL is down would otherwise show N -> 0 -> N, which increase() reads as
  // N new deploys and the deploy alerts would fire for old events.
  if (counts) {
    using deploy::EventKind;
    auto count = [&](EventKind kind) {
      const auto found = counts->find(std::string(deploy::to_string(kind)));
      return found == counts->end() ? 0.0 : static_cast<double>(found->second);
    };
    // Each a count of one event kind, so each only grows: "failed" counts every failed
    // deploy, rolled back or not; "rolled_back" those a rollback then made good.
    advance(m_deploys_total.Add({{"outcome", "succeeded"}}), count(EventKind::deploy_succeeded));
    advance(m_deploys_total.Add({{"outcome", "failed"}}), count(EventKind::deploy_failed));
    advance(m_deploys_total.Add({{"outcome", "rolled_back"}}),
            count(EventKind::rollback_succeeded));
    advance(m_rollbacks_total.Add({{"outcome", "succeeded"}}),
            count(EventKind::rollback_succeeded));
    advance(m_rollbacks_total.Add({{"outcome", "failed"}}), count(EventKind::rollback_failed));
  }
  if (!current_sha.empty() &&
      (current_sha != m_current_sha || current_previous != m_current_previous)) {
    if (m_current_deploy != nullptr) {
      m_deploy_info.Remove(m_current_deploy); // one series: the SHA running now
    }
    m_current_deploy =
        &m_deploy_info.Add({{"sha", current_sha}, {"previous_sha", current_previous}});
    m_current_deploy->Set(1);
    m_current_sha = current_sha;
    m_current_previous = current_previous;
  }
  if (last_deploy_timestamp) {
    m_last_deploy.Set(*last_deploy_timestamp);
  }
  m_events_pending.Set(static_cast<double>(pending));
}

void ProbeMetrics::set_events_quarantined(std::uint64_t total) {
  if (static_cast<double>(total) > m_events_quarantined.Value()) {
    const VersionBump bump(m_version, &m_rare_version);
    advance(m_events_quarantined, static_cast<double>(total));
  }
}

void ProbeMetrics::count_notification(const std::string& channel, bool ok) {
  const VersionBump bump(m_version, &m_rare_version);
  m_notifications_total.Add({{"channel", channel}, {"outcome", ok ? "ok" : "failed"}}).Increment();
}

std::string ProbeMetrics::render() const {
  // One family at a time, straight into one string sized from the last render: the registry's
  // Collect() would build every series of every family first (1000 targets: ~25,000, several
  // MB), and the serializer's ostringstream doubles as it grows and is then copied out.
  std::string text;
  const std::size_t last_size = m_last_render_size.load();
  text.reserve(last_size + last_size / 8);
  AppendToString buffer(text);
  std::ostream out(&buffer);
  const prometheus::TextSerializer serializer;
  for (const prometheus::Collectable* family : m_families) {
    serializer.Serialize(out, family->Collect());
  }
  m_last_render_size = text.size();
  return text;
}

} // namespace probe::exporters
