// Text from outside reaches PostgreSQL (which refuses a NUL in jsonb and invalid UTF-8), chat
// messages and terminals (where a newline, a carriage return or a bidi override can forge a
// line). Pinned: clean_text() removes exactly the control characters (keeping '\n' and '\t' only
// when asked), visible_text() shows them as escapes so the text stays on one line, and both
// replace each byte of invalid UTF-8 (overlong forms, surrogates, truncated sequences) by U+FFFD.
#include <string>

#include <gtest/gtest.h>

#include "probe/util/unicode.hpp"

namespace probe::util {
namespace {

TEST(CleanText, RemovesControlCharacters) {
  // Appended, not `+`: GCC 12 with the precompiled header misreads the temporaries
  // (-Warray-bounds on the moved string).
  std::string text("a\0b\x01\x1f\x7f", 6);
  text += "c\r\n\td\xc2\x85\xc2\x9f";
  text += "é✅";
  EXPECT_EQ(clean_text(text, false), "abcdé✅");
  EXPECT_EQ(clean_text(text, true), "abc\n\tdé✅");
  EXPECT_EQ(clean_text("plain text stays", false), "plain text stays");
}

TEST(CleanText, ReplacesInvalidUtf8) {
  EXPECT_EQ(clean_text("\xff", false), "\uFFFD");
  EXPECT_EQ(clean_text("\xc0\xaf", false), "\uFFFD\uFFFD");           // overlong '/'
  EXPECT_EQ(clean_text("\xed\xa0\x80", false), "\uFFFD\uFFFD\uFFFD"); // a UTF-16 surrogate
  EXPECT_EQ(clean_text("\xf4\x90\x80\x80", false), "\uFFFD\uFFFD\uFFFD\uFFFD"); // > U+10FFFF
  EXPECT_EQ(clean_text("ok\xe2\x9c", false), "ok\uFFFD\uFFFD");                 // cut short
  EXPECT_EQ(clean_text("\xf0\x9f\x9a\x80", false), "\xf0\x9f\x9a\x80");         // 🚀 is fine
}

TEST(VisibleText, ShowsControlsAsEscapesOnOneLine) {
  EXPECT_EQ(visible_text("web-1\n\n✅ deploy succeeded"), "web-1\\n\\n✅ deploy succeeded");
  EXPECT_EQ(visible_text("a\rb\tc\\d"), "a\\rb\\tc\\\\d");
  EXPECT_EQ(visible_text(std::string("\0\x1b[2J\x7f", 6)), "\\x00\\x1b[2J\\x7f");
  EXPECT_EQ(visible_text("\xc2\x85"), "\\u0085");                              // NEL
  EXPECT_EQ(visible_text("x\xe2\x80\xa8y\xe2\x80\xa9z"), "x\\u2028y\\u2029z"); // separators
  EXPECT_EQ(visible_text("evil\xe2\x80\xae"
                         "cod.exe"),
            "evil\\u202ecod.exe"); // bidi override
  EXPECT_EQ(visible_text("bad\xff"), "bad\uFFFD");
  EXPECT_EQ(visible_text("<!channel> & é"), "<!channel> & é"); // not this function's business
}

} // namespace
} // namespace probe::util
