// The long-running sidecar; see sidecar.hpp.
#include "probe/cli/sidecar.hpp"

#include <csignal>
#include <thread>

#include <pthread.h>
#include <spdlog/spdlog.h>

#include "exporters/status_json.hpp"
#include "probe/cli/commands.hpp"
#include "probe/config/config_loader.hpp"
#include "probe/util/clock.hpp"
#include "probe/util/error.hpp"
#include "probe/util/strings.hpp"
#include "probe/util/url.hpp"
#include "probe/version.hpp"

namespace probe::cli {
namespace {

std::string names(const std::vector<std::string>& list) {
  return list.empty() ? "-" : util::join(list, ",");
}

void log_notes(const config::Config& config) {
  for (const std::string& note : config.notes) {
    spdlog::info("config: {}", note);
  }
}

} // namespace

Sidecar::Sidecar(std::string config_path, std::optional<std::string> listen_override)
    : m_config_path(std::move(config_path)), m_listen_override(std::move(listen_override)),
      m_config(std::make_shared<config::Config>(
          config::load_config_file(m_config_path, util::process_env()))),
      m_metrics(probe::version(), probe::revision()),
      // A scrape sees check results at most 250 ms late, every other change at once.
      m_metrics_cache([this] { return m_metrics.render(); },
                      [this] { return m_metrics.versions(); }, std::chrono::milliseconds(250)),
      m_scheduler(checks::CheckContext{&util::system_clock(), &m_watchdog},
                  [this](const config::Target& target, const engine::TargetState& state,
                         bool ready) { on_result(target, state, ready); }) {
  m_scheduler.set_targets(m_config->targets);
  m_metrics.record_reload(true, std::chrono::system_clock::now());
  serve::ServerHooks hooks;
  hooks.metrics = [this] { return m_metrics_cache.get(); };
  hooks.ready = [this] {
    return exporters::ready_document(m_scheduler.snapshot(), m_scheduler.ready());
  };
  hooks.status = [this] {
    nlohmann::json status =
        exporters::status_document(m_scheduler.snapshot(), m_scheduler.ready(), version_string());
    // `probe wait --url` gates with the sidecar's own gate settings.
    const std::lock_guard<std::mutex> lock(m_config_mutex);
    status["gate"] = {{"consecutive_successes", m_config->gate.consecutive_successes},
                      {"poll_interval_ms", m_config->gate.poll_interval.count()},
                      {"timeout_ms", m_config->gate.timeout.count()}};
    return status;
  };
  hooks.heartbeat = [this](const std::string& name) { return m_scheduler.record_push(name); };
  hooks.reload = [this] { return reload(); };
  hooks.deploys = [this](std::size_t limit) { return list_deploys(limit); };
  hooks.record_deploy = [this](const std::string& body) { return record_deploy(body); };
  hooks.token = [this] { return token(); };
  hooks.heartbeat_token = [this] {
    const std::lock_guard<std::mutex> lock(m_config_mutex);
    return m_config->deploy.heartbeat_token.reveal();
  };
  m_server = std::make_unique<serve::HttpServer>(std::move(hooks));
  m_events =
      std::make_unique<deploy::LocalEventSink>(m_config->deploy, [](const std::string& warning) {
        spdlog::warn("deploy events: {}", warning);
      });
  m_channels = std::make_shared<const Channels>(exporters::make_channels(m_config->notify, {}));
  log_notes(*m_config);
}

std::pair<int, nlohmann::json> Sidecar::record_deploy(const std::string& body) {
  std::string error;
  std::optional<deploy::DeployEvent> event = deploy::event_from_body(body, &error);
  if (!event) {
    return {400, {{"error", error}}};
  }
  // A deploy verified through the sidecar cannot read the database's Alembic revision; the
  // sidecar can, so a rollback across a migration stays visible (and PROBE_DB_REVISION set).
  if (!event->details.contains("db_revision")) {
    if (const std::optional<std::string> revision = m_events->db_revision()) {
      event->details["db_revision"] = *revision;
    }
  }
  try {
    m_events->record(*event);
  } catch (const Error& e) {
    spdlog::error("POST /deploys: {}", e.what());
    return {503, {{"error", std::string("not recorded: ") + e.what()}}};
  }
  {
    const std::lock_guard<std::mutex> lock(m_deploy_mutex);
    m_to_notify.push_back(*event);
  }
  m_deploy_wake.notify_all();
  return {201, {{"event_id", event->event_id}, {"recorded", true}}};
}

nlohmann::json Sidecar::list_deploys(std::size_t limit) {
  nlohmann::json list = nlohmann::json::array();
  for (const deploy::DeployEvent& event : m_events->recent(limit)) {
    list.push_back(deploy::to_json(event));
  }
  return {{"events", list}, {"pending", m_events->pending()}};
}

void Sidecar::refresh_deploy_metrics() {
  m_events->replay();
  const std::vector<deploy::DeployEvent> recent = m_events->recent(200);
  std::string sha;
  std::string previous;
  for (const deploy::DeployEvent& event : recent) {
    if (event.kind == "deploy_succeeded" || event.kind == "rollback_succeeded") {
      sha = event.sha;
      previous = event.previous_sha;
      break;
    }
  }
  std::optional<double> last;
  if (!recent.empty()) {
    last = std::chrono::duration<double>(recent.front().occurred_at.time_since_epoch()).count();
  }
  m_metrics.update_deploys(m_events->counts(), sha, previous, last, m_events->pending());
}

void Sidecar::deploy_loop() {
  std::unique_lock<std::mutex> lock(m_deploy_mutex);
  while (!m_stopping) {
    while (!m_to_notify.empty()) {
      const deploy::DeployEvent event = std::move(m_to_notify.front());
      m_to_notify.pop_front();
      lock.unlock();
      std::shared_ptr<const Channels> channels;
      {
        const std::lock_guard<std::mutex> config_lock(m_config_mutex);
        channels = m_channels;
      }
      exporters::notify_all(*channels, event, [this](const exporters::ChannelResult& result) {
        m_metrics.count_notification(result.channel, result.result.ok);
      });
      lock.lock();
    }
    lock.unlock();
    refresh_deploy_metrics();
    lock.lock();
    m_deploy_wake.wait_for(lock, std::chrono::seconds(10),
                           [this] { return m_stopping || !m_to_notify.empty(); });
  }
}

Sidecar::~Sidecar() {
  m_server->stop();
  m_scheduler.stop();
  {
    const std::lock_guard<std::mutex> lock(m_deploy_mutex);
    m_stopping = true;
  }
  m_deploy_wake.notify_all();
  if (m_deploy_thread.joinable()) {
    m_deploy_thread.join();
  }
}

std::string Sidecar::token() const {
  const std::lock_guard<std::mutex> lock(m_config_mutex);
  return m_config->deploy.token.reveal();
}

void Sidecar::on_result(const config::Target& target, const engine::TargetState& state,
                        bool ready) {
  m_metrics.observe(target, state, ready);
  // Log transitions only: a line per check would drown what matters.
  if (state.since == state.last_checked) {
    spdlog::info("target {}: {} ({})", target.name, engine::to_string(state.health),
                 state.last.detail);
  }
}

serve::ReloadOutcome Sidecar::reload() {
  const std::lock_guard<std::mutex> lock(m_config_mutex);
  std::shared_ptr<const config::Config> next;
  try {
    next = std::make_shared<config::Config>(
        config::load_config_file(m_config_path, util::process_env()));
  } catch (const Error& e) {
    m_metrics.record_reload(false, std::chrono::system_clock::now());
    spdlog::error("reload failed, keeping the running config: {}", e.what());
    return {false, e.what()};
  }
  const engine::ReloadSummary summary = m_scheduler.set_targets(next->targets);
  for (const std::string& name : summary.removed) {
    m_metrics.remove_target(name);
  }
  m_metrics.set_ready(m_scheduler.ready());
  if (next->listen != m_config->listen && !m_listen_override) {
    spdlog::warn("reload: listen changed to {}; it takes effect at the next restart", next->listen);
  }
  m_channels = std::make_shared<const Channels>(exporters::make_channels(next->notify, {}));
  log_notes(*next);
  m_config = std::move(next);
  m_metrics.record_reload(true, std::chrono::system_clock::now());
  const std::string message = "added " + names(summary.added) + ", removed " +
                              names(summary.removed) + ", changed " + names(summary.changed) +
                              ", unchanged " + std::to_string(summary.unchanged);
  spdlog::info("config reloaded: {}", message);
  return {true, message};
}

int Sidecar::run() {
  const std::string listen = m_listen_override.value_or(m_config->listen);
  std::string error;
  const std::optional<util::HostPort> address = util::parse_host_port(listen, &error, true);
  if (!address) {
    throw Error("--listen: " + error);
  }

  // Signals are taken by sigwait() on this thread only; every thread started below inherits
  // the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // Listening once bind() returns; a stop() before serve() runs is kept, not lost.
  const int port = m_server->bind(address->host, address->port);
  std::thread server_thread([this] { m_server->serve(); });
  m_scheduler.start();
  m_deploy_thread = std::thread([this] { deploy_loop(); });
  spdlog::info("probe serve {} listening on {}:{} with {} target(s) from {}", version_string(),
               address->host, port, m_config->targets.size(), m_config_path);

  while (true) {
    int signal_number = 0;
    if (sigwait(&signals, &signal_number) != 0) {
      continue;
    }
    if (signal_number == SIGHUP) {
      reload();
      continue;
    }
    spdlog::info("received {}, stopping", signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
    break;
  }
  // Stop accepting first, then let in-flight checks finish (each within its timeout).
  m_server->stop();
  server_thread.join();
  m_scheduler.stop();
  {
    const std::lock_guard<std::mutex> lock(m_deploy_mutex);
    m_stopping = true;
  }
  m_deploy_wake.notify_all();
  m_deploy_thread.join();
  spdlog::info("stopped");
  return 0;
}

} // namespace probe::cli
