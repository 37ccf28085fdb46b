// Fuzzes probe serve's request parser (serve::RequestParser) and the routing behind it: the
// first code that reads what any client on the network sends, before a token is checked.
// Properties beyond "no crash": a complete request never consumes more than it was given, nor
// nothing; what is accepted obeys the rules the parser promises (a token method, a path that
// starts with '/', HTTP/1.0 or 1.1, at most 100 fields, no control character in a value, a
// body within 64 KiB and of its Content-Length); an error is one of the statuses the parser
// documents and closes the connection; the answer is the same whether the bytes come at once,
// a byte at a time, or in three pieces (each piece given in an allocation of exactly its size,
// so ASan reports a read past what was received); and route() answers every complete request
// with a route or a 400/404/405 refusal.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "probe/serve/http_request.hpp"
#include "probe/serve/router.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using probe::fuzz::fail;
using probe::fuzz::require;
using probe::serve::ParseResult;
using probe::serve::ParseState;
using probe::serve::Request;
using probe::serve::RequestParser;

bool is_tchar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

void check_complete(std::string_view input, const ParseResult& result, const Request& request) {
  require(result.consumed > 0 && result.consumed <= input.size(),
          "a complete request consumed nothing or more than it was given");
  require(!request.method.empty(), "an empty method");
  for (const char c : request.method) {
    require(is_tchar(c), "a method that is not a token");
  }
  require(!request.path.empty() && request.path.front() == '/', "a path not starting with '/'");
  require(request.minor_version == 0 || request.minor_version == 1, "a version not 1.0/1.1");
  require(request.headers.fields().size() <= probe::serve::k_max_header_fields,
          "more header fields than the limit");
  for (const auto& [name, value] : request.headers.fields()) {
    require(!name.empty(), "an empty field name");
    for (const char c : value) {
      const auto byte = static_cast<unsigned char>(c);
      require(byte == '\t' || (byte >= 0x20 && byte != 0x7f), "a control character in a value");
    }
  }
  require(request.body.size() <= probe::serve::k_max_body_bytes, "a body over the limit");
  if (const std::string* length = request.headers.find("Content-Length")) {
    require(request.body.size() == std::stoul(length->substr(0, length->find(','))),
            "a body whose size is not its Content-Length");
  }
  const probe::serve::RouteResult routed = probe::serve::route(request);
  if (!routed.route) {
    const int status = routed.refusal.status;
    require(status == 400 || status == 404 || status == 405, "route refused with another status");
  }
  if (const std::string* authorization = request.headers.find("Authorization")) {
    (void)probe::serve::Router::authorized(*authorization, "token");
  }
}

void check_error(const ParseResult& result) {
  switch (result.status) {
  case 400:
  case 413:
  case 414:
  case 417:
  case 431:
  case 501:
  case 505:
    break;
  default:
    fail("an error status the parser does not document: " + std::to_string(result.status));
  }
  require(!result.reason.empty(), "an error without a reason");
  require(result.close, "an error that keeps the connection");
}

bool same(const ParseResult& a, const ParseResult& b) {
  return a.state == b.state && a.consumed == b.consumed && a.status == b.status &&
         a.reason == b.reason;
}

// Feeds `input` in pieces ending at `cuts` (each prefix copied into an allocation of exactly
// its size); the last answer.
ParseResult in_pieces(std::string_view input, std::initializer_list<std::size_t> cuts,
                      Request* request) {
  RequestParser parser;
  ParseResult result;
  for (const std::size_t cut : cuts) {
    const std::size_t size = std::min(cut, input.size());
    const std::unique_ptr<char[]> exact(new char[size == 0 ? 1 : size]);
    std::copy(input.begin(), input.begin() + static_cast<std::ptrdiff_t>(size), exact.get());
    result = parser.parse(std::string_view(exact.get(), size));
    if (result.state != ParseState::incomplete) {
      break;
    }
  }
  if (result.state == ParseState::complete) {
    *request = parser.take_request();
  }
  return result;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  Request request;
  const ParseResult whole = probe::serve::parse_request(input, &request);
  if (whole.state == ParseState::complete) {
    check_complete(input, whole, request);
  } else if (whole.state == ParseState::error) {
    check_error(whole);
  } else {
    require(whole.consumed == 0, "an incomplete answer that consumed bytes");
  }

  // The same answer in three pieces, cut where the first two bytes say.
  const std::size_t first = size > 0 ? data[0] * size / 256 : 0;
  const std::size_t second = size > 1 ? first + (data[1] * (size - first)) / 256 : first;
  Request pieced_request;
  const ParseResult pieced = in_pieces(input, {first, second, size}, &pieced_request);
  if (!same(pieced, whole) ||
      (whole.state == ParseState::complete && pieced_request.body != request.body)) {
    fail("three pieces (" + std::to_string(first) + ", " + std::to_string(second) +
         ") answer differently from the whole");
  }

  // And a byte at a time (linear: the parser resumes where it stopped).
  if (size <= 8192) {
    RequestParser parser;
    ParseResult last;
    for (std::size_t prefix = 0; prefix <= size; ++prefix) {
      last = parser.parse(input.substr(0, prefix));
      if (last.state != ParseState::incomplete) {
        break;
      }
    }
    if (!same(last, whole)) {
      fail("a byte at a time answers differently from the whole");
    }
    require(same(parser.parse(input), whole), "the answer changed after it was given");
  }
  return 0;
}
