// The status page's renderer (exporters/status_page.hpp), a pure function of plain data: every
// field that comes from outside is escaped (a hostile string and invalid UTF-8 in each), secrets
// are masked as /status masks them, links to probe's endpoints are relative, the structure is
// the accessible one promised (lang, one h1, captioned tables with column headers, states in
// words), commit links only for hex SHAs, the Content-Security-Policy allows exactly the page's
// own script, and 100 targets with full histories stay under 100 KiB.
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <regex>

#include <gtest/gtest.h>

#include "exporters/status_page.hpp"
#include "probe/config/config_loader.hpp"
#include "tests/fakes/manual_clock.hpp"
#include "tests/support/text_match.hpp"

namespace probe::exporters {
namespace {

using namespace std::chrono_literals;

const std::string k_hostile = "<script>alert(1)</script>\"'&";
const std::string k_hostile_escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&apos;&amp;";
const std::string k_bad_utf8 = "bad \xff\xfe byte";

std::size_t count_of(const std::string& text, const std::string& part) {
  std::size_t count = 0;
  for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) {
    ++count;
  }
  return count;
}

bool valid_utf8(const std::string& text) {
  try {
    (void)nlohmann::json(text).dump();
    return true;
  } catch (const nlohmann::json::type_error&) {
    return false;
  }
}

config::Target http_target(const std::string& name, const std::string& url) {
  config::Target target;
  target.name = name;
  target.type = config::TargetType::http;
  config::HttpTarget http;
  http.url = url;
  target.spec = http;
  return target;
}

// A target with `checks` results fed through a real history on `clock`, one every 10 s, each
// `ok(i)`.
engine::TargetView view_of(config::Target target, fakes::ManualClock& clock, int checks,
                           const std::function<bool(int)>& ok, const std::string& detail) {
  engine::TargetView view;
  view.snapshot.target = std::move(target);
  engine::TargetHistory history;
  for (int i = 0; i < checks; ++i) {
    checks::CheckResult result = checks::make_result(
        ok(i) ? checks::CheckStatus::success : checks::CheckStatus::failure, detail);
    result.latency = std::chrono::milliseconds(2 + i % 17);
    const auto at = clock.system_now() - std::chrono::seconds(10 * (checks - i));
    view.snapshot.state.apply(result, 1, 3, at);
    history.record(result, at);
  }
  view.history = history.summary(clock.system_now());
  return view;
}

deploy::DeployEvent event(const std::string& kind, const std::string& sha,
                          std::chrono::system_clock::time_point at) {
  deploy::DeployEvent e;
  e.event_id = "00000000-0000-4000-8000-000000000000";
  e.kind = kind;
  e.sha = sha;
  e.actor = "ci";
  e.host = "web-1";
  e.occurred_at = at;
  return e;
}

class StatusPageTest : public ::testing::Test {
protected:
  StatusPageInput base() {
    StatusPageInput input;
    input.now = m_clock.system_now();
    input.readiness = engine::Readiness{true, input.now - 5min};
    input.version = "probe 1.2.3";
    input.deploys_read = true;
    input.reload.loaded = input.now - 1h;
    return input;
  }

  fakes::ManualClock m_clock;
};

TEST_F(StatusPageTest, EveryFieldFromOutsideIsEscapedAndMadeValidUtf8) {
  StatusPageInput input = base();
  input.readiness.ready = false;
  config::Target target = http_target(k_hostile + k_bad_utf8, "http://api/health");
  input.targets.push_back(view_of(
      target, m_clock, 5, [](int) { return false; }, k_hostile + k_bad_utf8));
  deploy::DeployEvent e = event(k_hostile, k_hostile + k_bad_utf8, input.now - 1min);
  e.previous_sha = k_hostile;
  e.actor = "<img src=x onerror=alert(1)>" + k_hostile + k_bad_utf8;
  e.host = k_hostile + k_bad_utf8;
  e.details = {{"message", k_hostile + k_bad_utf8}, {"other", k_hostile}};
  input.deploys = {e};
  input.running = e;
  input.repository_url = "https://git.example/org/repo\"><script>alert(2)</script>";
  input.version = k_hostile + k_bad_utf8;
  const std::string page = render_status_page(input);

  EXPECT_EQ(count_of(page, "<script>"), 1U) << "only the page's own script";
  EXPECT_FALSE(contains(page, "<img")) << page;
  EXPECT_FALSE(contains(page, "alert(2)</script>"));
  EXPECT_FALSE(contains(page, "\"'&<")) << "raw hostile text";
  // Name (verdict and row), detail, kind, sha, previous sha, actor, host, message, details,
  // version: each shows the escaped form.
  EXPECT_GE(count_of(page, k_hostile_escaped), 10U) << page;
  EXPECT_TRUE(contains(page, "&lt;img src=x onerror=alert(1)&gt;"));
  EXPECT_TRUE(valid_utf8(page)) << "invalid UTF-8 reached the page";
  EXPECT_TRUE(contains(page, "bad \xEF\xBF\xBD\xEF\xBF\xBD byte")) << "U+FFFD per bad byte";
}

TEST_F(StatusPageTest, ControlAndBidiCharactersAreShownNotObeyed) {
  EXPECT_EQ(html_text("a\nb\u202Ec"), "a\\nb\\u202ec");
  EXPECT_EQ(html_text("<&>\"'"), "&lt;&amp;&gt;&quot;&apos;");
}

TEST_F(StatusPageTest, TheRepositoryUrlIsEscapedInTheCommitLink) {
  StatusPageInput input = base();
  input.repository_url = "https://git.example/a\"b";
  input.running = event("deploy_succeeded", "1a2b3c4d", input.now - 1h);
  input.deploys = {*input.running};
  const std::string page = render_status_page(input);
  EXPECT_TRUE(contains(page, "<a href=\"https://git.example/a&quot;b/commit/1a2b3c4d\">")) << page;
}

TEST_F(StatusPageTest, SecretsInATargetsErrorAreMaskedAsInStatus) {
  const config::Config config = config::load_config_string(
      "targets:\n"
      "  - {name: db, type: postgres, dsn: \"postgresql://app:pg-s3cret-pw@db:5432/app\"}\n"
      "  - {name: api, type: http, url: \"http://api:8000/health?token=tok-abcdef123\"}\n",
      "probe.yaml", [](const std::string&) { return std::nullopt; });
  StatusPageInput input = base();
  input.targets.push_back(view_of(
      config.targets[0], m_clock, 3, [](int) { return false; },
      "connection to postgresql://app:pg-s3cret-pw@db:5432/app failed: password pg-s3cret-pw"));
  input.targets.push_back(view_of(
      config.targets[1], m_clock, 3, [](int) { return false; },
      "GET /health?token=tok-abcdef123 -> 500: echoed tok-abcdef123"));
  const std::string page = render_status_page(input);
  EXPECT_FALSE(contains(page, "pg-s3cret-pw")) << page;
  EXPECT_FALSE(contains(page, "tok-abcdef123")) << page;
  EXPECT_TRUE(contains(page, "***"));
}

TEST_F(StatusPageTest, IsAccessibleAndFetchesNothing) {
  StatusPageInput input = base();
  input.readiness.ready = false;
  input.targets.push_back(view_of(
      http_target("api", "http://api/"), m_clock, 40, [](int) { return true; }, "ok"));
  input.targets.push_back(view_of(
      http_target("db", "http://db/"), m_clock, 40, [](int i) { return i < 30; }, "refused"));
  input.targets.push_back(view_of(
      http_target("bot", "http://bot/"), m_clock, 0, [](int) { return true; }, ""));
  input.repository_url = "https://github.com/org/repo";
  input.running = event("deploy_succeeded", "0123456789abcdef0123456789abcdef01234567", input.now);
  input.deploys = {event("rollback_succeeded", "sha-1a2b3c4", input.now), *input.running};
  const std::string page = render_status_page(input);

  EXPECT_EQ(page.rfind("<!DOCTYPE html>\n<html lang=\"en\">", 0), 0U);
  EXPECT_TRUE(
      contains(page, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"));
  EXPECT_EQ(count_of(page, "<h1"), 1U);
  EXPECT_EQ(count_of(page, "<h2"), 3U);
  EXPECT_EQ(count_of(page, "<table>"), 2U);
  EXPECT_EQ(count_of(page, "<caption>"), 2U);
  EXPECT_EQ(count_of(page, "<th scope=\"col\">"), 9U + 7U);
  EXPECT_EQ(count_of(page, "<th scope=\"row\">"), 3U);
  for (const char* word : {">UP<", ">DOWN<", ">UNKNOWN<", "NOT READY"}) {
    EXPECT_TRUE(contains(page, word)) << word;
  }
  // Down first, then unknown, then up.
  EXPECT_LT(page.find("<th scope=\"row\">db"), page.find("<th scope=\"row\">bot"));
  EXPECT_LT(page.find("<th scope=\"row\">bot"), page.find("<th scope=\"row\">api"));
  // Every link to probe is relative; the only absolute ones are commit links.
  EXPECT_FALSE(contains(page, "href=\"/")) << page;
  EXPECT_FALSE(contains(page, "src=")) << "nothing loaded from anywhere";
  EXPECT_FALSE(contains(page, "@import"));
  EXPECT_FALSE(contains(page, "url("));
  const std::regex href("href=\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(page.begin(), page.end(), href); it != std::sregex_iterator();
       ++it) {
    const std::string target = (*it)[1];
    const bool relative = target.find(':') == std::string::npos && target.rfind("//", 0) != 0;
    EXPECT_TRUE(relative || target.rfind("https://github.com/org/repo/commit/", 0) == 0) << target;
  }
  for (const char* link :
       {"href=\"status\"", "href=\"metrics\"", "href=\"deploys\"", "href=\"ready\""}) {
    EXPECT_TRUE(contains(page, link)) << link;
  }
  // Charts: the bar and the sparkline are images with a text alternative.
  EXPECT_TRUE(contains(page, "role=\"img\"><title>Last 30 checks: 20 success, 10 failure</title>"))
      << page;
  EXPECT_TRUE(contains(page, "aria-label=\"Latency, last hour: min "));
  EXPECT_EQ(count_of(page, "role=\"img\""), 3U + 2U) << "bars for all three, sparklines for two";
}

TEST_F(StatusPageTest, CommitLinksOnlyForHexShas) {
  const std::string repo = "https://github.com/org/repo";
  EXPECT_EQ(commit_url(repo, "1a2b3c4"), repo + "/commit/1a2b3c4");
  EXPECT_EQ(commit_url(repo, std::string(40, 'f')), repo + "/commit/" + std::string(40, 'f'));
  EXPECT_EQ(commit_url(repo, "1a2b3c"), "") << "6 digits";
  EXPECT_EQ(commit_url(repo, std::string(41, 'f')), "");
  EXPECT_EQ(commit_url(repo, "sha-1a2b3c4"), "") << "an image tag";
  EXPECT_EQ(commit_url(repo, "1a2b3g4"), "");
  EXPECT_EQ(commit_url("", "1a2b3c4"), "") << "no repository configured";

  StatusPageInput input = base();
  input.running = event("deploy_succeeded", "v1.2.3", input.now);
  input.deploys = {*input.running};
  input.repository_url = repo;
  const std::string page = render_status_page(input);
  EXPECT_FALSE(contains(page, "/commit/"));
  EXPECT_TRUE(contains(page, "<code>v1.2.3</code>"));
}

TEST_F(StatusPageTest, TheDeployedShaAndTheDeployStatesAreSaid) {
  StatusPageInput input = base();
  input.deploys_read = false;
  EXPECT_TRUE(contains(render_status_page(input), "The deploy log has not been read yet."));
  input.deploys_read = true;
  EXPECT_TRUE(contains(render_status_page(input), "No deploy events recorded."));
  input.deploys = {event("deploy_failed", "1a2b3c4d", input.now - 2min)};
  EXPECT_TRUE(contains(render_status_page(input), "No successful deploy recorded yet."));
  deploy::DeployEvent good = event("rollback_succeeded", "0f0f0f0", input.now - 1min);
  good.previous_sha = "1a2b3c4d";
  input.running = good;
  const std::string page = render_status_page(input);
  EXPECT_TRUE(contains(page, "Deployed now: <code>0f0f0f0</code>, rollback_succeeded"));
  EXPECT_TRUE(contains(page, "it replaced <code>1a2b3c4d</code>"));
  EXPECT_TRUE(contains(page, "<span class=\"s down\">deploy_failed</span>"));
}

TEST_F(StatusPageTest, TheReloadStateIsShown) {
  StatusPageInput input = base();
  EXPECT_TRUE(contains(render_status_page(input), "Config loaded <span title="));
  input.reload.reloaded = true;
  EXPECT_TRUE(contains(render_status_page(input), "(last reload OK)"));
  input.reload.last_ok = false;
  input.reload.last_attempt = input.now - 30s;
  const std::string page = render_status_page(input);
  EXPECT_TRUE(contains(page, "RELOAD FAILED</b> <span title="));
  EXPECT_TRUE(contains(page, ">30 s ago</span>"));
}

TEST_F(StatusPageTest, UptimeIsNeverRoundedUpToAHundred) {
  StatusPageInput input = base();
  // 8,000 checks 10 s apart (22 h), one failure 100 s ago.
  engine::TargetView view = view_of(
      http_target("api", "http://api/"), m_clock, 8000, [](int i) { return i != 7990; }, "ok");
  input.targets.push_back(view);
  const std::string page = render_status_page(input);
  EXPECT_TRUE(contains(page, ">99.98 %<")) << "7999 of 8000 is 99.9875 %";
  EXPECT_TRUE(contains(page, ">99.71 %<")) << "353 of 354 in the hour is 99.7175 %";
}

TEST_F(StatusPageTest, TheScriptIsAllowedByItsHashAndNothingElseIs) {
  EXPECT_EQ(status_page_csp(),
            "default-src 'none'; style-src 'unsafe-inline'; "
            "script-src 'sha256-Ji9XmK1jdHyFTCIwigQBtkK8W4TQMb1RraeLYXZU5bw='; img-src data:; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
  const std::string page = render_status_page(base());
  EXPECT_TRUE(contains(page, "<script>" + std::string(status_page_script()) + "</script>"));
}

// Issue 16: <= 100 KiB for 100 targets. A bad day: each target with a full day of history,
// ten of them flapping (the bar's worst case, a run per check), ten down with a long error, the
// rest failing now and then; and ten deploy events.
TEST_F(StatusPageTest, AHundredTargetsWithFullHistoriesStayUnder100KiB) {
  StatusPageInput input = base();
  input.readiness.ready = false;
  input.repository_url = "https://github.com/example-org/example-app";
  for (int t = 0; t < 100; ++t) {
    const std::string name = "service-" + std::to_string(100 + t);
    std::function<bool(int)> ok = [t](int i) { return (i + t) % 23 != 0; };
    std::string detail = "GET /health -> 200";
    if (t % 10 == 0) {
      ok = [](int i) { return i % 2 == 0; };
    } else if (t % 10 == 1) {
      ok = [](int i) { return i < 8000; };
      detail = "GET /health -> 503 Service Unavailable (body: upstream connect error or "
               "disconnect/reset before headers)";
    }
    input.targets.push_back(view_of(http_target(name, "http://" + name + ":8000/health"), m_clock,
                                    6 * 60 * 24, ok, detail));
  }
  for (int e = 0; e < 10; ++e) {
    deploy::DeployEvent d = event(e % 2 == 0 ? "deploy_succeeded" : "deploy_started",
                                  "0123456789abcdef0123456789abcdef0123456" + std::to_string(e),
                                  input.now - std::chrono::hours(e));
    d.previous_sha = "fedcba9876543210fedcba9876543210fedcba98";
    d.actor = "github-actions[bot]";
    d.details = {{"message", "release 2026.12." + std::to_string(e)}, {"run_id", 123456789}};
    input.deploys.push_back(d);
  }
  input.running = input.deploys.front();
  const std::string page = render_status_page(input);
  std::printf("status page, 100 targets: %zu bytes (%.1f KiB)\n", page.size(),
              static_cast<double>(page.size()) / 1024.0);
  if (const char* dump = std::getenv("PROBE_STATUS_PAGE_DUMP")) {
    std::ofstream(dump) << page; // to look at by hand
  }
  EXPECT_LE(page.size(), 100U * 1024U);
  EXPECT_EQ(count_of(page, "<th scope=\"row\">"), 100U);
}

} // namespace
} // namespace probe::exporters
