// Secret masking; see secret.hpp.
#include "probe/util/secret.hpp"

namespace probe::util {

std::string mask_dsn(std::string_view dsn) {
  std::string out(dsn);
  const std::size_t scheme = out.find("://");
  if (scheme != std::string::npos) {
    // URI form: the password sits between the first ':' of userinfo and the last '@' before
    // the path.
    const std::size_t authority = scheme + 3;
    const std::size_t path = out.find_first_of("/?", authority);
    const std::size_t at = out.rfind('@', path == std::string::npos ? std::string::npos : path);
    if (at != std::string::npos && at > authority) {
      const std::size_t colon = out.find(':', authority);
      if (colon != std::string::npos && colon < at) {
        out.replace(colon + 1, at - colon - 1, "***");
      }
    }
    // A password can also be given as a query parameter.
    const std::size_t query_password =
        out.find("password=", out.find('?') == std::string::npos ? out.size() : out.find('?'));
    if (query_password != std::string::npos) {
      const std::size_t start = query_password + 9;
      const std::size_t end = out.find('&', start);
      out.replace(start, (end == std::string::npos ? out.size() : end) - start, "***");
    }
    return out;
  }
  // key=value form; values may be single-quoted.
  std::size_t pos = 0;
  while ((pos = out.find("password", pos)) != std::string::npos) {
    std::size_t eq = pos + 8;
    while (eq < out.size() && out[eq] == ' ') {
      ++eq;
    }
    if (eq >= out.size() || out[eq] != '=') {
      pos = eq;
      continue;
    }
    std::size_t start = eq + 1;
    while (start < out.size() && out[start] == ' ') {
      ++start;
    }
    std::size_t end = start;
    if (start < out.size() && out[start] == '\'') {
      end = start + 1;
      while (end < out.size() && out[end] != '\'') {
        end += (out[end] == '\\') ? 2 : 1;
      }
      end = end < out.size() ? end + 1 : out.size();
    } else {
      end = out.find(' ', start);
      end = end == std::string::npos ? out.size() : end;
    }
    out.replace(start, end - start, "***");
    pos = start + 3;
  }
  return out;
}

std::string mask_url(std::string_view url) {
  const std::size_t scheme = url.find("://");
  const std::size_t authority = scheme == std::string_view::npos ? 0 : scheme + 3;
  const std::size_t path = url.find_first_of("/?#", authority);
  std::string out(url.substr(0, path));
  const std::size_t at = out.rfind('@');
  if (at != std::string::npos && at >= authority) {
    out.replace(authority, at - authority, "***");
  }
  if (path != std::string_view::npos && path + 1 < url.size()) {
    out += "/***";
  }
  return out;
}

std::string mask_token(const Secret& token) {
  return token.empty() ? "" : "***";
}

std::string redact(std::string text, std::string_view secret) {
  if (secret.empty()) {
    return text;
  }
  std::size_t pos = 0;
  while ((pos = text.find(secret, pos)) != std::string::npos) {
    text.replace(pos, secret.size(), "***");
    pos += 3;
  }
  return text;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Length is compared last and folded in, so the loop always runs over `b`'s length.
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < b.size(); ++i) {
    const char ca = i < a.size() ? a[i] : '\0';
    diff |= static_cast<unsigned char>(ca ^ b[i]);
  }
  return diff == 0;
}

} // namespace probe::util
