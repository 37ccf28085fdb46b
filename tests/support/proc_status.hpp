// A figure of a process's memory from /proc/PID/status, for tests that bound or print it.
#pragma once

#include <fstream>
#include <string>

#include <sys/types.h>

namespace probe::test_support {

// A field in kB of /proc/`pid`/status ("VmHWM", "VmRSS"), or -1.
inline long proc_status_kib(pid_t pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      return std::stol(line.substr(field.size() + 1));
    }
  }
  return -1;
}

// This process's threads now (Threads: in /proc/self/status), or -1.
inline int thread_count() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) {
      return std::stoi(line.substr(8));
    }
  }
  return -1;
}

} // namespace probe::test_support
