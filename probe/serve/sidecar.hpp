// `probe serve` assembled: config -> scheduler -> metrics, and the HTTP server that shows them.
// Owns the reload path (SIGHUP and POST /-/reload): a bad config keeps the running one and
// sets probe_config_last_reload_successful to 0, whatever the loader throws.
//
// Signals: SIGTERM, SIGINT and SIGHUP are blocked before the first thread starts (block_signals(),
// called first thing by `probe serve`), so every thread, ours and the libraries', inherits the
// mask and none can be killed by one; run()'s thread alone takes them, from a signalfd (so they
// stay blocked in that thread too, as /proc/PID/task/*/status shows). A HUP asks
// a CoalescingWorker for a reload, so reloads run one at a time off the signal thread, HUPs that
// arrive during one make one more after it, and SIGTERM is seen, and stops gracefully with exit
// 0, even in the middle of a reload.
#pragma once

#include <condition_variable>
#include <csignal>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <semaphore>
#include <string>
#include <thread>

#include "exporters/metrics.hpp"
#include "exporters/notify.hpp"
#include "exporters/render_cache.hpp"
#include "exporters/status_page.hpp"
#include "probe/config/config.hpp"
#include "probe/deploy/local_recorder.hpp"
#include "probe/engine/scheduler.hpp"
#include "probe/serve/http_server.hpp"

namespace probe::serve {

class Sidecar {
public:
  // Loads the config at `config_path`; throws probe::Error (exit 2) when it is bad.
  Sidecar(std::string config_path, std::optional<std::string> listen_override);
  ~Sidecar();

  // The signals run() takes: SIGTERM, SIGINT, SIGHUP.
  static sigset_t signals();
  // Blocks signals() in the calling thread, so every thread started from it afterwards has
  // them blocked too. Call before anything that starts a thread.
  static void block_signals();

  // Serves until SIGTERM or SIGINT; returns the exit code (0 after a graceful stop).
  int run();

  // Re-reads the config file and applies it; keeps the old one on error.
  ReloadOutcome reload();

private:
  std::string token() const;
  std::pair<int, nlohmann::json> record_deploy(const std::string& body);
  // GET /deploys: at most k_deploy_readers at once, each answer within k_deploys_answer_bytes.
  std::pair<int, std::string> list_deploys(std::size_t limit);
  // Background: replays the journal, refreshes the deploy metrics, sends notifications.
  void deploy_loop();
  void refresh_deploy_metrics();
  void on_result(const config::Target& target, const engine::TargetState& state,
                 const engine::RunTiming& timing, bool ready);
  // GET /: the page, or nullopt when status_page is off.
  std::optional<std::string> status_page() const;
  void note_reload(bool ok);

  std::string m_config_path;
  std::optional<std::string> m_listen_override;
  std::mutex m_reload_mutex;         // serializes reloads (SIGHUP and POST /-/reload)
  mutable std::mutex m_config_mutex; // guards m_config and m_channels; held only to swap them
  std::shared_ptr<const config::Config> m_config;
  exporters::ProbeMetrics m_metrics;
  exporters::RenderCache m_metrics_cache; // what /metrics serves
  engine::Scheduler m_scheduler;
  std::unique_ptr<HttpServer> m_server;

  std::unique_ptr<deploy::LocalEventRecorder> m_events;
  // GET /deploys needs no token: two reads at a time; the others wait up to 5 s, then get 503.
  static constexpr std::ptrdiff_t k_deploy_readers = 2;
  static constexpr std::size_t k_deploys_answer_bytes = std::size_t{1024} * 1024;
  std::counting_semaphore<k_deploy_readers> m_deploy_readers{k_deploy_readers};
  // Replaced whole on reload; the deploy thread keeps the set it took until it is done with it.
  using Channels = std::vector<std::unique_ptr<exporters::Channel>>;
  std::shared_ptr<const Channels> m_channels;
  std::mutex m_deploy_mutex;
  std::condition_variable m_deploy_wake;
  std::deque<deploy::DeployEvent> m_to_notify;
  // What the status page shows besides the scheduler's state: the deploy thread's last read of
  // the event log (so GET / never waits on the event store) and the reload outcomes.
  mutable std::mutex m_page_mutex;
  bool m_deploys_read = false;
  std::optional<deploy::DeployEvent> m_running_release;
  std::vector<deploy::DeployEvent> m_recent_deploys; // newest first, k_status_page_deploys
  exporters::ReloadState m_reload_state;
  bool m_stopping = false;
  std::thread m_deploy_thread;
};

} // namespace probe::serve
