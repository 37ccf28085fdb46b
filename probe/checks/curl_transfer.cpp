// libcurl details shared by the checks; see curl_transfer.hpp.
#include "probe/checks/curl_transfer.hpp"

#include <cerrno>
#include <cstring>

#include <curl/curl.h>

#include "probe/util/duration.hpp"
#include "probe/util/error.hpp"

namespace probe::checks {
namespace {

// The reason label for a failed transfer, as the checks named them before libcurl.
std::string reason_for(CURLcode code, long os_errno) {
  switch (code) {
  case CURLE_COULDNT_RESOLVE_HOST:
    return "dns";
  case CURLE_COULDNT_CONNECT:
    return os_errno == ECONNREFUSED ? "connection_refused" : "connect";
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_ENGINE_NOTFOUND:
  case CURLE_SSL_ENGINE_SETFAILED:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_SHUTDOWN_FAILED:
    return "tls";
  default:
    return "transport";
  }
}

std::chrono::nanoseconds info_time(CURL* easy, CURLINFO what) {
  curl_off_t microseconds = 0;
  curl_easy_getinfo(easy, what, &microseconds);
  return std::chrono::microseconds(microseconds);
}

std::chrono::nanoseconds since(std::chrono::nanoseconds later, std::chrono::nanoseconds earlier) {
  return later > earlier ? later - earlier : std::chrono::nanoseconds(0);
}

} // namespace

void CurlEasyCleanup::operator()(CURL* easy) const {
  curl_easy_cleanup(easy);
}

CurlEasy make_easy(char* error_buffer) {
  CurlEasy easy(curl_easy_init());
  if (!easy) {
    throw Error("libcurl: cannot create a transfer handle");
  }
  set_common_options(easy.get(), error_buffer);
  return easy;
}

void set_common_options(CURL* h, char* error_buffer) {
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROXY, ""); // "" = none, not even from http_proxy
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
  // libcurl's receive buffer is per handle and kept: 16 KiB by default, times thousands of
  // targets. Health answers are small; a larger one just takes more reads.
  curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 4096L);
  error_buffer[0] = '\0';
}

void set_timeouts(CURL* easy, std::chrono::milliseconds timeout) {
  const long ms = static_cast<long>(std::max<std::chrono::milliseconds::rep>(1, timeout.count()));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, ms);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, ms);
}

CheckResult transfer_failure(CURL* easy, CurlResult result_code, const char* error_buffer,
                             const std::string& what, const std::string& host, std::uint16_t port,
                             std::chrono::milliseconds timeout) {
  const auto code = static_cast<CURLcode>(result_code);
  const auto detail = [&what](const std::string& words) {
    return what.empty() ? words : what + ": " + words;
  };
  if (code == CURLE_OPERATION_TIMEDOUT) {
    return make_result(CheckStatus::timeout,
                       detail("no complete answer within " + util::format_duration(timeout)),
                       "timeout");
  }
  long os_errno = 0;
  curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno);
  std::string words;
  if (code == CURLE_COULDNT_RESOLVE_HOST) {
    words = "cannot resolve " + host;
  } else if (code == CURLE_COULDNT_CONNECT && os_errno != 0) {
    words = "connect " + host + ":" + std::to_string(port) + ": " +
            std::strerror(static_cast<int>(os_errno));
  } else {
    words = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
  }
  return make_result(CheckStatus::failure, detail(words), reason_for(code, os_errno));
}

HttpPhases phases_of(CURL* easy) {
  const auto resolved = info_time(easy, CURLINFO_NAMELOOKUP_TIME_T);
  const auto connected = info_time(easy, CURLINFO_CONNECT_TIME_T);
  const auto handshaken = info_time(easy, CURLINFO_APPCONNECT_TIME_T);
  const auto first_byte = info_time(easy, CURLINFO_STARTTRANSFER_TIME_T);
  const auto total = info_time(easy, CURLINFO_TOTAL_TIME_T);
  HttpPhases phases;
  phases.resolve = resolved;
  phases.connect = since(connected, resolved);
  phases.tls = handshaken.count() > 0 ? since(handshaken, connected) : std::chrono::nanoseconds(0);
  phases.processing = since(first_byte, std::max(connected, handshaken));
  phases.transfer = since(total, first_byte);
  return phases;
}

} // namespace probe::checks
