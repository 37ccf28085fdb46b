// Secret masking; see secret.hpp.
#include "probe/util/secret.hpp"

#include <algorithm>
#include <array>
#include <cctype>

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

namespace {

// "a=1&b&c=" -> "a=***&***&c=": names kept, values hidden.
std::string mask_query_string(std::string_view query) {
  std::string out;
  std::size_t start = 0;
  while (start <= query.size()) {
    std::size_t end = query.find('&', start);
    end = end == std::string_view::npos ? query.size() : end;
    const std::string_view part = query.substr(start, end - start);
    const std::size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      out += part.empty() ? "" : "***";
    } else {
      out += std::string(part.substr(0, eq + 1)) + (eq + 1 < part.size() ? "***" : "");
    }
    if (end == query.size()) {
      break;
    }
    out += '&';
    start = end + 1;
  }
  return out;
}

// Masks the query and fragment of `rest`, which starts at the path (or at '?' or '#').
std::string mask_after_path(std::string_view rest) {
  const std::size_t hash = rest.find('#');
  const std::string_view before_fragment = rest.substr(0, hash);
  const std::size_t question = before_fragment.find('?');
  std::string out(before_fragment.substr(0, question));
  if (question != std::string_view::npos) {
    out += "?" + mask_query_string(before_fragment.substr(question + 1));
  }
  if (hash != std::string_view::npos) {
    out += hash + 1 < rest.size() ? "#***" : "#";
  }
  return out;
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool is_placeholder(std::string_view arg) {
  return arg.size() >= 2 && arg.front() == '{' && arg.back() == '}';
}

} // namespace

std::string mask_url_secrets(std::string_view url) {
  const std::size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) {
    return mask_after_path(url);
  }
  const std::size_t authority = scheme + 3;
  const std::size_t path = std::min(url.find_first_of("/?#", authority), url.size());
  std::string out(url.substr(0, path));
  // Userinfo ends at the last '@' of the authority, so an '@' in a password stays hidden.
  const std::size_t at = out.rfind('@');
  if (at != std::string::npos && at >= authority) {
    out.replace(authority, at - authority, "***");
  }
  return out + mask_after_path(url.substr(path));
}

std::string mask_query(std::string_view path_and_query) {
  return mask_after_path(path_and_query);
}

bool is_secret_name(std::string_view name) {
  const std::string text = lower(name);
  for (const char* part : {"token", "secret", "passw"}) {
    if (text.find(part) != std::string::npos) {
      return true;
    }
  }
  static const std::array<std::string_view, 12> k_words{
      "pass", "pwd",        "key",         "apikey", "auth",    "authorization",
      "cred", "credential", "credentials", "cookie", "private", "session"};
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find_first_of("-_.", start);
    end = end == std::string::npos ? text.size() : end;
    const std::string_view word = std::string_view(text).substr(start, end - start);
    if (std::find(k_words.begin(), k_words.end(), word) != k_words.end()) {
      return true;
    }
    start = end + 1;
  }
  return false;
}

namespace {

// What mask_argv() makes of one argument; `mask_next` is set for a bare secret flag.
std::string mask_argument(const std::string& arg, bool* mask_next) {
  const std::size_t dashes = std::min(arg.find_first_not_of('-'), arg.size());
  const std::size_t eq = arg.find('=');
  const std::string_view name =
      std::string_view(arg).substr(dashes, (eq == std::string::npos ? arg.size() : eq) - dashes);
  const bool name_like =
      !name.empty() && name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                              "0123456789_-.") == std::string_view::npos;
  if (name_like && (dashes > 0 || eq != std::string::npos) && is_secret_name(name)) {
    if (eq == std::string::npos) {
      *mask_next = true; // "--token VALUE"
      return arg;
    }
    const std::string value = arg.substr(eq + 1);
    return arg.substr(0, eq + 1) + (value.empty() || is_placeholder(value) ? value : "***");
  }
  const std::size_t url = arg.find("://");
  if (url == std::string::npos) {
    return arg;
  }
  // The URL starts after a '=' before its scheme: "--url=https://..." keeps its flag.
  const std::size_t start = eq != std::string::npos && eq < url ? eq + 1 : 0;
  return arg.substr(0, start) + mask_url_secrets(std::string_view(arg).substr(start));
}

} // namespace

std::vector<std::string> mask_argv(const std::vector<std::string>& argv) {
  std::vector<std::string> out;
  out.reserve(argv.size());
  bool mask_next = false;
  for (const std::string& arg : argv) {
    if (mask_next && !is_placeholder(arg)) {
      mask_next = false;
      out.emplace_back("***");
      continue;
    }
    mask_next = false;
    out.push_back(mask_argument(arg, &mask_next));
  }
  return out;
}

std::string mask_token(const Secret& token) {
  return token.empty() ? "" : "***";
}

std::string redact(std::string text, std::string_view secret) {
  if (secret.size() < k_min_redacted) {
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
