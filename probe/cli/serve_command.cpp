// `probe serve`: the long-running sidecar (see probe/serve/sidecar.hpp). Exit 0 after a graceful
// stop on SIGTERM/SIGINT, 2 when the config is bad at start. SIGHUP reloads the config.
#include <memory>

#include <spdlog/spdlog.h>

#include "probe/cli/commands.hpp"
#include "probe/config/config_loader.hpp"
#include "probe/serve/sidecar.hpp"
#include "probe/util/logging.hpp"

namespace probe::cli {
namespace {

struct ServeOptions {
  std::optional<std::string> config;
  std::optional<std::string> listen;
  std::string log_format = "text";
  std::string log_level = "info";
};

} // namespace

void setup_serve_command(CLI::App& command, int& exit_code) {
  auto options = std::make_shared<ServeOptions>();
  command.add_option("--config,-c", options->config, "Config file");
  command.add_option("--listen", options->listen,
                     "HOST:PORT to serve on (overrides `listen`; port 0 picks a free one)");
  command.add_option("--log-format", options->log_format, "Log lines as text or JSON")
      ->check(CLI::IsMember({"text", "json"}));
  command.add_option("--log-level", options->log_level, "Least severe level logged")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  command.callback([options, &exit_code] {
    // First, before any thread exists (logging's, the Sidecar's members', libpq's, ...): each
    // inherits the mask, so only Sidecar::run()'s signalfd ever takes TERM, INT or HUP.
    serve::Sidecar::block_signals();
    util::setup_logging(options->log_format, options->log_level);
    if (const std::string host = apply_probe_host(); !host.empty()) {
      spdlog::info("deploy events received without a host carry {} (PROBE_HOST)", host);
    }
    serve::Sidecar sidecar(config::resolve_config_path(options->config, environment()),
                           options->listen);
    exit_code = sidecar.run();
  });
}

} // namespace probe::cli
