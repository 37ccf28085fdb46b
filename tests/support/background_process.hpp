// A real process (probe serve, prometheus, a stand-in) kept running while a test talks to it,
// its output in a file for the failure message, and stopped with a signal whose exit status the
// test can assert. Bounded: stop() escalates to SIGKILL and the destructor never waits forever.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <sys/types.h>

namespace probe::fakes {

class BackgroundProcess {
public:
  // Starts `argv` (argv[0] a path) with stdout+stderr to `log_path`; extra "NAME=value" in `env`.
  BackgroundProcess(const std::vector<std::string>& argv, std::string log_path,
                    const std::vector<std::string>& env = {});
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  pid_t pid() const { return m_pid; }
  bool running();
  void signal(int signal_number) const;

  // Sends `signal_number`, waits up to `grace`, then SIGKILLs. Returns the exit code, or
  // 128 + signal when a signal ended it. `waited` receives how long the exit took.
  int stop(int signal_number, std::chrono::milliseconds grace,
           std::chrono::milliseconds* waited = nullptr);

  // The log so far.
  std::string log() const;

private:
  pid_t m_pid = -1;
  int m_status = 0;
  bool m_reaped = false;
  std::string m_log_path;
};

// Polls `condition` every 20 ms until it holds or `limit` passes; returns whether it held.
template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) {
      return true;
    }
    struct timespec pause {
      0, 20'000'000
    };
    nanosleep(&pause, nullptr);
  }
  return condition();
}

} // namespace probe::fakes
