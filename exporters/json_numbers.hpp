// Numbers as probe's JSON bodies and reports carry them: milliseconds and seconds to three
// decimals, which is as much as a person reads and keeps the bodies short.
#pragma once

#include <cmath>

namespace probe::exporters {

inline double round3(double value) {
  return std::round(value * 1000) / 1000;
}

} // namespace probe::exporters
