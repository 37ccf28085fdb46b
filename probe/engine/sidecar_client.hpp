// Talking to a running `probe serve` from the command line (`--url`): `probe wait`, and
// `probe deploy verify | record | list` through the sidecar. One place decides what the user
// meant by the URL (its base, with a pasted /status or /ready dropped), what a failure is called
// ("connection refused", "TLS handshake failed: wrong version number", "no answer within 5s",
// the server's own {"error": ...} text), and which failures are worth retrying: a sidecar that
// restarts during a deploy refuses connections for a few seconds, which is normal, while a 404
// or an answer that is not JSON means the URL does not lead to a probe, which no retry fixes.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "probe/util/url.hpp"

namespace probe::engine {

// How long refused connections (and 502/503/504 from a proxy) are retried before a command
// gives up: long enough for the sidecar's container to restart.
inline constexpr std::chrono::milliseconds k_sidecar_grace{10'000};
// The pause between two attempts while retrying.
inline constexpr std::chrono::milliseconds k_sidecar_retry_pause{250};

// The sidecar's base URL from what a user typed: http(s) only; trailing '/' and one trailing
// endpoint (/status, /ready, /healthz, /metrics, /deploys) dropped; a query or fragment refused.
// Nullopt with `error` set ("not an http:// or https:// URL") when it cannot be one.
std::optional<std::string> normalise_sidecar_url(std::string_view text, std::string* error);

// One answer, or why there was none.
struct SidecarAnswer {
  int status = 0; // HTTP status; 0 when no answer came
  std::string body;
  // Set unless the status is 2xx: "GET http://probe:9464/status: connection refused",
  // "GET .../deploys?limit=5000: 400: limit: a whole number from 1 to 1000".
  std::string problem;
  bool retryable = false; // no answer (TLS failures aside), or 502/503/504: may be restarting

  bool ok() const { return status >= 200 && status < 300; }
};

class SidecarClient {
public:
  // Throws probe::Error (exit 2) "--url: PROBLEM" when `url` cannot be a sidecar's URL.
  explicit SidecarClient(std::string_view url);

  // The normalised base URL, for messages.
  const std::string& url() const { return m_base; }

  // GET `path` ("/status", "/deploys?limit=20") below the base; waits at most `read_timeout`.
  SidecarAnswer get(const std::string& path, std::chrono::milliseconds read_timeout) const;
  // POST `json` to `path` with `Authorization: Bearer token`.
  SidecarAnswer post(const std::string& path, const std::string& token, const std::string& json,
                     std::chrono::milliseconds read_timeout) const;

  // Calls `send` until its answer is not retryable, or retryable failures have lasted `grace`;
  // `on_first_retry` (may be empty) hears the first retryable problem, so a wait is never
  // silent. The last answer's problem says how long it was retried.
  static SidecarAnswer with_retries(const std::function<SidecarAnswer()>& send,
                                    std::chrono::milliseconds grace,
                                    const std::function<void(const std::string&)>& on_first_retry);

private:
  SidecarAnswer send(const std::string& method, const std::string& path, const std::string& token,
                     const std::string& json, std::chrono::milliseconds read_timeout) const;

  util::Url m_url;
  std::string m_base;   // "http://probe:9464" or "https://proxy/probe"
  std::string m_prefix; // "" or "/probe": the path the sidecar is mounted under
};

// The server's words for a failed answer: the "error" string of a JSON body, else the start of
// the body; terminal-safe, one line, at most 300 bytes; empty for an empty body.
std::string server_reason(const std::string& body);

} // namespace probe::engine
