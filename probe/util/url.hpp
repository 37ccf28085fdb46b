// Splitting "scheme://host:port/path?query" and "host:port" the way probe needs them: enough to
// hand cpp-httplib a base and a path, and to validate config early. Not a general URL parser.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace probe::util {

struct Url {
  std::string scheme; // "http" or "https"
  std::string host;   // without brackets for IPv6
  std::uint16_t port = 0;
  std::string path_and_query = "/";

  // "http://host:port", as cpp-httplib's Client wants it.
  std::string base() const;
};

// Parses an http(s) URL; nullopt with `error` set when it is not one.
std::optional<Url> parse_http_url(std::string_view text, std::string* error);

struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};

// Parses "host:port" or "[v6]:port"; nullopt with `error` set otherwise. Port 0 ("any free
// port", for listening) is accepted only with `allow_port_zero`.
std::optional<HostPort> parse_host_port(std::string_view text, std::string* error,
                                        bool allow_port_zero = false);

} // namespace probe::util
