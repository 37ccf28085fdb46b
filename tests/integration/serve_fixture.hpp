// Starting a real `probe serve` for a test: writes the config, runs the binary on port 0,
// reads the port back from its log, and stops it with SIGTERM at the end. Its waits and the
// client's timeouts only catch a hang (tests/support/bounds.hpp): a loaded machine may be slow.
#pragma once

#include <chrono>
#include <csignal>
#include <memory>
#include <regex>
#include <string>

#include <gtest/gtest.h>
#include <httplib.h>

#include "tests/support/background_process.hpp"
#include "tests/support/bounds.hpp"
#include "tests/support/subprocess.hpp"

namespace probe::tests {

class RunningProbe {
public:
  // Starts probe serve with `config_yaml` written to `dir`/probe.yaml; `env` adds "NAME=value"
  // entries to its environment.
  RunningProbe(const fakes::TempDir& dir, const std::string& config_yaml,
               const std::vector<std::string>& extra_args = {},
               const std::vector<std::string>& env = {})
      : m_config_path(dir.write("probe.yaml", config_yaml)) {
    std::vector<std::string> argv{PROBE_BINARY,  "serve",    "--config",
                                  m_config_path, "--listen", "127.0.0.1:0"};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    m_process = std::make_unique<fakes::BackgroundProcess>(argv, dir.path() + "/serve.log", env);
    // Compiled once: compiling fills libstdc++'s lazy ctype<char>::narrow cache, a race TSan
    // reports when two threads start replicas at once (test_multi_host.cpp); reading it is not.
    static const std::regex listening("listening on 127\\.0\\.0\\.1:([0-9]+)");
    const bool started = fakes::eventually(
        [&] {
          std::smatch match;
          const std::string log = m_process->log();
          if (std::regex_search(log, match, listening)) {
            m_port = std::stoi(match[1]);
            return true;
          }
          return !m_process->running();
        },
        test_support::k_event_deadline);
    if (!started || m_port == 0) {
      throw std::runtime_error("probe serve did not start: " + m_process->log());
    }
  }

  int port() const { return m_port; }
  const std::string& config_path() const { return m_config_path; }
  fakes::BackgroundProcess& process() { return *m_process; }

  httplib::Client client() const {
    httplib::Client client("127.0.0.1", m_port);
    client.set_connection_timeout(std::chrono::seconds(10));
    client.set_read_timeout(std::chrono::seconds(30));
    return client;
  }

  // GET `path`; status 0 when the request failed.
  std::pair<int, std::string> get(const std::string& path) const {
    httplib::Client c = client();
    const httplib::Result result = c.Get(path);
    return result ? std::make_pair(result->status, result->body) : std::make_pair(0, std::string());
  }

  std::pair<int, std::string> post(const std::string& path, const std::string& token,
                                   const std::string& body = "") const {
    httplib::Client c = client();
    httplib::Headers headers;
    if (!token.empty()) {
      headers.emplace("Authorization", "Bearer " + token);
    }
    const httplib::Result result = c.Post(path, headers, body, "application/json");
    return result ? std::make_pair(result->status, result->body) : std::make_pair(0, std::string());
  }

  // The value of the first sample line starting with `series` in /metrics, or NaN.
  double metric(const std::string& series) const {
    const std::string text = get("/metrics").second;
    std::size_t pos = 0;
    while ((pos = text.find(series, pos)) != std::string::npos) {
      const bool at_line_start = pos == 0 || text[pos - 1] == '\n';
      const std::size_t after = pos + series.size();
      if (at_line_start && after < text.size() && text[after] == ' ') {
        return std::stod(text.substr(after + 1, text.find('\n', after) - after - 1));
      }
      pos = after;
    }
    return std::nan("");
  }

private:
  std::string m_config_path;
  std::unique_ptr<fakes::BackgroundProcess> m_process;
  int m_port = 0;
};

} // namespace probe::tests
