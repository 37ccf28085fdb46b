// Hexadecimal digits, read and written in one place: percent-decoding of paths and chunk sizes
// in probe serve's HTTP parser, the checksums of journal lines, event ids and SHAs, UUIDs.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace probe::util {

// 0-15 for '0'-'9', 'a'-'f' and 'A'-'F'; -1 for anything else.
int hex_digit_value(char c);

// True when every character of `text` is '0'-'9' or 'a'-'f' (an empty text is true).
bool is_lower_hex(std::string_view text);

// `size` bytes as lower-case hex, two digits each.
std::string to_lower_hex(const unsigned char* bytes, std::size_t size);

} // namespace probe::util
