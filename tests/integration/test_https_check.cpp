// https targets against a real TLS server on loopback with a certificate made for the test:
// verified with the target's ca_file, refused when the certificate is not trusted (the system
// CAs do not know it), and accepted with insecure_skip_verify.
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

  checks::CheckResult check(const std::string& ca_file, bool insecure) {
    config::Target target;
    target.name = "secure";
    target.type = config::TargetType::http;
    target.timeout = 2s;
    config::HttpTarget http;
    http.url = "https://127.0.0.1:" + std::to_string(m_port) + "/health";
    http.ca_file = ca_file;
    http.insecure_skip_verify = insecure;
    target.spec = http;
    return checks::make_check(target, {})->run(target.timeout);
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

} // namespace
} // namespace probe::tests
