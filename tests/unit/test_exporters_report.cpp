// `probe check` prints its round in three forms: a table for people, JSON for scripts, JUnit XML
// for CI systems. All three are pure functions of the results, so they are pinned byte for byte
// (the table, the JUnit structure) or parsed back field by field (JSON). The cases that matter
// to readers: a non-critical failure shows but does not fail the run (and is <skipped> in
// JUnit), and a detail holding markup, quotes, control characters or invalid UTF-8 — which comes
// from whatever a target answered — can never break the document around it.
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "exporters/report.hpp"

namespace probe::exporters {
namespace {

using checks::CheckResult;
using checks::CheckStatus;
using std::chrono::nanoseconds;

config::Target make_target(const std::string& name, config::TargetType type, bool critical) {
  config::Target target;
  target.name = name;
  target.type = type;
  target.critical = critical;
  return target;
}

CheckResult make_check_result(CheckStatus status, nanoseconds latency, std::string detail,
                              std::string reason = {}) {
  CheckResult result;
  result.status = status;
  result.latency = latency;
  result.detail = std::move(detail);
  result.reason = std::move(reason);
  return result;
}

// 2024-05-01T12:00:00Z
std::chrono::system_clock::time_point fixed_start() {
  using namespace std::chrono;
  return sys_days{year{2024} / May / 1} + hours{12};
}

// The targets a report points at; they outlive every Report built from them.
class ReportTest : public ::testing::Test {
protected:
  // api passes, db (critical) times out, cache (non-critical) is refused.
  Report mixed_report() const {
    Report report;
    report.wall = nanoseconds(2'010'000'000);
    report.started_at = fixed_start();
    CheckResult api =
        make_check_result(CheckStatus::success, nanoseconds(12'345'678), "GET /health -> 200");
    api.http_status = 200;
    report.results.push_back({&m_api, api, {}});
    report.results.push_back({&m_db,
                              make_check_result(CheckStatus::timeout, nanoseconds(2'000'000'000),
                                                "no answer within 2s", "timeout"),
                              {}});
    report.results.push_back(
        {&m_cache,
         make_check_result(CheckStatus::failure, nanoseconds(420'000),
                           "connect cache:6379: connection refused", "connection_refused"),
         {}});
    return report;
  }

  Report single(const config::Target& target, CheckResult result) const {
    Report report;
    report.wall = result.latency;
    report.started_at = fixed_start();
    report.results.push_back({&target, std::move(result), {}});
    return report;
  }

  config::Target m_api = make_target("api", config::TargetType::http, true);
  config::Target m_db = make_target("db", config::TargetType::postgres, true);
  config::Target m_cache = make_target("cache", config::TargetType::tcp, false);
  config::Target m_bot = make_target("bot", config::TargetType::heartbeat, true);
};

// --- report_passed ------------------------------------------------------------------------

TEST_F(ReportTest, PassesWhenEveryTargetPasses) {
  EXPECT_TRUE(
      report_passed(single(m_api, make_check_result(CheckStatus::success, nanoseconds(1), "ok"))));
}

TEST_F(ReportTest, NonCriticalFailureStillPasses) {
  EXPECT_TRUE(report_passed(single(
      m_cache, make_check_result(CheckStatus::failure, nanoseconds(1), "refused", "refused"))));
}

TEST_F(ReportTest, CriticalFailureFails) {
  EXPECT_FALSE(report_passed(mixed_report()));
  for (const CheckStatus status :
       {CheckStatus::failure, CheckStatus::timeout, CheckStatus::error}) {
    EXPECT_FALSE(report_passed(single(m_db, make_check_result(status, nanoseconds(1), "x"))));
  }
}

TEST_F(ReportTest, EmptyReportPasses) {
  EXPECT_TRUE(report_passed(Report{}));
}

// --- text ---------------------------------------------------------------------------------

TEST_F(ReportTest, TextIsAnAlignedTable) {
  const std::string expected =
      "TARGET                TYPE      RESULT   LATENCY  DETAIL\n"
      "api                   http      success  12.3ms   GET /health -> 200\n"
      "db                    postgres  timeout  2.00s    no answer within 2s\n"
      "cache (non-critical)  tcp       failure  0.42ms   connect cache:6379: connection refused\n"
      "3 targets: 1 passed, 2 failed in 2.01s (critical failing: db)\n";
  EXPECT_EQ(render_text(mixed_report(), false), expected);
}

TEST_F(ReportTest, TextWithoutColourHasNoEscapeCodes) {
  EXPECT_EQ(render_text(mixed_report(), false).find('\033'), std::string::npos);
}

TEST_F(ReportTest, TextSummaryOmitsCriticalListWhenAllCriticalPass) {
  const std::string text = render_text(
      single(m_cache, make_check_result(CheckStatus::failure, nanoseconds(420'000), "refused")),
      false);
  EXPECT_EQ(text, "TARGET                TYPE  RESULT   LATENCY  DETAIL\n"
                  "cache (non-critical)  tcp   failure  0.42ms   refused\n"
                  "1 target: 0 passed, 1 failed in 0.42ms\n");
}

TEST_F(ReportTest, TextWithColourMarksEachResult) {
  const std::string text = render_text(mixed_report(), true);
  EXPECT_NE(text.find("\033[32msuccess\033[0m"), std::string::npos) << text;
  EXPECT_NE(text.find("\033[33mtimeout\033[0m"), std::string::npos) << text;
  EXPECT_NE(text.find("\033[31mfailure\033[0m"), std::string::npos) << text;
}

TEST_F(ReportTest, TextWithColourIsTheSameTableOnceCodesAreRemoved) {
  std::string text = render_text(mixed_report(), true);
  for (const std::string code : {"\033[32m", "\033[33m", "\033[31m", "\033[0m"}) {
    for (std::size_t pos = text.find(code); pos != std::string::npos; pos = text.find(code)) {
      text.erase(pos, code.size());
    }
  }
  EXPECT_EQ(text, render_text(mixed_report(), false));
}

// --- JSON ---------------------------------------------------------------------------------

TEST_F(ReportTest, JsonCarriesEveryField) {
  const nlohmann::json doc = nlohmann::json::parse(render_json(mixed_report()));
  EXPECT_EQ(doc["ok"], false);
  EXPECT_EQ(doc["checked_at"], "2024-05-01T12:00:00.000Z");
  EXPECT_DOUBLE_EQ(doc["duration_ms"].get<double>(), 2010.0);
  ASSERT_EQ(doc["targets"].size(), 3U);

  const nlohmann::json& api = doc["targets"][0];
  EXPECT_EQ(api["name"], "api");
  EXPECT_EQ(api["type"], "http");
  EXPECT_EQ(api["critical"], true);
  EXPECT_EQ(api["ok"], true);
  EXPECT_EQ(api["result"], "success");
  EXPECT_DOUBLE_EQ(api["latency_ms"].get<double>(), 12.346);
  EXPECT_TRUE(api["error"].is_null());
  EXPECT_EQ(api["details"],
            (nlohmann::json{{"http_status", 200}, {"detail", "GET /health -> 200"}}));

  const nlohmann::json& db = doc["targets"][1];
  EXPECT_EQ(db["name"], "db");
  EXPECT_EQ(db["type"], "postgres");
  EXPECT_EQ(db["critical"], true);
  EXPECT_EQ(db["ok"], false);
  EXPECT_EQ(db["result"], "timeout");
  EXPECT_DOUBLE_EQ(db["latency_ms"].get<double>(), 2000.0);
  EXPECT_EQ(db["error"], "no answer within 2s");
  EXPECT_EQ(db["details"],
            (nlohmann::json{{"reason", "timeout"}, {"detail", "no answer within 2s"}}));

  const nlohmann::json& cache = doc["targets"][2];
  EXPECT_EQ(cache["name"], "cache");
  EXPECT_EQ(cache["type"], "tcp");
  EXPECT_EQ(cache["critical"], false);
  EXPECT_EQ(cache["ok"], false);
  EXPECT_EQ(cache["result"], "failure");
  EXPECT_DOUBLE_EQ(cache["latency_ms"].get<double>(), 0.42);
  EXPECT_EQ(cache["error"], "connect cache:6379: connection refused");
  EXPECT_EQ(cache["details"]["reason"], "connection_refused");
}

TEST_F(ReportTest, JsonOkWithOnlyNonCriticalFailure) {
  const nlohmann::json doc = nlohmann::json::parse(render_json(single(
      m_cache, make_check_result(CheckStatus::failure, nanoseconds(1), "refused", "refused"))));
  EXPECT_EQ(doc["ok"], true);
  EXPECT_EQ(doc["targets"][0]["ok"], false);
}

TEST_F(ReportTest, JsonHeartbeatAgeIsRoundedToMilliseconds) {
  CheckResult result =
      make_check_result(CheckStatus::success, nanoseconds(3'000'000), "last beat 12s ago");
  result.heartbeat_age_seconds = 12.3456789;
  const nlohmann::json doc = nlohmann::json::parse(render_json(single(m_bot, result)));
  const nlohmann::json& bot = doc["targets"][0];
  EXPECT_EQ(bot["type"], "heartbeat");
  EXPECT_DOUBLE_EQ(bot["details"]["heartbeat_age_seconds"].get<double>(), 12.346);
  EXPECT_EQ(bot["details"]["detail"], "last beat 12s ago");
  EXPECT_FALSE(bot["details"].contains("reason"));
}

TEST_F(ReportTest, JsonEmptyReport) {
  Report report;
  report.started_at = fixed_start();
  const nlohmann::json doc = nlohmann::json::parse(render_json(report));
  EXPECT_EQ(doc["ok"], true);
  EXPECT_TRUE(doc["targets"].is_array());
  EXPECT_TRUE(doc["targets"].empty());
}

TEST_F(ReportTest, JsonSurvivesInvalidUtf8AndControlCharacters) {
  const std::string text =
      render_json(single(m_api, make_check_result(CheckStatus::failure, nanoseconds(1),
                                                  "bad \xff\xfe body \x01 \"q\"", "json")));
  const nlohmann::json doc = nlohmann::json::parse(text);
  const std::string error = doc["targets"][0]["error"];
  EXPECT_NE(error.find("body \x01 \"q\""), std::string::npos) << error;
  EXPECT_EQ(error.find('\xff'), std::string::npos);
}

// --- JUnit --------------------------------------------------------------------------------

// A minimal well-formedness check: balanced tags, quoted attributes, only known entities, no
// characters XML 1.0 forbids and no invalid UTF-8. Returns "" when fine, else the first problem.
std::string xml_problem(const std::string& xml) {
  // UTF-8 and forbidden control characters.
  for (std::size_t i = 0; i < xml.size();) {
    const auto c = static_cast<unsigned char>(xml[i]);
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
      return "control character at " + std::to_string(i);
    }
    std::size_t extra = 0;
    if (c >= 0x80) {
      if ((c & 0xE0) == 0xC0 && c >= 0xC2) {
        extra = 1;
      } else if ((c & 0xF0) == 0xE0) {
        extra = 2;
      } else if ((c & 0xF8) == 0xF0 && c <= 0xF4) {
        extra = 3;
      } else {
        return "invalid UTF-8 at " + std::to_string(i);
      }
      for (std::size_t k = 1; k <= extra; ++k) {
        if (i + k >= xml.size() || (static_cast<unsigned char>(xml[i + k]) & 0xC0) != 0x80) {
          return "invalid UTF-8 at " + std::to_string(i);
        }
      }
    }
    i += 1 + extra;
  }
  std::vector<std::string> open;
  std::size_t pos = 0;
  while (pos < xml.size()) {
    if (xml[pos] == '&') {
      const std::size_t semi = xml.find(';', pos);
      const std::string entity = semi == std::string::npos ? "" : xml.substr(pos, semi - pos + 1);
      if (entity != "&lt;" && entity != "&gt;" && entity != "&amp;" && entity != "&quot;" &&
          entity != "&apos;") {
        return "bad entity at " + std::to_string(pos);
      }
      pos = semi + 1;
      continue;
    }
    if (xml[pos] != '<') {
      ++pos;
      continue;
    }
    if (xml.compare(pos, 5, "<?xml") == 0) {
      pos = xml.find("?>", pos) + 2;
      continue;
    }
    // A tag: name, then attributes name="value" whose values hold no '<' or raw '"'.
    std::size_t end = pos + 1;
    const bool closing = end < xml.size() && xml[end] == '/';
    if (closing) {
      ++end;
    }
    const std::size_t name_start = end;
    while (end < xml.size() && (std::isalnum(static_cast<unsigned char>(xml[end])) != 0)) {
      ++end;
    }
    const std::string name = xml.substr(name_start, end - name_start);
    if (name.empty()) {
      return "tag without a name at " + std::to_string(pos);
    }
    bool self_closing = false;
    while (true) {
      while (end < xml.size() && xml[end] == ' ') {
        ++end;
      }
      if (end >= xml.size()) {
        return "unterminated tag <" + name;
      }
      if (xml[end] == '>') {
        ++end;
        break;
      }
      if (xml.compare(end, 2, "/>") == 0) {
        self_closing = true;
        end += 2;
        break;
      }
      const std::size_t eq = xml.find('=', end);
      if (closing || eq == std::string::npos || xml[eq + 1] != '"') {
        return "bad attribute in <" + name;
      }
      const std::size_t close_quote = xml.find('"', eq + 2);
      if (close_quote == std::string::npos) {
        return "unterminated attribute in <" + name;
      }
      const std::string value = xml.substr(eq + 2, close_quote - eq - 2);
      if (value.find('<') != std::string::npos) {
        return "'<' in an attribute of <" + name;
      }
      const std::string inner = std::string("<x>") + value + "</x>";
      if (value.find('&') != std::string::npos && !xml_problem(inner).empty()) {
        return "bad entity in an attribute of <" + name;
      }
      end = close_quote + 1;
    }
    if (closing) {
      if (open.empty() || open.back() != name) {
        return "</" + name + "> does not close the open tag";
      }
      open.pop_back();
    } else if (!self_closing) {
      open.push_back(name);
    }
    pos = end;
  }
  return open.empty() ? "" : "<" + open.back() + "> is never closed";
}

// Runs xmllint on `xml` when it is installed: "" when well-formed or when there is no xmllint.
std::string xmllint_problem(const std::string& xml) {
  if (std::system("command -v xmllint >/dev/null 2>&1") != 0) {
    return "";
  }
  std::string path = (std::filesystem::temp_directory_path() / "probe-junit-XXXXXX").string();
  const int fd = mkstemp(path.data());
  if (fd < 0) {
    return "cannot create a temporary file";
  }
  close(fd);
  std::ofstream(path, std::ios::binary) << xml;
  const int status = std::system(("xmllint --noout '" + path + "' >/dev/null 2>&1").c_str());
  std::filesystem::remove(path);
  return status == 0 ? "" : "xmllint rejects the document";
}

TEST(XmlChecker, CatchesWhatItShould) {
  EXPECT_EQ(xml_problem("<a><b x=\"1\"/></a>"), "");
  EXPECT_NE(xml_problem("<a><b></a>"), "");
  EXPECT_NE(xml_problem("<a x=\"<\"/>"), "");
  EXPECT_NE(xml_problem("<a>&nbsp;</a>"), "");
  EXPECT_NE(xml_problem("<a>\x01</a>"), "");
  EXPECT_NE(xml_problem("<a>\xff</a>"), "");
  EXPECT_NE(xml_problem("<a>x < y</a>"), "");
}

TEST_F(ReportTest, JunitStructure) {
  const std::string expected =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<testsuites name=\"probe\" tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\" "
      "time=\"2.010\">\n"
      "  <testsuite name=\"probe\" tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\" "
      "time=\"2.010\" timestamp=\"2024-05-01T12:00:00\">\n"
      "    <testcase classname=\"probe.http\" name=\"api\" time=\"0.012\"/>\n"
      "    <testcase classname=\"probe.postgres\" name=\"db\" time=\"2.000\">\n"
      "      <failure message=\"no answer within 2s\" type=\"timeout\">no answer within "
      "2s</failure>\n"
      "    </testcase>\n"
      "    <testcase classname=\"probe.tcp\" name=\"cache\" time=\"0.000\">\n"
      "      <skipped message=\"non-critical target failed (failure): connect cache:6379: "
      "connection refused\"/>\n"
      "    </testcase>\n"
      "  </testsuite>\n"
      "</testsuites>\n";
  const std::string xml = render_junit(mixed_report());
  EXPECT_EQ(xml, expected);
  EXPECT_EQ(xml_problem(xml), "");
  EXPECT_EQ(xmllint_problem(xml), "");
}

TEST_F(ReportTest, JunitCountsAllPassing) {
  const std::string xml =
      render_junit(single(m_api, make_check_result(CheckStatus::success, nanoseconds(0), "ok")));
  EXPECT_NE(xml.find("<testsuites name=\"probe\" tests=\"1\" failures=\"0\" errors=\"0\" "
                     "skipped=\"0\" time=\"0.000\">"),
            std::string::npos)
      << xml;
  EXPECT_EQ(xml.find("<failure"), std::string::npos);
  EXPECT_EQ(xml.find("<skipped"), std::string::npos);
  EXPECT_EQ(xml_problem(xml), "");
}

TEST_F(ReportTest, JunitEscapesDetailAndDropsControlCharacters) {
  const std::string detail = "GET /h -> 500: <b>&\"quoted\"</b> it's \x01\x1b[0m done\ttab";
  const std::string xml =
      render_junit(single(m_db, make_check_result(CheckStatus::failure, nanoseconds(0), detail)));
  const std::string escaped =
      "GET /h -&gt; 500: &lt;b&gt;&amp;&quot;quoted&quot;&lt;/b&gt; it&apos;s [0m done\ttab";
  EXPECT_NE(
      xml.find("<failure message=\"" + escaped + "\" type=\"failure\">" + escaped + "</failure>"),
      std::string::npos)
      << xml;
  EXPECT_EQ(xml_problem(xml), "");
  EXPECT_EQ(xmllint_problem(xml), "");
}

TEST_F(ReportTest, JunitEscapesNonCriticalDetailInSkippedMessage) {
  const std::string xml = render_junit(
      single(m_cache, make_check_result(CheckStatus::error, nanoseconds(0), "a<b & \"c\"")));
  EXPECT_NE(xml.find("<skipped message=\"non-critical target failed (error): a&lt;b &amp; "
                     "&quot;c&quot;\"/>"),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("failures=\"0\" errors=\"0\" skipped=\"1\""), std::string::npos);
  EXPECT_EQ(xml_problem(xml), "");
  EXPECT_EQ(xmllint_problem(xml), "");
}

TEST_F(ReportTest, JunitEscapesTargetName) {
  // Names are validated by the config loader, but the renderer must not rely on it.
  const config::Target odd = make_target("a\"<b>", config::TargetType::http, true);
  const std::string xml =
      render_junit(single(odd, make_check_result(CheckStatus::success, nanoseconds(0), "ok")));
  EXPECT_NE(xml.find("name=\"a&quot;&lt;b&gt;\""), std::string::npos) << xml;
  EXPECT_EQ(xml_problem(xml), "");
}

// A PostgreSQL error or an HTTP body can carry bytes that are not UTF-8; the JSON report replaces
// them, and the JUnit report must stay parseable too, or the CI system drops the whole report.
// (Fails today: xml_escape passes invalid UTF-8 through; see the report.)
TEST_F(ReportTest, JunitStaysWellFormedWithInvalidUtf8InDetail) {
  const std::string xml = render_junit(single(
      m_db, make_check_result(CheckStatus::failure, nanoseconds(0), "FATAL: \xe9t\xe9 \xff")));
  EXPECT_EQ(xml_problem(xml), "");
  EXPECT_EQ(xmllint_problem(xml), "");
}

TEST_F(ReportTest, JunitKeepsValidUtf8) {
  const std::string detail = "body \xc3\xa9t\xc3\xa9 \xe2\x9c\x93";
  const std::string xml =
      render_junit(single(m_db, make_check_result(CheckStatus::failure, nanoseconds(0), detail)));
  EXPECT_NE(xml.find(detail), std::string::npos);
  EXPECT_EQ(xml_problem(xml), "");
}

// --- skipped (issue 15): a push heartbeat cannot be judged by a one-shot command ------------

Report with_skipped_bot(const config::Target& api, const config::Target& bot) {
  Report report;
  report.wall = nanoseconds(1'000'000);
  report.started_at = fixed_start();
  report.results.push_back(
      {&api,
       make_check_result(CheckStatus::success, nanoseconds(1'000'000), "GET /health -> 200"),
       {}});
  report.results.push_back(
      {&bot,
       make_check_result(CheckStatus::error, nanoseconds(0), "push heartbeats ...", "skipped"),
       "push heartbeats are received by probe serve"});
  return report;
}

TEST_F(ReportTest, ASkippedCriticalTargetDoesNotFailTheRun) {
  EXPECT_TRUE(report_passed(with_skipped_bot(m_api, m_bot)));
}

TEST_F(ReportTest, TextShowsASkippedTargetAndWhy) {
  EXPECT_EQ(render_text(with_skipped_bot(m_api, m_bot), true),
            "TARGET  TYPE       RESULT   LATENCY  DETAIL\n"
            "api     http       \033[32msuccess\033[0m  1.00ms   GET /health -> 200\n"
            "bot     heartbeat  skipped  -        push heartbeats are received by probe serve\n"
            "2 targets: 1 passed, 0 failed, 1 skipped in 1.00ms\n");
}

TEST_F(ReportTest, JsonMarksASkippedTargetAsNeitherPassedNorFailed) {
  const nlohmann::json report = nlohmann::json::parse(render_json(with_skipped_bot(m_api, m_bot)));
  EXPECT_EQ(report["ok"], true);
  const nlohmann::json& bot = report["targets"][1];
  EXPECT_EQ(bot["result"], "skipped");
  EXPECT_TRUE(bot["ok"].is_null());
  EXPECT_TRUE(bot["error"].is_null());
  EXPECT_TRUE(bot["latency_ms"].is_null());
  EXPECT_EQ(bot["details"]["reason"], "not_checkable_here");
  EXPECT_EQ(bot["details"]["detail"], "push heartbeats are received by probe serve");
}

TEST_F(ReportTest, JunitReportsASkippedTargetAsSkipped) {
  const std::string xml = render_junit(with_skipped_bot(m_api, m_bot));
  EXPECT_NE(xml.find("failures=\"0\" errors=\"0\" skipped=\"1\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("    <testcase classname=\"probe.heartbeat\" name=\"bot\" time=\"0.000\">\n"
                     "      <skipped message=\"not checked here: push heartbeats are received by "
                     "probe serve\"/>\n"
                     "    </testcase>\n"),
            std::string::npos)
      << xml;
  EXPECT_EQ(xml_problem(xml), "");
}

} // namespace
} // namespace probe::exporters
