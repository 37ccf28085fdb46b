// Where the rollback hook comes from and that it must exist before a deploy starts
// (probe/deploy/rollback_hook.hpp, issue 17): the config's command resolved against the
// config's directory or PATH, and PROBE_ROLLBACK_COMMAND split without a shell.
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "probe/deploy/rollback_hook.hpp"

namespace probe::deploy {
namespace {

namespace fs = std::filesystem;

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

} // namespace
} // namespace probe::deploy
