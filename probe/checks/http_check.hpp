// http: one request on libcurl's multi interface (check_io.hpp), judged by http_expect. Its
// connection stays in the loop's connection cache between runs (keep-alive: a sidecar checking
// every 10 s should not pay a handshake each time); the libcurl handle is borrowed from the loop
// for the run only. A check never overlaps itself, so nothing here is shared between threads.
#pragma once

#include <array>
#include <memory>
#include <optional>

#include "probe/checks/check.hpp"
#include "probe/checks/curl_transfer.hpp"
#include "probe/util/url.hpp"

struct curl_slist;

namespace probe::checks {

class HttpCheck final : public Check {
public:
  HttpCheck(config::HttpTarget target, const CheckContext& context);
  ~HttpCheck() override;
  void start(CheckIo& io, std::chrono::milliseconds timeout, CheckDone done) override;

  // Bodies larger than this are not read further: a health endpoint that sends megabytes is
  // broken, and probe's memory must stay bounded whatever a target sends.
  static constexpr std::size_t k_max_body_bytes = 1024 * 1024;

private:
  // What one run has seen so far; reset at each start().
  struct Run {
    std::chrono::steady_clock::time_point started;
    std::chrono::milliseconds timeout{0};
    std::string body;
    std::size_t received = 0;
    bool too_large = false;
    bool tls_read = false;
    std::optional<std::chrono::system_clock::time_point> tls_expiry;
    CURL* easy = nullptr; // borrowed from the CheckIo for this run
    CheckDone done;
  };

  void configure(CURL* easy);
  static std::size_t on_body(char* data, std::size_t size, std::size_t count, void* self);
  static std::size_t on_header(char* data, std::size_t size, std::size_t count, void* self);
  void read_tls_expiry();
  CheckResult judge(CurlResult code);

  config::HttpTarget m_target;
  util::Url m_url;
  std::string m_asked; // "GET /health?key=***": what the detail says was asked
  CheckContext m_context;
  std::string m_full_url;
  std::array<char, 256> m_error{}; // CURL_ERROR_SIZE
  curl_slist* m_headers = nullptr;
  Run m_run;
};

} // namespace probe::checks
