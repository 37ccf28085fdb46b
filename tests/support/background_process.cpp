// Background processes for tests; see background_process.hpp.
#include "tests/support/background_process.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace probe::fakes {

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& argv, std::string log_path,
                                     const std::vector<std::string>& env)
    : m_log_path(std::move(log_path)) {
  std::vector<std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    environment.emplace_back(*entry);
  }
  for (const std::string& extra : env) {
    const std::string name = extra.substr(0, extra.find('='));
    std::erase_if(environment, [&](const std::string& e) { return e.rfind(name + "=", 0) == 0; });
    environment.push_back(extra);
  }
  std::vector<char*> env_ptrs;
  for (std::string& entry : environment) {
    env_ptrs.push_back(entry.data());
  }
  env_ptrs.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> arg_ptrs;
  for (std::string& arg : args) {
    arg_ptrs.push_back(arg.data());
  }
  arg_ptrs.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, m_log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  // The child starts with no signals blocked, whatever the test thread had.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);
  const int rc =
      posix_spawn(&m_pid, arg_ptrs[0], &actions, &attributes, arg_ptrs.data(), env_ptrs.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (rc != 0) {
    throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  }
}

BackgroundProcess::~BackgroundProcess() {
  if (!m_reaped) {
    stop(SIGKILL, std::chrono::milliseconds(2000));
  }
}

bool BackgroundProcess::running() {
  if (m_reaped) {
    return false;
  }
  const pid_t done = waitpid(m_pid, &m_status, WNOHANG);
  if (done == m_pid) {
    m_reaped = true;
    return false;
  }
  return true;
}

void BackgroundProcess::signal(int signal_number) const {
  if (!m_reaped) {
    kill(m_pid, signal_number);
  }
}

int BackgroundProcess::stop(int signal_number, std::chrono::milliseconds grace,
                            std::chrono::milliseconds* waited) {
  const auto start = std::chrono::steady_clock::now();
  if (running()) {
    kill(m_pid, signal_number);
    while (running() && std::chrono::steady_clock::now() - start < grace) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (running()) {
      kill(m_pid, SIGKILL);
      waitpid(m_pid, &m_status, 0);
      m_reaped = true;
    }
  }
  if (waited != nullptr) {
    *waited = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
  }
  if (WIFEXITED(m_status)) {
    return WEXITSTATUS(m_status);
  }
  return WIFSIGNALED(m_status) ? 128 + WTERMSIG(m_status) : -1;
}

std::string BackgroundProcess::log() const {
  std::ifstream in(m_log_path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

} // namespace probe::fakes
