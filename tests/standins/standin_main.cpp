// probe-standin: the test stand-ins as a process, for shell tests, the readiness-gate tests and
// the demo, which need a target on a fixed port that can start late, answer wrong, hang or die
// on cue. `http` serves HttpStandin (with GET /version for "which build is running"), `tcp`
// serves TcpStandin, `receiver` serves ReceiverStandin (a Telegram API and webhook that writes
// down every POST as a JSON line in --out, for the alerting tests). It prints "listening on
// HOST:PORT" once it accepts, and exits 0 on SIGTERM or SIGINT, so a script can start it, wait
// for that line, and stop it cleanly.
//
//   probe-standin http --listen 127.0.0.1:8000 [--version v1] [--mode healthy|error_500|...]
//                      [--delay 3s] [--start-delay 2s] [--pid-file F] [--threads 48]
//   probe-standin tcp  --listen 127.0.0.1:5432 --mode postgres_rejecting [--start-delay 2s]
//   probe-standin receiver --listen 127.0.0.1:9000 --out requests.jsonl [--pid-file F]
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <CLI/CLI.hpp>
#include <unistd.h>

#include "probe/util/duration.hpp"
#include "tests/standins/http_standin.hpp"
#include "tests/standins/receiver_standin.hpp"
#include "tests/standins/tcp_standin.hpp"

namespace {

enum class Kind { http, tcp, receiver };

struct Options {
  std::string listen;
  std::string mode;
  std::string version = "v1";
  std::size_t threads = 48;
  std::string delay = "1s";
  std::string start_delay = "0s";
  std::string pid_file;
  std::string out; // receiver
};

struct Listen {
  std::string host;
  int port = 0;
};

// "HOST:PORT" with PORT 0..65535 (0: any free port, printed once listening).
std::optional<Listen> parse_listen(const std::string& text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return std::nullopt;
  }
  Listen listen{text.substr(0, colon), 0};
  const char* first = text.data() + colon + 1;
  const char* last = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(first, last, listen.port);
  if (first == last || ec != std::errc() || ptr != last || listen.port < 0 || listen.port > 65535) {
    return std::nullopt;
  }
  return listen;
}

probe::util::Duration duration_flag(const std::string& flag, const std::string& text) {
  const std::optional<probe::util::Duration> parsed = probe::util::parse_duration(text);
  if (!parsed) {
    throw CLI::ValidationError(flag, "\"" + text + "\" is not a duration (e.g. 250ms, 3s)");
  }
  return *parsed;
}

// Waits for SIGTERM/SIGINT (blocked in main) for at most `limit`; true when one came.
bool wait_for_signal(std::optional<probe::util::Duration> limit) {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  if (!limit) {
    int signal = 0;
    return sigwait(&stop_signals, &signal) == 0;
  }
  timespec wait{};
  wait.tv_sec = static_cast<time_t>(limit->count() / 1000);
  wait.tv_nsec = static_cast<long>((limit->count() % 1000) * 1'000'000);
  int got = 0;
  do {
    got = sigtimedwait(&stop_signals, nullptr, &wait);
  } while (got < 0 && errno == EINTR);
  return got > 0;
}

// Removes the pid file on every way out of serve().
struct PidFile {
  explicit PidFile(std::string path) : m_path(std::move(path)) {
    if (!m_path.empty()) {
      std::ofstream(m_path) << getpid() << "\n";
    }
  }
  ~PidFile() {
    if (!m_path.empty()) {
      std::remove(m_path.c_str());
    }
  }
  PidFile(const PidFile&) = delete;
  PidFile& operator=(const PidFile&) = delete;

private:
  std::string m_path;
};

int serve(const Options& options, Kind kind) {
  const bool http = kind == Kind::http;
  const std::optional<Listen> listen = parse_listen(options.listen);
  if (!listen) {
    std::cerr << "probe-standin: --listen: \"" << options.listen << "\" is not HOST:PORT\n";
    return 2;
  }
  const probe::util::Duration delay = duration_flag("--delay", options.delay);
  const probe::util::Duration start_delay = duration_flag("--start-delay", options.start_delay);
  const std::optional<probe::fakes::HttpMode> http_mode =
      probe::fakes::parse_http_mode(options.mode.empty() ? "healthy" : options.mode);
  const std::optional<probe::fakes::TcpMode> tcp_mode = probe::fakes::parse_tcp_mode(options.mode);
  if (kind != Kind::receiver && (http ? !http_mode : !tcp_mode)) {
    std::cerr << "probe-standin: --mode: \"" << options.mode << "\" is not a"
              << (http ? "n http" : " tcp") << " mode\n";
    return 2;
  }

  const PidFile pid_file(options.pid_file);
  // A late start is the point of --start-delay; a stop request during it still ends cleanly.
  if (start_delay.count() > 0 && wait_for_signal(start_delay)) {
    return 0;
  }
  std::unique_ptr<probe::fakes::HttpStandin> http_standin;
  std::unique_ptr<probe::fakes::TcpStandin> tcp_standin;
  std::unique_ptr<probe::fakes::ReceiverStandin> receiver_standin;
  int port = 0;
  try {
    if (kind == Kind::receiver) {
      receiver_standin = std::make_unique<probe::fakes::ReceiverStandin>(
          probe::fakes::ReceiverStandinOptions{listen->host, listen->port, options.out});
      port = receiver_standin->port();
    } else if (http) {
      http_standin = std::make_unique<probe::fakes::HttpStandin>(probe::fakes::HttpStandinOptions{
          listen->host, listen->port, *http_mode, options.version, delay, options.threads});
      port = http_standin->port();
    } else {
      tcp_standin =
          std::make_unique<probe::fakes::TcpStandin>(*tcp_mode, listen->host, listen->port);
      port = tcp_standin->port();
    }
  } catch (const std::exception& e) {
    std::cerr << "probe-standin: " << e.what() << "\n";
    return 1;
  }
  std::cout << "listening on " << listen->host << ":" << port << std::endl;
  wait_for_signal(std::nullopt);
  return 0;
}

void add_common_flags(CLI::App& command, Options& options) {
  command.add_option("--listen", options.listen, "HOST:PORT to listen on (port 0: any)")
      ->required();
  command.add_option("--start-delay", options.start_delay, "Wait this long before listening");
  command.add_option("--pid-file", options.pid_file, "Write the process id to this file");
}

int run(int argc, char** argv) {
  // Blocked before any thread starts, so every thread inherits the mask and sigwait() alone
  // receives the stop signals.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  CLI::App app{"probe-standin: stand-in targets for probe's tests and demo", "probe-standin"};
  app.require_subcommand(1);
  Options options;
  Kind kind = Kind::tcp;

  CLI::App* http_command = app.add_subcommand("http", "An HTTP target (/, /health, /version)");
  add_common_flags(*http_command, options);
  http_command->add_option("--mode", options.mode,
                           "healthy, error_500, slow, wrong_body, bad_json, redirect, "
                           "huge_body, trickle");
  http_command->add_option("--version", options.version, "Version /health and /version report");
  http_command->add_option("--delay", options.delay, "How long mode slow waits");
  http_command
      ->add_option("--threads", options.threads,
                   "Worker threads; each kept-alive client connection holds one (default 48)")
      ->check(CLI::Range(1, 4096));
  http_command->callback([&kind] { kind = Kind::http; });

  CLI::App* tcp_command = app.add_subcommand("tcp", "A raw TCP target");
  add_common_flags(*tcp_command, options);
  tcp_command
      ->add_option("--mode", options.mode,
                   "hang_after_accept, reset, postgres_rejecting, trickle_headers, backlog_full, "
                   "drop_kept_alive")
      ->required();

  CLI::App* receiver_command =
      app.add_subcommand("receiver", "Answers every POST 200, appending it to --out");
  add_common_flags(*receiver_command, options);
  receiver_command
      ->add_option("--out", options.out, "JSON-lines file: one {\"path\", \"body\"} per request")
      ->required();
  receiver_command->callback([&kind] { kind = Kind::receiver; });

  try {
    app.parse(argc, argv);
    return serve(options, kind);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
}

} // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "probe-standin: " << e.what() << "\n";
    return 1;
  }
}
