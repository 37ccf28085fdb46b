// Log lines as `probe serve` writes them to stderr: text timestamps are UTC and say so with
// RFC 3339's `Z` (issue 18), as the JSON format's do.
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "probe/util/logging.hpp"

namespace probe::util {
namespace {

// Runs `log` with stderr sent to a temporary file and returns what it wrote.
std::string captured_stderr(const std::function<void()>& log) {
  std::FILE* file = std::tmpfile();
  std::fflush(stderr);
  const int saved = dup(STDERR_FILENO);
  dup2(fileno(file), STDERR_FILENO);
  log();
  std::fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  std::rewind(file);
  std::string text;
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), file)) > 0) {
    text.append(buf.data(), n);
  }
  std::fclose(file);
  return text;
}

TEST(Logging, TextTimestampsAreUtcWithZ) {
  const std::string text = captured_stderr([] {
    setup_logging("text", "info");
    spdlog::info("target api: up");
    spdlog::default_logger()->flush();
  });
  EXPECT_TRUE(std::regex_match(
      text, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info target api: up\n)")))
      << text;
}

TEST(Logging, JsonTimestampsAreUtcWithZ) {
  const std::string text = captured_stderr([] {
    setup_logging("json", "info");
    spdlog::info("target api: up");
    spdlog::default_logger()->flush();
  });
  EXPECT_TRUE(std::regex_match(
      text,
      std::regex(
          R"(\{"ts":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","level":"info","msg":"target api: up"\}\n)")))
      << text;
}

} // namespace
} // namespace probe::util
