// probe-bench-driver: drives Prometheus' blackbox_exporter the way Prometheus would for the
// side-by-side benchmark (tests/bench/run.sh): N targets, each probed once per interval through
// GET /probe?module=M&target=URL, spread evenly over the interval, for a bounded duration. It
// is a separate process so that its own CPU is not counted against the exporter's. Prints one
// line: "probes=P ok=O failed=F late=L" (late: sent more than one interval behind schedule).
//
//   probe-bench-driver --exporter 127.0.0.1:9115 --module http_2xx
//     --target-base 'http://127.0.0.1:8080/health?t=' --targets 100 --interval 1s --duration 30s
#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <httplib.h>

#include "probe/util/duration.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string exporter = "127.0.0.1:9115";
  std::string module = "http_2xx";
  std::string target_base;
  int targets = 10;
  std::string interval = "1s";
  std::string duration = "30s";
  int threads = 4;
};

struct Tally {
  std::atomic<long> ok{0};
  std::atomic<long> failed{0};
  std::atomic<long> late{0};
};

std::string percent_encode(const std::string& text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// Thread `index` of `threads` sends the probes whose sequence number is index mod threads; probe
// k (target k mod N, round k / N) is due at start + k * interval / N.
void drive(const Options& options, int index, Clock::time_point start, Clock::duration interval,
           long total, Tally& tally) {
  httplib::Client client("http://" + options.exporter);
  client.set_keep_alive(true);
  client.set_read_timeout(10, 0);
  for (long k = index; k < total; k += options.threads) {
    const auto due = start + interval * k / options.targets;
    std::this_thread::sleep_until(due);
    if (Clock::now() - due > interval) {
      tally.late++;
    }
    const std::string target = options.target_base + std::to_string(k % options.targets);
    const std::string path =
        "/probe?module=" + options.module + "&target=" + percent_encode(target);
    const httplib::Result result = client.Get(path);
    const bool ok = result && result->status == 200 &&
                    result->body.find("\nprobe_success 1\n") != std::string::npos;
    (ok ? tally.ok : tally.failed)++;
  }
}

} // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app("Drives blackbox_exporter's /probe at a fixed rate, for the benchmark");
  app.add_option("--exporter", options.exporter, "HOST:PORT of blackbox_exporter");
  app.add_option("--module", options.module, "Module name in its config");
  app.add_option("--target-base", options.target_base, "Target URL; the target's index is appended")
      ->required();
  app.add_option("--targets", options.targets, "How many targets")->check(CLI::Range(1, 100000));
  app.add_option("--interval", options.interval, "Each target once per interval");
  app.add_option("--duration", options.duration, "How long to drive");
  app.add_option("--threads", options.threads, "Concurrent connections")->check(CLI::Range(1, 256));
  CLI11_PARSE(app, argc, argv);

  const auto interval = probe::util::parse_duration(options.interval);
  const auto duration = probe::util::parse_duration(options.duration);
  if (!interval || !duration || interval->count() <= 0) {
    std::cerr << "probe-bench-driver: --interval and --duration must be durations like 1s\n";
    return 2;
  }
  const long rounds = std::max<long>(1, duration->count() / interval->count());
  const long total = rounds * options.targets;
  Tally tally;
  const auto start = Clock::now() + std::chrono::milliseconds(100);
  std::vector<std::thread> threads;
  for (int i = 0; i < options.threads; ++i) {
    threads.emplace_back(drive, std::cref(options), i, start, Clock::duration(*interval), total,
                         std::ref(tally));
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  std::printf("probes=%ld ok=%ld failed=%ld late=%ld\n", total, tally.ok.load(),
              tally.failed.load(), tally.late.load());
  return tally.failed.load() == 0 ? 0 : 1;
}
