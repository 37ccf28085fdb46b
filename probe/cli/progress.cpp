// Gate and watch progress; see progress.hpp.
#include "probe/cli/progress.hpp"

#include <algorithm>

#include "probe/util/duration.hpp"
#include "probe/util/strings.hpp"
#include "probe/util/terminal.hpp"

namespace probe::cli {
namespace {

// In a pipe, a line this often while a verification window runs.
constexpr std::chrono::seconds k_watch_line_every{10};

std::string whole_seconds(std::chrono::milliseconds left) {
  return util::format_duration(
      std::chrono::duration_cast<std::chrono::seconds>(left + std::chrono::milliseconds(999)));
}

} // namespace

Progress::Progress(std::ostream& out, std::string prefix, bool tty)
    : m_out(out), m_prefix(std::move(prefix)), m_tty(tty) {}

std::string Progress::describe(const engine::GateTarget& target, int required) {
  const std::string mark = !target.seen ? "..  " : target.last_ok ? "ok  " : "FAIL";
  return mark + " " + target.name + " " + std::to_string(std::min(target.streak, required)) + "/" +
         std::to_string(required) + (target.critical ? "" : " (non-critical)") +
         (target.last_detail.empty()
              ? ""
              : "  " + util::terminal_safe(util::truncate(target.last_detail, 100)));
}

void Progress::update(const std::optional<engine::GateTracker>& tracker) {
  if (!tracker) {
    return;
  }
  if (m_tty) {
    redraw(*tracker, "");
    return;
  }
  changes(*tracker);
}

void Progress::watch(const std::optional<engine::GateTracker>& tracker,
                     std::chrono::milliseconds left) {
  if (!tracker) {
    return;
  }
  const std::string header = "watching: " + whole_seconds(left) + " left";
  if (m_tty) {
    redraw(*tracker, header);
    return;
  }
  changes(*tracker);
  if (!m_last_left_line || *m_last_left_line - left >= k_watch_line_every) {
    const bool all_up = tracker->down().empty();
    m_out << m_prefix << header
          << (all_up ? ", no critical target down" : ", a critical target is down") << "\n";
    m_out.flush();
    m_last_left_line = left;
  }
}

void Progress::changes(const engine::GateTracker& tracker) {
  for (const engine::GateTarget& target : tracker.targets()) {
    std::string& previous = m_last[target.name];
    const std::string key = (target.last_ok ? "pass " : "fail ") +
                            std::to_string(std::min(target.streak, tracker.required()));
    if (key != previous && target.seen) {
      m_out << m_prefix << describe(target, tracker.required()) << "\n";
      previous = key;
    }
  }
  m_out.flush();
}

void Progress::redraw(const engine::GateTracker& tracker, const std::string& header) {
  if (m_drawn > 0) {
    m_out << "\033[" << m_drawn << "F"; // back to the first line drawn
  }
  std::size_t lines = 0;
  if (!header.empty()) {
    m_out << "\033[2K" << m_prefix << header << "\n";
    ++lines;
  }
  for (const engine::GateTarget& target : tracker.targets()) {
    m_out << "\033[2K" << describe(target, tracker.required()) << "\n";
    ++lines;
  }
  m_drawn = lines;
  m_out.flush();
}

} // namespace probe::cli
