// JSON as text that never throws: event details, check errors and bodies from the network may
// carry bytes that are not UTF-8, and nlohmann's default dump() throws on them. Invalid bytes
// become U+FFFD instead.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace probe::util {

// `value` as JSON text, compact by default (`indent` as for nlohmann::json::dump).
inline std::string json_text(const nlohmann::json& value, int indent = -1) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace probe::util
