// `probe deploy verify | record | list`: the deploy commands, with a config (events in
// PostgreSQL with the journal behind it, the gate run here) or through a running sidecar
// (`--url`: events via its /deploys, the gate on its /status). Exit codes per the contract:
// verify 0 deployed, 1 failed with nothing to roll back to, 2 usage, 3 rolled back healthy,
// 4 rollback failed, 5 another deploy holds the lock. Everything that can be checked — flags,
// the config, the rollback hook's program, the sidecar's URL — is checked before the first event
// is recorded, so a mistake exits 2 with nothing done.
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>

#include <unistd.h>

#include "exporters/notify.hpp"
#include "probe/cli/commands.hpp"
#include "probe/cli/deploy_support.hpp"
#include "probe/cli/flags.hpp"
#include "probe/cli/gate_setup.hpp"
#include "probe/cli/progress.hpp"
#include "probe/config/config_loader.hpp"
#include "probe/deploy/deploy_flow.hpp"
#include "probe/deploy/deploy_lock.hpp"
#include "probe/deploy/local_recorder.hpp"
#include "probe/deploy/rollback_hook.hpp"
#include "probe/deploy/sidecar_recorder.hpp"
#include "probe/engine/gate_runner.hpp"
#include "probe/util/clock.hpp"
#include "probe/util/duration.hpp"
#include "probe/util/error.hpp"
#include "probe/util/strings.hpp"
#include "probe/util/terminal.hpp"

namespace probe::cli {
namespace {

struct Target {
  std::optional<std::string> config;
  std::optional<std::string> url;
};

struct VerifyOptions {
  Target where;
  std::string sha;
  std::optional<std::string> previous;
  std::optional<std::string> timeout;
  std::optional<std::string> watch;
  std::vector<std::string> only;
  std::string actor;
  std::optional<std::string> lock_file;
  bool no_rollback = false;
};

struct RecordOptions {
  Target where;
  std::string kind;
  std::string sha;
  std::string previous;
  std::string actor;
  std::string details;
  std::string event_id;
};

struct ListOptions {
  Target where;
  std::size_t limit = 20;
  std::string format = "text";
};

std::string default_actor() {
  for (const char* name : {"PROBE_ACTOR", "GITHUB_ACTOR", "USER"}) {
    if (std::string value = env_or(name, ""); !value.empty()) {
      return value;
    }
  }
  return "unknown";
}

void require_ref(const std::string& flag, const std::string& value) {
  if (!deploy::valid_ref(value)) {
    // The value itself is not echoed: it may be anything, including terminal escapes.
    throw Error(flag + ": not a git SHA (7-40 lower-case hex) or an image tag "
                       "([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})");
  }
}

void say(const std::string& line) {
  std::cerr << "deploy: " << line << "\n";
}

std::string path_env() {
  return env_or("PATH", "/usr/local/bin:/usr/bin:/bin");
}

std::string token_from_env() {
  return env_or("PROBE_TOKEN", "");
}

void check_where(const Target& where) {
  if (where.config && where.url) {
    throw Error("--config and --url exclude each other");
  }
}

// Where events go for `where`, with the config it came from (none in --url mode).
std::unique_ptr<deploy::EventRecorder> open_recorder(const Target& where,
                                                     std::optional<config::Config>* config,
                                                     const config::LoadOptions& load = {}) {
  check_where(where);
  if (where.url) {
    return std::make_unique<deploy::SidecarEventRecorder>(*where.url, token_from_env(), say);
  }
  *config = load_config(where.config, load);
  if (const std::string note = journal_only_note((*config)->deploy); !note.empty()) {
    std::cerr << "warning: " << note << "\n";
  }
  return std::make_unique<deploy::LocalEventRecorder>(
      (*config)->deploy,
      [](const std::string& warning) { std::cerr << "warning: " << warning << "\n"; });
}

void add_where(CLI::App& command, Target& where) {
  command.add_option("--config,-c", where.config, "Config file (events in its deploy.dsn)");
  command.add_option("--url", where.url,
                     "A running probe (e.g. http://probe:9464); token from PROBE_TOKEN");
}

// The rollback hook with its program resolved, and where it came from (`origin`): the
// config's deploy.rollback.command, or PROBE_ROLLBACK_COMMAND in --url mode (none when unset).
// Throws probe::Error (exit 2) when it names a program that cannot run.
config::Rollback find_rollback_hook(const std::optional<config::Config>& config,
                                    std::string* origin) {
  std::string problem;
  if (config) {
    *origin = "deploy.rollback.command";
    config::Rollback rollback = config->deploy.rollback;
    std::optional<std::vector<std::string>> argv =
        deploy::resolve_config_hook(*config, path_env(), &problem);
    if (!argv) {
      throw Error(config->path + ": " + problem);
    }
    rollback.command = std::move(*argv);
    return rollback;
  }
  *origin = "PROBE_ROLLBACK_COMMAND";
  config::Rollback rollback;
  const std::string hook = env_or("PROBE_ROLLBACK_COMMAND", "");
  if (hook.empty()) {
    return rollback;
  }
  std::optional<std::vector<std::string>> argv = deploy::hook_from_env(hook, path_env(), &problem);
  if (!argv) {
    throw Error(problem);
  }
  rollback.command = std::move(*argv);
  return rollback;
}

int run_verify(const VerifyOptions& options) {
  apply_probe_host();
  require_ref("--sha", options.sha);
  if (options.previous) {
    require_ref("--previous", *options.previous);
  }
  const util::Duration watch =
      options.watch ? parse_duration_flag(*options.watch, "--watch", true) : util::Duration(0);
  GateFlags flags{parse_only(options.only), std::nullopt, 0};
  if (options.timeout) {
    flags.timeout = parse_duration_flag(*options.timeout, "--timeout", false);
  }
  std::optional<config::Config> config;
  // verify notifies but takes no token (it talks to PostgreSQL, not to a sidecar).
  std::unique_ptr<deploy::EventRecorder> recorder =
      open_recorder(options.where, &config, config::LoadOptions{false, true});

  // The hook, found now: a deploy must not learn it has none when it has to roll back. With
  // --no-rollback there is none to find.
  std::string rollback_origin;
  const config::Rollback rollback =
      options.no_rollback ? config::Rollback{} : find_rollback_hook(config, &rollback_origin);

  // The gate: checks run here (config) or the sidecar's /status (--url).
  const Gate gate = config ? gate_from_config(*config, flags, say)
                           : gate_from_sidecar(*options.where.url, flags, say);

  // One deploy or rollback at a time, on this host and across the database.
  const std::string lock_path = options.lock_file.value_or(
      config
          ? (std::filesystem::path(config->deploy.journal).parent_path() / "deploy.lock").string()
          : deploy::default_lock_path());
  std::string why;
  std::string warning;
  const std::unique_ptr<deploy::DeployLock> lock = deploy::DeployLock::try_acquire(
      lock_path, config ? config->deploy.dsn.reveal() : "", &why, &warning);
  if (!lock) {
    std::cerr << "deploy: " << why << "\n";
    return deploy::k_locked;
  }
  if (!warning.empty()) {
    std::cerr << "warning: " << warning << "\n";
  }

  util::ProcessRunner runner;
  const std::vector<std::unique_ptr<exporters::Channel>> channels =
      config ? exporters::make_channels(config->notify, {})
             : std::vector<std::unique_ptr<exporters::Channel>>{};
  deploy::VerifyWiring wiring;
  wiring.events = recorder.get();
  wiring.runner = &runner;
  wiring.rollback = rollback;
  wiring.rollback_origin = rollback_origin;
  wiring.log = [](const std::string& line) { say(util::terminal_safe(line)); };
  wiring.notify = [&](const deploy::DeployEvent& event) { exporters::notify_all(channels, event); };
  const bool tty = isatty(STDERR_FILENO) != 0;
  wiring.gate = [&] {
    std::optional<engine::GateTracker> tracker;
    Progress progress(std::cerr, "deploy: ", tty);
    const engine::GateOutcome outcome =
        engine::run_gate(*gate.source, tracker, gate.timeout, gate.poll_interval,
                         [&](const std::optional<engine::GateTracker>& t) { progress.update(t); });
    deploy::GateResult result{outcome.open, {}, outcome.waited};
    if (!outcome.error.empty()) {
      result.failing.emplace_back("probe", outcome.error);
    } else if (tracker) {
      result.failing = tracker->failing();
    }
    return result;
  };
  wiring.watch = [&](util::Duration window) {
    say("watching for " + util::format_duration(window) +
        ": a critical target going DOWN fails the deploy");
    std::optional<engine::GateTracker> tracker;
    Progress progress(std::cerr, "deploy: ", tty);
    return engine::run_watch(*gate.source, tracker, window, gate.poll_interval,
                             [&](const std::optional<engine::GateTracker>& t, util::Duration left) {
                               progress.watch(t, left);
                             });
  };
  // The plan on stdout, as the hook's environment: shell-readable lines (each value a valid
  // SHA, tag or revision), for deploy.sh to roll back on the host.
  wiring.hand_over = [](const deploy::RollbackPlan& plan) {
    std::cout << "PROBE_PREVIOUS_SHA=" << plan.previous_sha << "\n"
              << "PROBE_FAILED_SHA=" << plan.failed_sha << "\n"
              << "PROBE_DB_REVISION=" << plan.db_revision << "\n";
    std::cout.flush();
  };
  deploy::VerifyRequest request{options.sha, options.previous,
                                options.actor.empty() ? default_actor() : options.actor, watch,
                                !options.no_rollback};
  return deploy::verify(request, wiring);
}

int run_record(const RecordOptions& options) {
  apply_probe_host();
  const std::optional<deploy::EventKind> kind = deploy::parse_event_kind(options.kind);
  if (!kind) {
    throw Error("--event: \"" + options.kind + "\" is not an event kind (" +
                util::join(config::event_kinds(), ", ") + ")");
  }
  require_ref("--sha", options.sha);
  if (!options.previous.empty()) {
    require_ref("--previous", options.previous);
  }
  deploy::DeployEvent event =
      deploy::make_event(*kind, options.sha, options.previous,
                         options.actor.empty() ? default_actor() : options.actor);
  if (!options.event_id.empty()) {
    // UUIDs are case-insensitive (RFC 4122); stored lower-case, as probe writes them.
    std::string event_id = options.event_id;
    std::transform(event_id.begin(), event_id.end(), event_id.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!deploy::valid_event_id(event_id)) {
      throw Error("--event-id: not a UUID (e.g. 0b5e8c3a-6f1d-4c2e-9a7b-3d4f5e6a7b8c)");
    }
    event.event_id = event_id;
  }
  if (!options.details.empty()) {
    event.details = nlohmann::json::parse(options.details, nullptr, false);
    if (!event.details.is_object()) {
      throw Error("--details: not a JSON object");
    }
    if (std::string problem; !deploy::valid_details(event.details, &problem)) {
      throw Error("--details: " + problem);
    }
  }
  event = deploy::normalized(std::move(event)); // as stored: the id lower-case, text cleaned
  std::optional<config::Config> config;
  const std::unique_ptr<deploy::EventRecorder> recorder =
      open_recorder(options.where, &config, config::LoadOptions{false, false});
  recorder->record(event);
  std::cout << event.event_id << "\n";
  return 0;
}

int run_list(const ListOptions& options) {
  std::optional<config::Config> config;
  // Listing checks no token and sends no notification: their variables need not be set.
  const std::unique_ptr<deploy::EventRecorder> recorder =
      open_recorder(options.where, &config, config::LoadOptions{false, false});
  const std::vector<deploy::DeployEvent> events = recorder->recent(options.limit);
  if (options.format == "json") {
    nlohmann::json list = nlohmann::json::array();
    for (const deploy::DeployEvent& event : events) {
      list.push_back(deploy::to_json(event));
    }
    std::cout << nlohmann::json{{"events", list}}.dump(2) << "\n";
    return 0;
  }
  std::cout << render_event_list(events);
  return 0;
}

} // namespace

void setup_deploy_command(CLI::App& command, int& exit_code) {
  command.require_subcommand(1);

  auto verify = std::make_shared<VerifyOptions>();
  CLI::App* verify_app = command.add_subcommand(
      "verify", "Gate a deploy; on failure roll back to the previous good SHA");
  add_where(*verify_app, verify->where);
  verify_app->add_option("--sha", verify->sha, "The SHA or tag just deployed")->required();
  verify_app->add_option(
      "--previous", verify->previous,
      "Roll back to this (default: the newest SHA whose last outcome was a success)");
  verify_app->add_option("--timeout", verify->timeout, "Gate timeout (default: gate.timeout)");
  verify_app->add_option(
      "--watch", verify->watch,
      "Verification window after the gate (a critical target DOWN in it fails the deploy)");
  verify_app
      ->add_option("--only", verify->only,
                   "Targets to gate on, comma-separated; may be repeated (default: all)")
      ->allow_extra_args(false);
  verify_app->add_option("--actor", verify->actor,
                         "Who deploys (default: $PROBE_ACTOR, $GITHUB_ACTOR, $USER)");
  verify_app->add_option("--lock-file", verify->lock_file, "Host lock file");
  verify_app->add_flag("--no-rollback", verify->no_rollback,
                       "On a failed gate, roll nothing back: print the hook's environment "
                       "(PROBE_PREVIOUS_SHA=, PROBE_FAILED_SHA=, PROBE_DB_REVISION=) on stdout "
                       "for a caller that rolls back itself, and exit 1");
  verify_app->footer(
      "Exit codes: 0 deployed and healthy; 1 the gate failed and there is nothing to roll back "
      "to; 2 usage or config error (bad SHA or flag, missing rollback hook), nothing recorded; "
      "3 failed and rolled back to a healthy previous SHA; 4 the rollback failed; 5 another "
      "deploy or rollback holds the lock.\n"
      "With --url the hook is PROBE_ROLLBACK_COMMAND: words as a shell splits them ('...', "
      "\"...\", backslash; no expansion, no shell) or a JSON array; the previous SHA is "
      "appended unless a word is {previous_sha} or {failed_sha}.");
  verify_app->callback([verify, &exit_code] { exit_code = run_verify(*verify); });

  auto record = std::make_shared<RecordOptions>();
  CLI::App* record_app = command.add_subcommand("record", "Record one deploy event");
  add_where(*record_app, record->where);
  record_app->add_option("--event", record->kind, "Event kind")->required();
  record_app->add_option("--sha", record->sha, "SHA or tag")->required();
  record_app->add_option("--previous", record->previous, "Previous SHA or tag");
  record_app->add_option("--actor", record->actor,
                         "Who (default: $PROBE_ACTOR, $GITHUB_ACTOR, $USER)");
  record_app->add_option("--details", record->details, "A JSON object of details");
  record_app->add_option("--event-id", record->event_id, "UUID (default: a new one)");
  record_app->footer("Exit codes: 0 recorded (its event_id on stdout); 1 it could not be kept "
                     "(database, journal or sidecar); 2 usage or config error, or the sidecar "
                     "refused it (bad field, token).");
  record_app->callback([record, &exit_code] { exit_code = run_record(*record); });

  auto list = std::make_shared<ListOptions>();
  CLI::App* list_app = command.add_subcommand("list", "The deploy audit log, newest first");
  add_where(*list_app, list->where);
  list_app->add_option("--limit", list->limit, "How many events, 1 to 1000 (default 20)")
      ->check(CLI::Range(1, 1000));
  list_app->add_option("--format", list->format, "text or json")
      ->check(CLI::IsMember({"text", "json"}));
  list_app->footer("Exit codes: 0 listed; 1 the log could not be read (sidecar unreachable); 2 "
                   "usage or config error.");
  list_app->callback([list, &exit_code] { exit_code = run_list(*list); });
}

} // namespace probe::cli
