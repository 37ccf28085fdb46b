// The commands as a user meets them (issue 12 item 12's terminal part, items 14-18), run as the
// real binary against real servers: a real `probe serve`, real HTTP stand-ins, real hooks. Each
// test pins what the issue found broken: a --watch through a sidecar that could never fail, push
// heartbeats that one-shot modes could never pass, --url failures that were slow and vague,
// `deploy verify` that did not say why, and the small ones (unknown command, zero durations,
// repeated --only, upper-case event ids, an empty log, silent watches, --help's exit codes).
// Time bounds only separate "waited for a timeout" from "did not", with wide margins.
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "serve_fixture.hpp"
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include "tests/standins/http_standin.hpp"
#include "tests/standins/tcp_standin.hpp"

namespace probe::tests {
namespace {

using namespace std::chrono_literals;
using fakes::ProcessResult;

fakes::ProcessOptions with(std::vector<std::string> env, std::chrono::milliseconds limit = 30s) {
  fakes::ProcessOptions options;
  options.set_env = std::move(env);
  options.unset_env = {"PROBE_CONFIG", "PROBE_TOKEN", "PROBE_ROLLBACK_COMMAND"};
  options.timeout = limit;
  return options;
}

ProcessResult probe(const std::vector<std::string>& args, const fakes::ProcessOptions& options) {
  std::vector<std::string> argv{PROBE_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return fakes::run_process(argv, options);
}

ProcessResult probe(const std::vector<std::string>& args) {
  return probe(args, with({}));
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// An executable script at `path` (parent directories made).
std::string write_script(const std::string& path, const std::string& body) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << "#!/bin/sh\n" << body;
  chmod(path.c_str(), 0755);
  return path;
}

// --- item 14: --watch through a sidecar fails on a target DOWN ------------------------------

TEST(VerifyUrlWatch, ACriticalTargetDownDuringTheWatchRollsBack) {
  fakes::TempDir dir;
  fakes::HttpStandin api;
  RunningProbe sidecar(dir, "defaults: {interval: 250ms, timeout: 250ms, failure_threshold: 2}\n"
                            "targets:\n"
                            "  - {name: api, type: http, url: \"" +
                                api.url("/health") +
                                "\"}\n"
                                "gate: {consecutive_successes: 2, poll_interval: 100ms, timeout: "
                                "20s}\n"
                                "deploy: {token: T, journal: \"" +
                                dir.path() + "/journal.jsonl\"}\n");
  // The hook lives under a directory with a space: PROBE_ROLLBACK_COMMAND quotes it.
  const std::string hook = write_script(dir.path() + "/my hooks/restore.sh",
                                        "echo \"restoring $1\"\ntouch \"$(dirname \"$0\")/ran\"\n");
  fakes::BackgroundProcess verify(
      {PROBE_BINARY, "deploy", "verify", "--url",
       "http://127.0.0.1:" + std::to_string(sidecar.port()), "--sha", "bbbbbbb", "--previous",
       "aaaaaaa", "--watch", "20s", "--lock-file", dir.path() + "/deploy.lock"},
      dir.path() + "/verify.log", {"PROBE_TOKEN=T", "PROBE_ROLLBACK_COMMAND='" + hook + "'"});
  ASSERT_TRUE(
      fakes::eventually([&] { return has(verify.log(), "deploy: gate passed after"); }, 30s))
      << verify.log();
  api.set_mode(fakes::HttpMode::error_500); // the release breaks during the window
  ASSERT_TRUE(
      fakes::eventually([&] { return std::filesystem::exists(dir.path() + "/my hooks/ran"); }, 30s))
      << verify.log();
  api.set_mode(fakes::HttpMode::healthy); // the hook's rollback restored it
  // The rollback is watched for 20 s too before it counts as healthy.
  ASSERT_TRUE(fakes::eventually([&] { return !verify.running(); }, 90s)) << verify.log();
  const int code = verify.stop(SIGTERM, 1s);
  const std::string log = verify.log();
  EXPECT_EQ(code, 3) << log; // before: the window could not fail, exit 0 after 20 s
  EXPECT_TRUE(has(log, "a critical target went DOWN in the verification window:")) << log;
  EXPECT_TRUE(has(log, "deploy:   api: GET /health -> 500: status 500, want 2xx")) << log;
  EXPECT_TRUE(has(log, "deploy: hook: restoring aaaaaaa")) << log;
  EXPECT_TRUE(has(log, "deploy: rollback_succeeded aaaaaaa")) << log;
  // The window is not silent while it watches.
  EXPECT_TRUE(has(log, "deploy: watching: ")) << log;

  const nlohmann::json events = nlohmann::json::parse(sidecar.get("/deploys?limit=10").second);
  std::vector<std::string> kinds;
  for (const nlohmann::json& event : events["events"]) {
    kinds.insert(kinds.begin(), event["kind"].get<std::string>());
  }
  EXPECT_EQ(kinds, (std::vector<std::string>{"deploy_started", "deploy_failed", "rollback_started",
                                             "rollback_succeeded"}));
}

// --- item 15: push heartbeats in one-shot modes ---------------------------------------------

std::string push_config(const fakes::TempDir& dir, const fakes::HttpStandin& api) {
  return "defaults: {interval: 1s, timeout: 500ms}\n"
         "targets:\n"
         "  - {name: api, type: http, url: \"" +
         api.url("/health") +
         "\"}\n"
         "  - {name: bot, type: heartbeat, source: push, max_age: 90s}\n"
         "gate: {consecutive_successes: 1, poll_interval: 100ms, timeout: 5s}\n"
         "deploy: {journal: \"" +
         dir.path() + "/journal.jsonl\"}\n";
}

TEST(PushHeartbeatOneShot, CheckReportsItSkippedAndPasses) {
  fakes::TempDir dir;
  fakes::HttpStandin api;
  const std::string config = dir.write("probe.yaml", push_config(dir, api));
  const ProcessResult text = probe({"check", "--config", config});
  EXPECT_EQ(text.exit_code, 0) << text.out << text.err;
  EXPECT_TRUE(has(text.out, "heartbeat  skipped  -        push heartbeats are received by "
                            "probe serve"))
      << text.out;
  EXPECT_TRUE(has(text.out, "2 targets: 1 passed, 0 failed, 1 skipped in ")) << text.out;

  const ProcessResult json = probe({"check", "--config", config, "--format", "json"});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  const nlohmann::json report = nlohmann::json::parse(json.out);
  EXPECT_EQ(report["ok"], true);
  EXPECT_EQ(report["targets"][1]["result"], "skipped");
  EXPECT_TRUE(report["targets"][1]["ok"].is_null());

  const ProcessResult junit = probe({"check", "--config", config, "--format", "junit"});
  EXPECT_EQ(junit.exit_code, 0) << junit.err;
  EXPECT_TRUE(has(junit.out, "<skipped message=\"not checked here: push heartbeats are received "
                             "by probe serve"))
      << junit.out;
}

TEST(PushHeartbeatOneShot, WaitAndVerifyWithAConfigDoNotWaitForIt) {
  fakes::TempDir dir;
  fakes::HttpStandin api;
  const std::string config = dir.write("probe.yaml", push_config(dir, api));
  const ProcessResult wait = probe({"wait", "--config", config});
  EXPECT_EQ(wait.exit_code, 0) << wait.err;
  EXPECT_TRUE(has(wait.err, "wait: bot: skipped, not checked here: push heartbeats are received "
                            "by probe serve"))
      << wait.err;

  const ProcessResult verify = probe({"deploy", "verify", "--config", config, "--sha", "aaaaaaa",
                                      "--lock-file", dir.path() + "/deploy.lock"});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_TRUE(has(verify.err, "deploy: bot: skipped, not checked here")) << verify.err;
}

// --- item 16: --url failures fast and clear -------------------------------------------------

TEST(SidecarUrl, ARefusedConnectionIsRetriedBrieflyThenNamed) {
  const std::string url = "http://127.0.0.1:" + std::to_string(fakes::closed_port());
  const ProcessResult wait = probe({"wait", "--url", url, "--timeout", "2s"});
  EXPECT_EQ(wait.exit_code, 1) << wait.err;
  EXPECT_TRUE(has(wait.err, "wait: GET " + url +
                                "/status: connection refused; retrying for up "
                                "to 2s\n"))
      << wait.err;
  EXPECT_TRUE(
      has(wait.err, "wait: not ready: GET " + url + "/status: connection refused (retried for 2s)"))
      << wait.err;
  EXPECT_FALSE(has(wait.err, "timed out")) << wait.err;
}

TEST(SidecarUrl, WithoutATimeoutTheGraceIsShortNotTheGatesTwoMinutes) {
  const std::string url = "http://127.0.0.1:" + std::to_string(fakes::closed_port());
  const ProcessResult wait = probe({"wait", "--url", url}, with({}, 90s));
  EXPECT_FALSE(wait.timed_out);
  EXPECT_EQ(wait.exit_code, 1) << wait.err;
  EXPECT_TRUE(has(wait.err, "connection refused (retried for 10s)")) << wait.err;
  EXPECT_LT(wait.wall, 60s); // 10 s of grace, far from the 2 min gate timeout
}

TEST(SidecarUrl, APastedStatusOrReadyPathIsTheSameSidecar) {
  fakes::TempDir dir;
  fakes::HttpStandin api;
  RunningProbe sidecar(dir, "defaults: {interval: 250ms, timeout: 250ms}\n"
                            "targets:\n"
                            "  - {name: api, type: http, url: \"" +
                                api.url("/health") +
                                "\"}\n"
                                "gate: {consecutive_successes: 1, poll_interval: 100ms}\n");
  const std::string base = "http://127.0.0.1:" + std::to_string(sidecar.port());
  for (const std::string& url : {base + "/status", base + "/ready/", base + "/"}) {
    const ProcessResult wait = probe({"wait", "--url", url, "--timeout", "10s"});
    EXPECT_EQ(wait.exit_code, 0) << url << ": " << wait.err;
  }
  const ProcessResult list = probe({"deploy", "list", "--url", base + "/status"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(list.out, "no deploy events\n");
}

TEST(SidecarUrl, NotAProbeFailsAtOnceWithExit2) {
  fakes::HttpStandin not_probe; // 404 for /status
  const ProcessResult not_found = probe({"wait", "--url", not_probe.url("")});
  EXPECT_EQ(not_found.exit_code, 2) << not_found.err;
  EXPECT_TRUE(has(not_found.err, "GET " + not_probe.url("") + "/status: 404: no such path (is " +
                                     not_probe.url("") + " a probe serve?)"))
      << not_found.err;
  EXPECT_LT(not_found.wall, 10s); // not the grace, not the gate's two minutes

  httplib::Server text_server;
  text_server.Get("/status", [](const httplib::Request&, httplib::Response& response) {
    response.set_content("hello, I am not probe", "text/plain");
  });
  const int port = text_server.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { text_server.listen_after_bind(); });
  const ProcessResult not_json =
      probe({"wait", "--url", "http://127.0.0.1:" + std::to_string(port)});
  text_server.stop();
  serving.join();
  EXPECT_EQ(not_json.exit_code, 2) << not_json.err;
  EXPECT_TRUE(has(not_json.err, "/status: the answer is not probe's status JSON")) << not_json.err;
}

TEST(SidecarUrl, TransportErrorsAreInWords) {
  fakes::HttpStandin plain;
  const std::string url = "https://127.0.0.1:" + std::to_string(plain.port());
  const ProcessResult tls = probe({"wait", "--url", url});
  EXPECT_EQ(tls.exit_code, 2) << tls.err; // no restart fixes a TLS mismatch
  EXPECT_TRUE(has(tls.err, "GET " + url + "/status: TLS handshake failed: ")) << tls.err;
  EXPECT_FALSE(has(tls.err, "SSLConnection")) << tls.err;
}

TEST(SidecarUrl, TheSidecarsOwnErrorTextIsPassedThrough) {
  fakes::TempDir dir;
  RunningProbe sidecar(dir, "targets:\n  - {name: cache, type: tcp, address: \"127.0.0.1:" +
                                std::to_string(fakes::closed_port()) +
                                "\"}\n"
                                "deploy: {token: RIGHT, journal: \"" +
                                dir.path() + "/journal.jsonl\"}\n");
  const std::string reason =
      nlohmann::json::parse(sidecar.post("/deploys", "WRONG", "{}").second)["error"];
  const std::string base = "http://127.0.0.1:" + std::to_string(sidecar.port());
  const ProcessResult record =
      probe({"deploy", "record", "--url", base, "--event", "deploy_started", "--sha", "aaaaaaa"},
            with({"PROBE_TOKEN=WRONG"}));
  EXPECT_EQ(record.exit_code, 2) << record.err;
  EXPECT_EQ(record.err, "POST " + base + "/deploys: 401: " + reason +
                            " (PROBE_TOKEN must be the sidecar's deploy.token)\n");
}

TEST(SidecarUrl, OneLimitOnBothSides) {
  const ProcessResult list =
      probe({"deploy", "list", "--url", "http://127.0.0.1:9", "--limit", "5000"});
  EXPECT_EQ(list.exit_code, 2) << list.err;
  EXPECT_TRUE(has(list.err, "1000")) << list.err;
}

// --- item 17: deploy verify says why --------------------------------------------------------

TEST(DeployVerify, AFailedGateAndAFailedHookSayWhy) {
  fakes::TempDir dir;
  fakes::HttpStandin api;
  fakes::HttpStandin frontend;
  api.set_mode(fakes::HttpMode::error_500);
  const std::string config = dir.write(
      "probe.yaml", "defaults: {interval: 1s, timeout: 500ms}\n"
                    "targets:\n"
                    "  - {name: api, type: http, url: \"" +
                        api.url("/health") +
                        "\"}\n"
                        "  - {name: frontend, type: http, url: \"" +
                        frontend.url("/") +
                        "\"}\n"
                        "gate: {consecutive_successes: 2, poll_interval: 100ms, timeout: 1s}\n"
                        "deploy:\n"
                        "  journal: \"" +
                        dir.path() +
                        "/journal.jsonl\"\n"
                        "  rollback: {command: [sh, -c, 'echo pulling $0; echo \"Error: manifest "
                        "unknown\" >&2; exit 3', \"{previous_sha}\"]}\n");
  const ProcessResult verify =
      probe({"deploy", "verify", "--config", config, "--sha", "bbbbbbb", "--previous", "aaaaaaa",
             "--lock-file", dir.path() + "/deploy.lock"});
  EXPECT_EQ(verify.exit_code, 4) << verify.err;
  // "after 1s", or a little more when a round ran past the deadline on a loaded machine.
  EXPECT_TRUE(has(verify.err, "deploy: deploy: gate failed after 1s")) << verify.err;
  EXPECT_TRUE(has(verify.err, "; not ready:\n"
                              "deploy:   api: GET /health -> 500: status 500, want 2xx\n"))
      << verify.err;
  EXPECT_TRUE(has(verify.err, "deploy: rollback failed: the hook (deploy.rollback.command) "
                              "exited 3\n"))
      << verify.err;
  EXPECT_TRUE(has(verify.err, "deploy:   | Error: manifest unknown\n")) << verify.err;

  // The audit log's failing list holds the target that failed, not the healthy frontend.
  const ProcessResult list =
      probe({"deploy", "list", "--config", config, "--format", "json", "--limit", "10"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  const nlohmann::json listed = nlohmann::json::parse(list.out); // outlives the loop
  for (const nlohmann::json& event : listed["events"]) {
    if (event["kind"] == "deploy_failed") {
      EXPECT_EQ(event["details"]["failing"],
                nlohmann::json::parse(
                    R"([{"target": "api", "error": "GET /health -> 500: status 500, want 2xx"}])"));
    }
  }
}

TEST(DeployVerify, AMissingHookIsRefusedBeforeAnythingRuns) {
  fakes::TempDir dir;
  fakes::HttpStandin api;
  const std::string config = dir.write(
      "probe.yaml", "targets:\n  - {name: api, type: http, url: \"" + api.url("/health") +
                        "\"}\n"
                        "deploy:\n  journal: \"" +
                        dir.path() + "/journal.jsonl\"\n  rollback: {command: [hooks/nope.sh]}\n");
  const ProcessResult verify = probe({"deploy", "verify", "--config", config, "--sha", "bbbbbbb",
                                      "--lock-file", dir.path() + "/deploy.lock"});
  EXPECT_EQ(verify.exit_code, 2) << verify.err;
  EXPECT_TRUE(has(verify.err, config + ": deploy.rollback.command[0]: " + dir.path() +
                                  "/hooks/nope.sh: does not exist"))
      << verify.err;
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/journal.jsonl")); // nothing recorded

  const ProcessResult check = probe({"config", "check", "--config", config});
  EXPECT_EQ(check.exit_code, 2) << check.out << check.err;
  EXPECT_TRUE(has(check.err,
                  "deploy.rollback.command[0]: " + dir.path() + "/hooks/nope.sh: does not exist"))
      << check.err;
  const ProcessResult sidecar = probe({"config", "check", "--sidecar", "--config", config});
  EXPECT_EQ(sidecar.exit_code, 0) << sidecar.err;
  EXPECT_TRUE(has(sidecar.out, "# warning: deploy.rollback.command[0]: ")) << sidecar.out;

  // probe serve never runs the hook: it starts, and says so in its log.
  {
    std::ifstream in(config);
    const std::string yaml((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    RunningProbe serve(dir, yaml);
    EXPECT_TRUE(fakes::eventually(
        [&] {
          return has(serve.process().log(),
                     "config: deploy.rollback.command[0]: " + dir.path() +
                         "/hooks/nope.sh: does not exist (probe serve never runs it");
        },
        10s))
        << serve.process().log();
  }

  // Relative to the config's directory, wherever the command runs from.
  write_script(dir.path() + "/hooks/nope.sh", "exit 0\n");
  const ProcessResult found = probe({"config", "check", "--config", config});
  EXPECT_EQ(found.exit_code, 0) << found.err;
}

TEST(DeployVerify, UrlModeNamesTheVariableOfABadHook) {
  const ProcessResult missing =
      probe({"deploy", "verify", "--url", "http://127.0.0.1:9", "--sha", "bbbbbbb"},
            with({"PROBE_ROLLBACK_COMMAND=/nonexistent/my hooks/rollback.sh"}));
  EXPECT_EQ(missing.exit_code, 2) << missing.err;
  EXPECT_EQ(missing.err, "PROBE_ROLLBACK_COMMAND: /nonexistent/my: does not exist\n");
  const ProcessResult unterminated =
      probe({"deploy", "verify", "--url", "http://127.0.0.1:9", "--sha", "bbbbbbb"},
            with({"PROBE_ROLLBACK_COMMAND='/nonexistent/my hooks/rollback.sh"}));
  EXPECT_EQ(unterminated.exit_code, 2) << unterminated.err;
  EXPECT_EQ(unterminated.err, "PROBE_ROLLBACK_COMMAND: unterminated ' quote\n");
}

// --- item 18: the small ones ----------------------------------------------------------------

TEST(SmallOnes, AnUnknownCommandIsNamedWithASuggestion) {
  const ProcessResult typo = probe({"chek"});
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_EQ(typo.err, "unknown command \"chek\" (did you mean \"check\"?); commands: check, "
                      "serve, wait, deploy, config\n");
  const ProcessResult nested = probe({"deploy", "lsit"});
  EXPECT_EQ(nested.exit_code, 2);
  EXPECT_TRUE(has(nested.err, "unknown deploy command \"lsit\" (did you mean \"list\"?)"))
      << nested.err;
}

TEST(SmallOnes, ZeroIsADurationRefusedAsZero) {
  const ProcessResult wait = probe({"wait", "--url", "http://127.0.0.1:9", "--timeout", "0s"});
  EXPECT_EQ(wait.exit_code, 2);
  EXPECT_EQ(wait.err, "--timeout: must be greater than 0\n");
}

TEST(SmallOnes, RepeatedOnlyIsAUnionAndAnEmptyNameIsAnError) {
  fakes::TempDir dir;
  fakes::HttpStandin api;
  const std::string config =
      dir.write("probe.yaml", "targets:\n"
                              "  - {name: api, type: http, url: \"" +
                                  api.url("/health") +
                                  "\"}\n"
                                  "  - {name: frontend, type: http, url: \"" +
                                  api.url("/") +
                                  "\"}\n"
                                  "  - {name: cache, type: tcp, address: \"127.0.0.1:" +
                                  std::to_string(fakes::closed_port()) + "\"}\n");
  const ProcessResult both =
      probe({"check", "--config", config, "--only", "api", "--only", "frontend"});
  EXPECT_EQ(both.exit_code, 0) << both.err;
  EXPECT_TRUE(has(both.out, "2 targets: 2 passed, 0 failed")) << both.out;
  const ProcessResult empty = probe({"check", "--config", config, "--only", ""});
  EXPECT_EQ(empty.exit_code, 2) << empty.out;
  EXPECT_TRUE(has(empty.err, "--only: empty target name")) << empty.err;
}

TEST(SmallOnes, RecordAndListWithoutADatabase) {
  fakes::TempDir dir;
  const std::string journal = dir.path() + "/journal.jsonl";
  const std::string config =
      dir.write("probe.yaml", "targets:\n  - {name: cache, type: tcp, address: \"127.0.0.1:1\"}\n"
                              "deploy: {journal: \"" +
                                  journal + "\"}\n");
  const ProcessResult empty = probe({"deploy", "list", "--config", config});
  EXPECT_EQ(empty.exit_code, 0) << empty.err;
  EXPECT_EQ(empty.out, "no deploy events\n");
  EXPECT_TRUE(has(empty.err, "warning: deploy.dsn is not set: deploy events are kept only in the "
                             "journal " +
                                 journal))
      << empty.err;

  const ProcessResult record =
      probe({"deploy", "record", "--config", config, "--event", "deploy_started", "--sha",
             "aaaaaaa", "--event-id", "0B5E8C3A-6F1D-4C2E-9A7B-3D4F5E6A7B8C"});
  EXPECT_EQ(record.exit_code, 0) << record.err;
  EXPECT_EQ(record.out, "0b5e8c3a-6f1d-4c2e-9a7b-3d4f5e6a7b8c\n");

  const ProcessResult check = probe({"config", "check", "--config", config});
  EXPECT_TRUE(has(check.out, "# deploy.dsn is not set: deploy events are kept only in the "
                             "journal " +
                                 journal))
      << check.out;
}

TEST(SmallOnes, EveryHelpListsItsExitCodes) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"check", "--help"}, "1 a critical target failed"},
      {{"wait", "--help"}, "1 not ready"},
      {{"deploy", "verify", "--help"}, "5 another deploy or rollback holds the lock"},
      {{"deploy", "verify", "--help"}, "3 failed and rolled back"},
      {{"deploy", "record", "--help"}, "Exit codes: 0 recorded"},
      {{"deploy", "list", "--help"}, "Exit codes: 0 listed"},
      {{"config", "check", "--help"}, "Exit codes: 0 valid"},
      {{"serve", "--help"},
       "Exit codes: 0 after a graceful stop on SIGTERM or SIGINT; 2 config "
       "error at start."},
  };
  for (const auto& [args, expected] : cases) {
    const ProcessResult help = probe(args);
    EXPECT_EQ(help.exit_code, 0) << args[0];
    EXPECT_TRUE(has(help.out, expected)) << args[0] << " " << args[1] << ":\n" << help.out;
  }
}

TEST(SmallOnes, TheWatchReportsProgress) {
  fakes::TempDir dir;
  fakes::HttpStandin api;
  const std::string config =
      dir.write("probe.yaml", "defaults: {interval: 1s, timeout: 500ms}\n"
                              "targets:\n  - {name: api, type: http, url: \"" +
                                  api.url("/health") +
                                  "\"}\n"
                                  "gate: {consecutive_successes: 1, poll_interval: 100ms}\n"
                                  "deploy: {journal: \"" +
                                  dir.path() + "/journal.jsonl\"}\n");
  const ProcessResult verify = probe({"deploy", "verify", "--config", config, "--sha", "aaaaaaa",
                                      "--watch", "3s", "--lock-file", dir.path() + "/deploy.lock"});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_TRUE(has(verify.err, "deploy: watching for 3s: a critical target going DOWN fails the "
                              "deploy\n"))
      << verify.err;
  EXPECT_TRUE(std::regex_search(
      verify.err, std::regex("deploy: watching: [0-3]s left, no critical target down\n")))
      << verify.err;
}

} // namespace
} // namespace probe::tests
