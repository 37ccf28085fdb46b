// The command line's shared parsing (probe/cli/flags.hpp): `--timeout 0s` is a duration that
// may be refused as zero, never "not a duration"; `--only` repeated is a union and an empty name
// is an error, never "every target"; an unknown subcommand is named with the closest command.
#include <gtest/gtest.h>

#include "probe/cli/flags.hpp"
#include "probe/util/error.hpp"

namespace probe::cli {
namespace {

using namespace std::chrono_literals;

std::string error_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    return e.what();
  }
  return "(no error)";
}

TEST(CliFlags, ZeroIsADurationRefusedAsZeroWhereItMakesNoSense) {
  EXPECT_EQ(error_of([] { parse_duration_flag("0s", "--timeout", false); }),
            "--timeout: must be greater than 0");
  EXPECT_EQ(parse_duration_flag("0s", "--watch", true), 0ms);
  EXPECT_EQ(parse_duration_flag("1m30s", "--timeout", false), 90s);
  EXPECT_EQ(error_of([] { parse_duration_flag("banana", "--timeout", false); }),
            "--timeout: \"banana\" is not a duration (e.g. 500ms, 90s, 2m)");
  // A hostile value is shown terminal-safe.
  EXPECT_EQ(error_of([] { parse_duration_flag("\x1b[2J", "--watch", true); }),
            "--watch: \"\\x1b[2J\" is not a duration (e.g. 500ms, 90s, 2m)");
}

TEST(CliFlags, RepeatedOnlyIsTheUnionInFirstSeenOrder) {
  EXPECT_EQ(parse_only({"a", "b"}), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(parse_only({"api, db", "db,bot"}), (std::vector<std::string>{"api", "db", "bot"}));
  EXPECT_TRUE(parse_only({}).empty());
}

TEST(CliFlags, AnEmptyOnlyNameIsAnErrorNotEveryTarget) {
  EXPECT_EQ(error_of([] { parse_only({""}); }),
            "--only: empty target name in \"\" (leave --only out to select every target)");
  EXPECT_NE(error_of([] { parse_only({"api,,db"}); }).find("empty target name"), std::string::npos);
  EXPECT_NE(error_of([] {
              parse_only({"api", " "});
            }).find("empty target name"),
            std::string::npos);
}

TEST(CliFlags, TheClosestCommandIsSuggested) {
  const std::vector<std::string> commands{"check", "serve", "wait", "deploy", "config"};
  EXPECT_EQ(closest_name("chek", commands), "check");
  EXPECT_EQ(closest_name("deplyo", commands), "deploy");
  EXPECT_EQ(closest_name("conf", commands), "config"); // a prefix
  EXPECT_EQ(closest_name("frobnicate", commands), std::nullopt);
  EXPECT_EQ(unknown_command_message("", "chek", commands),
            "unknown command \"chek\" (did you mean \"check\"?); commands: check, serve, wait, "
            "deploy, config");
  EXPECT_EQ(unknown_command_message("deploy", "lsit", {"verify", "record", "list"}),
            "unknown deploy command \"lsit\" (did you mean \"list\"?); deploy commands: verify, "
            "record, list");
  EXPECT_EQ(unknown_command_message("", "xyzzy", commands),
            "unknown command \"xyzzy\"; commands: check, serve, wait, deploy, config");
}

} // namespace
} // namespace probe::cli
