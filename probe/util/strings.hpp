// Small string helpers with no probe knowledge.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace probe::util {

std::vector<std::string> split(std::string_view text, char separator);
std::string join(const std::vector<std::string>& parts, std::string_view separator);
std::string_view trim(std::string_view text);

// Escapes `text` for XML text and attribute values; drops bytes XML 1.0 cannot carry.
std::string xml_escape(std::string_view text);

// Cuts `text` to at most `max_bytes` without splitting a UTF-8 sequence, marking the cut.
std::string truncate(std::string_view text, std::size_t max_bytes);

} // namespace probe::util
