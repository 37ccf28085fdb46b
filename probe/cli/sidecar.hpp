// `probe serve` assembled: config -> scheduler -> metrics, and the HTTP server that shows them.
// Owns the reload path (SIGHUP and POST /-/reload): a bad config keeps the running one and
// sets probe_config_last_reload_successful to 0.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "exporters/metrics.hpp"
#include "exporters/notify.hpp"
#include "exporters/render_cache.hpp"
#include "probe/config/config.hpp"
#include "probe/deploy/local_sink.hpp"
#include "probe/engine/scheduler.hpp"
#include "probe/serve/http_server.hpp"
#include "probe/util/watchdog.hpp"

namespace probe::cli {

class Sidecar {
public:
  // Loads the config at `config_path`; throws probe::Error (exit 2) when it is bad.
  Sidecar(std::string config_path, std::optional<std::string> listen_override);
  ~Sidecar();

  // Serves until SIGTERM or SIGINT; returns the exit code (0 after a graceful stop).
  int run();

  // Re-reads the config file and applies it; keeps the old one on error.
  serve::ReloadOutcome reload();

private:
  std::string token() const;
  std::pair<int, nlohmann::json> record_deploy(const std::string& body);
  nlohmann::json list_deploys(std::size_t limit);
  // Background: replays the journal, refreshes the deploy metrics, sends notifications.
  void deploy_loop();
  void refresh_deploy_metrics();
  void on_result(const config::Target& target, const engine::TargetState& state, bool ready);

  std::string m_config_path;
  std::optional<std::string> m_listen_override;
  mutable std::mutex m_config_mutex; // guards m_config and m_channels; serializes reloads
  std::shared_ptr<const config::Config> m_config;
  util::Watchdog m_watchdog;
  exporters::ProbeMetrics m_metrics;
  exporters::RenderCache m_metrics_cache; // what /metrics serves
  engine::Scheduler m_scheduler;
  std::unique_ptr<serve::HttpServer> m_server;

  std::unique_ptr<deploy::LocalEventSink> m_events;
  // Replaced whole on reload; the deploy thread keeps the set it took until it is done with it.
  using Channels = std::vector<std::unique_ptr<exporters::Channel>>;
  std::shared_ptr<const Channels> m_channels;
  std::mutex m_deploy_mutex;
  std::condition_variable m_deploy_wake;
  std::deque<deploy::DeployEvent> m_to_notify;
  bool m_stopping = false;
  std::thread m_deploy_thread;
};

} // namespace probe::cli
