// Hostile config files sent to a running `probe serve` (issue 12, item 6), and the secrets it
// shows (item 13). Before the fix: the alias bomb (a 100 KB anchored string repeated 30,000
// times) aborted serve with `terminate called ... std::bad_alloc`; a FIFO swapped in as the
// config blocked the reload while it held the config lock, so /status and POST /heartbeat
// timed out; a directory was "not empty". Now each is a failed reload: serve keeps serving the
// old config, says why in its log, and probe_config_last_reload_successful is 0, by SIGHUP and
// by POST /-/reload alike. A target URL's ?api_key= never reaches /status, /ready or the log.
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/integration/serve_fixture.hpp"
#include "tests/standins/http_standin.hpp"

namespace probe::tests {
namespace {

using namespace std::chrono_literals;

constexpr const char* k_token = "s3cret-token";

std::string good_config() {
  return "defaults: {interval: 1s, timeout: 500ms}\n"
         "targets:\n"
         "  - {name: bot, type: heartbeat, source: push, max_age: 1h}\n"
         "deploy: {token: \"s3cret-token\"}\n";
}

// The bomb: 220 KB of text, 3 GB once its aliases are expanded, where the config
// reader copies each alias (an argv list).
std::string alias_bomb() {
  std::string yaml = "targets:\n"
                     "  - {name: bot, type: heartbeat, source: push, max_age: 1h}\n"
                     "deploy:\n"
                     "  token: \"s3cret-token\"\n"
                     "  rollback:\n"
                     "    command: [&a \"" +
                     std::string(100'000, 'x') + "\"";
  for (int i = 0; i < 30'000; ++i) {
    yaml += ", *a";
  }
  return yaml + "]\n";
}

// Replaces the config file by `make` (which creates the new thing at the given path).
template <typename Make> void swap_config(const RunningProbe& probe, Make make) {
  std::filesystem::remove_all(probe.config_path());
  make(probe.config_path());
}

class ServeHostileConfig : public ::testing::Test {
protected:
  // Reloads by SIGHUP or POST /-/reload; returns once serve answered (POST) or logged the
  // outcome (SIGHUP), with the reload metric it then shows.
  double reload(bool by_signal) {
    const std::size_t failures_before = count_in_log("reload failed");
    if (by_signal) {
      m_probe.process().signal(SIGHUP);
      EXPECT_TRUE(
          fakes::eventually([&] { return count_in_log("reload failed") > failures_before; }, 30s))
          << m_probe.process().log();
    } else {
      const auto [status, body] = m_probe.post("/-/reload", k_token);
      EXPECT_EQ(status, 400) << body;
      EXPECT_NE(body.find("\"reloaded\":false"), std::string::npos) << body;
    }
    return m_probe.metric("probe_config_last_reload_successful");
  }

  std::size_t count_in_log(const std::string& needle) {
    const std::string log = m_probe.process().log();
    std::size_t count = 0;
    for (std::size_t pos = log.find(needle); pos != std::string::npos;
         pos = log.find(needle, pos + 1)) {
      ++count;
    }
    return count;
  }

  // Serve still does its work: answers, takes a heartbeat, and is running.
  void expect_serving() {
    EXPECT_TRUE(m_probe.process().running()) << m_probe.process().log();
    EXPECT_EQ(m_probe.get("/healthz").first, 200);
    EXPECT_EQ(m_probe.post("/heartbeat/bot", k_token).first, 200);
    const auto [status, body] = m_probe.get("/status");
    EXPECT_EQ(status, 200);
    EXPECT_NE(body.find("\"bot\""), std::string::npos) << body;
  }

  fakes::TempDir m_dir;
  RunningProbe m_probe{m_dir, good_config()};
};

TEST_F(ServeHostileConfig, AliasBombIsAFailedReloadBySignalAndByPost) {
  for (const bool by_signal : {true, false}) {
    std::ofstream(m_probe.config_path()) << alias_bomb();
    EXPECT_EQ(reload(by_signal), 0) << "by_signal=" << by_signal;
    expect_serving();
  }
  EXPECT_NE(m_probe.process().log().find("YAML aliases expand the config past 4 MiB"),
            std::string::npos)
      << m_probe.process().log();
}

TEST_F(ServeHostileConfig, FifoAsTheConfigIsRefusedAndStatusKeepsAnswering) {
  swap_config(m_probe, [](const std::string& path) { ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0); });
  for (const bool by_signal : {true, false}) {
    EXPECT_EQ(reload(by_signal), 0);
    expect_serving();
  }
  EXPECT_NE(m_probe.process().log().find("it is a FIFO, not a regular file"), std::string::npos)
      << m_probe.process().log();
}

TEST_F(ServeHostileConfig, DirectoryAsTheConfigIsRefused) {
  swap_config(m_probe, [](const std::string& path) { std::filesystem::create_directory(path); });
  for (const bool by_signal : {true, false}) {
    EXPECT_EQ(reload(by_signal), 0);
    expect_serving();
  }
  EXPECT_NE(m_probe.process().log().find("it is a directory, not a regular file"),
            std::string::npos)
      << m_probe.process().log();
}

TEST_F(ServeHostileConfig, AGoodConfigAfterwardsReloadsAgain) {
  std::ofstream(m_probe.config_path()) << alias_bomb();
  EXPECT_EQ(reload(true), 0);
  std::ofstream(m_probe.config_path()) << good_config();
  const auto [status, body] = m_probe.post("/-/reload", k_token);
  EXPECT_EQ(status, 200) << body;
  EXPECT_EQ(m_probe.metric("probe_config_last_reload_successful"), 1);
}

// Item 13: /ready is unauthenticated; neither it, /status nor the log may show a target's key.
TEST(ServeSecrets, TargetUrlQueryValuesAreMaskedInStatusReadyAndLog) {
  fakes::TempDir dir;
  fakes::HttpStandin api;
  api.set_mode(fakes::HttpMode::error_500); // a failure, so the detail is also the error
  RunningProbe probe(dir, "defaults: {interval: 1s, timeout: 500ms, failure_threshold: 1}\n"
                          "targets:\n"
                          "  - {name: api, type: http, url: \"" +
                              api.url("/health?api_key=hunter2-key") + "\"}\n");
  ASSERT_TRUE(fakes::eventually(
      [&] { return probe.get("/status").second.find("-> 500") != std::string::npos; }, 10s))
      << probe.process().log();
  const std::string status = probe.get("/status").second;
  const std::string ready = probe.get("/ready").second;
  EXPECT_NE(status.find("GET /health?api_key=*** -> 500"), std::string::npos) << status;
  EXPECT_EQ(status.find("hunter2"), std::string::npos) << status;
  EXPECT_EQ(ready.find("hunter2"), std::string::npos) << ready;
  EXPECT_EQ(probe.process().stop(SIGTERM, 10s), 0);
  EXPECT_EQ(probe.process().log().find("hunter2"), std::string::npos) << probe.process().log();
}

// Item 13: a config that holds a token and that others can read is warned about, as ssh does.
TEST(ServeSecrets, ReadableConfigHoldingATokenIsWarnedAbout) {
  fakes::TempDir dir;
  RunningProbe probe(dir, good_config());
  ::chmod(probe.config_path().c_str(), 0644);
  ASSERT_EQ(probe.post("/-/reload", k_token).first, 200);
  const std::string log = probe.process().log();
  EXPECT_NE(log.find("is readable by group or others (mode 0644) and holds secrets written in "
                     "it (deploy.token)"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find(k_token), std::string::npos) << log;
}

} // namespace
} // namespace probe::tests
