// Signals against a real `probe serve` (issue 12, item 5). Before the fix a burst of SIGHUPs
// killed serve with exit 129 in 3 of 3 runs, because two threads (started by members built
// before run() blocked the signals) had an empty mask and took a HUP with its default action;
// and SIGTERM during a reload could land on such a thread too (exit 143, no graceful stop).
// Here: every thread's SigBlk in /proc shows HUP, INT and TERM blocked; 200 HUPs sent as fast
// as a loop can while the config file is being replaced under serve are all survived, reloads
// still work afterwards, and the SIGTERM that follows at once stops serve gracefully with
// exit 0. Nothing is timed: each wait only separates "happened" from "never happened".
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/integration/serve_fixture.hpp"

namespace probe::tests {
namespace {

using namespace std::chrono_literals;

std::string config_with(int targets) {
  std::string yaml = "defaults: {interval: 1s, timeout: 500ms}\ntargets:\n";
  for (int i = 0; i < targets; ++i) {
    yaml += "  - {name: t" + std::to_string(i) +
            ", type: heartbeat, source: push, max_age: 1h, critical: false}\n";
  }
  return yaml + "deploy: {token: \"s3cret-token\"}\n";
}

// Replaces `target` with a copy of `source` the way an editor or a deploy does: by rename, so a
// reload that reads it at any moment reads one whole version or the other.
void replace_atomically(const std::string& source, const std::string& target,
                        const fakes::TempDir& dir) {
  const std::string next = dir.path() + "/next.yaml";
  std::filesystem::copy_file(source, next, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::rename(next, target);
}

// The SigBlk mask of every thread of `pid`, by thread id.
std::vector<std::pair<std::string, unsigned long long>> blocked_masks(pid_t pid) {
  std::vector<std::pair<std::string, unsigned long long>> masks;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& task : std::filesystem::directory_iterator(tasks)) {
    std::ifstream status(task.path() / "status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("SigBlk:", 0) == 0) {
        masks.emplace_back(task.path().filename().string(),
                           std::stoull(line.substr(7), nullptr, 16));
      }
    }
  }
  return masks;
}

bool blocks(unsigned long long mask, int signal_number) {
  return (mask & (1ULL << (signal_number - 1))) != 0;
}

TEST(ServeSignals, EveryThreadBlocksHupIntAndTerm) {
  fakes::TempDir dir;
  RunningProbe probe(dir, config_with(3));
  // The server's worker threads start with the first connections: make some.
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(probe.get("/healthz").first, 200);
  }
  const auto masks = blocked_masks(probe.process().pid());
  ASSERT_GE(masks.size(), 3U) << "expected serve to run several threads";
  for (const auto& [thread, mask] : masks) {
    EXPECT_TRUE(blocks(mask, SIGHUP) && blocks(mask, SIGINT) && blocks(mask, SIGTERM))
        << "thread " << thread << " of " << masks.size() << " has SigBlk " << std::hex << mask;
  }
  EXPECT_EQ(probe.process().stop(SIGTERM, 10s), 0) << probe.process().log();
}

TEST(ServeSignals, TwoHundredHupsWhileTheConfigIsReplacedThenTermStopsGracefully) {
  fakes::TempDir dir;
  RunningProbe probe(dir, config_with(2));
  const std::string small = dir.write("small.yaml", config_with(2));
  const std::string large = dir.write("large.yaml", config_with(1000)); // a reload of some ms

  // The config file is swapped (rename over it, as an editor or a deploy does) the whole time,
  // so reloads read either version and some are under way when the next HUP arrives.
  std::atomic<bool> swapping{true};
  std::thread swapper([&] {
    for (int i = 0; swapping && i < 100'000; ++i) {
      replace_atomically(i % 2 == 0 ? large : small, probe.config_path(), dir);
    }
  });
  // A pause between HUPs, as `for i in $(seq 200); do kill -HUP $PID; done` has one: sent all at
  // once, the HUPs would merge into one pending signal before serve took the first.
  for (int i = 0; i < 200; ++i) {
    probe.process().signal(SIGHUP);
    std::this_thread::sleep_for(1ms);
  }
  swapping = false;
  swapper.join();
  ASSERT_TRUE(probe.process().running()) << "a HUP killed serve:\n" << probe.process().log();

  // Reloads still work, and the last HUP's file is the one that counts: it is never lost. The
  // file is replaced by rename, as above: a HUP still pending from the storm may start a reload
  // at any moment, and one that read a half-copied file would fail (rightly) and leave the
  // success gauge at 0 until the next reload.
  replace_atomically(large, probe.config_path(), dir);
  probe.process().signal(SIGHUP);
  ASSERT_TRUE(fakes::eventually(
      [&] {
        return probe.get("/status").second.find("\"t999\"") != std::string::npos &&
               probe.metric("probe_config_last_reload_successful") == 1;
      },
      30s))
      << probe.process().log();

  // A HUP and at once a TERM: the reload may be under way; the stop is graceful either way.
  replace_atomically(small, probe.config_path(), dir);
  probe.process().signal(SIGHUP);
  EXPECT_EQ(probe.process().stop(SIGTERM, 30s), 0) << probe.process().log();
  const std::string log = probe.process().log();
  EXPECT_NE(log.find("received SIGTERM, stopping"), std::string::npos) << log;
  EXPECT_NE(log.find("info stopped"), std::string::npos) << log;
}

TEST(ServeSignals, SigintStopsGracefullyToo) {
  fakes::TempDir dir;
  RunningProbe probe(dir, config_with(1));
  EXPECT_EQ(probe.process().stop(SIGINT, 10s), 0) << probe.process().log();
  EXPECT_NE(probe.process().log().find("received SIGINT, stopping"), std::string::npos);
}

} // namespace
} // namespace probe::tests
