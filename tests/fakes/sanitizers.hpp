// Whether this test binary was built with a sanitizer (tests/run.sh builds the suite plain, with
// ASan+UBSan and with TSan). Sanitizers add shadow memory, red zones and a quarantine of freed
// blocks, so a test's memory bound means nothing there; the plain build checks those bounds.
#pragma once

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

} // namespace probe::test_support
