// The one exception type probe's setup code throws. A failed check is data (CheckResult), not an
// exception; Error is for what stops a command: a bad config, a bad flag, an unreachable event
// store. It carries its context already formatted ("probe.yaml:3:5: targets[0].url: ...") and
// is caught once, in cli::run(), which prints it and returns the contract's exit code.
#pragma once

#include <stdexcept>
#include <string>

namespace probe {

class Error : public std::runtime_error {
public:
  // `exit_code` is what the command returns when this error reaches run(); 2 = usage/config.
  explicit Error(const std::string& message, int exit_code = 2)
      : std::runtime_error(message), m_exit_code(exit_code) {}

  int exit_code() const { return m_exit_code; }

private:
  int m_exit_code;
};

} // namespace probe
