// The report of one `probe check` round in the three forms its readers want: an aligned table
// for people, JSON for scripts, JUnit XML for CI systems. Pure functions of the results: no
// I/O here, so every format is tested byte for byte.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "probe/engine/run_once.hpp"

namespace probe::exporters {

struct Report {
  std::vector<engine::TargetResult> results;
  std::chrono::nanoseconds wall{0};
  std::chrono::system_clock::time_point started_at;
};

// True when every critical target passed or was skipped (not checkable here): `probe check`
// exits 0.
bool report_passed(const Report& report);

// The table; ANSI colours only when `colour` (a TTY without NO_COLOR).
std::string render_text(const Report& report, bool colour);

// {"ok":..., "checked_at":..., "duration_ms":..., "targets":[{name, type, critical, ok,
// result, latency_ms, error, details}]}; a skipped target has "result": "skipped" and null
// "ok", "latency_ms" and "error".
std::string render_json(const Report& report);

// <testsuites><testsuite name="probe">, one <testcase> per target; a failing critical target
// is a <failure>, a failing non-critical one is <skipped> so it shows without failing the run,
// and so is one that cannot be checked here.
std::string render_junit(const Report& report);

} // namespace probe::exporters
