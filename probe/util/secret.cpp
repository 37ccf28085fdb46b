// Secret masking; see secret.hpp.
#include "probe/util/secret.hpp"

namespace probe::util {

std::string mask_dsn(std::string_view dsn) {
  std::string out(dsn);
  const bool uri = out.rfind("postgresql://", 0) == 0 || out.rfind("postgres://", 0) == 0;
  if (uri) {
    // Userinfo ends at the last '@' before the first '/': a '?', ':' or stray '@' inside the
    // password stays inside what is masked.
    const std::size_t authority = out.find("://") + 3;
    const std::size_t slash = out.find('/', authority);
    const std::size_t at = out.rfind('@', slash == std::string::npos ? std::string::npos : slash);
    if (at != std::string::npos && at >= authority) {
      const std::size_t colon = out.find(':', authority);
      if (colon != std::string::npos && colon < at) {
        out.replace(colon + 1, at - colon - 1, "***");
      }
    }
    // A password can also be given as a query parameter.
    const std::size_t query = out.find(
        '?', out.find('@', authority) == std::string::npos ? authority : out.find('@', authority));
    std::size_t param = query == std::string::npos ? std::string::npos : query;
    while (param != std::string::npos) {
      const std::size_t start = param + 1;
      if (out.compare(start, 9, "password=") == 0) {
        const std::size_t value = start + 9;
        const std::size_t end = out.find('&', value);
        out.replace(value, (end == std::string::npos ? out.size() : end) - value, "***");
      }
      param = out.find('&', start);
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
