// Spawning and supervising a command; see command_runner.hpp. Exit is noticed by polling
// waitpid rather than by a SIGCHLD handler: a handler is process-wide state that the rest of
// probe (and its libraries) would have to share, and polling keeps run() self-contained.
#include "probe/util/command_runner.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <set>
#include <string_view>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe/util/secret.hpp"
#include "probe/util/strings.hpp"
#include "probe/util/unique_fd.hpp"

extern char** environ; // NOLINT(readability-redundant-declaration): not every libc declares it

namespace probe::util {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using LineHandler = std::function<void(const std::string& line)>;

// Reading goes on this long after the command exited: a daemonized grandchild may keep the pipe
// open for good, and what it prints later is not the command's output.
constexpr milliseconds k_drain_after_exit{1'000};
// Exit is polled with short sleeps first, so a quick command returns quickly, then longer ones,
// so a five-minute rollback does not spin.
constexpr milliseconds k_min_slice{1};
constexpr milliseconds k_max_slice{50};

std::string errno_text(int err) {
  return std::generic_category().message(err);
}

std::string_view name_of(std::string_view entry) {
  return entry.substr(0, entry.find('='));
}

// Whether a variable of probe's environment is one a hook may need: see hook_environment().
bool allow_listed(std::string_view name) {
  static const std::set<std::string_view> k_names{"PATH",
                                                  "HOME",
                                                  "USER",
                                                  "LOGNAME",
                                                  "SHELL",
                                                  "PWD",
                                                  "HOSTNAME",
                                                  "LANG",
                                                  "LANGUAGE",
                                                  "TZ",
                                                  "TMPDIR",
                                                  "TERM",
                                                  "XDG_RUNTIME_DIR",
                                                  "SSH_AUTH_SOCK",
                                                  "http_proxy",
                                                  "https_proxy",
                                                  "no_proxy",
                                                  "all_proxy",
                                                  "HTTP_PROXY",
                                                  "HTTPS_PROXY",
                                                  "NO_PROXY",
                                                  "ALL_PROXY"};
  if (k_names.contains(name)) {
    return true;
  }
  for (const std::string_view prefix : {"LC_", "DOCKER_", "COMPOSE_", "DEPLOY_"}) {
    if (name.substr(0, prefix.size()) == prefix) {
      return !is_secret_name(name);
    }
  }
  return false;
}

// The names listed in PROBE_HOOK_ENV.
std::set<std::string> listed_names(const std::vector<std::string>& parent) {
  std::set<std::string> names;
  for (const std::string& entry : parent) {
    if (name_of(entry) != "PROBE_HOOK_ENV") {
      continue;
    }
    std::string list = entry.substr(entry.find('=') + 1);
    std::replace(list.begin(), list.end(), ',', ' ');
    for (const std::string& name : split(list, ' ')) {
      if (!name.empty()) {
        names.insert(name);
      }
    }
  }
  return names;
}

// The process environment as "NAME=value" strings.
std::vector<std::string> own_environment() {
  std::vector<std::string> entries;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    entries.emplace_back(*entry);
  }
  return entries;
}

// A null-terminated array of pointers into `strings`, which must outlive it.
std::vector<char*> c_array(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (std::string& s : strings) {
    pointers.push_back(s.data());
  }
  pointers.push_back(nullptr);
  return pointers;
}

// posix_spawn's file actions and attributes, destroyed on every path out of run().
class SpawnSetup {
public:
  SpawnSetup() {
    posix_spawn_file_actions_init(&m_actions);
    posix_spawnattr_init(&m_attr);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&m_actions);
    posix_spawnattr_destroy(&m_attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;

  // Returns 0 or the errno of the step that failed.
  int configure(int output_fd) {
    const int err = configure_files(output_fd);
    return err != 0 ? err : configure_attributes();
  }
  const posix_spawn_file_actions_t* actions() const { return &m_actions; }
  const posix_spawnattr_t* attributes() const { return &m_attr; }

private:
  int configure_files(int output_fd) {
    int err = posix_spawn_file_actions_addopen(&m_actions, 0, "/dev/null", O_RDONLY, 0);
    if (err == 0) {
      err = posix_spawn_file_actions_adddup2(&m_actions, output_fd, 1);
    }
    if (err == 0) {
      err = posix_spawn_file_actions_adddup2(&m_actions, output_fd, 2);
    }
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    // Our own fds are O_CLOEXEC; this also catches ones a library opened without it.
    if (err == 0) {
      err = posix_spawn_file_actions_addclosefrom_np(&m_actions, 3);
    }
#endif
    return err;
  }

  int configure_attributes() {
    // Ignored signals survive exec: a hook started from a shell that ignores SIGPIPE or from
    // a daemon that ignores SIGHUP must still behave like one started from a terminal.
    sigset_t defaults;
    sigemptyset(&defaults);
    for (const int sig : {SIGPIPE, SIGXFSZ, SIGHUP, SIGINT, SIGTERM, SIGCHLD}) {
      sigaddset(&defaults, sig);
    }
    sigset_t empty;
    sigemptyset(&empty);
    int err = posix_spawnattr_setsigdefault(&m_attr, &defaults);
    if (err == 0) {
      err = posix_spawnattr_setsigmask(&m_attr, &empty);
    }
    if (err == 0) {
      err = posix_spawnattr_setpgroup(&m_attr, 0);
    }
    if (err == 0) {
      err = posix_spawnattr_setflags(&m_attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                                  POSIX_SPAWN_SETSIGDEF);
    }
    return err;
  }

  posix_spawn_file_actions_t m_actions{};
  posix_spawnattr_t m_attr{};
};

// The spawned command and its process group (same id). Destroyed before it was reaped — an
// exception from the line handler — it takes the group down rather than leave it running.
class Child {
public:
  explicit Child(pid_t pid) : m_pid(pid) {}
  ~Child() {
    if (!m_exited) {
      signal_group(SIGKILL);
      while (::waitpid(m_pid, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // Reaps the command if it has exited; returns whether it has.
  bool try_reap() {
    if (m_exited) {
      return true;
    }
    pid_t r = 0;
    do {
      r = ::waitpid(m_pid, &m_status, WNOHANG);
    } while (r < 0 && errno == EINTR);
    // ECHILD: someone else reaped it (SIGCHLD set to SIG_IGN); its status is lost.
    m_status_known = r == m_pid;
    m_exited = r == m_pid || (r < 0 && errno == ECHILD);
    return m_exited;
  }
  void signal_group(int sig) const {
    ::kill(-m_pid, sig);
    // Also the command itself, should it have left its group; its pid is still ours to signal
    // until it is reaped.
    if (!m_exited) {
      ::kill(m_pid, sig);
    }
  }
  bool group_gone() const { return ::kill(-m_pid, 0) < 0 && errno == ESRCH; }
  bool exited() const { return m_exited; }

  void fill(CommandResult& result) const {
    if (!m_status_known) {
      return;
    }
    if (WIFEXITED(m_status)) {
      result.exit_code = WEXITSTATUS(m_status);
    } else if (WIFSIGNALED(m_status)) {
      result.signal = WTERMSIG(m_status);
    }
  }

private:
  pid_t m_pid;
  int m_status = 0;
  bool m_exited = false;
  bool m_status_known = false;
};

// Splits the output into lines for the handler and keeps the tail of it for the result.
class OutputSink {
public:
  explicit OutputSink(const LineHandler& on_line) : m_on_line(on_line) {}

  void feed(std::string_view bytes) {
    keep_tail(bytes);
    while (!bytes.empty()) {
      const std::size_t newline = bytes.find('\n');
      append(bytes.substr(0, newline));
      if (newline == std::string_view::npos) {
        return;
      }
      end_line();
      bytes.remove_prefix(newline + 1);
    }
  }

  // Passes on a last line that had no newline.
  void finish() {
    if (!m_line.empty()) {
      end_line();
    }
  }

  std::string tail() const {
    if (m_tail.size() <= k_output_tail_bytes) {
      return m_tail;
    }
    std::string tail = m_tail.substr(m_tail.size() - k_output_tail_bytes);
    // Start at a line boundary unless the window holds a single line.
    const std::size_t newline = tail.find('\n');
    if (m_tail[m_tail.size() - k_output_tail_bytes - 1] != '\n' && newline + 1 < tail.size()) {
      tail.erase(0, newline + 1);
    }
    return tail;
  }

private:
  void keep_tail(std::string_view bytes) {
    m_tail.append(bytes);
    // One byte more than the tail, so tail() can tell whether the window starts a line.
    if (m_tail.size() > 2 * k_output_tail_bytes) {
      m_tail.erase(0, m_tail.size() - k_output_tail_bytes - 1);
    }
  }

  void append(std::string_view piece) {
    if (m_cutting) {
      return;
    }
    if (m_line.size() + piece.size() <= k_max_output_line) {
      m_line.append(piece);
      return;
    }
    m_line.append(piece.substr(0, k_max_output_line - m_line.size()));
    m_line += k_cut_line_marker;
    emit();
    m_cutting = true; // drop the rest of this line, up to its newline
  }

  void end_line() {
    if (!m_cutting) {
      emit();
    }
    m_cutting = false;
  }

  void emit() {
    std::string line = std::move(m_line);
    m_line.clear();
    if (m_on_line) {
      m_on_line(line);
    }
  }

  const LineHandler& m_on_line;
  std::string m_line;
  bool m_cutting = false;
  std::string m_tail;
};

SteadyClock::time_point saturating_add(SteadyClock::time_point t, milliseconds d) {
  return d >= SteadyClock::time_point::max() - t ? SteadyClock::time_point::max() : t + d;
}

// Reads the command's output and walks it through timeout, SIGTERM, grace and SIGKILL.
class Supervisor {
public:
  Supervisor(Child& child, int output_fd, OutputSink& sink, SteadyClock::time_point deadline,
             milliseconds grace)
      : m_child(child), m_output(output_fd), m_sink(sink), m_deadline(deadline), m_grace(grace) {}

  // Returns whether the timeout passed.
  bool supervise() {
    for (;;) {
      const SteadyClock::time_point now = SteadyClock::now();
      step(now);
      if (finished(now)) {
        break;
      }
      wait_for_output(next_wake(now));
    }
    m_sink.finish();
    return m_term_sent;
  }

private:
  void step(SteadyClock::time_point now) {
    if (!m_child.exited() && m_child.try_reap()) {
      m_exited_at = now;
    }
    if (!m_term_sent && !m_child.exited() && now >= m_deadline) {
      m_child.signal_group(SIGTERM);
      m_term_sent = true;
      m_kill_at = saturating_add(now, m_grace);
    }
    if (m_term_sent && !m_kill_sent && now >= m_kill_at) {
      m_child.signal_group(SIGKILL);
      m_kill_sent = true;
    }
  }

  bool finished(SteadyClock::time_point now) const {
    if (!m_child.exited()) {
      return false;
    }
    // After SIGTERM the rest of the group gets its grace too, and SIGKILL if it needs it.
    if (m_term_sent && !m_kill_sent && !m_child.group_gone()) {
      return false;
    }
    return m_output.get() < 0 || now >= m_exited_at + k_drain_after_exit;
  }

  SteadyClock::time_point next_wake(SteadyClock::time_point now) {
    SteadyClock::time_point wake = now + m_slice;
    m_slice = std::min(m_slice * 2, k_max_slice);
    if (!m_term_sent) {
      wake = std::min(wake, m_deadline);
    } else if (!m_kill_sent) {
      wake = std::min(wake, m_kill_at);
    }
    if (m_child.exited()) {
      wake = std::min(wake, m_exited_at + k_drain_after_exit);
    }
    return wake;
  }

  void wait_for_output(SteadyClock::time_point until) {
    const auto left = std::chrono::ceil<milliseconds>(until - SteadyClock::now());
    const int timeout_ms = static_cast<int>(std::max<milliseconds::rep>(left.count(), 0));
    pollfd fd{m_output.get(), POLLIN, 0};
    const nfds_t count = m_output.get() >= 0 ? 1 : 0;
    // EINTR just means another turn of the loop.
    if (::poll(&fd, count, timeout_ms) > 0 && fd.revents != 0) {
      read_output();
    }
  }

  void read_output() {
    std::array<char, 65'536> buffer{};
    const ssize_t n = ::read(m_output.get(), buffer.data(), buffer.size());
    if (n > 0) {
      m_sink.feed(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
    } else if (n == 0 || errno != EINTR) {
      // End of output usually means the command is exiting: look for that quickly again.
      m_output.reset();
      m_slice = k_min_slice;
    }
  }

  Child& m_child;
  UniqueFd m_output;
  OutputSink& m_sink;
  SteadyClock::time_point m_deadline;
  milliseconds m_grace;
  SteadyClock::time_point m_exited_at{};
  SteadyClock::time_point m_kill_at{};
  bool m_term_sent = false;
  bool m_kill_sent = false;
  milliseconds m_slice = k_min_slice;
};

CommandResult cannot_start(CommandResult result, const std::vector<std::string>& argv,
                           const std::string& problem) {
  result.start_error =
      "cannot start " + (argv.empty() ? std::string("command") : argv[0]) + ": " + problem;
  return result;
}

} // namespace

CommandResult ProcessRunner::run(const std::vector<std::string>& argv,
                                 const std::vector<std::string>& extra_env, milliseconds timeout,
                                 const LineHandler& on_output_line) {
  const SteadyClock::time_point start = SteadyClock::now();
  CommandResult result;
  if (argv.empty()) {
    return cannot_start(std::move(result), argv, "empty argv");
  }
  std::array<int, 2> fds{-1, -1};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
    return cannot_start(std::move(result), argv, "pipe: " + errno_text(errno));
  }
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  SpawnSetup setup;
  if (const int err = setup.configure(write_end.get()); err != 0) {
    return cannot_start(std::move(result), argv, "posix_spawn setup: " + errno_text(err));
  }
  std::vector<std::string> args = argv;
  std::vector<std::string> env = hook_environment(own_environment(), extra_env);
  pid_t pid = -1;
  const int err = ::posix_spawnp(&pid, args[0].c_str(), setup.actions(), setup.attributes(),
                                 c_array(args).data(), c_array(env).data());
  write_end.reset(); // the child has its copy; ours would keep end-of-output from ever coming
  if (err != 0) {
    return cannot_start(std::move(result), argv, errno_text(err));
  }
  result.started = true;
  Child child(pid);
  OutputSink sink(on_output_line);
  Supervisor supervisor(child, read_end.release(), sink, saturating_add(start, timeout),
                        m_kill_grace);
  result.timed_out = supervisor.supervise();
  child.fill(result);
  result.output_tail = sink.tail();
  result.duration = std::chrono::duration_cast<milliseconds>(SteadyClock::now() - start);
  return result;
}

std::vector<std::string> hook_environment(const std::vector<std::string>& parent,
                                          const std::vector<std::string>& extra_env) {
  const std::set<std::string> listed = listed_names(parent);
  std::map<std::string_view, std::string_view> by_name;
  for (const std::string& entry : parent) {
    const std::string_view name = name_of(entry);
    if (entry.find('=') != std::string::npos &&
        (allow_listed(name) || listed.contains(std::string(name)))) {
      by_name[name] = entry;
    }
  }
  for (const std::string& entry : extra_env) {
    by_name[name_of(entry)] = entry;
  }
  std::vector<std::string> merged;
  merged.reserve(by_name.size());
  for (const auto& [name, entry] : by_name) {
    merged.emplace_back(entry);
  }
  return merged;
}

std::vector<std::string> substitute_placeholders(const std::vector<std::string>& argv,
                                                 const std::map<std::string, std::string>& values) {
  std::vector<std::string> substituted;
  substituted.reserve(argv.size());
  for (const std::string& arg : argv) {
    if (arg.size() >= 2 && arg.front() == '{' && arg.back() == '}') {
      const auto it = values.find(arg.substr(1, arg.size() - 2));
      if (it != values.end()) {
        substituted.push_back(it->second);
        continue;
      }
    }
    substituted.push_back(arg);
  }
  return substituted;
}

} // namespace probe::util
