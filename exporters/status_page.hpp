// The status page (GET /): one HTML document for people, rendered on the server from plain data
// — the readiness verdict, each target's state, history bar, uptime and latency sparkline, the
// deployed SHA and the last deploy events, the config reload state. A pure function: no clock, no
// I/O; the sidecar gathers a StatusPageInput and the router sends the string.
//
// Everything shown that came from outside (target names, check details, every event field, the
// repository URL) passes html_text(): made valid UTF-8 (U+FFFD for a bad byte), control and
// bidi characters shown as escapes, then & < > " ' escaped. Check details are masked with
// config::scrub exactly as /status masks them. The page fetches nothing: CSS inline, charts
// inline SVG, and one small inline script (a reload every 30 s, allowed by its hash in the
// Content-Security-Policy, status_page_csp()); without JavaScript the page reads the same.
// Every link to probe's own endpoints is relative ("status", not "/status") so the page works
// behind a proxy under a path prefix.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probe/deploy/event.hpp"
#include "probe/engine/scheduler.hpp"

namespace probe::exporters {

// The config as loaded and reloaded.
struct ReloadState {
  std::chrono::system_clock::time_point loaded{}; // when the running config was read
  bool reloaded = false;                          // a reload was tried since start
  bool last_ok = true;                            // the last reload's outcome
  std::chrono::system_clock::time_point last_attempt{};
};

// What the page shows, gathered by the caller.
struct StatusPageInput {
  std::chrono::system_clock::time_point now{};
  engine::Readiness readiness;
  std::vector<engine::TargetView> targets;
  // The deploy log as last read: the release running now and the newest events first.
  bool deploys_read = false;
  std::optional<deploy::DeployEvent> running;
  std::vector<deploy::DeployEvent> deploys;
  ReloadState reload;
  std::string repository_url; // status_page.repository_url ("" = no commit links)
  std::string version;
};

// How many deploy events the page lists.
inline constexpr std::size_t k_status_page_deploys = 10;

// The whole HTML document.
std::string render_status_page(const StatusPageInput& input);

// `text` made valid, visible, one-line UTF-8 and escaped for HTML text and attribute values.
std::string html_text(std::string_view text);

// The link of `sha` in `repository_url`, or "" when there is none (no URL, or a SHA that is not
// 7 to 40 hex digits).
std::string commit_url(const std::string& repository_url, const std::string& sha);

// The page's Content-Security-Policy: nothing from anywhere, inline styles, and only the page's
// own script (by its SHA-256).
const std::string& status_page_csp();

// The page's one inline script, as the policy hashes it.
std::string_view status_page_script();

inline constexpr const char* k_status_page_content_type = "text/html; charset=utf-8";

} // namespace probe::exporters
