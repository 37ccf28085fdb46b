// The status page (issue 16) from a real `probe serve`: GET / answers HTML with the promised
// headers (type, no-store, the Content-Security-Policy, nosniff), HEAD / the same head and no
// body; the page shows each target's state in words (UP, DOWN, UNKNOWN), the deployed SHA
// linked to its commit, and a deploy event's hostile actor and message escaped; with
// `status_page: false` GET / is 404 as before the page existed. Deploy events go to the journal
// (no deploy.dsn), so no PostgreSQL is needed. Waits only tell "happened" from "never will".
#include "serve_fixture.hpp"
#include <nlohmann/json.hpp>

#include "tests/standins/http_standin.hpp"
#include "tests/standins/tcp_standin.hpp"
#include "tests/support/text_match.hpp"

namespace probe::tests {
namespace {

using test_support::k_event_deadline;

std::string state_of(const RunningProbe& probe, const std::string& name) {
  const auto [status, body] = probe.get("/status");
  if (status != 200) {
    return "";
  }
  const nlohmann::json status_body = nlohmann::json::parse(body);
  for (const nlohmann::json& target : status_body["targets"]) {
    if (target["name"] == name) {
      return target["state"];
    }
  }
  return "";
}

class ServeStatusPage : public ::testing::Test {
protected:
  std::string config(const std::string& status_page) {
    return "defaults: {interval: 250ms, timeout: 250ms}\n"
           "targets:\n"
           "  - {name: api, type: http, url: \"" +
           m_api.url("/health") +
           "\"}\n"
           "  - {name: dead, type: tcp, address: \"127.0.0.1:" +
           std::to_string(fakes::closed_port()) +
           "\", failure_threshold: 1}\n"
           // Succeeds, but is not proven UP until 1000 successes: UNKNOWN all test long.
           "  - {name: warming, type: http, url: \"" +
           m_api.url("/health") +
           "\", success_threshold: 1000, critical: false}\n"
           "  - {name: bot, type: heartbeat, source: push, max_age: 1h, critical: false}\n"
           "deploy: {journal: \"" +
           m_dir.path() + "/journal.jsonl\", token: \"tok-123\"}\n" + status_page;
  }

  fakes::TempDir m_dir;
  fakes::HttpStandin m_api;
};

TEST_F(ServeStatusPage, GetSlashIsTheHtmlPageWithItsHeadersAndEscapedEvents) {
  RunningProbe probe(m_dir,
                     config("status_page: {repository_url: \"https://git.example/org/app\"}\n"));
  ASSERT_TRUE(fakes::eventually(
      [&] { return state_of(probe, "api") == "up" && state_of(probe, "dead") == "down"; },
      k_event_deadline))
      << probe.get("/status").second;
  const std::string hostile = "<img src=x onerror=alert(1)>";
  ASSERT_EQ(probe
                .post("/deploys", "tok-123",
                      nlohmann::json{{"kind", "deploy_succeeded"},
                                     {"sha", "1a2b3c4d5e6f7a8b"},
                                     {"actor", hostile},
                                     {"details", {{"message", hostile + "\"'&"}}}}
                          .dump())
                .first,
            201);
  // The deploy thread reads the log after each event; the page shows its last read.
  std::string page;
  ASSERT_TRUE(fakes::eventually(
      [&] {
        page = probe.get("/").second;
        return contains(page, "1a2b3c4d5e6f");
      },
      k_event_deadline))
      << page;

  httplib::Client client = probe.client();
  const httplib::Result get = client.Get("/");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(get->get_header_value("Cache-Control"), "no-store");
  EXPECT_EQ(get->get_header_value("X-Content-Type-Options"), "nosniff");
  const std::string csp = get->get_header_value("Content-Security-Policy");
  EXPECT_EQ(csp.rfind("default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-", 0), 0U)
      << csp;
  const httplib::Result head = client.Head("/");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_TRUE(head->body.empty());

  page = get->body;
  EXPECT_EQ(page.rfind("<!DOCTYPE html>\n<html lang=\"en\">", 0), 0U);
  for (const char* word : {">UP<", ">DOWN<", ">UNKNOWN<", "NOT READY", "dead"}) {
    EXPECT_TRUE(contains(page, word)) << word << "\n" << page;
  }
  EXPECT_TRUE(contains(page, "<a href=\"https://git.example/org/app/commit/1a2b3c4d5e6f7a8b\">"));
  EXPECT_FALSE(contains(page, "<img")) << page;
  EXPECT_TRUE(contains(page, "&lt;img src=x onerror=alert(1)&gt;&quot;&apos;&amp;")) << page;
  EXPECT_FALSE(contains(page, "href=\"/"));
  EXPECT_EQ(probe.post("/", "tok-123").first, 405);
}

TEST_F(ServeStatusPage, TurnedOffIs404) {
  RunningProbe probe(m_dir, config("status_page: false\n"));
  const auto [status, body] = probe.get("/");
  EXPECT_EQ(status, 404);
  EXPECT_EQ(body, "{\"error\":\"no such endpoint: / (status_page: false)\"}\n");
  EXPECT_EQ(probe.get("/status").first, 200) << "the JSON stays";
}

} // namespace
} // namespace probe::tests
