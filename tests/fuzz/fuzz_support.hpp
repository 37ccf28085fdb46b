// What the fuzz targets in tests/fuzz share: a failed property aborts with a message (libFuzzer
// then saves the input as a crash), and a private scratch directory for the targets that go
// through the journal file, on tmpfs when there is one so that fsync costs nothing.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

#include <unistd.h>

namespace probe::fuzz {

// Prints "fuzz property violated: `what`" and aborts, which libFuzzer reports as a finding.
[[noreturn]] inline void fail(std::string_view what) {
  std::fprintf(stderr, "fuzz property violated: %.*s\n", static_cast<int>(what.size()),
               what.data());
  std::abort();
}

// Aborts with `what` unless `ok`.
inline void require(bool ok, std::string_view what) {
  if (!ok) {
    fail(what);
  }
}

// A directory of this process's own, created on first use and removed at exit: under
// $PROBE_FUZZ_TMPDIR, else /dev/shm (tmpfs), else $TMPDIR, else /tmp. Never destroyed, so that
// the exit handler that removes it can still read its name.
inline const std::string& scratch_dir() {
  static const std::string* const dir = [] {
    std::string base;
    if (const char* chosen = std::getenv("PROBE_FUZZ_TMPDIR")) {
      base = chosen;
    } else if (::access("/dev/shm", W_OK) == 0) {
      base = "/dev/shm";
    } else if (const char* tmp = std::getenv("TMPDIR")) {
      base = tmp;
    } else {
      base = "/tmp";
    }
    auto* made = new std::string(base + "/probe-fuzz-XXXXXX");
    if (::mkdtemp(made->data()) == nullptr) {
      fail("cannot create a scratch directory under " + base);
    }
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(scratch_dir(), ignored);
    });
    return made;
  }();
  return *dir;
}

} // namespace probe::fuzz
