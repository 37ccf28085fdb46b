// The HTTP check's transport; see http_check.hpp. Deadlines: cpp-httplib bounds connect and
// each read by the timeouts set here, and the watchdog stops the client at the deadline so a
// server that trickles bytes cannot hold the check past its timeout.
#include "probe/checks/http_check.hpp"

#include <httplib.h>
#include <unistd.h>

#include "probe/checks/http_expect.hpp"
#include "probe/checks/tcp_check.hpp"
#include "probe/util/duration.hpp"
#include "probe/util/http_error.hpp"
#include "probe/util/secret.hpp"
#include "probe/util/version.hpp"
#include "probe/util/watchdog.hpp"

namespace probe::checks {
namespace {

using Clock = std::chrono::steady_clock;

std::string reason_for(httplib::Error error) {
  switch (error) {
  case httplib::Error::Connection:
    return "connection_refused";
  case httplib::Error::SSLConnection:
  case httplib::Error::SSLLoadingCerts:
  case httplib::Error::SSLServerVerification:
    return "tls";
  default:
    return "transport";
  }
}

// Whether a request may be sent twice (RFC 9110 section 9.2.2: idempotent); POST may not.
bool retry_safe(const std::string& method) {
  return method == "GET" || method == "HEAD" || method == "PUT" || method == "OPTIONS";
}

} // namespace

HttpCheck::HttpCheck(config::HttpTarget target, const CheckContext& context)
    : m_target(std::move(target)), m_context(context) {
  std::string error;
  m_url = *util::parse_http_url(m_target.url, &error); // validated by the config loader
  m_client = std::make_unique<httplib::Client>(m_url.base());
  m_client->set_keep_alive(true);
  m_client->set_follow_location(m_target.follow_redirects);
  if (!m_target.ca_file.empty()) {
    m_client->set_ca_cert_path(m_target.ca_file);
  }
  if (m_target.insecure_skip_verify) {
    m_client->enable_server_certificate_verification(false);
  }
}

HttpCheck::~HttpCheck() = default;

CheckResult HttpCheck::run(std::chrono::milliseconds timeout) {
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline = start + timeout;
  m_client->set_connection_timeout(timeout);
  m_client->set_read_timeout(timeout);
  m_client->set_write_timeout(timeout);

  const bool keep_body = needs_body(m_target.expect);
  int status = 0;
  std::string body;
  std::size_t received = 0;
  bool too_large = false;

  httplib::Request request;
  request.method = m_target.method;
  request.path = m_url.path_and_query;
  request.headers.emplace("User-Agent", util::user_agent());
  for (const auto& [name, value] : m_target.headers) {
    request.headers.emplace(name, value);
  }
  request.body = m_target.body;
  request.response_handler = [&](const httplib::Response& response) {
    status = response.status;
    return true;
  };
  request.content_receiver = [&](const char* data, std::size_t length, std::uint64_t,
                                 std::uint64_t) {
    received += length;
    if (received > k_max_body_bytes) {
      too_large = true;
      return false;
    }
    if (keep_body) {
      body.append(data, length);
    }
    return Clock::now() < deadline;
  };

  std::uint64_t alarm = 0;
  if (m_context.watchdog != nullptr) {
    alarm = m_context.watchdog->arm(deadline, [this] { m_client->stop(); });
  }
  const bool reused = m_client->is_socket_open() != 0;
  httplib::Result outcome = m_client->send(request);
  if (!outcome && reused && status == 0 && received == 0 && retry_safe(m_target.method) &&
      (outcome.error() == httplib::Error::Write || outcome.error() == httplib::Error::Read)) {
    // The server closed the kept-alive connection as this request went out (its idle
    // timeout ran out just then), before an answer arrived: that says nothing about the
    // target. Sent again once on a fresh connection within the same deadline, as browsers and
    // Go's client do (RFC 9112 section 9.3.1); the failed send has closed the old connection.
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left > std::chrono::milliseconds(0)) {
      m_client->set_connection_timeout(left);
      m_client->set_read_timeout(left);
      m_client->set_write_timeout(left);
      outcome = m_client->send(request);
    }
  }
  const bool cut_at_deadline = m_context.watchdog != nullptr && m_context.watchdog->disarm(alarm);

  CheckResult result;
  // The detail reaches /status, /ready (unauthenticated), logs and reports: query values,
  // often API keys, are masked there (GET /health?api_key=*** -> 200).
  const std::string asked = m_target.method + " " + util::mask_query(m_url.path_and_query);
  const bool body_cut_short = too_large && !keep_body && status != 0;
  if (outcome && !too_large) {
    status = outcome->status;
  }
  result.latency = Clock::now() - start;
  if ((!outcome && !body_cut_short) || (too_large && keep_body)) {
    if (too_large) {
      result = make_result(CheckStatus::failure, asked + ": body larger than 1 MiB", "body_size");
    } else if (cut_at_deadline || Clock::now() >= deadline ||
               outcome.error() == httplib::Error::ConnectionTimeout) {
      result = make_result(CheckStatus::timeout,
                           asked + ": no complete answer within " + util::format_duration(timeout),
                           "timeout");
    } else if (outcome.error() == httplib::Error::Connection) {
      // cpp-httplib says "Connection" for an unknown name, a refusal and an unreachable host
      // alike; a plain connect tells them apart, which is what an operator needs to know.
      const int fd = connect_tcp(m_url.host, m_url.port, deadline, &result);
      if (fd >= 0) {
        close(fd); // it accepts now: the first attempt failed for a reason since gone
        result = make_result(CheckStatus::failure, "connection failed", "connect");
      }
      result.detail = asked + ": " + result.detail;
    } else {
      result = make_result(CheckStatus::failure,
                           asked + ": " + util::describe_http_error(outcome.error()),
                           reason_for(outcome.error()));
    }
    result.latency = Clock::now() - start;
    if (status != 0) {
      result.http_status = status;
    }
    return result;
  }
  const std::chrono::nanoseconds latency = Clock::now() - start;
  const ExpectOutcome judged = evaluate_response(m_target.expect, status, body, latency);
  result = make_result(judged.ok ? CheckStatus::success : CheckStatus::failure,
                       asked + " -> " + std::to_string(status) +
                           (judged.ok ? "" : ": " + judged.problem),
                       judged.reason);
  result.latency = latency;
  result.http_status = status;
  return result;
}

} // namespace probe::checks
