// Program lookup; see executable.hpp.
#include "probe/util/executable.hpp"

#include <cerrno>
#include <cstring>

#include <sys/stat.h>
#include <unistd.h>

#include "probe/util/strings.hpp"

namespace probe::util {
namespace {

// Empty when `path` is a regular file this process may execute; else the problem.
std::string executable_problem(const std::string& path) {
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) {
    return errno == ENOENT ? "does not exist" : std::strerror(errno);
  }
  if (S_ISDIR(info.st_mode)) {
    return "is a directory";
  }
  if (!S_ISREG(info.st_mode)) {
    return "is not a regular file";
  }
  if (access(path.c_str(), X_OK) != 0) {
    return "is not executable";
  }
  return {};
}

} // namespace

std::optional<std::string> find_executable(const std::string& name, const std::string& base_dir,
                                           const std::string& path_env, std::string* error) {
  if (name.empty()) {
    *error = "empty program name";
    return std::nullopt;
  }
  if (name.find('/') != std::string::npos) {
    const std::string path = name.front() == '/' || base_dir.empty() ? name : base_dir + "/" + name;
    const std::string problem = executable_problem(path);
    if (!problem.empty()) {
      *error = path + ": " + problem;
      return std::nullopt;
    }
    return path;
  }
  for (const std::string& dir : split(path_env, ':')) {
    // An empty PATH entry means the working directory, as for execvp.
    const std::string path = (dir.empty() ? "." : dir) + "/" + name;
    if (executable_problem(path).empty()) {
      return path;
    }
  }
  *error = name + ": not found on PATH";
  return std::nullopt;
}

} // namespace probe::util
