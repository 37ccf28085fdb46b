// The command line reads the environment through one seam (cli::run's util::EnvLookup, the one
// the config loader expands ${VAR} from): a test can hand it an environment without touching the
// process's. PROBE_CONFIG chooses the config, ${VAR} in it expands from the same lookup, and
// neither is read from the real environment; nor is PROBE_HOST.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include "probe/cli/cli.hpp"
#include "probe/deploy/event.hpp"
#include "probe/deploy/journal.hpp"

namespace probe::cli {
namespace {

namespace fs = std::filesystem;

class CliEnvironment : public ::testing::Test {
protected:
  CliEnvironment() {
    std::string pattern = (fs::temp_directory_path() / "probe-cli-env.XXXXXX").string();
    m_dir = mkdtemp(pattern.data());
  }
  ~CliEnvironment() override { fs::remove_all(m_dir); }

  std::string write(const std::string& name, const std::string& text) const {
    const std::string path = m_dir + "/" + name;
    std::ofstream(path) << text;
    fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
    return path;
  }

  // `probe ARGS...` with exactly `env` as its environment.
  static int run_with(std::vector<std::string> args, std::map<std::string, std::string> env) {
    args.insert(args.begin(), "probe");
    std::vector<char*> argv;
    for (std::string& arg : args) {
      argv.push_back(arg.data());
    }
    return run(static_cast<int>(argv.size()), argv.data(),
               [env](const std::string& name) -> std::optional<std::string> {
                 const auto found = env.find(name);
                 return found == env.end() ? std::nullopt : std::optional(found->second);
               });
  }

  std::string m_dir;
};

TEST_F(CliEnvironment, ProbeConfigAndVariablesComeFromTheGivenEnvironment) {
  ASSERT_EQ(std::getenv("PROBE_TEST_CLI_PORT"), nullptr);
  const std::string config = write("probe.yaml", "targets:\n  - name: db\n    type: tcp\n"
                                                 "    address: 127.0.0.1:${PROBE_TEST_CLI_PORT}\n");
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  const int ok =
      run_with({"config", "check"}, {{"PROBE_CONFIG", config}, {"PROBE_TEST_CLI_PORT", "5432"}});
  const int unset = run_with({"config", "check"}, {{"PROBE_CONFIG", config}});
  const int missing = run_with({"config", "check"}, {{"PROBE_CONFIG", m_dir + "/none.yaml"}});
  testing::internal::GetCapturedStdout();
  const std::string errors = testing::internal::GetCapturedStderr();
  EXPECT_EQ(ok, 0) << errors;
  EXPECT_EQ(unset, 2) << errors; // ${PROBE_TEST_CLI_PORT} unset in the given environment
  EXPECT_NE(errors.find("PROBE_TEST_CLI_PORT"), std::string::npos) << errors;
  EXPECT_EQ(missing, 2) << errors;
  EXPECT_NE(errors.find(m_dir + "/none.yaml"), std::string::npos) << errors;
}

// PROBE_HOST names the host of the events a command makes (two probes on one machine, or a pod
// whose hostname is a random container id, are told apart by it); a value that is not a host
// name exits 2 naming the variable, with nothing recorded; unset, the machine's name.
TEST_F(CliEnvironment, ProbeHostNamesTheHostOfRecordedEventsAndABadOneExits2) {
  const std::string journal = m_dir + "/journal.jsonl";
  const std::string config =
      write("probe.yaml", "targets:\n  - {name: db, type: tcp, address: \"127.0.0.1:1\"}\n"
                          "deploy: {journal: \"" +
                              journal + "\"}\n");
  const std::vector<std::string> record{"deploy",  "record",         "--config", config,
                                        "--event", "deploy_started", "--sha",    "aaaaaaa"};
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  const int named = run_with(record, {{"PROBE_HOST", "  pod-7d9f-x2k4q \n"}});
  const int bad = run_with(record, {{"PROBE_HOST", "pod\x1b]0;owned\x07"}});
  const int unset = run_with(record, {});
  testing::internal::GetCapturedStdout();
  const std::string errors = testing::internal::GetCapturedStderr();
  EXPECT_EQ(named, 0) << errors;
  EXPECT_EQ(bad, 2) << errors;
  EXPECT_NE(errors.find("PROBE_HOST: character 4 is not printable ASCII"), std::string::npos)
      << errors;
  EXPECT_EQ(errors.find("owned"), std::string::npos) << "the value is not echoed";
  EXPECT_EQ(unset, 0) << errors;
  const std::vector<deploy::DeployEvent> events = deploy::Journal(journal).read().events;
  ASSERT_EQ(events.size(), 2U) << "the bad PROBE_HOST recorded nothing";
  EXPECT_EQ(events[0].host, "pod-7d9f-x2k4q");
  EXPECT_EQ(events[1].host, deploy::this_host()) << "unset: the machine's name";
  EXPECT_NE(events[1].host, "pod-7d9f-x2k4q") << "a run does not inherit the last one's";
}

} // namespace
} // namespace probe::cli
