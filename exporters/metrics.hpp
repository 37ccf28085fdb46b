// probe's Prometheus metrics: the families, names, types and labels of the contract, kept in a
// prometheus-cpp Registry and rendered by its TextSerializer (no hand-written exposition).
// Pure data: nothing here opens a socket; the HTTP server only moves render()'s bytes.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "exporters/render_cache.hpp"
#include "probe/engine/schedule.hpp"
#include "probe/engine/target_state.hpp"

namespace probe::exporters {

class ProbeMetrics {
public:
  ProbeMetrics(const std::string& version, const std::string& revision);

  // Records one result of `target` and its debounced `state`; `ready` is the new verdict.
  void observe(const config::Target& target, const engine::TargetState& state, bool ready);

  // Records how late `target`'s last run started and the due runs skipped before it finished
  // (probe_check_lag_seconds, probe_checks_skipped_total), with its interval to compare.
  void observe_timing(const config::Target& target, const engine::RunTiming& timing);

  // Drops every series of target `name` (removed or changed type on reload).
  void remove_target(const std::string& name);

  void set_ready(bool ready);
  // A reload attempt: success sets the success timestamp too.
  void record_reload(bool success, std::chrono::system_clock::time_point when);

  // The deploy log's figures: counts of stored events by kind (monotonic as the log only
  // grows; nullopt when the log could not be read), the newest successful deploy or rollback,
  // the newest deploy event's time, and the journal's backlog. Outcomes: succeeded =
  // deploy_succeeded, failed = deploy_failed (rolled back or not), rolled_back =
  // rollback_succeeded.
  void update_deploys(const std::optional<std::map<std::string, long long>>& counts,
                      const std::string& current_sha, const std::string& current_previous,
                      std::optional<double> last_deploy_timestamp, std::size_t pending);
  // How many deploy events this process has set aside in the journal's quarantine file
  // (refused by PostgreSQL for their content, or conflicting with a stored event); monotonic.
  void set_events_quarantined(std::uint64_t total);
  // One notification delivery attempt's outcome (ok / failed) for `channel`.
  void count_notification(const std::string& channel, bool ok);

  // The exposition, text format 0.0.4.
  std::string render() const;
  // Change counters for RenderCache: `all` at every change (equal, equal render()); `rare` at
  // every change but a check result (reloads, removed targets, deploys, notifications).
  RenderCache::Versions versions() const { return {m_version.load(), m_rare_version.load()}; }
  // Every family registered, for the test that render() (which walks m_families) leaves none out.
  const prometheus::Registry& registry() const { return *m_registry; }

private:
  struct TargetSeries {
    std::string type;
    prometheus::Gauge* success = nullptr;
    prometheus::Gauge* up = nullptr;
    prometheus::Histogram* duration = nullptr;
    std::map<std::string, prometheus::Counter*> checks; // by result
    prometheus::Gauge* last_success = nullptr;
    prometheus::Gauge* consecutive_failures = nullptr;
    prometheus::Gauge* http_status = nullptr;   // http targets only
    prometheus::Gauge* heartbeat_age = nullptr; // heartbeat targets only
    // http targets, from the first result that carries them: an answered check's phases (by
    // phase, in k_http_phase_names' order) and the earliest certificate's notAfter (https).
    std::vector<prometheus::Gauge*> http_phases;
    prometheus::Gauge* tls_expiry = nullptr;
    // The target's configuration, for alert rules to compare against (see observe()).
    prometheus::Gauge* critical = nullptr;
    prometheus::Gauge* latency_budget = nullptr;
    prometheus::Gauge* heartbeat_max_age = nullptr; // heartbeat targets only
    // The scheduler's view: lateness, skipped runs by reason, and the interval they are
    // measured against.
    prometheus::Gauge* lag = nullptr;
    prometheus::Counter* skipped_saturated = nullptr;
    prometheus::Counter* skipped_in_flight = nullptr;
    prometheus::Gauge* interval = nullptr;
  };

  TargetSeries& series_for(const config::Target& target);
  void remove_series(const TargetSeries& series);
  void set_http_phases(TargetSeries& series, const std::string& target,
                       const checks::HttpPhases& phases);
  void set_tls_expiry(TargetSeries& series, const config::Target& target,
                      const checks::CheckResult& result);
  static void set_target_config(TargetSeries& series, const config::Target& target);

  // Registers a family's series for render(), in the order they are built; returns it.
  template <typename Family> Family& keep(Family& family) {
    m_families.push_back(&family);
    return family;
  }

  std::shared_ptr<prometheus::Registry> m_registry;
  std::vector<const prometheus::Collectable*> m_families; // every family, for render()
  mutable std::atomic<std::size_t> m_last_render_size{0};
  prometheus::Family<prometheus::Gauge>& m_success;
  prometheus::Family<prometheus::Gauge>& m_target_up;
  prometheus::Family<prometheus::Histogram>& m_duration;
  prometheus::Family<prometheus::Counter>& m_checks_total;
  prometheus::Family<prometheus::Gauge>& m_last_success;
  prometheus::Family<prometheus::Gauge>& m_consecutive_failures;
  prometheus::Family<prometheus::Gauge>& m_http_status;
  prometheus::Family<prometheus::Gauge>& m_heartbeat_age;
  prometheus::Family<prometheus::Gauge>& m_http_phase_duration;
  prometheus::Family<prometheus::Gauge>& m_tls_expiry;
  prometheus::Family<prometheus::Gauge>& m_target_critical;
  prometheus::Family<prometheus::Gauge>& m_latency_budget;
  prometheus::Family<prometheus::Gauge>& m_heartbeat_max_age;
  prometheus::Family<prometheus::Gauge>& m_check_lag;
  prometheus::Family<prometheus::Counter>& m_checks_skipped;
  prometheus::Family<prometheus::Gauge>& m_check_interval;
  prometheus::Gauge& m_ready;
  prometheus::Gauge& m_reload_successful;
  prometheus::Gauge& m_reload_success_timestamp;

  void advance(prometheus::Counter& counter, double to);

  prometheus::Family<prometheus::Gauge>& m_deploy_info;
  prometheus::Family<prometheus::Counter>& m_deploys_total;
  prometheus::Family<prometheus::Counter>& m_rollbacks_total;
  prometheus::Gauge& m_last_deploy;
  prometheus::Gauge& m_events_pending;
  prometheus::Counter& m_events_quarantined;
  prometheus::Family<prometheus::Counter>& m_notifications_total;
  prometheus::Gauge* m_current_deploy = nullptr;
  std::string m_current_sha;
  std::string m_current_previous;

  std::atomic<std::uint64_t> m_version{0};
  std::atomic<std::uint64_t> m_rare_version{0};
  std::mutex m_mutex; // guards m_series and the deploy state (families lock themselves)
  std::map<std::string, TargetSeries> m_series;
};

} // namespace probe::exporters
