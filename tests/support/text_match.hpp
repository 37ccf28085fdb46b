// Small text matchers the tests share (what a metrics page, journal or warning says).
#pragma once

#include <string>

namespace probe {

// Whether `text` contains `part` anywhere.
inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Whether `text` has `line` as one whole line.
inline bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

} // namespace probe
