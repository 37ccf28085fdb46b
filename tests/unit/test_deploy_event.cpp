// Deploy events arrive as JSON from POST /deploys bodies and journal lines, so their time stamps
// are parsed from text anyone with the token may write. These tests pin parse_time's accepted
// forms (RFC 3339 with "Z" or an offset, and PostgreSQL's space) and that a time outside what
// std::chrono::system_clock can hold (64-bit nanoseconds: the years 1678 to 2262) is refused
// instead of overflowing into a different, plausible-looking time; from_json then names the
// field. Found by tests/fuzz/fuzz_deploy_body and fuzz_journal_line (UBSan: signed overflow).
#include <chrono>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "probe/deploy/event.hpp"

namespace probe::deploy {
namespace {

using std::chrono::system_clock;

TEST(ParseTime, ReadsUtcAndOffsets) {
  const std::optional<system_clock::time_point> utc = parse_time("2026-11-27T09:40:00.123Z");
  ASSERT_TRUE(utc);
  EXPECT_EQ(format_time(*utc), "2026-11-27T09:40:00.123Z");
  const std::optional<system_clock::time_point> offset = parse_time("2026-11-27 11:40:00.123+02");
  ASSERT_TRUE(offset);
  EXPECT_EQ(*offset, *utc);
}

TEST(ParseTime, ReadsTheEdgesOfWhatTheClockHolds) {
  const std::optional<system_clock::time_point> early = parse_time("1700-01-01T00:00:00Z");
  ASSERT_TRUE(early);
  EXPECT_EQ(format_time(*early), "1700-01-01T00:00:00.000Z");
  const std::optional<system_clock::time_point> late = parse_time("2261-12-31T23:59:59.999Z");
  ASSERT_TRUE(late);
  EXPECT_EQ(format_time(*late), "2261-12-31T23:59:59.999Z");
}

TEST(ParseTime, RefusesTimesTheClockCannotHold) {
  EXPECT_EQ(parse_time("1013-11-27 09:40:00.5+02"), std::nullopt);
  EXPECT_EQ(parse_time("1600-01-01T00:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_time("2263-01-01T00:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_time("9999-12-31T23:59:59Z"), std::nullopt);
}

TEST(FromJson, NamesAnOccurredAtOutOfRange) {
  const nlohmann::json body = {
      {"kind", "rollback_failed"}, {"sha", "v2.2.3"}, {"occurred_at", "1013-11-27 09:40:00.5+02"}};
  std::string error;
  EXPECT_EQ(from_json(body, /*fill_defaults=*/true, &error), std::nullopt);
  EXPECT_EQ(error, "occurred_at: not an RFC 3339 time");
}

// POST /deploys bodies: the nesting limit (brackets inside strings do not count), not JSON,
// and a valid body with its defaults filled in.
TEST(EventFromBody, RefusesDeepNestingAndNonJsonAndFillsDefaults) {
  std::string error;
  const std::string deep = R"({"kind": "deploy_started", "sha": "aaaaaaa", "details": )" +
                           std::string(40, '[') + std::string(40, ']') + "}";
  EXPECT_EQ(event_from_body(deep, &error), std::nullopt);
  EXPECT_EQ(error, "body: nested deeper than 32 levels");

  EXPECT_EQ(event_from_body("{not json", &error), std::nullopt);
  EXPECT_EQ(error, "body: not JSON");

  const std::string brackets_in_a_string =
      R"({"kind": "deploy_started", "sha": "aaaaaaa", "details": {"note": ")" +
      std::string(100, '[') + R"(\"["}})";
  const std::optional<DeployEvent> event = event_from_body(brackets_in_a_string, &error);
  ASSERT_TRUE(event) << error;
  EXPECT_EQ(event->kind, "deploy_started");
  EXPECT_TRUE(valid_event_id(event->event_id));
  EXPECT_FALSE(event->host.empty());
  EXPECT_EQ(event->actor, "unknown");
  std::string note(100, '['); // not `string(100, '[') + "..."`: GCC 12 warns falsely on that
  note += "\"[";
  EXPECT_EQ(event->details["note"], note);
}

} // namespace
} // namespace probe::deploy
