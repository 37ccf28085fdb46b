// Whether this test binary was built with a sanitizer (tests/run.sh builds the suite plain, with
// ASan+UBSan and with TSan). Sanitizers add shadow memory, red zones and a quarantine of freed
// blocks, so a test's memory bound means nothing there; the plain build checks those bounds.
// They also slow every memory access and thread start (TSan: 5-15x), so a latency bound that
// measures probe's speed is widened there by latency_bound(); the plain build checks the real one.
#pragma once

#include <chrono>

namespace probe::test_support {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool k_sanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool k_sanitized = true;
#else
inline constexpr bool k_sanitized = false;
#endif
#else
inline constexpr bool k_sanitized = false;
#endif

// A latency bound as asserted in this build: `plain` in the plain build, 10x under a sanitizer
// (still far below the seconds that a blocked server or a missed timeout would take).
constexpr std::chrono::milliseconds latency_bound(std::chrono::milliseconds plain) {
  return k_sanitized ? plain * 10 : plain;
}

} // namespace probe::test_support
