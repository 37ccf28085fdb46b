// Checked reading of JSON another process wrote (issue 14): a deeply nested body is refused
// before it is parsed, and each member read names itself when it is missing or mistyped — no
// nlohmann exception ever leaves a reader.
#include <string>

#include <gtest/gtest.h>

#include "probe/util/json_read.hpp"

namespace probe::util {
namespace {

TEST(ParseJsonBounded, RefusesDeepNestingAndNonJson) {
  std::string error;
  EXPECT_TRUE(
      parse_json_bounded(std::string(65, '[') + std::string(65, ']'), 64, &error).is_discarded());
  EXPECT_EQ(error, "nested deeper than 64 levels");
  EXPECT_TRUE(parse_json_bounded("hello", 64, &error).is_discarded());
  EXPECT_EQ(error, "not JSON");
  // Brackets inside strings are text, not nesting.
  const nlohmann::json quoted = parse_json_bounded(R"({"a": "[[[[[[[["})", 2, &error);
  ASSERT_FALSE(quoted.is_discarded()) << error;
  EXPECT_EQ(quoted["a"], "[[[[[[[[");
  EXPECT_EQ(json_nesting_depth(R"({"a": [1, {"b": "\"]"}]})"), 3);
}

TEST(JsonFields, KeepsTheFirstProblemWithItsPath) {
  const nlohmann::json object = nlohmann::json::parse(R"({"n": "x", "b": 1, "o": null})");
  JsonFields fields(object, "targets[4]");
  int n = 0;
  bool b = false;
  std::optional<std::string> o = "before";
  fields.nullable("o", &o);
  EXPECT_TRUE(fields.ok());
  EXPECT_EQ(o, std::nullopt);
  fields.required("n", &n);
  fields.required("b", &b); // after a problem: does nothing
  EXPECT_EQ(fields.error(), "targets[4].n: must be a whole number, not a string");
  EXPECT_EQ(fields.path_of("n"), "targets[4].n");
}

TEST(JsonFields, ReadsNothingFromANonObject) {
  const nlohmann::json list = nlohmann::json::array({1});
  JsonFields fields(list, "");
  std::string text;
  fields.required("x", &text);
  EXPECT_EQ(fields.error(), "body: must be a JSON object, not an array");
  EXPECT_EQ(fields.member("x", true), nullptr);
}

} // namespace
} // namespace probe::util
