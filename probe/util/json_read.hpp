// Reading JSON that another process wrote — a sidecar's answer, a body from the network — into
// plain structs without trusting it. nlohmann's own accessors throw type_error on a wrong type
// and its value() does too, which turns a hostile or merely different body into an exception far
// from where the field was read; here each field is checked where it is read, and the first
// problem is kept with the field's path ("targets[2].checks: must be a whole number >= 0, not a
// string"), so a reader can name it and go on to say nothing more.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace probe::util {

// `text` parsed as JSON, or a discarded value with `error` set ("not JSON", "nested deeper than
// 64 levels"). Nesting is bounded before parsing: a body of brackets must not cost a deep
// recursion when it is later copied, printed or freed.
nlohmann::json parse_json_bounded(std::string_view text, int max_depth, std::string* error);

// How deep arrays and objects nest in JSON `text`, counted without parsing (brackets inside
// strings do not count).
int json_nesting_depth(std::string_view text);

// Reads the members of one JSON object, keeping the first problem. Every call after a problem
// does nothing, so a reader reads all its fields and checks ok() once at the end.
class JsonFields {
public:
  // `object` must outlive the reader; `path` names it in messages ("" for the top level,
  // "targets[2]" for an element).
  JsonFields(const nlohmann::json& object, std::string path);

  bool ok() const { return m_error.empty(); }
  // "targets[2].checks: must be ..." or empty.
  const std::string& error() const { return m_error; }

  // A member that must be present and not null.
  void required(const char* key, std::string* out);
  void required(const char* key, bool* out);
  void required(const char* key, int* out);
  void required(const char* key, long long* out);
  void required(const char* key, std::uint64_t* out);
  void required(const char* key, double* out);
  // A member that must be present and may be null (nullopt).
  void nullable(const char* key, std::optional<std::string>* out);
  // A member that may be absent or null (both nullopt).
  void optional(const char* key, std::optional<int>* out);
  void optional(const char* key, std::optional<long long>* out);
  void optional(const char* key, std::optional<std::uint64_t>* out);
  void optional(const char* key, std::optional<double>* out);
  void optional(const char* key, std::optional<bool>* out);
  // The member itself when present (null included), else nullptr; a problem when `required`
  // and absent. For arrays and objects, which the caller walks itself.
  const nlohmann::json* member(const char* key, bool required);
  // The member when it is an array; nullptr, with a problem, when it is something else (or,
  // when `required`, absent).
  const nlohmann::json* array(const char* key, bool required);

  // Records `problem` for `key` ("targets[0].name: must not be empty") unless one is recorded.
  void fail(const char* key, const std::string& problem);
  // The path of `key` in messages: "targets[2].checks", or "checks" at the top level.
  std::string path_of(const char* key) const;

private:
  template <typename T> void read(const char* key, T* out, bool presence_required);
  // `say_null`: the message says null is allowed too (a member that must be present).
  template <typename T> void read_optional(const char* key, std::optional<T>* out, bool say_null);

  const nlohmann::json& m_object;
  std::string m_path;
  std::string m_error;
};

// The path of element `index` of the array at `path`: "targets[3]".
std::string element_path(const std::string& path, std::size_t index);

} // namespace probe::util
