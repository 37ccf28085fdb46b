// Text from outside (an HTTP body, a hook's output, a host name) on its way to a database, a
// chat message or a terminal. Two treatments, both over UTF-8 decoded strictly (an invalid or
// overlong sequence, a surrogate or a code point past U+10FFFF becomes U+FFFD, once per bad
// byte): clean_text() removes control characters, for text that is stored; visible_text() shows
// them as escapes, for text that is displayed, so no value can start a new line, move the cursor,
// reorder what follows it (bidi overrides) or hide itself.
#pragma once

#include <string>
#include <string_view>

namespace probe::util {

// `text` without C0 controls (U+0000-U+001F), DEL and C1 controls (U+0080-U+009F), invalid
// UTF-8 replaced by U+FFFD; with `keep_newline_and_tab`, '\n' and '\t' stay.
std::string clean_text(std::string_view text, bool keep_newline_and_tab);

// `text` on one line: '\n', '\r', '\t' and '\\' as those escapes, other C0 controls and DEL as
// "\xNN", C1 controls, line and paragraph separators (U+2028, U+2029) and bidi controls
// (U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) as "\uNNNN"; invalid UTF-8 as U+FFFD.
std::string visible_text(std::string_view text);

} // namespace probe::util
