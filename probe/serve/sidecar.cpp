// The long-running sidecar; see sidecar.hpp.
#include "probe/serve/sidecar.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "exporters/status_json.hpp"
#include "probe/config/config_loader.hpp"
#include "probe/deploy/deploys_wire.hpp"
#include "probe/deploy/history.hpp"
#include "probe/deploy/rollback_hook.hpp"
#include "probe/engine/status_wire.hpp"
#include "probe/util/clock.hpp"
#include "probe/util/coalescing_worker.hpp"
#include "probe/util/error.hpp"
#include "probe/util/strings.hpp"
#include "probe/util/unique_fd.hpp"
#include "probe/util/url.hpp"
#include "probe/util/version.hpp"

namespace probe::serve {
namespace {

std::string names(const std::vector<std::string>& list) {
  return list.empty() ? "-" : util::join(list, ",");
}

// The signalfd run() reads its signals from.
util::UniqueFd open_signalfd(const sigset_t& set) {
  util::UniqueFd fd(signalfd(-1, &set, SFD_CLOEXEC));
  if (!fd.valid()) {
    throw Error(std::string("signalfd: ") + std::strerror(errno), 1);
  }
  return fd;
}

void log_notes(const config::Config& config) {
  for (const std::string& note : config.notes) {
    if (note.rfind("warning: ", 0) == 0) {
      spdlog::warn("config: {}", note.substr(9));
    } else {
      spdlog::info("config: {}", note);
    }
  }
  // The sidecar never runs the rollback hook (deploy verify on the host does): only a warning.
  const char* path = std::getenv("PATH");
  std::string hook_problem;
  if (!deploy::resolve_config_hook(config, path != nullptr ? path : "", &hook_problem)) {
    spdlog::warn("config: {} (probe serve never runs it; deploy verify --config would refuse to "
                 "start)",
                 hook_problem);
  }
}

} // namespace

Sidecar::Sidecar(std::string config_path, std::optional<std::string> listen_override)
    : m_config_path(std::move(config_path)), m_listen_override(std::move(listen_override)),
      m_config(std::make_shared<config::Config>(
          config::load_config_file(m_config_path, util::process_env()))),
      m_metrics(util::version(), util::revision()),
      // A scrape sees check results at most 250 ms late, every other change at once.
      m_metrics_cache([this] { return m_metrics.render(); },
                      [this] { return m_metrics.versions(); }, std::chrono::milliseconds(250)),
      m_scheduler(
          checks::CheckContext{&util::system_clock()},
          [this](const config::Target& target, const engine::TargetState& state,
                 const engine::RunTiming& timing,
                 bool ready) { on_result(target, state, timing, ready); },
          checks::make_check,
          engine::FlightLimits{engine::k_max_checks_in_flight, engine::k_serve_batch_window}) {
  m_scheduler.set_targets(m_config->targets);
  m_metrics.record_reload(true, std::chrono::system_clock::now());
  m_reload_state.loaded = util::system_clock().system_now();
  ServerHooks hooks;
  hooks.metrics = [this] { return m_metrics_cache.get(); };
  hooks.ready = [this] {
    return exporters::ready_document(m_scheduler.snapshot(), m_scheduler.ready());
  };
  hooks.status = [this] {
    engine::StatusWire status =
        exporters::status_wire(m_scheduler.snapshot(), m_scheduler.ready(), util::version_string());
    // `probe wait --url` gates with the sidecar's own gate settings.
    const std::lock_guard<std::mutex> lock(m_config_mutex);
    status.gate = engine::StatusGateWire{m_config->gate.consecutive_successes,
                                         m_config->gate.poll_interval.count(),
                                         m_config->gate.timeout.count()};
    return engine::to_json(status);
  };
  hooks.status_page = [this] { return status_page(); };
  hooks.heartbeat = [this](const std::string& name) { return m_scheduler.record_push(name); };
  hooks.reload = [this] { return reload(); };
  hooks.deploys = [this](std::size_t limit) { return list_deploys(limit); };
  hooks.record_deploy = [this](const std::string& body) { return record_deploy(body); };
  hooks.token = [this] { return token(); };
  hooks.heartbeat_token = [this] {
    const std::lock_guard<std::mutex> lock(m_config_mutex);
    return m_config->deploy.heartbeat_token.reveal();
  };
  m_server = std::make_unique<HttpServer>(std::move(hooks));
  m_events = std::make_unique<deploy::LocalEventRecorder>(
      m_config->deploy,
      [](const std::string& warning) { spdlog::warn("deploy events: {}", warning); });
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
  deploy::LocalEventRecorder::RecordOutcome outcome;
  try {
    outcome = m_events->record_event(*event);
  } catch (const deploy::EventConflict& e) {
    return {409, {{"error", e.what()}}};
  } catch (const Error& e) {
    spdlog::error("POST /deploys: {}", e.what());
    return {503, {{"error", std::string("not recorded: ") + e.what()}}};
  }
  if (outcome.recorded == deploy::LocalEventRecorder::Recorded::quarantined) {
    return {422,
            {{"error", "not recorded: " + outcome.reason + "; kept aside in the quarantine"},
             {"event_id", event->event_id}}};
  }
  if (outcome.recorded != deploy::LocalEventRecorder::Recorded::duplicate) {
    {
      const std::lock_guard<std::mutex> lock(m_deploy_mutex);
      m_to_notify.push_back(*event);
    }
    m_deploy_wake.notify_all();
  }
  return {201, deploy::to_json(deploy::RecordedWire{event->event_id})};
}

std::pair<int, std::string> Sidecar::list_deploys(std::size_t limit) {
  // Each read may hold up to a budget of events while it serializes them; with the readers
  // bounded, so is the memory all of GET /deploys can take, whatever is stored and however many
  // clients ask.
  if (!m_deploy_readers.try_acquire_for(std::chrono::seconds(5))) {
    return {503, "{\"error\":\"busy: other GET /deploys reads are running; try again\"}\n"};
  }
  struct Release {
    std::counting_semaphore<k_deploy_readers>& semaphore;
    ~Release() { semaphore.release(); }
  } release{m_deploy_readers};
  // The wrapper around the events takes well under 128 bytes.
  constexpr std::size_t k_wrapper_bytes = 128;
  deploy::EventPage page = m_events->recent_page(limit, k_deploys_answer_bytes - k_wrapper_bytes);
  return {200, deploy::deploys_body(deploy::DeploysPage{std::move(page.events), m_events->pending(),
                                                        page.truncated})};
}

void Sidecar::refresh_deploy_metrics() {
  m_events->replay();
  const std::vector<deploy::DeployEvent> recent = m_events->recent(200);
  std::string sha;
  std::string previous;
  if (const std::optional<deploy::DeployEvent> running = deploy::current_release(recent)) {
    sha = running->sha;
    previous = running->previous_sha;
  }
  std::optional<double> last;
  if (!recent.empty()) {
    // The newest received event's own time, but never in the future: a client's clock (or an
    // occurred_at of 2262) must not make the last deploy look like it has not happened yet.
    const std::chrono::system_clock::time_point when =
        std::min(recent.front().occurred_at, std::chrono::system_clock::now());
    last = std::chrono::duration<double>(when.time_since_epoch()).count();
  }
  m_metrics.update_deploys(m_events->counts(), sha, previous, last, m_events->pending());
  m_metrics.set_events_quarantined(m_events->quarantined());
  const std::lock_guard<std::mutex> lock(m_page_mutex);
  m_deploys_read = true;
  m_running_release = deploy::current_release(recent);
  m_recent_deploys.assign(recent.begin(),
                          recent.begin() + static_cast<std::ptrdiff_t>(std::min(
                                               recent.size(), exporters::k_status_page_deploys)));
}

std::optional<std::string> Sidecar::status_page() const {
  exporters::StatusPageInput input;
  {
    const std::lock_guard<std::mutex> lock(m_config_mutex);
    if (!m_config->status_page.enabled) {
      return std::nullopt;
    }
    input.repository_url = m_config->status_page.repository_url;
  }
  input.now = util::system_clock().system_now();
  input.readiness = m_scheduler.readiness();
  input.targets = m_scheduler.snapshot_with_history();
  input.version = util::version_string();
  {
    const std::lock_guard<std::mutex> lock(m_page_mutex);
    input.deploys_read = m_deploys_read;
    input.running = m_running_release;
    input.deploys = m_recent_deploys;
    input.reload = m_reload_state;
  }
  return exporters::render_status_page(input);
}

void Sidecar::note_reload(bool ok) {
  const std::chrono::system_clock::time_point now = util::system_clock().system_now();
  const std::lock_guard<std::mutex> lock(m_page_mutex);
  m_reload_state.reloaded = true;
  m_reload_state.last_ok = ok;
  m_reload_state.last_attempt = now;
  if (ok) {
    m_reload_state.loaded = now;
  }
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
                        const engine::RunTiming& timing, bool ready) {
  m_metrics.observe(target, state, ready);
  m_metrics.observe_timing(target, timing);
  // Log transitions only: a line per check would drown what matters.
  if (state.since == state.last_checked) {
    spdlog::info("target {}: {} ({})", target.name, engine::to_string(state.health),
                 config::scrub(state.last.detail, target));
  }
}

ReloadOutcome Sidecar::reload() {
  // One reload at a time; the config lock is held only to swap, so /status and heartbeats
  // never wait for a file to be read.
  const std::lock_guard<std::mutex> reloading(m_reload_mutex);
  const auto failed = [this](const std::string& why) {
    m_metrics.record_reload(false, std::chrono::system_clock::now());
    note_reload(false);
    spdlog::error("reload failed, keeping the running config: {}", why);
    return ReloadOutcome{false, why};
  };
  std::shared_ptr<const config::Config> next;
  std::shared_ptr<const Channels> channels;
  try {
    next = std::make_shared<config::Config>(
        config::load_config_file(m_config_path, util::process_env()));
    channels = std::make_shared<const Channels>(exporters::make_channels(next->notify, {}));
  } catch (const Error& e) {
    return failed(e.what());
  } catch (const std::bad_alloc&) {
    // A config the loader's bounds did not foresee must not take the sidecar down.
    return failed(m_config_path + ": out of memory while reading the config");
  } catch (const std::exception& e) {
    return failed(m_config_path + ": " + e.what());
  }
  const std::lock_guard<std::mutex> lock(m_config_mutex);
  engine::ReloadSummary summary;
  try {
    summary = m_scheduler.set_targets(next->targets);
  } catch (const std::exception& e) {
    return failed(m_config_path + ": applying the targets: " + e.what());
  }
  for (const std::string& name : summary.removed) {
    m_metrics.remove_target(name);
  }
  m_metrics.set_ready(m_scheduler.ready());
  if (next->listen != m_config->listen && !m_listen_override) {
    spdlog::warn("reload: listen changed to {}; it takes effect at the next restart", next->listen);
  }
  m_channels = std::move(channels);
  log_notes(*next);
  m_config = std::move(next);
  m_metrics.record_reload(true, std::chrono::system_clock::now());
  note_reload(true);
  const std::string message = "added " + names(summary.added) + ", removed " +
                              names(summary.removed) + ", changed " + names(summary.changed) +
                              ", unchanged " + std::to_string(summary.unchanged);
  spdlog::info("config reloaded: {}", message);
  return {true, message};
}

sigset_t Sidecar::signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

void Sidecar::block_signals() {
  const sigset_t set = signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int Sidecar::run() {
  const std::string listen = m_listen_override.value_or(m_config->listen);
  std::string error;
  const std::optional<util::HostPort> address = util::parse_host_port(listen, &error, true);
  if (!address) {
    throw Error("--listen: " + error);
  }

  // Taken from a signalfd on this thread only; blocked in every thread, this one included
  // (sigwait() would unblock them in its caller while it waits). Blocked here again for a
  // caller that forgot block_signals(); threads already started would still lack the mask.
  const sigset_t taken = signals();
  block_signals();
  const util::UniqueFd signal_fd = open_signalfd(taken);

  // Listening once bind() returns; a stop() before serve() runs is kept, not lost.
  const int port = m_server->bind(address->host, address->port);
  std::thread server_thread([this] { m_server->serve(); });
  m_scheduler.start();
  m_deploy_thread = std::thread([this] { deploy_loop(); });
  spdlog::info("probe serve {} listening on {}:{} with {} target(s) from {}",
               util::version_string(), address->host, port, m_config->targets.size(),
               m_config_path);

  util::CoalescingWorker reloads([this] { reload(); }); // reload() catches everything
  while (true) {
    signalfd_siginfo info{};
    if (read(signal_fd.get(), &info, sizeof info) != static_cast<ssize_t>(sizeof info)) {
      continue; // EINTR
    }
    const int signal_number = static_cast<int>(info.ssi_signo);
    if (signal_number == SIGHUP) {
      reloads.request();
      continue;
    }
    spdlog::info("received {}, stopping", signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
    break;
  }
  // Stop accepting first, let a reload under way finish, then let in-flight checks finish
  // (each within its timeout).
  m_server->stop();
  server_thread.join();
  reloads.stop();
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

} // namespace probe::serve
