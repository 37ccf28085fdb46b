// Live progress of a gate or a verification window on stderr, shared by `probe wait` and
// `probe deploy verify`: on a TTY one line per target, redrawn each poll; in a pipe (a deploy
// script's log) a plain line each time a target's result or streak changes, and during a
// watch a line every 10 s saying how long is left, so a long window is never silent. Text from
// targets and sidecars is shown terminal-safe.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <ostream>
#include <string>

#include "probe/engine/gate.hpp"

namespace probe::cli {

class Progress {
public:
  // Lines start with `prefix` ("wait: "); `tty` redraws in place.
  Progress(std::ostream& out, std::string prefix, bool tty);

  // After a gate round.
  void update(const std::optional<engine::GateTracker>& tracker);
  // After a verification-window round, with the time left in the window.
  void watch(const std::optional<engine::GateTracker>& tracker, std::chrono::milliseconds left);

  // One target as a line: "ok   api 2/3  GET /health -> 200".
  static std::string describe(const engine::GateTarget& target, int required);

private:
  void changes(const engine::GateTracker& tracker);
  void redraw(const engine::GateTracker& tracker, const std::string& header);

  std::ostream& m_out;
  std::string m_prefix;
  bool m_tty;
  std::size_t m_drawn = 0;
  std::map<std::string, std::string> m_last;
  std::optional<std::chrono::milliseconds> m_last_left_line; // time left at the last such line
};

} // namespace probe::cli
