// PROBE_ROLLBACK_COMMAND's word splitting (probe/util/shell_words.hpp): as a shell splits words,
// quotes and backslashes included, but nothing is ever expanded or run by a shell; a JSON array
// is taken as is.
#include <gtest/gtest.h>

#include "probe/util/shell_words.hpp"

namespace probe::util {
namespace {

std::vector<std::string> words(std::string_view text) {
  std::string error;
  const std::optional<std::vector<std::string>> out = split_shell_words(text, &error);
  EXPECT_TRUE(out) << text << ": " << error;
  return out.value_or(std::vector<std::string>{});
}

std::string error_of(std::string_view text) {
  std::string error;
  EXPECT_FALSE(split_shell_words(text, &error)) << text;
  return error;
}

TEST(ShellWords, BlanksSeparateWords) {
  EXPECT_EQ(words("  /opt/deploy/rollback.sh   --fast\tx "),
            (std::vector<std::string>{"/opt/deploy/rollback.sh", "--fast", "x"}));
  EXPECT_TRUE(words("").empty());
}

TEST(ShellWords, QuotesKeepAPathWithASpaceTogether) {
  EXPECT_EQ(words("'/srv/my app/rollback.sh' --to"),
            (std::vector<std::string>{"/srv/my app/rollback.sh", "--to"}));
  EXPECT_EQ(words("\"/srv/my app/roll\\\"back.sh\""),
            (std::vector<std::string>{"/srv/my app/roll\"back.sh"}));
  EXPECT_EQ(words("/srv/my\\ app/rollback.sh"),
            (std::vector<std::string>{"/srv/my app/rollback.sh"}));
  EXPECT_EQ(words("a'b'\"c\"d ''"), (std::vector<std::string>{"abcd", ""}));
}

TEST(ShellWords, NothingIsExpanded) {
  EXPECT_EQ(words("echo $HOME ~ * $(id) `id` ; | &&"),
            (std::vector<std::string>{"echo", "$HOME", "~", "*", "$(id)", "`id`", ";", "|", "&&"}));
  EXPECT_EQ(words("'$HOME' \"\\$HOME \\n\""), (std::vector<std::string>{"$HOME", "$HOME \\n"}));
}

TEST(ShellWords, UnfinishedQuotingIsAnError) {
  EXPECT_EQ(error_of("'/srv/my app"), "unterminated ' quote");
  EXPECT_EQ(error_of("\"abc"), "unterminated \" quote");
  EXPECT_EQ(error_of("abc\\"), "ends with a lone backslash");
}

TEST(ShellWords, AJsonArrayIsTakenAsIs) {
  EXPECT_EQ(words(R"( ["/srv/my app/rollback.sh", "{previous_sha}", "it's"] )"),
            (std::vector<std::string>{"/srv/my app/rollback.sh", "{previous_sha}", "it's"}));
  EXPECT_EQ(error_of(R"(["a", 1])"), "starts with '[' but is not a JSON array of strings");
  EXPECT_EQ(error_of("[not json"), "starts with '[' but is not a JSON array of strings");
}

} // namespace
} // namespace probe::util
