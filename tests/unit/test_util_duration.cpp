// Durations are how people write every interval, timeout and budget in probe's config and flags,
// so the parser must accept exactly the documented forms ("250ms", "10s", "2m", "1h", "1d",
// compounds like "1m30s") and refuse everything that could be misread ("10" — seconds or
// milliseconds?, "1.5s", "-1s", stray spaces, upper case, overflow). format_duration must print
// a value back in a form the parser reads to the same value, since `probe config check` shows the
// resolved config that way; format_latency is the human form used in reports.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "probe/util/duration.hpp"

namespace probe::util {
namespace {

using std::chrono::nanoseconds;

TEST(ParseDuration, AcceptsEachUnit) {
  EXPECT_EQ(parse_duration("250ms"), Duration(250));
  EXPECT_EQ(parse_duration("10s"), Duration(10'000));
  EXPECT_EQ(parse_duration("2m"), Duration(120'000));
  EXPECT_EQ(parse_duration("1h"), Duration(3'600'000));
  EXPECT_EQ(parse_duration("1d"), Duration(86'400'000));
}

TEST(ParseDuration, AcceptsZero) {
  EXPECT_EQ(parse_duration("0s"), Duration(0));
  EXPECT_EQ(parse_duration("0ms"), Duration(0));
}

TEST(ParseDuration, AcceptsCompounds) {
  EXPECT_EQ(parse_duration("1m30s"), Duration(90'000));
  EXPECT_EQ(parse_duration("1h2m3s4ms"), Duration(3'723'004));
  EXPECT_EQ(parse_duration("1d12h"), Duration(129'600'000));
  EXPECT_EQ(parse_duration("1s500ms"), Duration(1'500));
}

TEST(ParseDuration, ReadsMsAsMillisecondsNotMinutes) {
  EXPECT_EQ(parse_duration("5ms"), Duration(5));
  EXPECT_EQ(parse_duration("5m"), Duration(300'000));
}

TEST(ParseDuration, AcceptsLeadingZerosAndLargeValues) {
  EXPECT_EQ(parse_duration("007s"), Duration(7'000));
  EXPECT_EQ(parse_duration("3650d"), Duration(315'360'000'000LL));
}

TEST(ParseDuration, RejectsMalformedText) {
  const std::vector<std::string> bad{
      "",      "s",    "ms",  "10",    "1.5s",  "-1s",  "+1s",  " 1s",          "1s ",       "1 s",
      "1S",    "1MS",  "1sm", "1m s",  "1y",    "1w",   "1us",  "1ns",          "5 seconds", "ten",
      "1s,2s", "1m30", "h1",  "1h-1m", "0x10s", "\t1s", "1s\n", "\xef\xbc\x91s"};
  for (const std::string& text : bad) {
    EXPECT_EQ(parse_duration(text), std::nullopt) << "accepted \"" << text << "\"";
  }
}

TEST(ParseDuration, RejectsOverflow) {
  EXPECT_EQ(parse_duration("999999999999999h"), std::nullopt);
  EXPECT_EQ(parse_duration("99999999999999999999ms"), std::nullopt);
  EXPECT_EQ(parse_duration("9999999999999999999999999999s"), std::nullopt);
  EXPECT_EQ(parse_duration("200000d"), std::nullopt); // ~548 years
}

TEST(ParseDuration, RejectsCompoundsThatOverflowTogether) {
  // Each part fits on its own; the sum does not.
  EXPECT_EQ(parse_duration("100000d100000d"), std::nullopt);
}

TEST(FormatDuration, UsesTheShortestExactForm) {
  EXPECT_EQ(format_duration(Duration(0)), "0s");
  EXPECT_EQ(format_duration(Duration(250)), "250ms");
  EXPECT_EQ(format_duration(Duration(1'000)), "1s");
  EXPECT_EQ(format_duration(Duration(10'000)), "10s");
  EXPECT_EQ(format_duration(Duration(90'000)), "1m30s");
  EXPECT_EQ(format_duration(Duration(120'000)), "2m");
  EXPECT_EQ(format_duration(Duration(3'600'000)), "1h");
  EXPECT_EQ(format_duration(Duration(86'400'000)), "1d");
  EXPECT_EQ(format_duration(Duration(1'500)), "1s500ms");
  EXPECT_EQ(format_duration(Duration(90'061'001)), "1d1h1m1s1ms");
}

TEST(FormatDuration, RoundTripsThroughParse) {
  const std::vector<long long> values{0,
                                      1,
                                      999,
                                      1'000,
                                      1'001,
                                      59'999,
                                      60'000,
                                      61'000,
                                      90'000,
                                      3'599'999,
                                      3'600'000,
                                      3'600'001,
                                      86'399'999,
                                      86'400'000,
                                      86'400'001,
                                      90'061'001,
                                      604'800'000,
                                      31'536'000'000LL,
                                      9'000'000'000'000LL};
  for (const long long ms : values) {
    const std::string text = format_duration(Duration(ms));
    EXPECT_EQ(parse_duration(text), Duration(ms)) << ms << " printed as " << text;
  }
}

TEST(FormatDuration, ParseThenFormatNormalises) {
  EXPECT_EQ(format_duration(*parse_duration("90s")), "1m30s");
  EXPECT_EQ(format_duration(*parse_duration("1000ms")), "1s");
  EXPECT_EQ(format_duration(*parse_duration("24h")), "1d");
  EXPECT_EQ(format_duration(*parse_duration("0ms")), "0s");
}

TEST(FormatLatency, ShowsSubMillisecondPrecisionForFastChecks) {
  EXPECT_EQ(format_latency(nanoseconds(0)), "0.00ms");
  EXPECT_EQ(format_latency(nanoseconds(420'000)), "0.42ms");
  EXPECT_EQ(format_latency(nanoseconds(1'234'567)), "1.23ms");
}

TEST(FormatLatency, UsesOneDecimalBetweenTenMillisecondsAndOneSecond) {
  EXPECT_EQ(format_latency(nanoseconds(10'000'000)), "10.0ms");
  EXPECT_EQ(format_latency(nanoseconds(12'345'678)), "12.3ms");
  EXPECT_EQ(format_latency(nanoseconds(999'000'000)), "999.0ms");
}

TEST(FormatLatency, UsesSecondsFromOneSecond) {
  EXPECT_EQ(format_latency(nanoseconds(1'000'000'000)), "1.00s");
  EXPECT_EQ(format_latency(nanoseconds(1'250'000'000)), "1.25s");
  EXPECT_EQ(format_latency(nanoseconds(61'000'000'000)), "61.00s");
}

// Rounding must not push a value into the next band's shape: 9.999ms is "10.0ms", not
// "10.00ms", and 999.99ms is "1.00s", not "1000.0ms". (Fails today; see the report.)
TEST(FormatLatency, RoundingAtABandEdgeUsesTheNextBandsForm) {
  EXPECT_EQ(format_latency(nanoseconds(9'999'999)), "10.0ms");
  EXPECT_EQ(format_latency(nanoseconds(999'999'999)), "1.00s");
}

} // namespace
} // namespace probe::util
