// ProcessRunner runs the rollback hook, so what it promises is pinned here with real processes
// (sh, true, seq), not mocks: exit codes and signals come back, a missing program is reported
// as not started, output arrives line by line in order from stdout and stderr, the environment
// and the argv reach the child byte for byte with no shell in between, and a timeout takes
// down the whole process group — SIGTERM first, SIGKILL after the grace — while a daemonized
// grandchild that keeps the pipe open cannot hold run() up. Every command is bounded by a
// timeout, and a timing assertion only tells "ended at the timeout" from "waited for the 30 s
// sleep it was to cut short" (a bound of seconds), so a loaded machine cannot fail it.
// substitute_placeholders() is pure and is tested as such.
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe/util/command_runner.hpp"

namespace probe::util {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using Lines = std::vector<std::string>;

constexpr milliseconds k_test_grace{200};
constexpr milliseconds k_generous{5'000}; // timeout for commands that should finish at once
// A command cut at a timeout of a few hundred ms ends within this; one left to its `sleep 30`
// (or a grandchild's `sleep 60`) does not.
constexpr milliseconds k_not_hung{10'000};

// Runs `argv` with a short kill grace and collects the lines it prints into `lines`.
CommandResult run_collecting(const std::vector<std::string>& argv, Lines* lines = nullptr,
                             milliseconds timeout = k_generous,
                             const std::vector<std::string>& extra_env = {}) {
  ProcessRunner runner(k_test_grace);
  return runner.run(argv, extra_env, timeout, [lines](const std::string& line) {
    if (lines != nullptr) {
      lines->push_back(line);
    }
  });
}

Lines sh_lines(const std::string& script, const std::vector<std::string>& extra_env = {}) {
  Lines lines;
  const CommandResult result = run_collecting({"sh", "-c", script}, &lines, k_generous, extra_env);
  EXPECT_TRUE(result.started) << result.start_error;
  EXPECT_EQ(result.exit_code, 0);
  return lines;
}

milliseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start);
}

// A private directory for pid files, removed with everything in it.
class TempDir {
public:
  TempDir() {
    static std::atomic<int> counter{0};
    m_path =
        std::filesystem::temp_directory_path() /
        ("probe-command-runner-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::create_directories(m_path);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(m_path, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string file(const std::string& name) const { return (m_path / name).string(); }

private:
  std::filesystem::path m_path;
};

pid_t read_pid(const std::string& path) {
  std::ifstream in(path);
  long pid = 0;
  in >> pid;
  return static_cast<pid_t>(pid);
}

// Orphans of a killed command are reparented to init, and a container's PID 1 often does not
// reap them; a zombie still counts as a member of its process group for kill(). While this
// guard lives, this test process is the orphans' reaper, as a proper init would be.
class OrphanReaper {
public:
  OrphanReaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }
  ~OrphanReaper() {
    reap();
    ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  }
  OrphanReaper(const OrphanReaper&) = delete;
  OrphanReaper& operator=(const OrphanReaper&) = delete;

  // Only called while no run() is in progress, so it cannot take ProcessRunner's child.
  static void reap() {
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
  }
};

// Waits until process group `pgid` is gone. Its members are this process's children by then
// (the reaper took the orphans of the killed shell), so this waits for their exits with
// waitpid, an event, rather than polling. Past `limit` it SIGKILLs what is left, which ends the
// wait, and says the group outlived the limit.
bool group_gone_within(pid_t pgid, milliseconds limit, OrphanReaper& /*reaper*/) {
  std::future<void> reaped = std::async(std::launch::async, [pgid] {
    for (;;) {
      if (::waitpid(-pgid, nullptr, 0) > 0 || errno == EINTR) {
        continue;
      }
      return; // ECHILD: no child of ours left in the group
    }
  });
  if (reaped.wait_for(limit) != std::future_status::ready) {
    ::kill(-pgid, SIGKILL);
    reaped.wait();
    return false;
  }
  return ::kill(-pgid, 0) < 0 && errno == ESRCH;
}

TEST(ProcessRunner, ReportsTheExitCode) {
  const CommandResult result = run_collecting({"sh", "-c", "exit 3"});
  EXPECT_TRUE(result.started);
  EXPECT_EQ(result.start_error, "");
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_EQ(result.signal, 0);
  EXPECT_FALSE(result.timed_out);
}

TEST(ProcessRunner, FindsAProgramOnPath) {
  const CommandResult result = run_collecting({"true"});
  EXPECT_TRUE(result.started) << result.start_error;
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_LT(result.duration, k_generous) << "`true` ran into the timeout";
}

TEST(ProcessRunner, ReportsTheSignalThatEndedTheCommand) {
  const CommandResult result = run_collecting({"sh", "-c", "kill -USR1 $$"});
  EXPECT_TRUE(result.started);
  EXPECT_EQ(result.exit_code, -1);
  EXPECT_EQ(result.signal, SIGUSR1);
  EXPECT_FALSE(result.timed_out);
}

TEST(ProcessRunner, MissingProgramIsNotStarted) {
  const CommandResult by_path = run_collecting({"deploy/scripts/no-such-rollback.sh", "abc1234"});
  EXPECT_FALSE(by_path.started);
  EXPECT_EQ(by_path.start_error,
            "cannot start deploy/scripts/no-such-rollback.sh: No such file or directory");
  EXPECT_EQ(by_path.exit_code, -1);

  const CommandResult by_name = run_collecting({"probe-no-such-program-on-path"});
  EXPECT_FALSE(by_name.started);
  EXPECT_EQ(by_name.start_error,
            "cannot start probe-no-such-program-on-path: No such file or directory");
}

TEST(ProcessRunner, FileThatIsNotExecutableIsNotStarted) {
  const TempDir dir;
  const std::string script = dir.file("rollback.sh");
  std::ofstream(script) << "#!/bin/sh\nexit 0\n";
  std::filesystem::permissions(script, std::filesystem::perms::owner_read |
                                           std::filesystem::perms::owner_write);
  if (::access(script.c_str(), X_OK) == 0) {
    GTEST_SKIP() << "running as root: every file is executable";
  }
  const CommandResult result = run_collecting({script});
  EXPECT_FALSE(result.started);
  EXPECT_EQ(result.start_error, "cannot start " + script + ": Permission denied");
}

TEST(ProcessRunner, EmptyArgvIsNotStarted) {
  const CommandResult result = run_collecting({});
  EXPECT_FALSE(result.started);
  EXPECT_EQ(result.start_error, "cannot start command: empty argv");
}

TEST(ProcessRunner, DeliversStdoutAndStderrLinesInOrder) {
  Lines lines;
  const CommandResult result =
      run_collecting({"sh", "-c", "echo one; echo two >&2; printf three"}, &lines);
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(lines, (Lines{"one", "two", "three"}));
  EXPECT_EQ(result.output_tail, "one\ntwo\nthree");
}

TEST(ProcessRunner, StdinIsDevNull) {
  // With the parent's stdin, cat would wait for a terminal or a test runner's pipe.
  EXPECT_EQ(sh_lines("cat; echo done"), (Lines{"done"}));
}

TEST(ProcessRunner, ExtraEnvReachesTheChildAndOverrides) {
  ::setenv("PROBE_PREVIOUS_SHA", "from-parent", 1);
  ::setenv("DEPLOY_TEST_INHERITED", "inherited", 1);
  const Lines lines = sh_lines(
      R"(echo "$PROBE_PREVIOUS_SHA"; echo "$DEPLOY_TEST_INHERITED"; echo "$PROBE_FAILED_SHA";)"
      R"( env | grep -c '^PROBE_PREVIOUS_SHA=')",
      {"PROBE_PREVIOUS_SHA=abc1234", "PROBE_FAILED_SHA=def5678"});
  ::unsetenv("PROBE_PREVIOUS_SHA");
  ::unsetenv("DEPLOY_TEST_INHERITED");
  EXPECT_EQ(lines, (Lines{"abc1234", "inherited", "def5678", "1"}));
}

// The hook is a script the deploy team edits; probe's own token and the variables its config's
// secrets come from stay with probe. (Fails before the allow-list: the hook saw everything.)
TEST(ProcessRunner, SecretsInProbesEnvironmentDoNotReachTheChild) {
  ::setenv("PROBE_TOKEN", "tok-parent-secret", 1);
  ::setenv("DATABASE_URL", "postgresql://app:hunter2@db/app", 1);
  ::setenv("DOCKER_PASSWORD", "docker-secret", 1);
  const Lines lines = sh_lines(R"(env | grep -c -e tok-parent-secret -e hunter2 -e docker-secret;)"
                               R"( echo "path=${PATH:+set}")");
  ::unsetenv("PROBE_TOKEN");
  ::unsetenv("DATABASE_URL");
  ::unsetenv("DOCKER_PASSWORD");
  EXPECT_EQ(lines, (Lines{"0", "path=set"}));
}

TEST(HookEnvironment, PassesTheAllowListAndDropsTheRest) {
  const std::vector<std::string> parent{"PATH=/usr/bin",
                                        "HOME=/root",
                                        "LANG=C.UTF-8",
                                        "LC_ALL=C",
                                        "DOCKER_HOST=unix:///x",
                                        "COMPOSE_PROJECT_NAME=homeguru",
                                        "DEPLOY_LOCK_HELD=1",
                                        "https_proxy=http://p",
                                        "PROBE_TOKEN=tok",
                                        "DATABASE_URL=postgresql://app:pw@db/app",
                                        "TELEGRAM_BOT_TOKEN=1:abc",
                                        "DOCKER_PASSWORD=pw",
                                        "DEPLOY_TOKEN=t",
                                        "GHCR_OWNER=me",
                                        "PROBE_PREVIOUS_SHA=old",
                                        "NOEQUALS"};
  EXPECT_EQ(hook_environment(parent, {"PROBE_PREVIOUS_SHA=abc1234", "PROBE_FAILED_SHA=def5678"}),
            (std::vector<std::string>{"COMPOSE_PROJECT_NAME=homeguru", "DEPLOY_LOCK_HELD=1",
                                      "DOCKER_HOST=unix:///x", "HOME=/root", "LANG=C.UTF-8",
                                      "LC_ALL=C", "PATH=/usr/bin", "PROBE_FAILED_SHA=def5678",
                                      "PROBE_PREVIOUS_SHA=abc1234", "https_proxy=http://p"}));
}

TEST(HookEnvironment, ProbeHookEnvListsMoreNames) {
  const std::vector<std::string> parent{"PATH=/usr/bin", "GHCR_OWNER=me", "REGISTRY_TOKEN=t",
                                        "OTHER=x", "PROBE_HOOK_ENV=GHCR_OWNER, REGISTRY_TOKEN"};
  EXPECT_EQ(hook_environment(parent, {}),
            (std::vector<std::string>{"GHCR_OWNER=me", "PATH=/usr/bin", "REGISTRY_TOKEN=t"}));
}

TEST(ProcessRunner, ArgumentsArriveVerbatimWithNoShellInBetween) {
  const std::vector<std::string> hostile = {
      "$(id)", "a;rm -rf /", "with space", "q'u\"o`id`te", "line\nbreak", "*", "", "$HOME"};
  std::vector<std::string> argv = {"sh", "-c", R"(for a; do printf "<%s>" "$a"; done)", "sh"};
  argv.insert(argv.end(), hostile.begin(), hostile.end());
  const CommandResult result = run_collecting(argv);
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.output_tail,
            "<$(id)><a;rm -rf /><with space><q'u\"o`id`te><line\nbreak><*><><$HOME>");
}

TEST(ProcessRunner, SubstitutedValueStaysOneArgument) {
  const std::vector<std::string> command = {
      "sh", "-c", R"(printf "%s|" "$#" "$@")", "sh", "{previous_sha}", "--sha={previous_sha}"};
  const CommandResult result = run_collecting(
      substitute_placeholders(command, {{"previous_sha", "abc1234 $(touch /tmp/pwned); x"}}));
  EXPECT_EQ(result.output_tail, "2|abc1234 $(touch /tmp/pwned); x|--sha={previous_sha}|");
}

TEST(ProcessRunner, SignalMaskAndIgnoredSignalsAreReset) {
  // What the child starts with, read by grep itself (a shell would install its own handlers).
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigset_t old_mask;
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &block, &old_mask), 0);
  const auto old_pipe = std::signal(SIGPIPE, SIG_IGN);
  Lines lines;
  run_collecting({"grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status"}, &lines);
  std::signal(SIGPIPE, old_pipe);
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);

  ASSERT_EQ(lines.size(), 2U);
  EXPECT_EQ(lines[0], "SigBlk:\t0000000000000000");
  const unsigned long ignored = std::stoul(lines[1].substr(lines[1].find('\t') + 1), nullptr, 16);
  EXPECT_EQ(ignored & (1UL << (SIGPIPE - 1)), 0UL) << lines[1];
}

TEST(ProcessRunner, ParentFdsAreNotInherited) {
#if !defined(__GLIBC__) || __GLIBC__ < 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ < 34)
  GTEST_SKIP() << "needs posix_spawn_file_actions_addclosefrom_np (glibc 2.34)";
#endif
  // Opened without O_CLOEXEC, as a careless library might; fd 42 so it stands out.
  const int opened = ::open("/dev/null", O_RDONLY); // NOLINT(android-cloexec-open)
  ASSERT_GE(opened, 0);
  const int leaky = ::dup2(opened, 42);
  ::close(opened);
  ASSERT_EQ(leaky, 42);
  // Every open fd above stderr, found with builtins only so the shell opens none of its own.
  const Lines lines = sh_lines(R"(i=3; while [ $i -lt 256 ]; do)"
                               R"( [ -e /proc/$$/fd/$i ] && echo $i; i=$((i + 1)); done; true)");
  ::close(leaky);
  EXPECT_EQ(lines, Lines{});
}

TEST(ProcessRunner, TimeoutTerminatesTheWholeProcessGroup) {
  const TempDir dir;
  const std::string pid_file = dir.file("pgid");
  OrphanReaper reaper;
  const Clock::time_point start = Clock::now();
  const CommandResult result =
      run_collecting({"sh", "-c", "echo $$ > " + pid_file + "; sleep 30 & sleep 30 & wait"},
                     nullptr, milliseconds(300));
  const milliseconds elapsed = since(start);

  EXPECT_TRUE(result.started);
  EXPECT_TRUE(result.timed_out);
  EXPECT_EQ(result.signal, SIGTERM);
  EXPECT_EQ(result.exit_code, -1);
  EXPECT_GE(result.duration, milliseconds(300));
  EXPECT_LT(elapsed, k_not_hung);
  const pid_t pgid = read_pid(pid_file);
  ASSERT_GT(pgid, 1);
  EXPECT_TRUE(group_gone_within(pgid, k_not_hung, reaper));
}

TEST(ProcessRunner, CommandIgnoringTermIsKilledAfterTheGrace) {
  const TempDir dir;
  const std::string pid_file = dir.file("pgid");
  OrphanReaper reaper;
  const Clock::time_point start = Clock::now();
  const CommandResult result = run_collecting(
      {"sh", "-c", "trap '' TERM; echo $$ > " + pid_file + "; sleep 30; echo survived"}, nullptr,
      milliseconds(300));
  const milliseconds elapsed = since(start);

  EXPECT_TRUE(result.timed_out);
  EXPECT_EQ(result.signal, SIGKILL);
  EXPECT_EQ(result.output_tail, "");
  EXPECT_GE(result.duration, milliseconds(300) + k_test_grace - milliseconds(20));
  EXPECT_LT(elapsed, k_not_hung);
  const pid_t pgid = read_pid(pid_file);
  ASSERT_GT(pgid, 1);
  EXPECT_TRUE(group_gone_within(pgid, k_not_hung, reaper));
}

TEST(ProcessRunner, DaemonizedGrandchildHoldingTheOutputDoesNotHoldRunUp) {
  const TempDir dir;
  const std::string pid_file = dir.file("grandchild");
  Lines lines;
  const Clock::time_point start = Clock::now();
  const CommandResult result =
      run_collecting({"sh", "-c", "sleep 60 & echo $! > " + pid_file + "; echo started"}, &lines);
  const milliseconds elapsed = since(start);
  const pid_t grandchild = read_pid(pid_file);
  if (grandchild > 1) {
    ::kill(grandchild, SIGKILL);
  }

  EXPECT_TRUE(result.started);
  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(lines, (Lines{"started"}));
  EXPECT_LT(elapsed, k_not_hung) << "run() waited for the grandchild's sleep 60";
}

TEST(ProcessRunner, OutputTailHoldsTheLastLines) {
  std::size_t count = 0;
  std::string last;
  ProcessRunner runner(k_test_grace);
  const CommandResult result =
      runner.run({"seq", "1", "100000"}, {}, milliseconds(10'000), [&](const std::string& line) {
        ++count;
        last = line;
      });
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(count, 100'000U);
  EXPECT_EQ(last, "100000");

  const std::string& tail = result.output_tail;
  EXPECT_LE(tail.size(), k_output_tail_bytes);
  EXPECT_GT(tail.size(), k_output_tail_bytes - 8); // at most one partial line dropped
  // Whole lines only: consecutive numbers ending at 100000.
  std::istringstream in(tail);
  long expected = 0;
  long n = 0;
  while (in >> n) {
    if (expected != 0) {
      EXPECT_EQ(n, expected);
    }
    expected = n + 1;
  }
  EXPECT_EQ(expected, 100'001);
  EXPECT_EQ(tail.substr(tail.size() - 13), "99999\n100000\n");
}

TEST(ProcessRunner, LongLinesAreCutAndMarked) {
  const Lines lines = sh_lines("head -c 10000 /dev/zero | tr '\\0' a; echo; "
                               "head -c 4096 /dev/zero | tr '\\0' b; echo; echo next");
  ASSERT_EQ(lines.size(), 3U);
  std::string cut(k_max_output_line, 'a'); // not `string(n, 'a') + ...`: GCC 12 warns falsely
  cut += k_cut_line_marker;
  EXPECT_EQ(lines[0], cut);
  EXPECT_EQ(lines[1], std::string(k_max_output_line, 'b')); // exactly at the limit: not cut
  EXPECT_EQ(lines[2], "next");
}

TEST(ProcessRunner, HandlerThatThrowsTakesTheGroupDown) {
  const TempDir dir;
  const std::string pid_file = dir.file("pgid");
  OrphanReaper reaper;
  ProcessRunner runner(k_test_grace);
  const Clock::time_point start = Clock::now();
  EXPECT_THROW(runner.run({"sh", "-c", "echo $$ > " + pid_file + "; echo go; sleep 30"}, {},
                          k_generous,
                          [](const std::string&) { throw std::runtime_error("handler failed"); }),
               std::runtime_error);
  EXPECT_LT(since(start), k_not_hung);
  const pid_t pgid = read_pid(pid_file);
  ASSERT_GT(pgid, 1);
  EXPECT_TRUE(group_gone_within(pgid, k_not_hung, reaper));
}

TEST(ProcessRunner, EmptyHandlerIsAllowed) {
  ProcessRunner runner(k_test_grace);
  const CommandResult result = runner.run({"sh", "-c", "echo quiet"}, {}, k_generous, nullptr);
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.output_tail, "quiet\n");
}

TEST(SubstitutePlaceholders, ReplacesWholeArgumentsOnly) {
  const std::map<std::string, std::string> values = {{"previous_sha", "abc1234"},
                                                     {"failed_sha", "def5678"}};
  EXPECT_EQ(
      substitute_placeholders(
          {"deploy/scripts/rollback.sh", "{previous_sha}", "{failed_sha}", "{previous_sha}"},
          values),
      (std::vector<std::string>{"deploy/scripts/rollback.sh", "abc1234", "def5678", "abc1234"}));
}

TEST(SubstitutePlaceholders, LeavesEmbeddedAndUnknownPlaceholdersAlone) {
  const std::map<std::string, std::string> values = {{"previous_sha", "abc1234"}};
  const std::vector<std::string> argv = {
      "--sha={previous_sha}", "{x}", "{previous_sha} ", "{{previous_sha}}", "{}", "{", "}", "",
      "previous_sha"};
  EXPECT_EQ(substitute_placeholders(argv, values), argv);
}

TEST(SubstitutePlaceholders, ValueWithSpacesStaysOneArgument) {
  EXPECT_EQ(substitute_placeholders({"run", "{previous_sha}", "end"},
                                    {{"previous_sha", "a b; rm -rf / $(id)"}}),
            (std::vector<std::string>{"run", "a b; rm -rf / $(id)", "end"}));
  EXPECT_EQ(substitute_placeholders({"run", "{previous_sha}"}, {{"previous_sha", ""}}),
            (std::vector<std::string>{"run", ""}));
}

} // namespace
} // namespace probe::util
