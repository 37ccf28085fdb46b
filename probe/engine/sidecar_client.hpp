// Talking to a running `probe serve` from the command line (`--url`): `probe wait`, and
// `probe deploy verify | record | list` through the sidecar. One place decides what the user
// meant by the URL (its base, with a pasted /status or /ready dropped), what a failure is called
// ("connection refused", "TLS handshake failed: wrong version number", "no answer within 5s",
// the server's own {"error": ...} text), and which failures are worth retrying: a sidecar that
// restarts during a deploy refuses connections for a few seconds, which is normal, while a 404
// or an answer that is not JSON means the URL does not lead to a probe, which no retry fixes.
//
// On top of the HTTP part, typed calls: status() reads GET /status into the StatusWire that
// `probe serve` writes, so no caller parses a body by hand. The /deploys calls speak
// DeployEvent, which lives in probe/deploy/ (to the right of engine/): they are added by
// deploy::DeploySidecarClient (deploy/sidecar_recorder.hpp), which extends this class with the
// same typed-call machinery.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "probe/engine/status_wire.hpp"
#include "probe/util/json_read.hpp"
#include "probe/util/url.hpp"

namespace probe::engine {

// How long refused connections (and 502/503/504 from a proxy) are retried before a command
// gives up: long enough for the sidecar's container to restart.
inline constexpr std::chrono::milliseconds k_sidecar_grace{10'000};
// The pause between two attempts while retrying.
inline constexpr std::chrono::milliseconds k_sidecar_retry_pause{250};
// How long GET /status may take: it may wait behind a reload's lock; five seconds is a sidecar
// in trouble.
inline constexpr std::chrono::milliseconds k_status_timeout{5'000};

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

// How a typed call retries (SidecarClient::with_retries): failures that may be a restart, for
// `grace` at most; `say` (may be empty) hears the first one once, as "PROBLEM; retrying for up
// to 10s", so a wait is never silent.
struct SidecarRetry {
  std::chrono::milliseconds grace = k_sidecar_grace;
  std::function<void(const std::string&)> say;
};

// A typed call's outcome: the value read from a 2xx answer, or why there is none.
template <typename T> struct SidecarReply {
  std::optional<T> value;
  SidecarAnswer answer; // the last answer; its problem says why when there is no value
  // A 2xx answer whose body is not what probe writes: the URL leads to something else, which
  // no retry fixes ("GET .../status: the answer is not probe's status JSON (...)").
  bool unreadable = false;

  bool ok() const { return value.has_value(); }
  const std::string& problem() const { return answer.problem; }
};

// How deep a sidecar's answer may nest: /status is 3 levels, a /deploys list 3 plus an event's
// details (at most event.hpp's k_max_body_depth).
inline constexpr int k_max_answer_depth = 64;

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

  // GET /status read as probe's status JSON: once, or retried as `retry` says. Waits at most
  // k_status_timeout for each answer.
  SidecarReply<StatusWire> status(const std::optional<SidecarRetry>& retry = std::nullopt) const;

protected:
  // A reader of one answer's JSON: the value, or nullopt with the error naming the field.
  template <typename T>
  using WireReader = std::function<std::optional<T>(const nlohmann::json&, std::string* error)>;

  // Sends through `send` (retried as `retry` says) and reads a 2xx answer's body with `read`;
  // when it cannot, the reply is unreadable and its problem "`asked`: the answer is not probe's
  // `what` (why; is BASE a probe serve?)". `asked` is "GET http://probe:9464/status".
  template <typename T>
  SidecarReply<T> typed_call(const std::string& asked, std::string_view what,
                             const std::function<SidecarAnswer()>& send,
                             const std::optional<SidecarRetry>& retry,
                             const WireReader<T>& read) const {
    SidecarReply<T> reply;
    reply.answer = attempt(send, retry);
    if (!reply.answer.ok()) {
      return reply;
    }
    std::string why;
    const nlohmann::json body =
        util::parse_json_bounded(reply.answer.body, k_max_answer_depth, &why);
    if (!body.is_discarded()) {
      reply.value = read(body, &why);
    }
    if (!reply.value) {
      reply.unreadable = true;
      reply.answer.problem = not_probe(asked, what, body.is_discarded() ? "" : why);
    }
    return reply;
  }

private:
  // `send` once, or through with_retries() as `retry` says.
  static SidecarAnswer attempt(const std::function<SidecarAnswer()>& send,
                               const std::optional<SidecarRetry>& retry);
  // "`asked`: the answer is not probe's `what` (`why`; is BASE a probe serve?)".
  std::string not_probe(const std::string& asked, std::string_view what,
                        const std::string& why) const;

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
