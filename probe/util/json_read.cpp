// Checked reading of JSON fields; see json_read.hpp.
#include "probe/util/json_read.hpp"

#include <algorithm>
#include <limits>

namespace probe::util {
namespace {

// What a value is, for "must be a string, not <this>".
std::string kind_of(const nlohmann::json& value) {
  switch (value.type()) {
  case nlohmann::json::value_t::null:
    return "null";
  case nlohmann::json::value_t::string:
    return "a string";
  case nlohmann::json::value_t::boolean:
    return "true/false";
  case nlohmann::json::value_t::object:
    return "an object";
  case nlohmann::json::value_t::array:
    return "an array";
  case nlohmann::json::value_t::number_float:
    return "a fraction";
  case nlohmann::json::value_t::number_integer:
  case nlohmann::json::value_t::number_unsigned:
    return "a number";
  case nlohmann::json::value_t::binary:
    return "binary data";
  default: // discarded: what a failed parse leaves
    return "invalid JSON";
  }
}

// Each reader takes `value` into `out` or returns what it must be ("a string").
std::string take(const nlohmann::json& value, std::string* out) {
  if (!value.is_string()) {
    return "a string";
  }
  *out = value.get<std::string>();
  return "";
}

std::string take(const nlohmann::json& value, bool* out) {
  if (!value.is_boolean()) {
    return "true or false";
  }
  *out = value.get<bool>();
  return "";
}

// A whole number within [lowest, highest] of `T`; JSON's unsigned and signed integers alike.
template <typename T> std::string take_whole(const nlohmann::json& value, T* out) {
  constexpr T k_lowest = std::numeric_limits<T>::lowest();
  constexpr T k_highest = std::numeric_limits<T>::max();
  std::string in_range = k_lowest == 0 ? "a whole number >= 0"
                                       : "a whole number from " + std::to_string(k_lowest) +
                                             " to " + std::to_string(k_highest);
  if (value.is_number_unsigned()) {
    const auto number = value.get<nlohmann::json::number_unsigned_t>();
    if (number > static_cast<std::uint64_t>(k_highest)) {
      return in_range;
    }
    *out = static_cast<T>(number);
    return "";
  }
  if (!value.is_number_integer()) {
    return k_lowest == 0 ? in_range : "a whole number";
  }
  const auto number = value.get<nlohmann::json::number_integer_t>();
  const bool below = number < 0 && (k_lowest == 0 || number < static_cast<long long>(k_lowest));
  const bool above =
      number > 0 && static_cast<std::uint64_t>(number) > static_cast<std::uint64_t>(k_highest);
  if (below || above) {
    return in_range;
  }
  *out = static_cast<T>(number);
  return "";
}

std::string take(const nlohmann::json& value, int* out) {
  return take_whole(value, out);
}

std::string take(const nlohmann::json& value, long long* out) {
  return take_whole(value, out);
}

std::string take(const nlohmann::json& value, std::uint64_t* out) {
  return take_whole(value, out);
}

std::string take(const nlohmann::json& value, double* out) {
  if (!value.is_number()) {
    return "a number";
  }
  *out = value.get<double>();
  return "";
}

} // namespace

int json_nesting_depth(std::string_view text) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      escaped = !escaped && c == '\\';
      in_string = escaped || c != '"';
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

nlohmann::json parse_json_bounded(std::string_view text, int max_depth, std::string* error) {
  if (json_nesting_depth(text) > max_depth) {
    *error = "nested deeper than " + std::to_string(max_depth) + " levels";
    return nlohmann::json(nlohmann::json::value_t::discarded);
  }
  nlohmann::json parsed = nlohmann::json::parse(text, nullptr, false);
  if (parsed.is_discarded()) {
    *error = "not JSON";
  }
  return parsed;
}

std::string element_path(const std::string& path, std::size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

JsonFields::JsonFields(const nlohmann::json& object, std::string path)
    : m_object(object), m_path(std::move(path)) {
  if (!m_object.is_object()) {
    m_error =
        (m_path.empty() ? "body" : m_path) + ": must be a JSON object, not " + kind_of(m_object);
  }
}

std::string JsonFields::path_of(const char* key) const {
  return m_path.empty() ? std::string(key) : m_path + "." + key;
}

void JsonFields::fail(const char* key, const std::string& problem) {
  if (m_error.empty()) {
    m_error = path_of(key) + ": " + problem;
  }
}

const nlohmann::json* JsonFields::member(const char* key, bool required) {
  if (!ok()) {
    return nullptr;
  }
  const auto found = m_object.find(key);
  if (found == m_object.end()) {
    if (required) {
      fail(key, "missing");
    }
    return nullptr;
  }
  return &*found;
}

const nlohmann::json* JsonFields::array(const char* key, bool required) {
  const nlohmann::json* value = member(key, required);
  if (value != nullptr && !value->is_array()) {
    fail(key, "must be an array, not " + kind_of(*value));
    return nullptr;
  }
  return value;
}

template <typename T> void JsonFields::read(const char* key, T* out, bool presence_required) {
  const nlohmann::json* value = member(key, presence_required);
  if (value == nullptr) {
    return;
  }
  if (const std::string want = take(*value, out); !want.empty()) {
    fail(key, "must be " + want + ", not " + kind_of(*value));
  }
}

template <typename T>
void JsonFields::read_optional(const char* key, std::optional<T>* out, bool say_null) {
  out->reset();
  const nlohmann::json* value = member(key, false);
  if (value == nullptr || value->is_null()) {
    return;
  }
  T taken{};
  if (const std::string want = take(*value, &taken); !want.empty()) {
    fail(key, "must be " + want + (say_null ? " or null" : "") + ", not " + kind_of(*value));
    return;
  }
  *out = std::move(taken);
}

void JsonFields::required(const char* key, std::string* out) {
  read(key, out, true);
}
void JsonFields::required(const char* key, bool* out) {
  read(key, out, true);
}
void JsonFields::required(const char* key, int* out) {
  read(key, out, true);
}
void JsonFields::required(const char* key, long long* out) {
  read(key, out, true);
}
void JsonFields::required(const char* key, std::uint64_t* out) {
  read(key, out, true);
}
void JsonFields::required(const char* key, double* out) {
  read(key, out, true);
}

void JsonFields::nullable(const char* key, std::optional<std::string>* out) {
  if (member(key, true) != nullptr) {
    read_optional(key, out, true);
  }
}

void JsonFields::optional(const char* key, std::optional<int>* out) {
  read_optional(key, out, false);
}
void JsonFields::optional(const char* key, std::optional<long long>* out) {
  read_optional(key, out, false);
}
void JsonFields::optional(const char* key, std::optional<std::uint64_t>* out) {
  read_optional(key, out, false);
}
void JsonFields::optional(const char* key, std::optional<double>* out) {
  read_optional(key, out, false);
}
void JsonFields::optional(const char* key, std::optional<bool>* out) {
  read_optional(key, out, false);
}

} // namespace probe::util
