// The host deploy lock as `probe deploy verify --url` takes it, against a real `probe serve`
// (issue 12, item 11): a symbolic link planted at the lock path makes verify exit 2 naming it,
// with its target untouched and nothing recorded; a lock in a directory others can write is
// refused the same way; and two deploys still exclude each other — the second exits 5 naming the
// first one's pid, while the first is inside its gate.
#include <csignal>
#include <fstream>

#include "serve_fixture.hpp"
#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include "tests/support/files.hpp"

namespace probe::tests {
namespace {

using namespace std::chrono_literals;

class DeployLockCli : public ::testing::Test {
protected:
  void SetUp() override {
    // A critical target that never passes, so a verify stays in its gate for the gate timeout.
    m_probe = std::make_unique<RunningProbe>(
        m_dir, "targets:\n"
               "  - {name: api, type: tcp, address: \"127.0.0.1:1\", interval: 100ms, timeout: "
               "100ms}\n"
               "gate: {consecutive_successes: 1, poll_interval: 100ms, timeout: 60s}\n"
               "deploy: {journal: \"" +
                   m_dir.path() + "/journal.jsonl\", token: \"tok-123\"}\n");
    m_url = "http://127.0.0.1:" + std::to_string(m_probe->port());
  }

  std::vector<std::string> verify(const std::string& sha, const std::string& lock) const {
    return {PROBE_BINARY, "deploy", "verify", "--url", m_url, "--sha", sha, "--lock-file", lock};
  }

  static fakes::ProcessOptions options() {
    fakes::ProcessOptions options;
    options.timeout = 30s;
    options.set_env = {"PROBE_TOKEN=tok-123"};
    return options;
  }

  std::size_t events() const {
    return nlohmann::json::parse(m_probe->get("/deploys").second)["events"].size();
  }

  fakes::TempDir m_dir;
  std::unique_ptr<RunningProbe> m_probe;
  std::string m_url;
};

TEST_F(DeployLockCli, ASymlinkAtTheLockPathIsRefusedAndItsTargetUntouched) {
  const std::string target = m_dir.write("precious", "root's data\n");
  const std::string lock = m_dir.path() + "/deploy.lock";
  ASSERT_EQ(::symlink(target.c_str(), lock.c_str()), 0);
  const fakes::ProcessResult result = fakes::run_process(verify("aaaaaaa", lock), options());
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("deploy lock " + lock +
                            ": is a symbolic link; refused (the lock must be a regular file)"),
            std::string::npos)
      << result.err;
  EXPECT_EQ(read_file(target), "root's data\n");
  EXPECT_EQ(events(), 0U) << "nothing recorded";
}

TEST_F(DeployLockCli, ALockDirectoryOthersCanWriteIsRefused) {
  const std::string shared = m_dir.path() + "/shared";
  ASSERT_EQ(::mkdir(shared.c_str(), 0777), 0);
  ASSERT_EQ(::chmod(shared.c_str(), 01777), 0); // like /tmp
  const fakes::ProcessResult result =
      fakes::run_process(verify("aaaaaaa", shared + "/deploy.lock"), options());
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("deploy lock directory " + shared +
                            ": writable by its group or others (mode 1777)"),
            std::string::npos)
      << result.err;
  EXPECT_EQ(events(), 0U);
}

TEST_F(DeployLockCli, TwoDeploysExcludeEachOther) {
  const std::string lock = m_dir.path() + "/locks/deploy.lock";
  fakes::BackgroundProcess first(verify("aaaaaaa", lock), m_dir.path() + "/first.log",
                                 {"PROBE_TOKEN=tok-123"});
  // The first holds the lock once its pid is in the file; its gate then waits up to 60 s, far
  // longer than the second needs to start and try.
  ASSERT_TRUE(
      fakes::eventually([&] { return read_file(lock) == std::to_string(first.pid()) + "\n"; }, 10s))
      << first.log();
  const fakes::ProcessResult second = fakes::run_process(verify("bbbbbbb", lock), options());
  EXPECT_EQ(second.exit_code, 5) << second.err;
  EXPECT_NE(second.err.find("another deploy or rollback holds " + lock + " (pid " +
                            std::to_string(first.pid()) + ")"),
            std::string::npos)
      << second.err;
  EXPECT_EQ(first.stop(SIGTERM, 10s), 128 + SIGTERM) << first.log();
}

} // namespace
} // namespace probe::tests
