// Resolving the rollback hook's program; see rollback_hook.hpp.
#include "probe/deploy/rollback_hook.hpp"

#include <algorithm>
#include <filesystem>

#include "probe/util/executable.hpp"
#include "probe/util/shell_words.hpp"
#include "probe/util/terminal.hpp"

namespace probe::deploy {
namespace {

bool is_placeholder(const std::string& word) {
  return word == "{previous_sha}" || word == "{failed_sha}";
}

} // namespace

std::optional<std::vector<std::string>>
resolve_config_hook(const config::Config& config, const std::string& path_env, std::string* error) {
  std::vector<std::string> argv = config.deploy.rollback.command;
  if (argv.empty()) {
    return argv;
  }
  const std::string base = std::filesystem::path(config.path).parent_path().string();
  std::string problem;
  const std::optional<std::string> program =
      util::find_executable(argv[0], base.empty() ? "." : base, path_env, &problem);
  if (!program) {
    *error = "deploy.rollback.command[0]: " + util::terminal_safe(problem);
    return std::nullopt;
  }
  if (argv[0].find('/') != std::string::npos) {
    argv[0] = *program; // relative to the config, wherever the command is run from
  }
  return argv;
}

std::optional<std::vector<std::string>>
hook_from_env(const std::string& value, const std::string& path_env, std::string* error) {
  std::string problem;
  const std::optional<std::vector<std::string>> words = util::split_shell_words(value, &problem);
  if (!words.has_value() || words->empty()) {
    *error = "PROBE_ROLLBACK_COMMAND: " + (words.has_value() ? std::string("is empty") : problem);
    return std::nullopt;
  }
  std::vector<std::string> argv = words.value();
  if (!util::find_executable(argv.front(), "", path_env, &problem)) {
    *error = "PROBE_ROLLBACK_COMMAND: " + util::terminal_safe(problem);
    return std::nullopt;
  }
  if (std::none_of(argv.begin(), argv.end(), is_placeholder)) {
    argv.emplace_back("{previous_sha}");
  }
  return argv;
}

} // namespace probe::deploy
