// Running a real executable (the probe binary, a stand-in) from a test and capturing what it
// says, bounded in time: end-to-end tests check exit codes and output exactly as a deploy
// script or CI step sees them, and a hung child is killed instead of hanging the test run.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace probe::fakes {

struct ProcessOptions {
  // "NAME=value" entries added to (or replacing in) the test's own environment.
  std::vector<std::string> set_env;
  // Names removed from the environment (e.g. NO_COLOR, PROBE_CONFIG).
  std::vector<std::string> unset_env;
  // Working directory of the child; empty: the test's own.
  std::string cwd;
  // The child is killed (SIGKILL) when it runs longer than this: only a hang (probe's own
  // timeouts are all shorter), generous for a loaded machine (tests/support/bounds.hpp).
  std::chrono::milliseconds timeout{60'000};
  // Give the child a pseudo-terminal as stdout, so isatty(1) is true there.
  bool stdout_is_tty = false;
};

struct ProcessResult {
  int exit_code = -1;     // -1 when killed by a signal or not started
  int signal = 0;         // the signal that ended it, 0 when it exited
  bool timed_out = false; // killed for running past `timeout`
  std::string out;        // all of stdout (from the pty when stdout_is_tty)
  std::string err;        // all of stderr
  std::chrono::milliseconds wall{0};
};

// Runs `argv` (argv[0] is a path) with stdin from /dev/null and waits for it; throws
// std::runtime_error only when the child cannot be started at all.
ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return m_path; }
  // Writes `text` to `name` inside the directory and returns the file's full path.
  std::string write(const std::string& name, const std::string& text) const;

private:
  std::string m_path;
};

} // namespace probe::fakes
