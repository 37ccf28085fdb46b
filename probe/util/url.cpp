// URL and address splitting; see url.hpp.
#include "probe/util/url.hpp"

#include <charconv>

#include "probe/util/secret.hpp"

namespace probe::util {
namespace {

std::optional<std::uint16_t> parse_port(std::string_view text, bool allow_zero) {
  unsigned value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || (value == 0 && !allow_zero) ||
      value > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

bool valid_host(std::string_view host) {
  if (host.empty()) {
    return false;
  }
  for (const char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == '_' || c == ':';
    if (!ok) {
      return false;
    }
  }
  return true;
}

} // namespace

std::string Url::base() const {
  const bool v6 = host.find(':') != std::string::npos;
  return scheme + "://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<HostPort> parse_host_port(std::string_view text, std::string* error,
                                        bool allow_port_zero) {
  HostPort out;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      *error = "\"" + std::string(text) + "\" is not [ipv6]:port";
      return std::nullopt;
    }
    out.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) {
      *error = "\"" + std::string(text) + "\" is not host:port";
      return std::nullopt;
    }
    out.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  if (!valid_host(out.host)) {
    *error = "\"" + std::string(text) + "\" has no valid host";
    return std::nullopt;
  }
  const std::optional<std::uint16_t> port = parse_port(port_text, allow_port_zero);
  if (!port) {
    *error = "\"" + std::string(text) + "\" has no valid port (" + (allow_port_zero ? "0" : "1") +
             "-65535)";
    return std::nullopt;
  }
  out.port = *port;
  return out;
}

std::optional<Url> parse_http_url(std::string_view text, std::string* error) {
  Url url;
  // A message may quote the URL, but never its credentials: query values are often API keys.
  const std::string shown = "\"" + mask_url_secrets(text) + "\"";
  const std::size_t scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) {
    *error = shown + " is not an http:// or https:// URL";
    return std::nullopt;
  }
  url.scheme = std::string(text.substr(0, scheme_end));
  if (url.scheme != "http" && url.scheme != "https") {
    *error = shown + " is not an http:// or https:// URL";
    return std::nullopt;
  }
  const std::size_t authority_start = scheme_end + 3;
  const std::size_t path_start = text.find_first_of("/?#", authority_start);
  const std::string_view authority = text.substr(authority_start, path_start - authority_start);
  if (authority.find('@') != std::string_view::npos) {
    *error = "URL credentials (user:password@) are not supported; use headers";
    return std::nullopt;
  }
  const bool has_port = !authority.empty() && (authority.back() != ']') &&
                        authority.rfind(':') != std::string_view::npos &&
                        (authority.front() == '[' || authority.find(':') == authority.rfind(':'));
  const std::string default_port = url.scheme == "https" ? "443" : "80";
  const std::string with_port =
      has_port ? std::string(authority) : std::string(authority) + ":" + default_port;
  std::string host_error;
  const std::optional<HostPort> host_port = parse_host_port(with_port, &host_error);
  if (!host_port) {
    *error = shown + " has no valid host or port";
    return std::nullopt;
  }
  url.host = host_port->host;
  url.port = host_port->port;
  if (path_start != std::string_view::npos) {
    std::string rest(text.substr(path_start));
    rest = rest.substr(0, rest.find('#')); // fragments never go on the wire
    url.path_and_query = rest.empty() || rest.front() != '/' ? "/" + rest : rest;
  }
  for (const char c : url.path_and_query) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      *error = "URL path has a space or control character; percent-encode it";
      return std::nullopt;
    }
  }
  return url;
}

} // namespace probe::util
