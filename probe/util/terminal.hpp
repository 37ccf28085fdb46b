// Text from elsewhere (an event's actor, a sidecar's error, a target's answer) made safe to
// print on a terminal: a control character could move the cursor, recolour the screen, or
// start a new line that fakes a row of a table. Every control character is shown escaped.
#pragma once

#include <string>
#include <string_view>

namespace probe::util {

// `text` with C0 controls and DEL shown as \n, \r, \t or \xNN, and the C1 controls
// (U+0080-U+009F, which some terminals obey like ESC sequences) as \u00NN; everything else,
// UTF-8 included, as it is.
std::string terminal_safe(std::string_view text);

} // namespace probe::util
