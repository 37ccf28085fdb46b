// Timestamps as probe writes them everywhere (JSON bodies, reports, events, the journal):
// RFC 3339 in UTC with milliseconds, "2026-11-27T09:40:00.123Z".
#pragma once

#include <chrono>
#include <string>

namespace probe::util {

std::string format_rfc3339(std::chrono::system_clock::time_point when);

} // namespace probe::util
