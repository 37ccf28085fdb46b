// The HTTP check's transport; see http_check.hpp. Deadlines: CURLOPT_TIMEOUT_MS bounds the
// whole run — name resolution (libcurl's threaded resolver), connect, TLS and every byte of
// the answer — so a server that trickles bytes cannot hold the check past its timeout, and no
// thread waits for it. A kept-alive connection the server closed just as the request went out
// is retried once on a fresh one by libcurl itself (as browsers and Go's client do, RFC 9112
// section 9.3.1); requests that may not be sent twice (POST, PATCH...) always use a fresh
// connection instead, so they are never repeated and never fail on a stale one.
#include "probe/checks/http_check.hpp"

#include <ctime>

#include <curl/curl.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <strings.h>

#include "probe/checks/check_io.hpp"
#include "probe/checks/http_expect.hpp"
#include "probe/util/clock.hpp"
#include "probe/util/secret.hpp"
#include "probe/util/version.hpp"

namespace probe::checks {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Whether a request may be sent twice (RFC 9110 section 9.2.2: idempotent); POST may not.
bool retry_safe(const std::string& method) {
  return method == "GET" || method == "HEAD" || method == "PUT" || method == "OPTIONS" ||
         method == "DELETE";
}

bool has_header(const std::vector<std::pair<std::string, std::string>>& headers, const char* name) {
  for (const auto& [key, value] : headers) {
    if (strcasecmp(key.c_str(), name) == 0) {
      return true;
    }
  }
  return false;
}

// notAfter of `certificate` as a time point; nullopt when OpenSSL cannot read it.
std::optional<std::chrono::system_clock::time_point> not_after(const X509* certificate) {
  std::tm parts{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(certificate), &parts) != 1) {
    return std::nullopt;
  }
  // system_clock counts nanoseconds: it ends in 2262, and certificates valid "forever" say 9999.
  const std::time_t seconds = timegm(&parts);
  constexpr std::time_t k_last_second = 9'000'000'000; // 2255
  if (seconds > k_last_second) {
    return std::chrono::system_clock::time_point::max();
  }
  return std::chrono::system_clock::from_time_t(seconds);
}

} // namespace

HttpCheck::HttpCheck(config::HttpTarget target, const CheckContext& context)
    : m_target(std::move(target)), m_context(context) {
  std::string error;
  m_url = *util::parse_http_url(m_target.url, &error); // validated by the config loader
  m_full_url = m_url.base() + m_url.path_and_query;
  // The detail reaches /status, /ready (unauthenticated), logs and reports: query values,
  // often API keys, are masked there (GET /health?api_key=*** -> 200).
  m_asked = m_target.method + " " + util::mask_query(m_url.path_and_query);
  for (const auto& [name, value] : m_target.headers) {
    m_headers = curl_slist_append(m_headers, (name + ": " + value).c_str());
  }
  if (!m_target.body.empty() && !has_header(m_target.headers, "Content-Type")) {
    m_headers = curl_slist_append(m_headers, "Content-Type: text/plain");
  }
  m_headers = curl_slist_append(m_headers, "Expect:"); // no 100-continue round trip
}

HttpCheck::~HttpCheck() {
  curl_slist_free_all(m_headers);
}

void HttpCheck::configure(CURL* easy) {
  set_common_options(easy, m_error.data());
  curl_easy_setopt(easy, CURLOPT_URL, m_full_url.c_str());
  curl_easy_setopt(easy, CURLOPT_USERAGENT, util::user_agent().c_str());
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, m_headers);
  if (m_target.method == "HEAD") {
    curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  } else if (m_target.method != "GET" || !m_target.body.empty()) {
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, m_target.method.c_str());
  }
  if (!m_target.body.empty()) {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(m_target.body.size()));
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, m_target.body.data());
  }
  if (!retry_safe(m_target.method)) {
    curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
  }
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, m_target.follow_redirects ? 1L : 0L);
  curl_easy_setopt(easy, CURLOPT_MAXREDIRS, 20L);
  if (!m_target.ca_file.empty()) {
    curl_easy_setopt(easy, CURLOPT_CAINFO, m_target.ca_file.c_str());
  }
  if (m_target.insecure_skip_verify) {
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &HttpCheck::on_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, this);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &HttpCheck::on_header);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, this);
}

void HttpCheck::start(CheckIo& io, std::chrono::milliseconds timeout, CheckDone done) {
  m_run = Run{};
  m_run.started = SteadyClock::now();
  m_run.timeout = timeout;
  m_run.done = std::move(done);
  m_run.easy = io.acquire_easy();
  configure(m_run.easy);
  curl_easy_setopt(m_run.easy, CURLOPT_SHARE, io.connection_shard(this));
  set_timeouts(m_run.easy, timeout);
  const auto give_back = [this, &io] {
    io.release_easy(m_run.easy);
    m_run.easy = nullptr;
  };
  try {
    io.start_transfer(m_run.easy, [this, give_back](CurlResult code) {
      CheckResult result = judge(code);
      give_back();
      CheckDone finished = std::move(m_run.done);
      finished(std::move(result));
    });
  } catch (...) {
    give_back();
    throw;
  }
}

std::size_t HttpCheck::on_body(char* data, std::size_t size, std::size_t count, void* self) {
  auto* check = static_cast<HttpCheck*>(self);
  const std::size_t length = size * count;
  check->m_run.received += length;
  if (check->m_run.received > k_max_body_bytes) {
    check->m_run.too_large = true;
    return 0; // ends the transfer (CURLE_WRITE_ERROR)
  }
  if (needs_body(check->m_target.expect)) {
    check->m_run.body.append(data, length);
  }
  return length;
}

std::size_t HttpCheck::on_header(char*, std::size_t size, std::size_t count, void* self) {
  auto* check = static_cast<HttpCheck*>(self);
  if (!check->m_run.tls_read) {
    // The first header line comes after the handshake, while the connection is still the
    // transfer's: the one moment its certificates can be read.
    check->m_run.tls_read = true;
    check->read_tls_expiry();
  }
  return size * count;
}

void HttpCheck::read_tls_expiry() {
  if (m_url.scheme != "https") {
    return;
  }
  const curl_tlssessioninfo* session = nullptr;
  if (curl_easy_getinfo(m_run.easy, CURLINFO_TLS_SSL_PTR, &session) != CURLE_OK ||
      session == nullptr || session->backend != CURLSSLBACKEND_OPENSSL ||
      session->internals == nullptr) {
    return;
  }
  // On the client side the peer's chain includes its own certificate.
  const STACK_OF(X509)* chain = SSL_get_peer_cert_chain(static_cast<SSL*>(session->internals));
  for (int i = 0; chain != nullptr && i < sk_X509_num(chain); ++i) {
    const auto expiry = not_after(sk_X509_value(chain, i));
    if (expiry && (!m_run.tls_expiry || *expiry < *m_run.tls_expiry)) {
      m_run.tls_expiry = expiry;
    }
  }
}

CheckResult HttpCheck::judge(CurlResult code) {
  CURL* easy = m_run.easy;
  const std::chrono::nanoseconds latency = SteadyClock::now() - m_run.started;
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  const bool keep_body = needs_body(m_target.expect);
  // A body cut at the cap still leaves a status to judge when the body is not looked at.
  const bool body_cut_short = m_run.too_large && !keep_body && status != 0;
  CheckResult result;
  if ((code != CURLE_OK && !body_cut_short) || (m_run.too_large && keep_body)) {
    result = m_run.too_large ? make_result(CheckStatus::failure,
                                           m_asked + ": body larger than 1 MiB", "body_size")
                             : transfer_failure(easy, code, m_error.data(), m_asked, m_url.host,
                                                m_url.port, m_run.timeout);
  } else {
    ExpectOutcome judged =
        evaluate_response(m_target.expect, static_cast<int>(status), m_run.body, latency);
    if (judged.ok && m_url.scheme == "https") {
      judged = evaluate_tls_expiry(m_target.expect, m_run.tls_expiry,
                                   m_context.clock != nullptr ? m_context.clock->system_now()
                                                              : std::chrono::system_clock::now());
    }
    result = make_result(judged.ok ? CheckStatus::success : CheckStatus::failure,
                         m_asked + " -> " + std::to_string(status) +
                             (judged.ok ? "" : ": " + judged.problem),
                         judged.reason);
    result.http_phases = phases_of(easy);
  }
  if (status != 0) {
    result.http_status = static_cast<int>(status);
  }
  result.tls_earliest_expiry = m_run.tls_expiry;
  result.latency = latency;
  m_run.body = std::string(); // a kept 1 MiB buffer per target would add up
  return result;
}

} // namespace probe::checks
