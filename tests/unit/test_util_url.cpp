// URL and host:port splitting decide what an http target connects to and what a tcp target or
// `listen` binds, and they validate the config early so a typo is a config error, not a check
// that fails every 10 seconds. Covered: default ports, IPv6 in brackets, query kept and
// fragment dropped (fragments never go on the wire), credentials refused, spaces and control
// characters refused, and the error texts the config loader passes on.
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "probe/util/url.hpp"

namespace probe::util {
namespace {

Url parse_ok(const std::string& text) {
  std::string error;
  const std::optional<Url> url = parse_http_url(text, &error);
  EXPECT_TRUE(url.has_value()) << text << ": " << error;
  return url.value_or(Url{});
}

std::string parse_error(const std::string& text) {
  std::string error;
  const std::optional<Url> url = parse_http_url(text, &error);
  EXPECT_FALSE(url.has_value()) << text << " was accepted";
  return error;
}

TEST(ParseHttpUrl, SplitsSchemeHostPortAndPath) {
  const Url url = parse_ok("http://api:8000/health");
  EXPECT_EQ(url.scheme, "http");
  EXPECT_EQ(url.host, "api");
  EXPECT_EQ(url.port, 8000);
  EXPECT_EQ(url.path_and_query, "/health");
  EXPECT_EQ(url.base(), "http://api:8000");
}

TEST(ParseHttpUrl, DefaultPorts) {
  EXPECT_EQ(parse_ok("http://frontend/").port, 80);
  EXPECT_EQ(parse_ok("https://frontend/").port, 443);
  EXPECT_EQ(parse_ok("https://frontend").base(), "https://frontend:443");
}

TEST(ParseHttpUrl, MissingPathIsRoot) {
  EXPECT_EQ(parse_ok("http://frontend:3000").path_and_query, "/");
  EXPECT_EQ(parse_ok("http://frontend:3000/").path_and_query, "/");
}

TEST(ParseHttpUrl, KeepsQuery) {
  EXPECT_EQ(parse_ok("http://api/health?full=1&x=y").path_and_query, "/health?full=1&x=y");
  EXPECT_EQ(parse_ok("http://api?full=1").path_and_query, "/?full=1");
}

TEST(ParseHttpUrl, StripsFragment) {
  EXPECT_EQ(parse_ok("http://api/health#section").path_and_query, "/health");
  EXPECT_EQ(parse_ok("http://api/health?x=1#section").path_and_query, "/health?x=1");
  EXPECT_EQ(parse_ok("http://api#section").path_and_query, "/");
}

TEST(ParseHttpUrl, Ipv6WithPort) {
  const Url url = parse_ok("http://[::1]:8080/health");
  EXPECT_EQ(url.host, "::1");
  EXPECT_EQ(url.port, 8080);
  EXPECT_EQ(url.path_and_query, "/health");
  EXPECT_EQ(url.base(), "http://[::1]:8080");
}

TEST(ParseHttpUrl, Ipv6WithDefaultPort) {
  const Url url = parse_ok("https://[fd00::1]/x");
  EXPECT_EQ(url.host, "fd00::1");
  EXPECT_EQ(url.port, 443);
  EXPECT_EQ(url.base(), "https://[fd00::1]:443");
}

TEST(ParseHttpUrl, Ipv4Host) {
  const Url url = parse_ok("http://127.0.0.1:9464/metrics");
  EXPECT_EQ(url.host, "127.0.0.1");
  EXPECT_EQ(url.port, 9464);
}

TEST(ParseHttpUrl, RejectsMissingOrOtherScheme) {
  EXPECT_EQ(parse_error("api:8000/health"),
            "\"api:8000/health\" is not an http:// or https:// URL");
  EXPECT_EQ(parse_error("ftp://api/x"), "\"ftp://api/x\" is not an http:// or https:// URL");
  EXPECT_EQ(parse_error(""), "\"\" is not an http:// or https:// URL");
}

TEST(ParseHttpUrl, RejectsCredentialsWithoutEchoingThem) {
  const std::string error = parse_error("http://admin:hunter2@api/x");
  EXPECT_EQ(error, "URL credentials (user:password@) are not supported; use headers");
  EXPECT_EQ(error.find("hunter2"), std::string::npos);
}

TEST(ParseHttpUrl, RejectsBadHostOrPort) {
  EXPECT_EQ(parse_error("http://api:0/"), "\"http://api:0/\" has no valid host or port");
  EXPECT_EQ(parse_error("http://api:65536/"), "\"http://api:65536/\" has no valid host or port");
  EXPECT_EQ(parse_error("http://api:x/"), "\"http://api:x/\" has no valid host or port");
  EXPECT_EQ(parse_error("http://api:/"), "\"http://api:/\" has no valid host or port");
  EXPECT_EQ(parse_error("http:///health"), "\"http:///health\" has no valid host or port");
  EXPECT_EQ(parse_error("http://::1/"), "\"http://::1/\" has no valid host or port");
  EXPECT_EQ(parse_error("http://a pi/"), "\"http://a pi/\" has no valid host or port");
}

TEST(ParseHttpUrl, RejectsSpacesAndControlCharactersInPath) {
  const std::string message = "URL path has a space or control character; percent-encode it";
  EXPECT_EQ(parse_error("http://api/a b"), message);
  EXPECT_EQ(parse_error("http://api/a?q=a b"), message);
  EXPECT_EQ(parse_error("http://api/a\tb"), message);
  EXPECT_EQ(parse_error("http://api/a\r\nHost: evil"), message);
  EXPECT_EQ(parse_error(std::string("http://api/a\x7f")), message);
}

TEST(ParseHttpUrl, AcceptsPercentEncodedPath) {
  EXPECT_EQ(parse_ok("http://api/a%20b").path_and_query, "/a%20b");
}

TEST(ParseHostPort, HostAndPort) {
  std::string error;
  const std::optional<HostPort> hp = parse_host_port("cache:6379", &error);
  ASSERT_TRUE(hp.has_value()) << error;
  EXPECT_EQ(hp->host, "cache");
  EXPECT_EQ(hp->port, 6379);
}

TEST(ParseHostPort, BracketedIpv6) {
  std::string error;
  const std::optional<HostPort> hp = parse_host_port("[::1]:8080", &error);
  ASSERT_TRUE(hp.has_value()) << error;
  EXPECT_EQ(hp->host, "::1");
  EXPECT_EQ(hp->port, 8080);
}

TEST(ParseHostPort, PortBounds) {
  std::string error;
  ASSERT_TRUE(parse_host_port("h:1", &error).has_value()) << error;
  ASSERT_TRUE(parse_host_port("h:65535", &error).has_value()) << error;
  EXPECT_EQ(parse_host_port("h:65535", &error)->port, 65535);
}

TEST(ParseHostPort, PortZeroOnlyWhenAllowed) {
  std::string error;
  EXPECT_FALSE(parse_host_port("0.0.0.0:0", &error).has_value());
  EXPECT_EQ(error, "\"0.0.0.0:0\" has no valid port (1-65535)");
  const std::optional<HostPort> listen = parse_host_port("0.0.0.0:0", &error, true);
  ASSERT_TRUE(listen.has_value()) << error;
  EXPECT_EQ(listen->port, 0);
}

TEST(ParseHostPort, RejectsMalformedText) {
  struct Case {
    std::string text;
    std::string error;
  };
  const Case cases[] = {
      {"cache", "\"cache\" is not host:port"},
      {"", "\"\" is not host:port"},
      {"::1:6379", "\"::1:6379\" is not host:port"},
      {"[::1]", "\"[::1]\" is not [ipv6]:port"},
      {"[::1]6379", "\"[::1]6379\" is not [ipv6]:port"},
      {"[::1:6379", "\"[::1:6379\" is not [ipv6]:port"},
      {":6379", "\":6379\" has no valid host"},
      {"[]:6379", "\"[]:6379\" has no valid host"},
      {"ca che:6379", "\"ca che:6379\" has no valid host"},
      {"cache:", "\"cache:\" has no valid port (1-65535)"},
      {"cache:abc", "\"cache:abc\" has no valid port (1-65535)"},
      {"cache:-1", "\"cache:-1\" has no valid port (1-65535)"},
      {"cache:+1", "\"cache:+1\" has no valid port (1-65535)"},
      {"cache:65536", "\"cache:65536\" has no valid port (1-65535)"},
      {"cache:99999999999", "\"cache:99999999999\" has no valid port (1-65535)"},
      {"cache:63 79", "\"cache:63 79\" has no valid port (1-65535)"},
  };
  for (const Case& c : cases) {
    std::string error;
    EXPECT_FALSE(parse_host_port(c.text, &error).has_value()) << c.text;
    EXPECT_EQ(error, c.error) << c.text;
  }
}

} // namespace
} // namespace probe::util
