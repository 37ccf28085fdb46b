// Fuzzes config::load_config_string, the whole YAML -> Config path (yaml-cpp, ${VAR} expansion,
// every field's validation, libpq's DSN parser, URLs, JSON pointers). The contract: bad input
// leaves as one probe::Error whose message starts with the file name ("fuzz.yaml:3:5: field:
// ..."); any other exception escaping — yaml-cpp's, nlohmann's, std::out_of_range,
// std::filesystem_error — is a bug in probe (library exceptions stop at the edge), so only
// probe::Error is caught here and anything else crashes the target. A config that loads is also
// printed as `probe config check` would, which must not throw either.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "probe/config/config_loader.hpp"
#include "probe/config/config_printer.hpp"
#include "probe/util/error.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

// A fixed environment: the variables deploy/probe.yaml and deploy/demo/probe.yaml read, and
// an empty one. Never the process environment, so a finding reproduces anywhere.
probe::util::EnvLookup fake_env() {
  static const std::map<std::string, std::string> k_vars{
      {"DATABASE_URL", "postgresql://app:hunter2@db:5432/app"},
      {"API_URL", "http://127.0.0.1:18000"},
      {"FRONTEND_URL", "http://127.0.0.1:13000"},
      {"PROBE_TOKEN", "tok-123"},
      {"PROBE_JOURNAL", "/var/lib/probe/journal.jsonl"},
      {"DEMO_ROOT", "/opt/homeguru"},
      {"TELEGRAM_BOT_TOKEN", "123:abc"},
      {"TELEGRAM_CHAT_ID", "-1001"},
      {"SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T/B/X"},
      {"EMPTY", ""},
  };
  return [](const std::string& name) -> std::optional<std::string> {
    const auto it = k_vars.find(name);
    if (it == k_vars.end()) {
      return std::nullopt;
    }
    return it->second;
  };
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const probe::util::EnvLookup k_env = fake_env();
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const probe::config::Config config =
        probe::config::load_config_string(text, "fuzz.yaml", k_env);
    probe::fuzz::require(!config.targets.empty(), "a config without targets loaded");
    for (const probe::config::Target& target : config.targets) {
      probe::fuzz::require(target.timeout <= target.interval,
                           "a target's timeout exceeds its interval");
    }
    (void)probe::config::print_config(config);
  } catch (const probe::Error& e) {
    const std::string message = e.what();
    if (message.rfind("fuzz.yaml", 0) != 0) {
      probe::fuzz::fail("config error without the file name: " + message);
    }
  }
  return 0;
}
