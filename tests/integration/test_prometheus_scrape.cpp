// A real Prometheus (Debian's) scrapes a real `probe serve`: the test reads what Prometheus
// stored through its HTTP API — `up` is 1, probe_success has one series per target with the
// right values — then stops a stand-in and watches probe_success turn 0 at once and
// probe_target_up follow only after failure_threshold failures. The waits are generous (a
// loaded machine may delay scrapes; tests/support/bounds.hpp), and the threshold is high enough
// that Prometheus scrapes the target failing but still UP more than once.
#include <cstdlib>
#include <fstream>
#include <optional>

#include "serve_fixture.hpp"
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "tests/standins/http_standin.hpp"
#include "tests/standins/tcp_standin.hpp"
#include "tests/support/bounds.hpp"

namespace probe::tests {
namespace {

using namespace std::chrono_literals;
using test_support::k_event_deadline;

bool prometheus_required() {
  const char* required = std::getenv("PROBE_TEST_REQUIRE_PROMETHEUS");
  return required != nullptr && std::string(required) == "1";
}

class RunningPrometheus {
public:
  RunningPrometheus(const fakes::TempDir& dir, int probe_port)
      : m_port(fakes::free_loopback_port()) {
    const std::string config =
        dir.write("prometheus.yml", "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                                    "scrape_configs:\n"
                                    "  - job_name: probe\n"
                                    "    static_configs: [{targets: ['127.0.0.1:" +
                                        std::to_string(probe_port) + "']}]\n");
    m_process = std::make_unique<fakes::BackgroundProcess>(
        std::vector<std::string>{"/usr/bin/prometheus", "--config.file=" + config,
                                 "--storage.tsdb.path=" + dir.path() + "/tsdb",
                                 "--web.listen-address=127.0.0.1:" + std::to_string(m_port),
                                 "--log.level=warn"},
        dir.path() + "/prometheus.log");
  }
  ~RunningPrometheus() { m_process->stop(SIGTERM, 30s); }

  // The instant vector for `query` as {labels -> value}; empty when the query failed.
  std::vector<std::pair<nlohmann::json, double>> query(const std::string& promql) const {
    httplib::Client client("127.0.0.1", m_port);
    client.set_connection_timeout(5s);
    client.set_read_timeout(15s);
    const httplib::Params params{{"query", promql}};
    const httplib::Result result = client.Get("/api/v1/query", params, httplib::Headers{});
    std::vector<std::pair<nlohmann::json, double>> out;
    if (!result || result->status != 200) {
      return out;
    }
    const nlohmann::json body = nlohmann::json::parse(result->body, nullptr, false);
    if (body.is_discarded() || body.value("status", "") != "success") {
      return out;
    }
    for (const nlohmann::json& sample : body["data"]["result"]) {
      out.emplace_back(sample["metric"], std::stod(sample["value"][1].get<std::string>()));
    }
    return out;
  }

  // The value of the single series `promql` selects, if there is exactly one.
  std::optional<double> value(const std::string& promql) const {
    const auto samples = query(promql);
    if (samples.size() != 1) {
      return std::nullopt;
    }
    return samples.front().second;
  }

  std::string log() const { return m_process->log(); }

private:
  int m_port;
  std::unique_ptr<fakes::BackgroundProcess> m_process;
};

TEST(PrometheusScrape, SeesEveryTargetAndFollowsThresholds) {
  if (access("/usr/bin/prometheus", X_OK) != 0) {
    if (prometheus_required()) {
      FAIL() << "/usr/bin/prometheus is missing but PROBE_TEST_REQUIRE_PROMETHEUS=1";
    }
    GTEST_SKIP() << "Debian's prometheus is not installed";
  }
  fakes::TempDir dir;
  fakes::HttpStandin api;
  fakes::HttpStandin frontend;
  RunningProbe probe(dir, "defaults: {interval: 500ms, timeout: 500ms, failure_threshold: 6}\n"
                          "targets:\n"
                          "  - {name: api, type: http, url: \"" +
                              api.url("/health") +
                              "\"}\n"
                              "  - {name: frontend, type: http, url: \"" +
                              frontend.url("/") + "\"}\n");
  RunningPrometheus prometheus(dir, probe.port());

  ASSERT_TRUE(fakes::eventually([&] { return prometheus.value("up{job=\"probe\"}") == 1.0; },
                                k_event_deadline))
      << prometheus.log();
  ASSERT_TRUE(fakes::eventually([&] { return prometheus.query("probe_success == 1").size() == 2; },
                                k_event_deadline));
  const auto series = prometheus.query("probe_success");
  ASSERT_EQ(series.size(), 2U);
  for (const auto& [labels, value] : series) {
    EXPECT_EQ(labels["type"], "http");
    EXPECT_TRUE(labels["target"] == "api" || labels["target"] == "frontend") << labels.dump();
    EXPECT_EQ(value, 1.0);
  }
  EXPECT_EQ(prometheus.value("probe_ready"), 1.0);

  // Stop the api: the raw result turns 0 at the next check, the debounced state only after
  // six failures in a row (3 s at a 500 ms interval: Prometheus, scraping every second, sees
  // the target failing but UP more than once).
  api.set_mode(fakes::HttpMode::error_500);
  ASSERT_TRUE(fakes::eventually(
      [&] { return prometheus.value("probe_success{target=\"api\"}") == 0.0; }, k_event_deadline));
  bool up_lagged = false;
  ASSERT_TRUE(fakes::eventually(
      [&] {
        const auto up = prometheus.value("probe_target_up{target=\"api\"}");
        const auto failures = prometheus.value("probe_consecutive_failures{target=\"api\"}");
        if (up == 1.0 && failures && *failures < 6) {
          up_lagged = true; // seen failing but still UP: the threshold at work
        }
        return up == 0.0;
      },
      k_event_deadline));
  EXPECT_GE(prometheus.value("probe_consecutive_failures{target=\"api\"}").value_or(0), 6.0);
  EXPECT_EQ(prometheus.value("probe_success{target=\"frontend\"}"), 1.0);
  EXPECT_EQ(prometheus.value("probe_ready"), 0.0);
  EXPECT_TRUE(up_lagged)
      << "probe_target_up never stayed 1 while failures were below the threshold";
}

} // namespace
} // namespace probe::tests
