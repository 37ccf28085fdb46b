// Terminal-safe text; see terminal.hpp.
#include "probe/util/terminal.hpp"

#include <array>
#include <cstdio>

namespace probe::util {

std::string terminal_safe(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    std::array<char, 8> buf{};
    if (byte == '\n') {
      out += "\\n";
    } else if (byte == '\r') {
      out += "\\r";
    } else if (byte == '\t') {
      out += "\\t";
    } else if (byte < 0x20 || byte == 0x7f) {
      std::snprintf(buf.data(), buf.size(), "\\x%02x", byte);
      out += buf.data();
    } else if (byte == 0xc2 && i + 1 < text.size() &&
               static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
      // U+0080..U+009F in UTF-8: 0xC2 followed by the control's own byte.
      std::snprintf(buf.data(), buf.size(), "\\u%04x", static_cast<unsigned char>(text[i + 1]));
      out += buf.data();
      ++i;
    } else {
      out += static_cast<char>(byte);
    }
  }
  return out;
}

} // namespace probe::util
