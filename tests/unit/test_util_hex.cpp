// util/hex.hpp: the one reader and writer of hex digits (HTTP chunk sizes and %XX escapes, journal
// checksums, event ids, UUIDs).
#include <array>

#include <gtest/gtest.h>

#include "probe/util/hex.hpp"

namespace probe::util {
namespace {

TEST(Hex, DigitValuesInBothCasesAndNothingElse) {
  EXPECT_EQ(hex_digit_value('0'), 0);
  EXPECT_EQ(hex_digit_value('9'), 9);
  EXPECT_EQ(hex_digit_value('a'), 10);
  EXPECT_EQ(hex_digit_value('F'), 15);
  for (const char c : {'g', 'G', '/', ':', '@', '`', ' ', '\0', '\xff'}) {
    EXPECT_EQ(hex_digit_value(c), -1) << static_cast<int>(c);
  }
}

TEST(Hex, LowerHexOnlyAcceptsLowerCaseDigits) {
  EXPECT_TRUE(is_lower_hex("0123456789abcdef"));
  EXPECT_TRUE(is_lower_hex(""));
  EXPECT_FALSE(is_lower_hex("ABCDEF"));
  EXPECT_FALSE(is_lower_hex("12 4"));
}

TEST(Hex, BytesAreWrittenTwoLowerCaseDigitsEach) {
  const std::array<unsigned char, 4> bytes{0x00, 0x0f, 0xa5, 0xff};
  EXPECT_EQ(to_lower_hex(bytes.data(), bytes.size()), "000fa5ff");
  EXPECT_EQ(to_lower_hex(bytes.data(), 0), "");
}

} // namespace
} // namespace probe::util
