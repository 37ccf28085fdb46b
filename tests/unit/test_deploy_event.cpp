// Deploy events arrive as JSON from POST /deploys bodies and journal lines, so their time stamps
// are parsed from text anyone with the token may write. These tests pin parse_time's accepted
// forms (strict RFC 3339 with "Z" or a ±HH:MM offset, and the space RFC 3339 allows), that every
// field is range-checked with the part named (issue 12, item 9: "2026-13-45T99:99:99Z" was
// stored as 2027-02-18, "Zjunk" and "+99:99" were accepted), and that a time outside what
// std::chrono::system_clock can hold (64-bit nanoseconds: the years 1678 to 2262) is refused
// instead of overflowing into a different, plausible-looking time; from_json then names the
// field. Found by tests/fuzz/fuzz_deploy_body and fuzz_journal_line (UBSan: signed overflow).
//
// Also the door every event passes (item 8): control characters and invalid UTF-8 in text
// fields and details, upper-case ids, details.db_revision (it reaches a hook's environment), the
// details budget (item 3) and what counts as the same event offered twice (item 9, 409; issue
// 17: not the host a replica stamps). PROBE_HOST's rule (parse_host_name).
#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "probe/deploy/event.hpp"

namespace probe::deploy {
namespace {

using std::chrono::system_clock;

TEST(ParseTime, ReadsUtcAndOffsets) {
  const std::optional<system_clock::time_point> utc = parse_time("2026-11-27T09:40:00.123Z");
  ASSERT_TRUE(utc);
  EXPECT_EQ(format_time(*utc), "2026-11-27T09:40:00.123Z");
  const std::optional<system_clock::time_point> offset =
      parse_time("2026-11-27T11:40:00.123+02:00");
  ASSERT_TRUE(offset);
  EXPECT_EQ(*offset, *utc);
  // RFC 3339 allows a space for the 'T' (PostgreSQL's form) and lower-case 't' and 'z'.
  EXPECT_EQ(parse_time("2026-11-27 07:10:00.123-02:30"), utc);
  EXPECT_EQ(parse_time("2026-11-27t09:40:00.123z"), utc);
  EXPECT_EQ(parse_time("2024-02-29T23:59:59Z"), parse_time("2024-03-01T00:59:59+01:00"));
}

// Each malformed time is refused with the part that is wrong named.
TEST(ParseTime, IsStrictAndNamesThePart) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"2026-13-45T99:99:99Z", "month 13 is out of range (01-12)"},
      {"2026-00-01T00:00:00Z", "month 00 is out of range (01-12)"},
      {"2026-02-29T00:00:00Z", "day 29 is out of range for 2026-02 (01-28)"},
      {"2026-04-31T00:00:00Z", "day 31 is out of range for 2026-04 (01-30)"},
      {"2026-01-00T00:00:00Z", "day 00 is out of range for 2026-01 (01-31)"},
      {"2026-01-01T24:00:00Z", "hour 24 is out of range (00-23)"},
      {"2026-01-01T00:60:00Z", "minute 60 is out of range (00-59)"},
      {"2026-01-01T00:00:60Z", "second 60 is out of range (00-59)"},
      {"2026-01-01T00:00:00Zjunk", "unexpected text after the time zone"},
      {"2026-01-01T00:00:00.5Z ", "unexpected text after the time zone"},
      {"2026-01-01T00:00:00+99:99", "offset +99:99 is out of range (±00:00 to ±23:59)"},
      {"2026-01-01T00:00:00+02", "the time zone offset must be ±HH:MM"},
      {"2026-01-01T00:00:00+0200", "the time zone offset must be ±HH:MM"},
      {"2026-01-01T00:00:00", "no time zone (end with Z or ±HH:MM)"},
      {"2026-01-01T00:00:00 UTC", "no time zone (end with Z or ±HH:MM)"},
      {"2026-01-01T00:00:00.Z", "a fraction of a second needs digits after the '.'"},
      {"2026-1-01T00:00:00Z", "not an RFC 3339 time (YYYY-MM-DDTHH:MM:SS[.frac] then Z or ±HH:MM)"},
      {"2026-01-01X00:00:00Z",
       "not an RFC 3339 time (YYYY-MM-DDTHH:MM:SS[.frac] then Z or ±HH:MM)"},
      {"+2026-01-01T00:00:00Z",
       "not an RFC 3339 time (YYYY-MM-DDTHH:MM:SS[.frac] then Z or ±HH:MM)"},
      {"", "not an RFC 3339 time (YYYY-MM-DDTHH:MM:SS[.frac] then Z or ±HH:MM)"},
  };
  for (const auto& [text, reason] : cases) {
    std::string why;
    EXPECT_EQ(parse_time(text, &why), std::nullopt) << text;
    EXPECT_EQ(why, reason) << text;
  }
}

TEST(FromJson, NamesTheFieldAndThePartOfABadTime) {
  for (const auto& [time, reason] : std::vector<std::pair<std::string, std::string>>{
           {"2026-13-45T99:99:99Z", "occurred_at: month 13 is out of range (01-12)"},
           {"2026-11-27T09:40:00Zjunk", "occurred_at: unexpected text after the time zone"},
           {"2026-11-27T09:40:00+99:99",
            "occurred_at: offset +99:99 is out of range (±00:00 to ±23:59)"}}) {
    const nlohmann::json body = {
        {"kind", "deploy_succeeded"}, {"sha", "aaaaaaa"}, {"occurred_at", time}};
    std::string error;
    EXPECT_EQ(from_json(body, /*fill_defaults=*/true, &error), std::nullopt) << time;
    EXPECT_EQ(error, reason);
  }
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
  std::string why;
  EXPECT_EQ(parse_time("1013-11-27 09:40:00.5+02:00", &why), std::nullopt);
  EXPECT_EQ(why, "outside the years this clock holds (1678-2261)");
  EXPECT_EQ(parse_time("1600-01-01T00:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_time("2263-01-01T00:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_time("9999-12-31T23:59:59Z"), std::nullopt);
}

TEST(FromJson, NamesAnOccurredAtOutOfRange) {
  const nlohmann::json body = {{"kind", "rollback_failed"},
                               {"sha", "v2.2.3"},
                               {"occurred_at", "1013-11-27 09:40:00.5+02:00"}};
  std::string error;
  EXPECT_EQ(from_json(body, /*fill_defaults=*/true, &error), std::nullopt);
  EXPECT_EQ(error, "occurred_at: outside the years this clock holds (1678-2261)");
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

// Item 8: a NUL in a body (\u0000) was refused by PostgreSQL and jammed the journal. At the door
// text fields lose every control character, details strings keep only '\n' and '\t', keys keep
// none.
TEST(EventFromBody, StripsControlCharactersAtTheDoor) {
  const std::string body =
      R"({"kind": "rollback_failed", "sha": "aaaaaaa", "actor": "ci\u0000bot\r\n", )"
      R"("host": "web-1\n\n\u2705 deploy succeeded\u001b[2J", )"
      R"("details": {"x": "a\u0000b", "output_tail": "line 1\r\nline 2\tend\u0007\n", )"
      R"("ke\u0000y\n": ["\u0001in an array", {"deep": "\u0000"}], "n": 3}})";
  std::string error;
  const std::optional<DeployEvent> event = event_from_body(body, &error);
  ASSERT_TRUE(event) << error;
  EXPECT_EQ(event->actor, "cibot");
  EXPECT_EQ(event->host, "web-1✅ deploy succeeded[2J");
  EXPECT_EQ(event->details["x"], "ab");
  EXPECT_EQ(event->details["output_tail"], "line 1\nline 2\tend\n");
  EXPECT_EQ(event->details["key"], nlohmann::json::array({"in an array", {{"deep", ""}}}));
  EXPECT_EQ(event->details["n"], 3);
  EXPECT_FALSE(event->details.contains(std::string("ke\0y\n", 5)));
  // Nothing left that PostgreSQL's jsonb refuses, however it is serialized.
  EXPECT_EQ(to_json(*event).dump().find("\\u0000"), std::string::npos);
}

TEST(Normalized, ReplacesInvalidUtf8AndIsIdempotent) {
  DeployEvent event = make_event(EventKind::deploy_failed, "aaaaaaa", "", "ci");
  event.event_id = "0B7E4C1A-1111-4222-8333-44445555ABCD";
  event.actor = std::string("bad\xff\xfe utf8 \xc3\x28");
  event.host = std::string("host\0name", 9);
  event.details = {{"output_tail", std::string("\xe2\x82 cut\x00", 8)}};
  const DeployEvent once = normalized(event);
  EXPECT_EQ(once.event_id, "0b7e4c1a-1111-4222-8333-44445555abcd");
  EXPECT_EQ(once.actor, "bad\uFFFD\uFFFD utf8 \uFFFD(");
  EXPECT_EQ(once.host, "hostname");
  EXPECT_EQ(once.details["output_tail"], "\uFFFD\uFFFD cut");
  EXPECT_EQ(normalized(once), once);
}

// Item 21 / 18: an upper-case UUID is a UUID; it is stored lower-case.
TEST(FromJson, AcceptsAnUpperCaseEventIdAndStoresItLowerCase) {
  std::string error;
  const std::optional<DeployEvent> event = event_from_body(
      R"({"event_id": "0B7E4C1A-1111-4222-8333-44445555ABCD", "kind": "deploy_started", "sha": "aaaaaaa"})",
      &error);
  ASSERT_TRUE(event) << error;
  EXPECT_EQ(event->event_id, "0b7e4c1a-1111-4222-8333-44445555abcd");
  EXPECT_TRUE(valid_event_id("0B7E4C1A-1111-4222-8333-44445555ABCD"));
  EXPECT_FALSE(valid_event_id("0B7E4C1A-1111-4222-8333-44445555ABCG"));
  EXPECT_EQ(event_from_body(
                R"({"event_id": "x\u0000y", "kind": "deploy_started", "sha": "aaaaaaa"})", &error),
            std::nullopt);
  EXPECT_EQ(error, "event_id: \"x\\x00y\" is not a UUID");
}

// Item 9: details.db_revision becomes PROBE_DB_REVISION in a hook's environment.
TEST(FromJson, RefusesAnInvalidDbRevisionAtTheDoorOnly) {
  std::string error;
  for (const char* bad :
       {R"j("$(reboot)")j", R"("a b")", R"("-rf")", R"(42)", R"({"x": 1})", R"("line\nbreak")"}) {
    const std::string body =
        std::string(
            R"({"kind": "deploy_succeeded", "sha": "aaaaaaa", "details": {"db_revision": )") +
        bad + "}}";
    EXPECT_EQ(event_from_body(body, &error), std::nullopt) << bad;
    EXPECT_EQ(error, "details.db_revision: not a revision (hex, or a word of [A-Za-z0-9_.-], at "
                     "most 128 characters)");
  }
  for (const char* good : {R"("4f2a9c")", R"("ae1027a6acf")", R"("0001_initial")", "null"}) {
    const std::string body =
        std::string(
            R"({"kind": "deploy_succeeded", "sha": "aaaaaaa", "details": {"db_revision": )") +
        good + "}}";
    EXPECT_TRUE(event_from_body(body, &error)) << good << ": " << error;
  }
  // A journal line or a sidecar's answer is read as it was kept (deploy_flow ignores it).
  const nlohmann::json kept = {{"event_id", "0b7e4c1a-1111-4222-8333-444455556666"},
                               {"occurred_at", "2026-11-27T09:40:00.000Z"},
                               {"kind", "deploy_succeeded"},
                               {"sha", "aaaaaaa"},
                               {"actor", "ci"},
                               {"host", "web-1"},
                               {"details", {{"db_revision", "$(reboot)"}}}};
  EXPECT_TRUE(from_json(kept, /*fill_defaults=*/false, &error)) << error;
}

// Item 3: details past 8 KiB are replaced, when stored and when read, by a stub that keeps the
// small known keys.
TEST(BoundedDetails, ReplacesLargeDetailsByAStubKeepingSmallKnownKeys) {
  const nlohmann::json small = {{"output_tail", std::string(7000, 'x')}, {"db_revision", "4f2a9c"}};
  EXPECT_EQ(bounded_details(small), small);

  nlohmann::json large = {
      {"output_tail", std::string(20000, 'x')},
      {"db_revision", "4f2a9c"},
      {"exit_code", 3},
      {"failing", nlohmann::json::array({{{"target", "api"}, {"error", "503"}}})},
      {"error", std::string(2000, 'e')},
      {"note", "not a kept key"}};
  const std::size_t bytes = large.dump().size();
  const nlohmann::json stub = bounded_details(large);
  EXPECT_EQ(stub, (nlohmann::json{{"truncated", true},
                                  {"bytes", bytes},
                                  {"db_revision", "4f2a9c"},
                                  {"exit_code", 3},
                                  {"failing", large["failing"]}}));
  EXPECT_EQ(bounded_details(stub), stub);

  // Every kept key at its largest still fits the budget.
  nlohmann::json worst = {{"filler", std::string(k_max_details_bytes, 'x')}};
  for (const std::string& key : kept_detail_keys()) {
    worst[key] = std::string(k_max_kept_detail_bytes - 2, 'k'); // 2 for the quotes
  }
  EXPECT_LE(bounded_details(worst).dump().size(), k_max_details_bytes);

  std::string error;
  const std::string body =
      R"({"kind": "rollback_failed", "sha": "aaaaaaa", "details": {"output_tail": ")" +
      std::string(60000, 'y') + R"("}})";
  const std::optional<DeployEvent> event = event_from_body(body, &error);
  ASSERT_TRUE(event) << error;
  const std::size_t body_bytes =
      nlohmann::json{{"output_tail", std::string(60000, 'y')}}.dump().size();
  EXPECT_EQ(event->details, (nlohmann::json{{"truncated", true}, {"bytes", body_bytes}}));
}

// Item 9: the same event offered again is idempotent; a different one under its id is a conflict.
TEST(SameEvent, IgnoresTheClockAndAOneSidedDbRevision) {
  DeployEvent first = make_event(EventKind::deploy_succeeded, "aaaaaaa", "", "ci");
  DeployEvent again = first;
  again.occurred_at += std::chrono::hours(1);
  EXPECT_TRUE(same_event(first, again));
  again.details["db_revision"] = "4f2a9c";
  EXPECT_TRUE(same_event(first, again));
  first.details["db_revision"] = "000000";
  EXPECT_FALSE(same_event(first, again));
  DeployEvent evil = again;
  evil.sha = "bbbbbbb";
  EXPECT_FALSE(same_event(again, evil));
  evil = again;
  evil.kind = "deploy_failed";
  EXPECT_FALSE(same_event(again, evil));
}

// Issue 17: one event retried through two replicas. A body without a host is stamped by the
// replica that receives it, so the two copies differ in host only: that is the same event (no
// 409, no quarantine at replay). The same id with another SHA, kind or actor still conflicts —
// the control that the comparison has not gone blind.
TEST(SameEvent, IgnoresTheHostThatEachReplicaStampsButNotTheContent) {
  const std::string body = R"({"event_id": "0b7e4c1a-1111-4222-8333-444455556666",)"
                           R"( "kind": "deploy_succeeded", "sha": "aaaaaaa", "actor": "ci"})";
  std::string error;
  set_host_override("replica-a");
  const std::optional<DeployEvent> via_a = event_from_body(body, &error);
  set_host_override("replica-b");
  const std::optional<DeployEvent> via_b = event_from_body(body, &error);
  set_host_override("");
  ASSERT_TRUE(via_a && via_b) << error;
  EXPECT_EQ(via_a->host, "replica-a");
  EXPECT_EQ(via_b->host, "replica-b");
  EXPECT_TRUE(same_event(*via_a, *via_b));

  DeployEvent other = *via_b;
  other.sha = "bbbbbbb";
  EXPECT_FALSE(same_event(*via_a, other)) << "an id replayed with another SHA conflicts";
  other = *via_b;
  other.previous_sha = "ccccccc";
  EXPECT_FALSE(same_event(*via_a, other));
  other = *via_b;
  other.actor = "someone-else";
  EXPECT_FALSE(same_event(*via_a, other));
  other = *via_b;
  other.details["failing"] = "api";
  EXPECT_FALSE(same_event(*via_a, other));
}

TEST(HostName, IsTrimmedBoundedAndPrintable) {
  std::string error;
  EXPECT_EQ(parse_host_name("  probe-7d9f-x2k4q\n", &error), "probe-7d9f-x2k4q");
  EXPECT_EQ(parse_host_name("web 1 (eu)", &error), "web 1 (eu)") << "inner spaces are kept";
  EXPECT_EQ(parse_host_name("", &error), "") << "empty: the machine's name";
  EXPECT_EQ(parse_host_name(" \t ", &error), "") << "blank: the machine's name";
  EXPECT_EQ(parse_host_name(std::string(k_max_host_chars, 'h'), &error),
            std::string(k_max_host_chars, 'h'));

  EXPECT_EQ(parse_host_name(std::string(k_max_host_chars + 1, 'h'), &error), std::nullopt);
  EXPECT_EQ(error, "PROBE_HOST: 257 characters, longer than 256");
  EXPECT_EQ(parse_host_name("web\x1b[2J", &error), std::nullopt);
  EXPECT_EQ(error, "PROBE_HOST: character 4 is not printable ASCII (a host or pod name, e.g. "
                   "web-1 or probe-7d9f-x2k4q)");
  EXPECT_EQ(parse_host_name("web\n1", &error), std::nullopt) << "a newline inside";
  EXPECT_EQ(parse_host_name("h\xc3\xa9te", &error), std::nullopt) << "non-ASCII";
  EXPECT_EQ(parse_host_name(std::string("we\0b", 4), &error), std::nullopt) << "a NUL";
}

TEST(HostName, TheOverrideNamesTheHostOfNewEventsUntilCleared) {
  const std::string machine = this_host();
  set_host_override("replica-a");
  EXPECT_EQ(this_host(), "replica-a");
  EXPECT_EQ(make_event(EventKind::deploy_started, "aaaaaaa", "", "ci").host, "replica-a");
  std::string error;
  const std::optional<DeployEvent> named = event_from_body(
      R"({"kind": "deploy_started", "sha": "aaaaaaa", "host": "ci-runner-3"})", &error);
  ASSERT_TRUE(named) << error;
  EXPECT_EQ(named->host, "ci-runner-3") << "a host the client names is kept";
  set_host_override("");
  EXPECT_EQ(this_host(), machine);
  EXPECT_NE(machine, "replica-a");
}

} // namespace
} // namespace probe::deploy
