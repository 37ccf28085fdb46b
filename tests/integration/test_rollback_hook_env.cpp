// What the rollback hook sees of probe's environment (issue 12, item 13). probe's environment
// holds PROBE_TOKEN and the variables its config's secrets come from; the hook is a script the
// deploy team edits and that prints into logs. A real `probe deploy verify --config` runs a
// real hook script that writes its whole environment to a file: it has the allow-listed
// variables (PATH, HOME, DEPLOY_*, ...), the PROBE_*_SHA probe gives it, and none of the
// secrets. Before the fix the hook inherited everything, PROBE_TOKEN included. No PostgreSQL:
// events go to the config's journal.
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/support/files.hpp"
#include "tests/support/subprocess.hpp"

namespace probe {
namespace {

TEST(RollbackHookEnvironment, HookDoesNotSeeProbeTokenOrConfigSecrets) {
  fakes::TempDir dir;
  const std::string env_file = dir.path() + "/hook-env.txt";
  const std::string hook = dir.write("hook.sh", "#!/bin/sh\nenv > '" + env_file + "'\n");
  ::chmod(hook.c_str(), 0700);
  // A target that is never up (nothing listens on port 1), so the gate fails and the hook runs.
  const std::string config = dir.write(
      "probe.yaml", "targets:\n"
                    "  - {name: api, type: tcp, address: \"127.0.0.1:1\", interval: 1s, "
                    "timeout: 200ms}\n"
                    "gate: {timeout: 1s, poll_interval: 100ms, consecutive_successes: 1}\n"
                    "deploy:\n"
                    "  journal: " +
                        dir.path() +
                        "/journal.jsonl\n"
                        "  token: \"${PROBE_TOKEN}\"\n"
                        "  rollback: {command: [\"" +
                        hook +
                        "\", \"{previous_sha}\"], timeout: 10s}\n"
                        "notify:\n"
                        "  - {type: webhook, url: \"${HOOK_URL}\", optional: true}\n");
  fakes::ProcessOptions options;
  options.set_env = {"PROBE_TOKEN=tok-must-not-leak",
                     "HOOK_URL=http://127.0.0.1:1/hook-secret",
                     "DATABASE_URL=postgresql://app:pw-must-not-leak@db/app",
                     "DEPLOY_DIR=" + dir.path(),
                     "PROBE_HOOK_ENV=EXTRA_FOR_HOOK",
                     "EXTRA_FOR_HOOK=listed"};
  options.unset_env = {"PROBE_CONFIG"};
  options.timeout = std::chrono::seconds(60);

  const fakes::ProcessResult recorded =
      fakes::run_process({PROBE_BINARY, "deploy", "record", "--config", config, "--event",
                          "deploy_succeeded", "--sha", "abc1234"},
                         options);
  ASSERT_EQ(recorded.exit_code, 0) << recorded.err;
  const fakes::ProcessResult verify = fakes::run_process(
      {PROBE_BINARY, "deploy", "verify", "--config", config, "--sha", "def5678"}, options);
  ASSERT_NE(verify.exit_code, 0) << verify.err;

  const std::string env = read_file(env_file);
  ASSERT_FALSE(env.empty()) << "the hook did not run:\n" << verify.err;
  EXPECT_EQ(env.find("PROBE_TOKEN"), std::string::npos) << env;
  EXPECT_EQ(env.find("tok-must-not-leak"), std::string::npos) << env;
  EXPECT_EQ(env.find("pw-must-not-leak"), std::string::npos) << env;
  EXPECT_EQ(env.find("hook-secret"), std::string::npos) << env;
  EXPECT_NE(env.find("PROBE_PREVIOUS_SHA=abc1234\n"), std::string::npos) << env;
  EXPECT_NE(env.find("PROBE_FAILED_SHA=def5678\n"), std::string::npos) << env;
  EXPECT_NE(env.find("\nPATH="), std::string::npos) << env;
  EXPECT_NE(env.find("DEPLOY_DIR=" + dir.path() + "\n"), std::string::npos) << env;
  EXPECT_NE(env.find("EXTRA_FOR_HOOK=listed\n"), std::string::npos) << env;
}

} // namespace
} // namespace probe
