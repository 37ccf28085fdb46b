// The deploy commands' decisions (probe/cli/deploy_support.hpp), without running one: the audit
// log's terminal table, where no field can fake a row or drive the terminal (issue 12); where
// the rollback hook comes from and that it must exist before a deploy starts (issue 17); the
// note that events without deploy.dsn live only in the journal (issue 18).
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "probe/cli/deploy_support.hpp"
#include "probe/util/terminal.hpp"

namespace probe::cli {
namespace {

namespace fs = std::filesystem;

deploy::DeployEvent event(const std::string& kind, const std::string& sha,
                          const std::string& actor) {
  deploy::DeployEvent e;
  e.kind = kind;
  e.sha = sha;
  e.actor = actor;
  e.host = "web-1";
  e.occurred_at =
      std::chrono::system_clock::time_point(std::chrono::milliseconds(1'700'000'000'123));
  return e;
}

TEST(TerminalSafe, ControlCharactersAreShownEscaped) {
  EXPECT_EQ(util::terminal_safe("plain ünïcode ✅"), "plain ünïcode ✅");
  EXPECT_EQ(util::terminal_safe("a\r\nb\tc"), "a\\r\\nb\\tc");
  EXPECT_EQ(util::terminal_safe("\x1b[31mred\x7f\x01"), "\\x1b[31mred\\x7f\\x01");
  EXPECT_EQ(util::terminal_safe(std::string("nul\0x", 5)), "nul\\x00x");
  // U+009B (CSI) as UTF-8: some terminals obey it like ESC [.
  EXPECT_EQ(util::terminal_safe("\xc2\x9b"
                                "2J"),
            "\\u009b2J");
}

TEST(EventList, AnActorCannotFakeARowOrDriveTheTerminal) {
  const std::string list = render_event_list(
      {event("deploy_failed", "bbbbbbb",
             "mallory\r\n2023-11-14T22:13:20.123Z  deploy_succeeded   bbbbbbb  ci@web-1\x1b[2K")});
  EXPECT_EQ(list, "2023-11-14T22:13:20.123Z  deploy_failed      bbbbbbb  "
                  "mallory\\r\\n2023-11-14T22:13:20.123Z  deploy_succeeded   bbbbbbb  "
                  "ci@web-1\\x1b[2K@web-1\n");
  EXPECT_EQ(std::count(list.begin(), list.end(), '\n'), 1);
  EXPECT_EQ(list.find('\x1b'), std::string::npos);
}

TEST(EventList, NoEventsSaysSo) {
  EXPECT_EQ(render_event_list({}), "no deploy events\n");
  deploy::DeployEvent rolled = event("rollback_succeeded", "aaaaaaa", "ci");
  rolled.previous_sha = "bbbbbbb";
  EXPECT_EQ(render_event_list({rolled}),
            "2023-11-14T22:13:20.123Z  rollback_succeeded aaaaaaa (from bbbbbbb)  ci@web-1\n");
}

class HookTest : public ::testing::Test {
protected:
  HookTest() {
    std::string pattern = (fs::temp_directory_path() / "probe-hook.XXXXXX").string();
    m_dir = mkdtemp(pattern.data());
    fs::create_directories(m_dir + "/my hooks");
  }
  ~HookTest() override { fs::remove_all(m_dir); }

  std::string script(const std::string& relative, bool executable = true) const {
    const std::string path = m_dir + "/" + relative;
    std::ofstream(path) << "#!/bin/sh\nexit 0\n";
    chmod(path.c_str(), executable ? 0755 : 0644);
    return path;
  }

  config::Config config_with(std::vector<std::string> command) const {
    config::Config config;
    config.path = m_dir + "/probe.yaml";
    config.deploy.rollback.command = std::move(command);
    return config;
  }

  std::string m_dir;
};

TEST_F(HookTest, AConfigHookIsResolvedAgainstTheConfigsDirectory) {
  script("my hooks/rollback.sh");
  std::string error;
  const auto argv =
      resolve_config_hook(config_with({"my hooks/rollback.sh", "{previous_sha}"}), "", &error);
  ASSERT_TRUE(argv) << error;
  EXPECT_EQ(*argv, (std::vector<std::string>{m_dir + "/my hooks/rollback.sh", "{previous_sha}"}));
  // A bare name is looked up on PATH; an empty command stays empty (no hook configured).
  EXPECT_EQ(
      resolve_config_hook(config_with({"sh", "-c", "exit 0"}), "/usr/bin:/bin", &error)->front(),
      "sh");
  EXPECT_TRUE(resolve_config_hook(config_with({}), "", &error)->empty());
}

TEST_F(HookTest, AMissingOrUnrunnableConfigHookIsAnError) {
  std::string error;
  EXPECT_FALSE(resolve_config_hook(config_with({"missing.sh"}), m_dir, &error));
  EXPECT_EQ(error, "deploy.rollback.command[0]: missing.sh: not found on PATH");
  EXPECT_FALSE(resolve_config_hook(config_with({m_dir + "/nope/rollback.sh"}), "", &error));
  EXPECT_EQ(error, "deploy.rollback.command[0]: " + m_dir + "/nope/rollback.sh: does not exist");
  script("plain.sh", false);
  EXPECT_FALSE(resolve_config_hook(config_with({"./plain.sh"}), "", &error));
  EXPECT_EQ(error, "deploy.rollback.command[0]: " + m_dir + "/./plain.sh: is not executable");
  EXPECT_FALSE(resolve_config_hook(config_with({"./my hooks"}), "", &error));
  EXPECT_EQ(error, "deploy.rollback.command[0]: " + m_dir + "/./my hooks: is a directory");
}

TEST_F(HookTest, TheEnvironmentHookMayNameAPathWithASpace) {
  const std::string hook = script("my hooks/rollback.sh");
  std::string error;
  auto argv = hook_from_env("'" + hook + "' --quiet", "", &error);
  ASSERT_TRUE(argv) << error;
  EXPECT_EQ(*argv, (std::vector<std::string>{hook, "--quiet", "{previous_sha}"}));
  argv = hook_from_env(R"([")" + hook + R"(", "{failed_sha}", "{previous_sha}"])", "", &error);
  ASSERT_TRUE(argv) << error;
  EXPECT_EQ(*argv, (std::vector<std::string>{hook, "{failed_sha}", "{previous_sha}"}));
}

TEST_F(HookTest, ABadEnvironmentHookIsNamedByItsVariable) {
  std::string error;
  EXPECT_FALSE(hook_from_env(m_dir + "/my hooks/rollback.sh", "", &error)); // split at the space
  EXPECT_EQ(error, "PROBE_ROLLBACK_COMMAND: " + m_dir + "/my: does not exist");
  EXPECT_FALSE(hook_from_env("'" + m_dir + "/my hooks", "", &error));
  EXPECT_EQ(error, "PROBE_ROLLBACK_COMMAND: unterminated ' quote");
  EXPECT_FALSE(hook_from_env("  ", "", &error));
  EXPECT_EQ(error, "PROBE_ROLLBACK_COMMAND: is empty");
}

TEST(JournalNote, SaysWhereEventsGoWithoutADatabase) {
  config::Deploy deploy;
  EXPECT_EQ(journal_only_note(deploy), "deploy.dsn is not set: deploy events are kept only in "
                                       "the journal /var/lib/probe/journal.jsonl");
  deploy.dsn = util::Secret("postgresql://probe@db/probe");
  EXPECT_EQ(journal_only_note(deploy), "");
}

} // namespace
} // namespace probe::cli
