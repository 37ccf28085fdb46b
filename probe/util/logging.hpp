// Log setup for long-running commands: human text by default, JSON lines (one object per line,
// message JSON-escaped) for log shippers. Logs go to stderr, as containers expect.
#pragma once

#include <string>

namespace probe::util {

// `format` is "text" or "json"; `level` is a spdlog level name (debug, info, warn, error).
void setup_logging(const std::string& format, const std::string& level);

// Escapes `text` for use inside a JSON string literal.
std::string json_escape(const std::string& text);

} // namespace probe::util
