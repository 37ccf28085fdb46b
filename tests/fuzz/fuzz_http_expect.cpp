// Fuzzes checks::evaluate_response, the judgement of every HTTP answer: fuzzed status codes,
// latencies and bodies (what a broken or hostile upstream can send) against fixed expectations
// covering each kind (status lists, body_contains, JSON values of every scalar type at nested,
// escaped and array pointers, a latency budget) and against an expectation whose JSON pointer
// and expected value come from the input through the config loader, so only pointers the loader
// accepts are used, as in production. evaluate_response must never throw, and its outcome must
// be consistent: ok with no problem, or not ok with a problem and one of the four reasons.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include "probe/checks/http_expect.hpp"
#include "probe/config/config_loader.hpp"
#include "probe/util/error.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using probe::config::HttpExpect;
using std::chrono::milliseconds;

std::vector<HttpExpect> fixed_expectations() {
  std::vector<HttpExpect> out(5);
  // [0] the default: any 2xx
  out[1].status = {200, 204, 301};
  out[1].body_contains = R"("status":"ok")";
  out[2].json = {{"/status", "ok"}, {"/checks/0/healthy", true}, {"/version", 3},
                 {"/ratio", 0.5},   {"/gone", nullptr},          {"/a~1b/~0c", "escaped"}};
  out[2].max_latency = milliseconds(500);
  out[3].json = {{"", 1}, {"/-", "x"}, {"/0", -7}, {"/10", 1e300}};
  out[4].status = {503};
  out[4].json = {{"/items/1/name", "db"}, {"/count", 18446744073709551615ULL}};
  out[4].max_latency = milliseconds(1);
  return out;
}

// An expectation `{json: {POINTER: VALUE}}` read by the real loader; nullopt when it rejects it.
std::optional<HttpExpect> loaded_expectation(const std::string& pointer, const std::string& value) {
  const std::string quoted =
      nlohmann::json(pointer).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  const std::string yaml = "targets:\n  - {name: t, type: http, url: \"http://127.0.0.1/\",\n"
                           "     expect: {json: {" +
                           quoted + ": " + value + "}}}\n";
  try {
    const probe::config::Config config = probe::config::load_config_string(
        yaml, "fuzz.yaml", [](const std::string&) { return std::optional<std::string>(); });
    return std::get<probe::config::HttpTarget>(config.targets.at(0).spec).expect;
  } catch (const probe::Error&) {
    return std::nullopt;
  }
}

void judge(const HttpExpect& expect, int status, const std::string& body,
           std::chrono::nanoseconds latency) {
  const probe::checks::ExpectOutcome outcome =
      probe::checks::evaluate_response(expect, status, body, latency);
  if (outcome.ok) {
    probe::fuzz::require(outcome.problem.empty() && outcome.reason.empty(),
                         "an ok outcome carries a problem");
    return;
  }
  probe::fuzz::require(!outcome.problem.empty(), "a failed outcome without a problem");
  const std::string& reason = outcome.reason;
  probe::fuzz::require(reason == "status" || reason == "body" || reason == "json" ||
                           reason == "latency",
                       "a failed outcome with an unknown reason: " + reason);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::vector<HttpExpect> k_fixed = fixed_expectations();
  FuzzedDataProvider input(data, size);
  const auto mode = input.ConsumeIntegral<std::uint8_t>();
  // Often 200, so that the body is judged at all; else a real status code or any int.
  const int status = (mode & 0x20) != 0   ? 200
                     : (mode & 0x80) != 0 ? input.ConsumeIntegral<int>()
                                          : input.ConsumeIntegralInRange<int>(100, 599);
  const std::chrono::nanoseconds latency(input.ConsumeIntegral<std::int64_t>());
  if ((mode & 0x40) != 0) {
    const std::string pointer = input.ConsumeRandomLengthString(256);
    const std::string value = input.ConsumeRandomLengthString(256);
    const std::string body = input.ConsumeRemainingBytesAsString();
    if (const std::optional<HttpExpect> expect = loaded_expectation(pointer, value)) {
      judge(*expect, status, body, latency);
    }
    return 0;
  }
  const std::string body = input.ConsumeRemainingBytesAsString();
  judge(k_fixed[mode % k_fixed.size()], status, body, latency);
  return 0;
}
