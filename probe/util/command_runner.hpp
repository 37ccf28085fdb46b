// Running an external command without a shell, for hooks such as the deploy rollback. The argv
// reaches posix_spawnp as is, so a SHA or tag substituted into it can never be read as shell
// syntax. The command runs in its own process group, so a timeout stops the whole tree it
// started (docker compose and its helpers), not only the first process. CommandRunner is the
// I/O seam: the deploy flow is tested with a fake that records what it was asked to run, and
// ProcessRunner, the real one, is tested with real processes.
//
// The command does not inherit probe's whole environment: probe's holds PROBE_TOKEN and the
// variables its config's ${...} secrets come from (DATABASE_URL, TELEGRAM_BOT_TOKEN), and a
// hook is a script anyone on the deploy team edits. It gets an allow-list (see
// hook_environment) plus what the caller passes.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace probe::util {

// Output lines longer than this are cut and end with k_cut_line_marker.
inline constexpr std::size_t k_max_output_line = 4096;
inline constexpr const char* k_cut_line_marker = " [line cut at 4 KiB]";
// How much of the combined output CommandResult::output_tail keeps.
inline constexpr std::size_t k_output_tail_bytes = 4096;

struct CommandResult {
  int exit_code = -1;      // the exit status when the command exited; -1 when it did not
  int signal = 0;          // the signal that ended the command, 0 when it exited
  bool timed_out = false;  // the timeout passed and the process group was signalled
  bool started = false;    // false when the command could not be started; see start_error
  std::string start_error; // "cannot start ARGV0: PROBLEM"
  std::chrono::milliseconds duration{0};
  std::string output_tail; // last ~4 KiB of combined stdout+stderr, from a line start
};

class CommandRunner {
public:
  virtual ~CommandRunner() = default;
  // Runs `argv` (argv[0] a path or a name on PATH) with the allow-listed part of the
  // environment plus `extra_env` ("NAME=value", replacing same-named variables; always
  // passed), stops it after `timeout`, and passes each
  // line it prints, stdout and stderr interleaved, to `on_output_line` (may be empty).
  virtual CommandResult run(const std::vector<std::string>& argv,
                            const std::vector<std::string>& extra_env,
                            std::chrono::milliseconds timeout,
                            const std::function<void(const std::string& line)>& on_output_line) = 0;
};

// The real runner: posix_spawnp, stdin from /dev/null, stdout and stderr into one pipe. At the
// timeout the process group gets SIGTERM, then SIGKILL after the grace. Once the command has
// exited, reading stops at end of output or one second later, whichever comes first, so a
// daemonized grandchild that keeps the pipe open cannot hold run() up.
class ProcessRunner final : public CommandRunner {
public:
  // `kill_grace` is the time between SIGTERM and SIGKILL after a timeout.
  explicit ProcessRunner(std::chrono::milliseconds kill_grace = std::chrono::seconds(5))
      : m_kill_grace(kill_grace) {}

  CommandResult run(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env,
                    std::chrono::milliseconds timeout,
                    const std::function<void(const std::string& line)>& on_output_line) override;

private:
  std::chrono::milliseconds m_kill_grace;
};

// The environment a command gets from `parent` ("NAME=value" entries, probe's own): only
//   PATH HOME USER LOGNAME SHELL PWD HOSTNAME LANG LANGUAGE TZ TMPDIR TERM XDG_RUNTIME_DIR
//   SSH_AUTH_SOCK, the proxy variables (http_proxy, HTTPS_PROXY, no_proxy, ... either case),
//   and the names that start LC_, DOCKER_, COMPOSE_ or DEPLOY_,
// each unless its name says it is a secret (is_secret_name: DOCKER_PASSWORD, DEPLOY_TOKEN), plus
// the names listed in parent's PROBE_HOOK_ENV (space- or comma-separated; listed is passed,
// secret-looking or not), then `extra_env` laid over it. Never PROBE_TOKEN, unless listed.
std::vector<std::string> hook_environment(const std::vector<std::string>& parent,
                                          const std::vector<std::string>& extra_env);

// Returns `argv` with every argument that is exactly "{name}", for a name in `values`, replaced
// by that value as one argument; other arguments, "--sha={name}" included, stay as they are.
std::vector<std::string> substitute_placeholders(const std::vector<std::string>& argv,
                                                 const std::map<std::string, std::string>& values);

} // namespace probe::util
