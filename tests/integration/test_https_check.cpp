// https targets against a real TLS server on loopback with a certificate made for the test:
// verified with the target's ca_file, refused when the certificate is not trusted (the system
// CAs do not know it), and accepted with insecure_skip_verify.
#include <chrono>
#include <optional>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>

#include "probe/checks/check.hpp"
#include "tests/support/subprocess.hpp"

namespace probe::tests {
namespace {

using namespace std::chrono_literals;

class HttpsCheck : public ::testing::Test {
protected:
  void SetUp() override {
    const fakes::ProcessResult made = fakes::run_process(
        {"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
         "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout",
         m_dir.path() + "/key.pem", "-out", m_dir.path() + "/cert.pem"});
    ASSERT_EQ(made.exit_code, 0) << made.err;
    m_server = std::make_unique<httplib::SSLServer>((m_dir.path() + "/cert.pem").c_str(),
                                                    (m_dir.path() + "/key.pem").c_str());
    m_server->Get("/health", [](const httplib::Request&, httplib::Response& response) {
      response.set_content("{\"status\":\"ok\"}", "application/json");
    });
    m_port = m_server->bind_to_any_port("127.0.0.1");
    ASSERT_GT(m_port, 0);
    m_thread = std::thread([this] { m_server->listen_after_bind(); });
    // Bounded generously (a loaded machine), and required: stop() before the accept loop runs
    // would leave TearDown's join waiting forever.
    for (int i = 0; i < 60'000 && !m_server->is_running(); ++i) {
      std::this_thread::sleep_for(1ms);
    }
    ASSERT_TRUE(m_server->is_running()) << "the TLS server did not start";
  }
  void TearDown() override {
    if (m_server) {
      m_server->stop();
    }
    if (m_thread.joinable()) {
      m_thread.join();
    }
  }

  config::Target target(const std::string& ca_file, bool insecure,
                        std::optional<double> tls_min_days = std::nullopt) {
    config::Target target;
    target.name = "secure";
    target.type = config::TargetType::http;
    target.timeout = 2s;
    config::HttpTarget http;
    http.url = "https://127.0.0.1:" + std::to_string(m_port) + "/health";
    http.ca_file = ca_file;
    http.insecure_skip_verify = insecure;
    http.expect.tls_min_days = tls_min_days;
    target.spec = http;
    return target;
  }
  checks::CheckResult check(const std::string& ca_file, bool insecure) {
    const config::Target made = target(ca_file, insecure);
    return checks::make_check(made, {})->run(made.timeout);
  }

  fakes::TempDir m_dir;
  std::unique_ptr<httplib::SSLServer> m_server;
  std::thread m_thread;
  int m_port = 0;
};

TEST_F(HttpsCheck, TrustedThroughCaFilePasses) {
  const checks::CheckResult result = check(m_dir.path() + "/cert.pem", false);
  EXPECT_EQ(result.status, checks::CheckStatus::success) << result.detail;
  EXPECT_EQ(result.http_status, 200);
}

TEST_F(HttpsCheck, UnknownCertificateFailsAsTls) {
  const checks::CheckResult result = check("", false);
  EXPECT_EQ(result.status, checks::CheckStatus::failure) << result.detail;
  EXPECT_EQ(result.reason, "tls") << result.detail;
}

TEST_F(HttpsCheck, InsecureSkipVerifyPasses) {
  const checks::CheckResult result = check("", true);
  EXPECT_EQ(result.status, checks::CheckStatus::success) << result.detail;
}

// The certificate made in SetUp is valid for one day: the check reads its notAfter from the
// handshake, on the first run and on the next one over the kept-alive connection too.
TEST_F(HttpsCheck, TheEarliestCertificateExpiryAndThePhasesAreReported) {
  const config::Target made = target(m_dir.path() + "/cert.pem", false);
  const std::unique_ptr<checks::Check> https = checks::make_check(made, {});
  const auto now = std::chrono::system_clock::now();
  const checks::CheckResult first = https->run(made.timeout);
  ASSERT_EQ(first.status, checks::CheckStatus::success) << first.detail;
  ASSERT_TRUE(first.tls_earliest_expiry.has_value());
  EXPECT_GT(*first.tls_earliest_expiry, now + 23h);
  EXPECT_LT(*first.tls_earliest_expiry, now + 25h);
  ASSERT_TRUE(first.http_phases.has_value());
  EXPECT_GT(first.http_phases->tls.count(), 0) << "the first run made a TLS handshake";
  EXPECT_GT(first.http_phases->connect.count(), 0);

  const checks::CheckResult second = https->run(made.timeout);
  ASSERT_EQ(second.status, checks::CheckStatus::success) << second.detail;
  EXPECT_EQ(second.tls_earliest_expiry, first.tls_earliest_expiry) << "read on reuse too";
  ASSERT_TRUE(second.http_phases.has_value());
  EXPECT_EQ(second.http_phases->tls.count(), 0) << "the connection was kept alive";
  EXPECT_EQ(second.http_phases->connect.count(), 0) << "the connection was kept alive";
}

TEST_F(HttpsCheck, ACertificateWithLessValidityLeftThanTlsMinDaysFails) {
  const config::Target wants_two_days = target(m_dir.path() + "/cert.pem", false, 2.0);
  const checks::CheckResult short_lived =
      checks::make_check(wants_two_days, {})->run(wants_two_days.timeout);
  EXPECT_EQ(short_lived.status, checks::CheckStatus::failure) << short_lived.detail;
  EXPECT_EQ(short_lived.reason, "tls_expiry") << short_lived.detail;
  EXPECT_NE(short_lived.detail.find("expected at least 2 days"), std::string::npos)
      << short_lived.detail;

  const config::Target wants_half_a_day = target(m_dir.path() + "/cert.pem", false, 0.5);
  const checks::CheckResult enough =
      checks::make_check(wants_half_a_day, {})->run(wants_half_a_day.timeout);
  EXPECT_EQ(enough.status, checks::CheckStatus::success) << enough.detail;
}

} // namespace
} // namespace probe::tests
