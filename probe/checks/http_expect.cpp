// HTTP expectations; see http_expect.hpp.
#include "probe/checks/http_expect.hpp"

#include <algorithm>

#include "probe/util/duration.hpp"
#include "probe/util/strings.hpp"

namespace probe::checks {
namespace {

std::string status_list(const std::vector<int>& status) {
  std::vector<std::string> parts;
  parts.reserve(status.size());
  for (const int code : status) {
    parts.push_back(std::to_string(code));
  }
  return util::join(parts, "|");
}

ExpectOutcome unmet(std::string problem, std::string reason) {
  return ExpectOutcome{false, std::move(problem), std::move(reason)};
}

// Compares JSON numbers by value, so 1 and 1.0 match; everything else exactly.
bool json_equal(const nlohmann::json& got, const nlohmann::json& want) {
  if (got.is_number() && want.is_number()) {
    return got.get<double>() == want.get<double>();
  }
  return got == want;
}

// document.contains(at), except that nlohmann 3.11 throws instead of answering false for an
// array index that is empty or too large ("/items/", "/items/99999999999999999999").
bool contains(const nlohmann::json& document, const nlohmann::json::json_pointer& at) {
  try {
    return document.contains(at);
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

} // namespace

bool needs_body(const config::HttpExpect& expect) {
  return expect.body_contains.has_value() || !expect.json.empty();
}

ExpectOutcome evaluate_response(const config::HttpExpect& expect, int status, std::string_view body,
                                std::chrono::nanoseconds latency) {
  const bool status_ok =
      expect.status.empty()
          ? (status >= 200 && status <= 299)
          : std::find(expect.status.begin(), expect.status.end(), status) != expect.status.end();
  if (!status_ok) {
    std::string problem = "status " + std::to_string(status) + ", want " +
                          (expect.status.empty() ? std::string("2xx") : status_list(expect.status));
    if (status >= 300 && status <= 399) {
      problem += " (redirects are not followed unless follow_redirects: true)";
    }
    return unmet(problem, "status");
  }
  if (expect.body_contains && body.find(*expect.body_contains) == std::string_view::npos) {
    return unmet("body does not contain \"" + util::truncate(*expect.body_contains, 80) + "\"",
                 "body");
  }
  if (!expect.json.empty()) {
    const nlohmann::json document = nlohmann::json::parse(body, nullptr, false);
    if (document.is_discarded()) {
      return unmet("body is not valid JSON", "json");
    }
    for (const auto& [pointer, want] : expect.json) {
      const nlohmann::json::json_pointer at(pointer);
      if (!contains(document, at)) {
        return unmet(pointer + " is missing, want " + want.dump(), "json");
      }
      const nlohmann::json& got = document.at(at);
      if (!json_equal(got, want)) {
        return unmet(pointer + " is " + util::truncate(got.dump(), 80) + ", want " + want.dump(),
                     "json");
      }
    }
  }
  if (expect.max_latency && latency > *expect.max_latency) {
    return unmet("took " + util::format_latency(latency) + ", budget " +
                     util::format_duration(*expect.max_latency),
                 "latency");
  }
  return {};
}

} // namespace probe::checks
