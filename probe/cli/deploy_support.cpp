// Hook resolution, notes and the event table; see deploy_support.hpp.
#include "probe/cli/deploy_support.hpp"

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "probe/util/executable.hpp"
#include "probe/util/shell_words.hpp"
#include "probe/util/terminal.hpp"

namespace probe::cli {
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

std::string journal_only_note(const config::Deploy& deploy) {
  if (!deploy.dsn.empty()) {
    return {};
  }
  return "deploy.dsn is not set: deploy events are kept only in the journal " + deploy.journal;
}

std::string render_event_list(const std::vector<deploy::DeployEvent>& events) {
  if (events.empty()) {
    return "no deploy events\n";
  }
  std::ostringstream out;
  for (const deploy::DeployEvent& event : events) {
    const std::string kind = util::terminal_safe(event.kind);
    out << deploy::format_time(event.occurred_at) << "  " << kind
        << std::string(kind.size() < 19 ? 19 - kind.size() : 1, ' ')
        << util::terminal_safe(event.sha)
        << (event.previous_sha.empty() ? ""
                                       : " (from " + util::terminal_safe(event.previous_sha) + ")")
        << "  " << util::terminal_safe(event.actor) << "@" << util::terminal_safe(event.host)
        << "\n";
  }
  return out.str();
}

} // namespace probe::cli
