// probe serve's HTTP/1.1 request parser: pure (no sockets, no clock), incremental and strict.
// The server feeds it every byte received for the current request so far and gets back
// "incomplete", "complete: this request took N bytes" or "error: answer STATUS, because, and
// close". Strict because a lenient parser is how request smuggling and token tricks start: two
// differing Content-Lengths, Content-Length beside chunked, a NUL cutting a header value, a
// folded header line — each is refused here, with the status RFC 9112 / RFC 9110 name, before
// any route sees the request. A request without Content-Length and Transfer-Encoding has an
// empty body (RFC 9112 6.3), which is what `curl -X POST` sends. The target is kept raw: routes
// match the bytes sent, never a percent-decoded form (`/-/%72eload` is not `/-/reload`).
// Incremental in linear time: each call resumes where the previous one stopped, so a request
// trickled a byte at a time costs no more to parse than one sent at once.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace probe::serve {

// The request line (method, target, version and the line end).
inline constexpr std::size_t k_max_request_line_bytes = 8 * 1024;
// The header field lines after the request line, line ends included.
inline constexpr std::size_t k_max_header_section_bytes = 16 * 1024;
inline constexpr std::size_t k_max_header_fields = 100;
// The body after chunked decoding; decided from Content-Length before a byte of it is read.
inline constexpr std::size_t k_max_body_bytes = 64 * 1024;
// Chunked framing around the body: chunk-size lines, extensions, the line ends after each chunk
// and the trailer section. Bounds the work a body of one-byte chunks can cause.
inline constexpr std::size_t k_max_chunk_framing_bytes = 16 * 1024;

// Header fields in the order received; names compare case-insensitively.
class Headers {
public:
  void add(std::string name, std::string value);
  // The value of the first field named `name`, or nullptr when there is none.
  const std::string* find(std::string_view name) const;
  // How many fields are named `name`.
  std::size_t count(std::string_view name) const;
  // Every value of `name` joined with ", " (RFC 9110 5.3); "" when there is none.
  std::string combined(std::string_view name) const;
  // Whether the comma-separated list in the `name` fields holds `token` (case-insensitive).
  bool has_token(std::string_view name, std::string_view token) const;
  const std::vector<std::pair<std::string, std::string>>& fields() const { return m_fields; }

private:
  std::vector<std::pair<std::string, std::string>> m_fields;
};

struct Request {
  std::string method;
  std::string target;    // as sent; never percent-decoded
  std::string path;      // the target's path, raw; for an absolute-form target the part after
                         // the authority ("/" when empty)
  std::string query;     // after the first '?', raw; "" when there is none
  int minor_version = 1; // HTTP/1.<minor_version>: 0 or 1
  Headers headers;
  std::string body; // decoded when chunked

  // HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`.
  bool keep_alive() const;
  // An HTTP/1.1 request with `Expect: 100-continue` (HTTP/1.0 clients never wait for it).
  bool expects_continue() const;
};

enum class ParseState { incomplete, complete, error };

struct ParseResult {
  ParseState state = ParseState::incomplete;
  std::size_t consumed = 0; // complete: how many bytes of the input this request took
  int status = 0;           // error: the status to answer with
  std::string reason;       // error: why, for the answer's {"error": ...}
  bool close = true;        // error: the connection must close (the framing is unknown)
};

class RequestParser {
public:
  // Parses the request at the start of `input`, which holds every byte received for it so far:
  // what the previous call saw and maybe more (never less, never different). Returns complete
  // or error again when called after either.
  ParseResult parse(std::string_view input);

  // True once the head (request line and header fields) is parsed and valid: request() then
  // has everything but the body, so a server can decide on `Expect: 100-continue`.
  bool head_complete() const { return m_phase > Phase::headers && m_phase != Phase::failed; }
  // The request parsed so far; whole once parse() answered complete.
  const Request& request() const { return m_request; }
  // Moves the complete request out; the parser must then be reset before the next request.
  Request take_request() { return std::move(m_request); }
  // Ready for the next request on the same connection.
  void reset() { *this = RequestParser(); }

private:
  enum class Phase {
    request_line,
    headers,
    body_length,
    chunk_size,
    chunk_data,
    trailers,
    done,
    failed
  };

  ParseResult fail(int status, std::string reason);
  ParseResult done(std::size_t consumed);
  // The next line ending at or after m_pos, without its line end; false when none is there
  // yet. A CR not directly before the LF is a bare CR, refused by the caller's checks.
  bool next_line(std::string_view input, std::string_view* line, std::size_t* line_bytes);
  bool parse_request_line(std::string_view line, ParseResult* error);
  bool parse_field_line(std::string_view line, bool trailer, ParseResult* error);
  bool finish_head(ParseResult* error);
  bool parse_chunk_size(std::string_view line, ParseResult* error);

  Phase m_phase = Phase::request_line;
  std::size_t m_pos = 0;     // bytes of the input consumed so far
  std::size_t m_scanned = 0; // bytes searched for the next LF (never searched twice)
  std::size_t m_leading = 0; // empty lines before the request line (RFC 9112 2.2)
  std::size_t m_header_bytes = 0;
  std::size_t m_body_length = 0;   // Content-Length
  std::size_t m_chunk_left = 0;    // bytes of the current chunk still to come
  std::size_t m_framing_bytes = 0; // chunked framing read so far
  Request m_request;
  ParseResult m_result; // once complete or failed
};

// The request at the start of `input` in one call (tests, the fuzz target); `request` receives
// it when the answer is complete.
ParseResult parse_request(std::string_view input, Request* request);

} // namespace probe::serve
