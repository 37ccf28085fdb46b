// `probe deploy list --config` on a host where the token's variable is unset (issue 12, item
// 18): listing checks no bearer token and sends no notification, so ${PROBE_TOKEN} and the
// channels' variables need not be set; the event store's own settings still must be. Before
// the fix it failed with "deploy.token: environment variable PROBE_TOKEN is not set". `probe
// config check` still reports the unset variable, since serve would need it. No PostgreSQL:
// the config has no deploy.dsn, so events come from its journal.
#include <string>

#include <gtest/gtest.h>

#include "tests/support/subprocess.hpp"

namespace probe {
namespace {

TEST(DeployListConfig, ListsWithoutTheTokenOrNotifyVariables) {
  fakes::TempDir dir;
  const std::string config =
      dir.write("probe.yaml", "targets:\n"
                              "  - {name: api, type: tcp, address: \"127.0.0.1:1\"}\n"
                              "deploy:\n"
                              "  journal: " +
                                  dir.path() +
                                  "/journal.jsonl\n"
                                  "  token: \"${PROBE_TOKEN}\"\n"
                                  "notify:\n"
                                  "  - {type: slack, webhook_url: \"${SLACK_WEBHOOK_URL}\"}\n");
  fakes::ProcessOptions with_token;
  with_token.set_env = {"PROBE_TOKEN=tok", "SLACK_WEBHOOK_URL=http://127.0.0.1:1/hook"};
  with_token.unset_env = {"PROBE_CONFIG"};
  const fakes::ProcessResult recorded =
      fakes::run_process({PROBE_BINARY, "deploy", "record", "--config", config, "--event",
                          "deploy_succeeded", "--sha", "abc1234"},
                         with_token);
  ASSERT_EQ(recorded.exit_code, 0) << recorded.err;

  fakes::ProcessOptions without;
  without.unset_env = {"PROBE_CONFIG", "PROBE_TOKEN", "SLACK_WEBHOOK_URL"};
  const fakes::ProcessResult list =
      fakes::run_process({PROBE_BINARY, "deploy", "list", "--config", config}, without);
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("abc1234"), std::string::npos) << list.out;

  const fakes::ProcessResult check =
      fakes::run_process({PROBE_BINARY, "config", "check", "--config", config}, without);
  EXPECT_EQ(check.exit_code, 2);
  EXPECT_NE(check.err.find("deploy.token: environment variable PROBE_TOKEN is not set"),
            std::string::npos)
      << check.err;
}

// The same for every command that uses neither the token nor the channels: CI runs `probe
// check` with the production config, where PROBE_TOKEN and the channels' variables are unset.
TEST(DeployListConfig, CheckWaitAndRecordRunWithoutTheTokenOrNotifyVariables) {
  fakes::TempDir dir;
  const std::string config = dir.write(
      "probe.yaml", "targets:\n"
                    "  - {name: api, type: tcp, address: \"127.0.0.1:1\", critical: false}\n"
                    "deploy:\n"
                    "  journal: " +
                        dir.path() +
                        "/journal.jsonl\n"
                        "  token: \"${PROBE_TOKEN}\"\n"
                        "  heartbeat_token: \"${PROBE_HEARTBEAT_TOKEN}\"\n"
                        "notify:\n"
                        "  - {type: slack, webhook_url: \"${SLACK_WEBHOOK_URL}\"}\n");
  fakes::ProcessOptions without;
  without.unset_env = {"PROBE_CONFIG", "PROBE_TOKEN", "PROBE_HEARTBEAT_TOKEN", "SLACK_WEBHOOK_URL"};
  const fakes::ProcessResult check =
      fakes::run_process({PROBE_BINARY, "check", "--config", config}, without);
  EXPECT_EQ(check.exit_code, 0) << check.err; // the one target is not critical
  const fakes::ProcessResult wait =
      fakes::run_process({PROBE_BINARY, "wait", "--config", config, "--timeout", "100ms"}, without);
  EXPECT_EQ(wait.exit_code, 0) << wait.err;
  const fakes::ProcessResult record =
      fakes::run_process({PROBE_BINARY, "deploy", "record", "--config", config, "--event",
                          "deploy_succeeded", "--sha", "abc1234"},
                         without);
  EXPECT_EQ(record.exit_code, 0) << record.err;
}

} // namespace
} // namespace probe
