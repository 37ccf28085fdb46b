// ${VAR} expansion is how DSNs, tokens and webhook URLs get into probe's config, so it must read
// a Compose file's values the way `docker compose` does (${VAR}, ${VAR:-default}, $$, a lone $)
// and fail loudly rather than silently producing an empty DSN or token. Its errors end up in
// config messages, so they must name the variable and never carry a value — neither the
// variable's nor a default's, since either may be a secret.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "probe/util/env_expand.hpp"

namespace probe::util {
namespace {

// A fake environment that also records which names were looked up.
struct FakeEnv {
  std::map<std::string, std::string> vars;
  std::vector<std::string> asked;

  EnvLookup lookup() {
    return [this](const std::string& name) -> std::optional<std::string> {
      asked.push_back(name);
      const auto it = vars.find(name);
      if (it == vars.end()) {
        return std::nullopt;
      }
      return it->second;
    };
  }
};

class ExpandEnv : public ::testing::Test {
protected:
  ExpandResult expand(const std::string& text) { return expand_env(text, m_env.lookup()); }

  FakeEnv m_env{{{"HOST", "db"},
                 {"PORT", "5432"},
                 {"PASSWORD", "hunter2"},
                 {"EMPTY", ""},
                 {"_UNDER_1", "u"},
                 {"lower", "l"}},
                {}};
};

TEST_F(ExpandEnv, TextWithoutReferencesIsUnchanged) {
  const ExpandResult result = expand("postgresql://app@db:5432/app");
  EXPECT_EQ(result.value, "postgresql://app@db:5432/app");
  EXPECT_TRUE(result.error.empty());
  EXPECT_FALSE(result.expanded);
  EXPECT_TRUE(m_env.asked.empty());
}

TEST_F(ExpandEnv, EmptyTextIsEmpty) {
  const ExpandResult result = expand("");
  EXPECT_EQ(result.value, "");
  EXPECT_TRUE(result.error.empty());
  EXPECT_FALSE(result.expanded);
}

TEST_F(ExpandEnv, ReplacesEveryReference) {
  const ExpandResult result = expand("host=${HOST} port=${PORT}");
  EXPECT_EQ(result.value, "host=db port=5432");
  EXPECT_TRUE(result.error.empty());
  EXPECT_TRUE(result.expanded);
  EXPECT_EQ(m_env.asked, (std::vector<std::string>{"HOST", "PORT"}));
}

TEST_F(ExpandEnv, WholeValueReference) {
  EXPECT_EQ(expand("${HOST}").value, "db");
}

TEST_F(ExpandEnv, NamesMayUseUnderscoresDigitsAndLowerCase) {
  EXPECT_EQ(expand("${_UNDER_1}-${lower}").value, "u-l");
}

TEST_F(ExpandEnv, DefaultIsUsedWhenUnset) {
  const ExpandResult result = expand("${NOPE:-fallback}");
  EXPECT_EQ(result.value, "fallback");
  EXPECT_TRUE(result.error.empty());
  EXPECT_TRUE(result.expanded);
}

TEST_F(ExpandEnv, DefaultIsUsedWhenSetButEmpty) {
  EXPECT_EQ(expand("${EMPTY:-fallback}").value, "fallback");
}

TEST_F(ExpandEnv, DefaultIsIgnoredWhenSet) {
  EXPECT_EQ(expand("${HOST:-elsewhere}").value, "db");
}

TEST_F(ExpandEnv, DefaultMayBeEmpty) {
  const ExpandResult result = expand("a${NOPE:-}b");
  EXPECT_EQ(result.value, "ab");
  EXPECT_TRUE(result.error.empty());
}

TEST_F(ExpandEnv, DefaultMayContainColonsAndDashes) {
  EXPECT_EQ(expand("${NOPE:-postgresql://app@db:5432/app-x}").value,
            "postgresql://app@db:5432/app-x");
}

TEST_F(ExpandEnv, SetButEmptyWithoutDefaultIsEmptyNotAnError) {
  const ExpandResult result = expand("[${EMPTY}]");
  EXPECT_EQ(result.value, "[]");
  EXPECT_TRUE(result.error.empty());
}

TEST_F(ExpandEnv, DoubleDollarIsALiteralDollar) {
  const ExpandResult result = expand("$${HOST} costs $$5");
  EXPECT_EQ(result.value, "${HOST} costs $5");
  EXPECT_TRUE(result.error.empty());
  EXPECT_FALSE(result.expanded);
  EXPECT_TRUE(m_env.asked.empty());
}

TEST_F(ExpandEnv, LoneDollarIsKept) {
  EXPECT_EQ(expand("$HOST and $ and trailing $").value, "$HOST and $ and trailing $");
}

TEST_F(ExpandEnv, ExpandedValuesAreNotExpandedAgain) {
  m_env.vars["INDIRECT"] = "${PASSWORD}";
  EXPECT_EQ(expand("${INDIRECT}").value, "${PASSWORD}");
}

TEST_F(ExpandEnv, UnsetVariableIsAnErrorNamingIt) {
  const ExpandResult result = expand("host=${HOST} password=${DB_PASSWORD}");
  EXPECT_EQ(result.error,
            "environment variable DB_PASSWORD is not set (use ${DB_PASSWORD:-default} to allow a "
            "default)");
}

TEST_F(ExpandEnv, UnterminatedReferenceIsAnError) {
  EXPECT_EQ(expand("password=${PASSWORD").error, "unterminated \"${\" (write $$ for a literal $)");
  EXPECT_EQ(expand("${").error, "unterminated \"${\" (write $$ for a literal $)");
}

TEST_F(ExpandEnv, InvalidNamesAreErrors) {
  // Only the name part is ever shown: what follows it may be a secret default.
  const std::string hint = " is not a valid variable reference (write ${NAME}, ${NAME:-default} "
                           "or ${NAME-default})";
  EXPECT_EQ(expand("${}").error, "\"${...}\"" + hint);
  EXPECT_EQ(expand("${1ABC}").error, "\"${...}\"" + hint);
  EXPECT_EQ(expand("${A B}").error, "\"${A...}\"" + hint);
  EXPECT_EQ(expand("${:-x}").error, "\"${...}\"" + hint);
  EXPECT_EQ(expand("${A?err}").error, "\"${A...}\"" + hint);
}

TEST_F(ExpandEnv, DashDefaultAppliesOnlyWhenUnset) {
  // ${VAR-default}, as in sh and Compose: unset takes the default, set-but-empty stays empty.
  EXPECT_EQ(expand("${UNSET_VAR-fallback}").value, "fallback");
  EXPECT_EQ(expand("[${EMPTY-fallback}]").value, "[]");
  EXPECT_EQ(expand("[${EMPTY:-fallback}]").value, "[fallback]");
}

TEST_F(ExpandEnv, ErrorsNeverCarryAVariablesValue) {
  // The password is set; the failure comes later in the same text.
  for (const std::string text :
       {"${PASSWORD}${MISSING}", "${PASSWORD}${", "${PASSWORD}${1X}", "${PASSWORD}${A B}"}) {
    const ExpandResult result = expand(text);
    EXPECT_FALSE(result.error.empty()) << text;
    EXPECT_EQ(result.error.find("hunter2"), std::string::npos) << result.error;
  }
}

// A default is a value too: `${DB_URL-postgresql://app:hunter2@db/app}` (the sh form without
// the colon, which Compose also reads) must not print the password when it is rejected.
// (Fails today: the whole reference is echoed; see the report.)
TEST_F(ExpandEnv, ErrorsNeverCarryADefaultValue) {
  for (const std::string text :
       {"${DB_URL?postgresql://app:hunter2@db/app}", "${1DB_URL:-postgresql://app:hunter2@db/app}",
        "${DB URL:-hunter2}"}) {
    const ExpandResult result = expand(text);
    EXPECT_FALSE(result.error.empty()) << text;
    EXPECT_EQ(result.error.find("hunter2"), std::string::npos) << result.error;
  }
}

TEST(LiteralText, IsWhatTheTextSaysWithEveryVariableUnset) {
  EXPECT_EQ(literal_text("${PROBE_TOKEN}"), "");
  EXPECT_EQ(literal_text("postgresql://app:${PW}@db/app"), "postgresql://app:@db/app");
  EXPECT_EQ(literal_text("${TOKEN:-tok-default}"), "tok-default");
  EXPECT_EQ(literal_text("${TOKEN-tok-default}"), "tok-default");
  EXPECT_EQ(literal_text("tok-literal"), "tok-literal");
  EXPECT_EQ(literal_text("a$$b$c"), "a$b$c");
  EXPECT_EQ(literal_text("${unterminated"), "${unterminated");
}

TEST(ExpandEnvUnset, NamesTheUnsetVariable) {
  const ExpandResult result =
      expand_env("x${A:-1}${B}", [](const std::string&) { return std::optional<std::string>(); });
  EXPECT_EQ(result.unset, "B");
}

} // namespace
} // namespace probe::util
