// The request parser; see http_request.hpp. Each rule cites the RFC section it follows.
#include "probe/serve/http_request.hpp"

#include <algorithm>
#include <limits>

#include "probe/util/hex.hpp"

namespace probe::serve {
namespace {

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

bool starts_with_icase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

// RFC 9110 5.6.2: tchar.
bool is_tchar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
    return true;
  }
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), is_tchar);
}

// RFC 9110 5.5: a field value holds visible characters, SP, HTAB and obs-text; never NUL, CR,
// LF or another control character.
bool is_field_value_char(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return byte == '\t' || (byte >= 0x20 && byte != 0x7f);
}

std::string_view trim_ows(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

// The comma-separated members of a list field (RFC 9110 5.6.1), trimmed; empty members kept so
// that `Content-Length: 5,` is refused rather than read as 5.
std::vector<std::string_view> list_members(std::string_view value) {
  std::vector<std::string_view> members;
  while (true) {
    const std::size_t comma = value.find(',');
    members.push_back(trim_ows(value.substr(0, comma)));
    if (comma == std::string_view::npos) {
      return members;
    }
    value.remove_prefix(comma + 1);
  }
}

constexpr std::size_t k_max_leading_empty_lines = 4;

} // namespace

void Headers::add(std::string name, std::string value) {
  m_fields.emplace_back(std::move(name), std::move(value));
}

const std::string* Headers::find(std::string_view name) const {
  for (const auto& [field, value] : m_fields) {
    if (iequals(field, name)) {
      return &value;
    }
  }
  return nullptr;
}

std::size_t Headers::count(std::string_view name) const {
  return static_cast<std::size_t>(
      std::count_if(m_fields.begin(), m_fields.end(),
                    [&](const auto& field) { return iequals(field.first, name); }));
}

std::string Headers::combined(std::string_view name) const {
  std::string joined;
  bool first = true;
  for (const auto& [field, value] : m_fields) {
    if (iequals(field, name)) {
      // An empty value is a member too: `Content-Length:` then `Content-Length: 2` is ", 2".
      if (!first) {
        joined += ", ";
      }
      joined += value;
      first = false;
    }
  }
  return joined;
}

bool Headers::has_token(std::string_view name, std::string_view token) const {
  for (const auto& [field, value] : m_fields) {
    if (!iequals(field, name)) {
      continue;
    }
    for (const std::string_view member : list_members(value)) {
      if (iequals(member, token)) {
        return true;
      }
    }
  }
  return false;
}

bool Request::keep_alive() const {
  if (headers.has_token("Connection", "close")) {
    return false;
  }
  return minor_version >= 1 || headers.has_token("Connection", "keep-alive");
}

bool Request::expects_continue() const {
  const std::string* expect = headers.find("Expect");
  return minor_version >= 1 && expect != nullptr && iequals(*expect, "100-continue");
}

ParseResult RequestParser::fail(int status, std::string reason) {
  m_phase = Phase::failed;
  m_result = ParseResult{ParseState::error, 0, status, std::move(reason), true};
  return m_result;
}

ParseResult RequestParser::done(std::size_t consumed) {
  m_phase = Phase::done;
  m_result = ParseResult{ParseState::complete, consumed, 0, {}, false};
  return m_result;
}

bool RequestParser::next_line(std::string_view input, std::string_view* line,
                              std::size_t* line_bytes) {
  const std::size_t from = std::max(m_pos, m_scanned);
  const std::size_t lf = input.find('\n', from);
  if (lf == std::string_view::npos) {
    m_scanned = input.size();
    return false;
  }
  m_scanned = lf + 1;
  *line = input.substr(m_pos, lf - m_pos);
  *line_bytes = lf + 1 - m_pos;
  // RFC 9112 2.2: CRLF, or a lone LF; a CR elsewhere is refused where the line is checked.
  if (!line->empty() && line->back() == '\r') {
    line->remove_suffix(1);
  }
  return true;
}

// RFC 9112 3: method SP request-target SP HTTP-version.
bool RequestParser::parse_request_line(std::string_view line, ParseResult* error) {
  if (line.size() > k_max_request_line_bytes) {
    *error = fail(414, "request line over 8 KiB");
    return false;
  }
  const std::size_t first = line.find(' ');
  const std::size_t second = first == std::string_view::npos ? first : line.find(' ', first + 1);
  if (second == std::string_view::npos || line.find(' ', second + 1) != std::string_view::npos) {
    *error = fail(400, "request line: not METHOD SP TARGET SP HTTP/1.x");
    return false;
  }
  const std::string_view method = line.substr(0, first);
  const std::string_view target = line.substr(first + 1, second - first - 1);
  const std::string_view version = line.substr(second + 1);
  if (!is_token(method)) {
    *error = fail(400, "request line: the method is not a token");
    return false;
  }
  const bool version_shape = version.size() == 8 && version.substr(0, 5) == "HTTP/" &&
                             version[5] >= '0' && version[5] <= '9' && version[6] == '.' &&
                             version[7] >= '0' && version[7] <= '9';
  if (!version_shape) {
    *error = fail(400, "request line: the version is not HTTP/1.x");
    return false;
  }
  if (version != "HTTP/1.0" && version != "HTTP/1.1") {
    *error = fail(505, "HTTP version not supported (HTTP/1.0 and HTTP/1.1 are)");
    return false;
  }
  // RFC 9112 3.2: visible ASCII only; a fragment is never sent.
  for (const char c : target) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7f || c == '#') {
      *error = fail(400, "request target: a character not allowed in a URI");
      return false;
    }
  }
  std::string_view path_and_query;
  if (!target.empty() && target.front() == '/') {
    path_and_query = target; // origin-form
  } else if (starts_with_icase(target, "http://") || starts_with_icase(target, "https://")) {
    // absolute-form (RFC 9112 3.2.2): the authority is not used for routing.
    const std::string_view rest = target.substr(target.find("//") + 2);
    const std::size_t authority_end = rest.find_first_of("/?");
    const std::string_view authority = rest.substr(0, authority_end);
    if (authority.empty() || authority.find('@') != std::string_view::npos) {
      *error = fail(400, "request target: an absolute URI needs a host and no user info");
      return false;
    }
    path_and_query = authority_end == std::string_view::npos ? "" : rest.substr(authority_end);
  } else {
    *error = fail(400, "request target: not a path (origin-form) or an absolute http URI");
    return false;
  }
  const std::size_t question = path_and_query.find('?');
  std::string_view path = path_and_query.substr(0, question);
  m_request.method = std::string(method);
  m_request.target = std::string(target);
  m_request.path = path.empty() ? "/" : std::string(path);
  m_request.query =
      question == std::string_view::npos ? "" : std::string(path_and_query.substr(question + 1));
  m_request.minor_version = version[7] - '0';
  return true;
}

// RFC 9112 5: field-name ":" OWS field-value OWS.
bool RequestParser::parse_field_line(std::string_view line, bool trailer, ParseResult* error) {
  if (line.front() == ' ' || line.front() == '\t') {
    *error = fail(400, "header: a folded line (obs-fold) is not accepted");
    return false;
  }
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) {
    *error = fail(400, "header: a line without ':'");
    return false;
  }
  const std::string_view name = line.substr(0, colon);
  if (!name.empty() && (name.back() == ' ' || name.back() == '\t')) {
    *error = fail(400, "header: whitespace before ':'");
    return false;
  }
  if (!is_token(name)) {
    *error = fail(400, "header: the field name is not a token");
    return false;
  }
  const std::string_view value = trim_ows(line.substr(colon + 1));
  if (!std::all_of(value.begin(), value.end(), is_field_value_char)) {
    *error = fail(400, std::string(trailer ? "trailer " : "header ") + std::string(name) +
                           ": a control character in the value");
    return false;
  }
  if (!trailer) {
    m_request.headers.add(std::string(name), std::string(value));
    if (m_request.headers.fields().size() > k_max_header_fields) {
      *error = fail(431, "more than 100 header fields");
      return false;
    }
  }
  return true;
}

// What the whole head says about the request: Host, the body's framing, Expect.
bool RequestParser::finish_head(ParseResult* error) {
  const Headers& headers = m_request.headers;
  // RFC 9112 3.2: exactly one Host in HTTP/1.1; never two.
  const std::size_t hosts = headers.count("Host");
  if (hosts > 1 || (m_request.minor_version == 1 && hosts == 0)) {
    *error = fail(400, hosts > 1 ? "Host: more than one" : "Host: missing (required in HTTP/1.1)");
    return false;
  }
  const bool chunked = headers.count("Transfer-Encoding") > 0;
  const bool length = headers.count("Content-Length") > 0;
  // RFC 9112 6.1 and 6.3: both together is how requests are smuggled past a proxy.
  if (chunked && length) {
    *error = fail(400, "Content-Length and Transfer-Encoding together");
    return false;
  }
  if (chunked) {
    if (m_request.minor_version == 0) {
      *error = fail(400, "Transfer-Encoding in an HTTP/1.0 request");
      return false;
    }
    const std::string transfer_encoding = headers.combined("Transfer-Encoding");
    const std::vector<std::string_view> codings = list_members(transfer_encoding);
    if (codings.size() != 1 || !iequals(codings.front(), "chunked")) {
      *error = fail(501, "Transfer-Encoding: only chunked is supported");
      return false;
    }
    m_phase = Phase::chunk_size;
  } else if (length) {
    // RFC 9110 8.6: a list of identical values is one value; differing values are an error.
    std::size_t value = 0;
    bool first = true;
    const std::string content_length = headers.combined("Content-Length");
    for (const std::string_view member : list_members(content_length)) {
      if (member.empty() ||
          !std::all_of(member.begin(), member.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        *error = fail(400, "Content-Length: not a number");
        return false;
      }
      std::size_t parsed = 0;
      for (const char c : member) {
        // Saturates: any length this large is refused as too large below.
        parsed = parsed > k_max_body_bytes * 10 ? parsed : parsed * 10 + (c - '0');
      }
      if (!first && parsed != value) {
        *error = fail(400, "Content-Length: differing values");
        return false;
      }
      value = parsed;
      first = false;
    }
    if (value > k_max_body_bytes) {
      *error = fail(413, "request body over 64 KiB");
      return false;
    }
    m_body_length = value;
    m_phase = Phase::body_length;
  } else {
    m_phase = Phase::body_length; // RFC 9112 6.3: neither -> no body
    m_body_length = 0;
  }
  // RFC 9110 10.1.1: 100-continue is the only expectation; HTTP/1.0 requests' is ignored.
  if (m_request.minor_version == 1 && headers.count("Expect") > 0 &&
      !iequals(headers.combined("Expect"), "100-continue")) {
    *error = fail(417, "Expect: only 100-continue is supported");
    return false;
  }
  return true;
}

// RFC 9112 7.1: chunk-size [ chunk-ext ] CRLF.
bool RequestParser::parse_chunk_size(std::string_view line, ParseResult* error) {
  std::size_t digits = 0;
  std::size_t size = 0;
  while (digits < line.size() && util::hex_digit_value(line[digits]) >= 0) {
    size = size > k_max_body_bytes
               ? size
               : size * 16 + static_cast<std::size_t>(util::hex_digit_value(line[digits]));
    ++digits;
  }
  if (digits == 0) {
    *error = fail(400, "chunked body: a chunk size is not hexadecimal");
    return false;
  }
  const std::string_view rest = trim_ows(line.substr(digits));
  if (!rest.empty() &&
      (rest.front() != ';' || !std::all_of(rest.begin(), rest.end(), is_field_value_char))) {
    *error = fail(400, "chunked body: a bad chunk size line");
    return false;
  }
  if (size == 0) {
    m_phase = Phase::trailers;
    return true;
  }
  if (size > k_max_body_bytes - m_request.body.size()) {
    *error = fail(413, "request body over 64 KiB");
    return false;
  }
  m_chunk_left = size;
  m_phase = Phase::chunk_data;
  return true;
}

ParseResult RequestParser::parse(std::string_view input) {
  if (m_phase == Phase::done || m_phase == Phase::failed) {
    return m_result;
  }
  ParseResult error;
  while (true) {
    std::string_view line;
    std::size_t line_bytes = 0;
    switch (m_phase) {
    case Phase::request_line:
      if (!next_line(input, &line, &line_bytes)) {
        // Room for the line end after a line of the largest size.
        if (input.size() - m_pos > k_max_request_line_bytes + 2) {
          return fail(414, "request line over 8 KiB");
        }
        return {};
      }
      m_pos += line_bytes;
      if (line.empty()) {
        // RFC 9112 2.2: empty lines before a request line are ignored (a few of them).
        if (++m_leading > k_max_leading_empty_lines) {
          return fail(400, "empty lines where a request line was expected");
        }
        continue;
      }
      if (!parse_request_line(line, &error)) {
        return error;
      }
      m_phase = Phase::headers;
      continue;
    case Phase::headers:
      if (!next_line(input, &line, &line_bytes)) {
        if (m_header_bytes + (input.size() - m_pos) > k_max_header_section_bytes) {
          return fail(431, "header section over 16 KiB");
        }
        return {};
      }
      m_pos += line_bytes;
      m_header_bytes += line_bytes;
      if (m_header_bytes > k_max_header_section_bytes) {
        return fail(431, "header section over 16 KiB");
      }
      if (line.empty()) {
        if (!finish_head(&error)) {
          return error;
        }
        continue;
      }
      if (!parse_field_line(line, false, &error)) {
        return error;
      }
      continue;
    case Phase::body_length:
      if (input.size() - m_pos < m_body_length) {
        return {};
      }
      m_request.body.assign(input.substr(m_pos, m_body_length));
      return done(m_pos + m_body_length);
    case Phase::chunk_size:
    case Phase::trailers:
      if (!next_line(input, &line, &line_bytes)) {
        if (m_framing_bytes + (input.size() - m_pos) > k_max_chunk_framing_bytes) {
          return fail(413, "chunked body: framing over 16 KiB");
        }
        return {};
      }
      m_pos += line_bytes;
      m_framing_bytes += line_bytes;
      if (m_framing_bytes > k_max_chunk_framing_bytes) {
        return fail(413, "chunked body: framing over 16 KiB");
      }
      if (m_phase == Phase::trailers) {
        if (line.empty()) {
          return done(m_pos); // RFC 9112 7.1.2: trailers are read and dropped
        }
        if (!parse_field_line(line, true, &error)) {
          return error;
        }
        continue;
      }
      if (!parse_chunk_size(line, &error)) {
        return error;
      }
      continue;
    case Phase::chunk_data: {
      // The chunk, then CRLF (or LF); waits for all of it, so each call costs O(1) here.
      const std::size_t available = input.size() - m_pos;
      if (available < m_chunk_left + 1) {
        return {};
      }
      std::size_t end_bytes = 0;
      const char after = input[m_pos + m_chunk_left];
      if (after == '\n') {
        end_bytes = 1;
      } else if (after == '\r') {
        if (available < m_chunk_left + 2) {
          return {};
        }
        end_bytes = input[m_pos + m_chunk_left + 1] == '\n' ? 2 : 0;
      }
      if (end_bytes == 0) {
        return fail(400, "chunked body: a chunk is not followed by CRLF");
      }
      m_request.body.append(input.substr(m_pos, m_chunk_left));
      m_pos += m_chunk_left + end_bytes;
      m_scanned = m_pos;
      m_framing_bytes += end_bytes;
      m_chunk_left = 0;
      m_phase = Phase::chunk_size;
      continue;
    }
    case Phase::done:
    case Phase::failed:
      return m_result;
    }
  }
}

ParseResult parse_request(std::string_view input, Request* request) {
  RequestParser parser;
  const ParseResult result = parser.parse(input);
  if (result.state == ParseState::complete && request != nullptr) {
    *request = parser.take_request();
  }
  return result;
}

} // namespace probe::serve
