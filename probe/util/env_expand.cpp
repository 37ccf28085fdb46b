// Environment expansion; see env_expand.hpp.
#include "probe/util/env_expand.hpp"

#include <cstdlib>

namespace probe::util {
namespace {

bool is_name_char(char c, bool first) {
  const bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
  return first ? alpha : (alpha || (c >= '0' && c <= '9'));
}

} // namespace

EnvLookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) {
      return std::nullopt;
    }
    return std::string(value);
  };
}

ExpandResult expand_env(std::string_view text, const EnvLookup& lookup) {
  ExpandResult result;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const char c = text[pos];
    if (c != '$') {
      result.value += c;
      ++pos;
      continue;
    }
    if (pos + 1 < text.size() && text[pos + 1] == '$') {
      result.value += '$';
      pos += 2;
      continue;
    }
    if (pos + 1 >= text.size() || text[pos + 1] != '{') {
      result.value += c; // a lone '$' is kept, as Compose does
      ++pos;
      continue;
    }
    const std::size_t close = text.find('}', pos + 2);
    if (close == std::string_view::npos) {
      result.error = "unterminated \"${\" (write $$ for a literal $)";
      return result;
    }
    const std::string_view inner = text.substr(pos + 2, close - pos - 2);
    // ${VAR:-default} (unset or empty) and ${VAR-default} (unset only), as in sh and Compose.
    std::size_t name_end = 0;
    while (name_end < inner.size() && is_name_char(inner[name_end], name_end == 0)) {
      ++name_end;
    }
    const std::string name(inner.substr(0, name_end));
    const std::string_view rest = inner.substr(name_end);
    const bool colon_default = rest.substr(0, 2) == ":-";
    const bool plain_default = !colon_default && rest.substr(0, 1) == "-";
    if (name.empty() || (!rest.empty() && !colon_default && !plain_default)) {
      // Name only: what follows may be a default, and a default can be a secret.
      result.error = "\"${" + name +
                     "...}\" is not a valid variable reference (write ${NAME}, "
                     "${NAME:-default} or ${NAME-default})";
      return result;
    }
    std::optional<std::string> value = lookup(name);
    if (colon_default && (!value || value->empty())) {
      value = std::string(rest.substr(2));
    } else if (plain_default && !value) {
      value = std::string(rest.substr(1));
    }
    if (!value) {
      result.error = "environment variable " + name + " is not set (use ${" + name +
                     ":-default} to allow a default)";
      result.unset = name;
      return result;
    }
    result.value += *value;
    result.expanded = true;
    pos = close + 1;
  }
  return result;
}

std::string literal_text(std::string_view text) {
  // Every variable unset: a default is used where there is one; a bare ${NAME} becomes empty.
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t dollar = text.find('$', pos);
    out += text.substr(pos, dollar - pos);
    if (dollar == std::string_view::npos) {
      break;
    }
    const std::size_t close = text.find('}', dollar);
    if (dollar + 1 < text.size() && text[dollar + 1] == '{' && close != std::string_view::npos) {
      const ExpandResult expanded =
          expand_env(text.substr(dollar, close - dollar + 1),
                     [](const std::string&) -> std::optional<std::string> { return std::nullopt; });
      out += expanded.value;
      pos = close + 1;
    } else {
      const bool doubled = dollar + 1 < text.size() && text[dollar + 1] == '$';
      out += '$';
      pos = dollar + (doubled ? 2 : 1);
    }
  }
  return out;
}

} // namespace probe::util
