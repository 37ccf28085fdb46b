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
    const std::size_t sep = inner.find(":-");
    const std::string name(inner.substr(0, sep));
    bool valid = !name.empty();
    for (std::size_t i = 0; valid && i < name.size(); ++i) {
      valid = is_name_char(name[i], i == 0);
    }
    if (!valid) {
      result.error = "\"${" + std::string(inner) + "}\" is not a valid variable reference";
      return result;
    }
    std::optional<std::string> value = lookup(name);
    if ((!value || value->empty()) && sep != std::string_view::npos) {
      value = std::string(inner.substr(sep + 2)); // :- also covers set-but-empty, like sh
    }
    if (!value) {
      result.error = "environment variable " + name + " is not set (use ${" + name +
                     ":-default} to allow a default)";
      return result;
    }
    result.value += *value;
    result.expanded = true;
    pos = close + 1;
  }
  return result;
}

} // namespace probe::util
