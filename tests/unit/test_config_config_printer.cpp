// `probe config check` prints the resolved config for a person to read, often pasted into a
// ticket or a chat: it must show what probe will do and none of the secrets it will do it with.
// Pinned here for the values the issue found printed in full: a target URL's query values, a
// Telegram api_url's userinfo, and rollback arguments that carry a token.
#include <string>

#include <gtest/gtest.h>

#include "probe/config/config_loader.hpp"
#include "probe/config/config_printer.hpp"

namespace probe::config {
namespace {

std::string printed(const std::string& yaml) {
  const util::EnvLookup env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "PROBE_TOKEN") {
      return "tok-env-secret";
    }
    return std::nullopt;
  };
  return print_config(load_config_string(yaml, "probe.yaml", env));
}

TEST(ConfigPrinter, TargetUrlQueryValuesAreMaskedAndTheirNamesKept) {
  const std::string text = printed(R"(targets:
  - {name: api, type: http, url: "https://api.example/health?api_key=hunter2&region=eu"}
)");
  EXPECT_NE(text.find("url: https://api.example/health?api_key=***&region=***"), std::string::npos)
      << text;
  EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
}

TEST(ConfigPrinter, StatusPageIsPrintedWithItsRepositoryUrl) {
  const std::string text = printed(R"(targets:
  - {name: db, type: tcp, address: "db:5432"}
status_page: {repository_url: "https://github.com/org/repo"}
)");
  EXPECT_NE(text.find("status_page:\n  enabled: true\n  repository_url: "
                      "https://github.com/org/repo\n"),
            std::string::npos)
      << text;
  EXPECT_NE(printed("targets: [{name: db, type: tcp, address: \"db:5432\"}]\nstatus_page: false\n")
                .find("status_page:\n  enabled: false\n"),
            std::string::npos);
}

TEST(ConfigPrinter, RollbackArgumentsCarryingSecretsAreMasked) {
  const std::string text = printed(R"(targets:
  - {name: a, type: tcp, address: "h:1"}
deploy:
  rollback:
    command: [deploy/scripts/rollback.sh, "--token=${PROBE_TOKEN}", --password, hunter2,
              "REGISTRY_TOKEN=abc123", "--url=https://u:pw123@reg.example/x?key=k1",
              "{previous_sha}", --sha, "{failed_sha}"]
)");
  EXPECT_NE(text.find("command: [deploy/scripts/rollback.sh, --token=***, --password, \"***\", "
                      "REGISTRY_TOKEN=***, \"--url=https://***@reg.example/x?key=***\", "
                      "\"{previous_sha}\", --sha, \"{failed_sha}\"]"),
            std::string::npos)
      << text;
  for (const char* secret : {"tok-env-secret", "hunter2", "abc123", "pw123", "k1"}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << secret << " in\n" << text;
  }
}

TEST(ConfigPrinter, TelegramApiUrlIsShownWithoutItsQueryValues) {
  const std::string text = printed(R"(targets:
  - {name: a, type: tcp, address: "h:1"}
notify:
  - {type: telegram, bot_token: "123:abc", chat_id: "-1", api_url: "https://tg.example/p?k=hunter2"}
)");
  EXPECT_NE(text.find("api_url: https://tg.example/p?k=***"), std::string::npos) << text;
  EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
  EXPECT_EQ(text.find("123:abc"), std::string::npos) << text;
}

TEST(ConfigPrinter, TlsMinDaysIsPrintedAsWritten) {
  const std::string text = printed(R"(targets:
  - {name: a, type: http, url: "https://a/", expect: {tls_min_days: 14}}
  - {name: b, type: http, url: "https://b/", expect: {tls_min_days: 0.1}}
  - {name: c, type: http, url: "https://c/"}
)");
  EXPECT_NE(text.find("tls_min_days: 14\n"), std::string::npos) << text;
  EXPECT_NE(text.find("tls_min_days: 0.1\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("tls_min_days", text.find("name: c")), std::string::npos) << text;
}

} // namespace
} // namespace probe::config
