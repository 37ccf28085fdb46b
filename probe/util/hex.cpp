// Hexadecimal digits; see hex.hpp.
#include "probe/util/hex.hpp"

#include <algorithm>

namespace probe::util {

int hex_digit_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

bool is_lower_hex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string to_lower_hex(const unsigned char* bytes, std::size_t size) {
  static constexpr std::string_view k_digits = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += k_digits[bytes[i] >> 4];
    out += k_digits[bytes[i] & 0x0F];
  }
  return out;
}

} // namespace probe::util
