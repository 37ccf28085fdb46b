// `probe check` end to end: the real binary run as a subprocess, with a config file written to
// a temporary directory and stand-in targets on loopback, seen the way a CI step or deploy
// script sees it — exit code, stdout, stderr and the report file. This is the contract's
// command-line surface (exit 0/1/2, --only, --format text|json|junit, --output, config errors
// located FILE:LINE:COL, no colour off a terminal), so it is tested through the process
// boundary rather than by calling cli::run() in-process, where a stray exit() or a signal
// would go unnoticed. The JUnit report is parsed by a small strict XML reader below, since CI
// systems reject a malformed report outright.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "probe/util/version.hpp"
#include "tests/standins/http_standin.hpp"
#include "tests/standins/tcp_standin.hpp"
#include "tests/support/files.hpp"
#include "tests/support/subprocess.hpp"

namespace probe {
namespace {

using namespace std::chrono_literals;
using fakes::ProcessOptions;
using fakes::ProcessResult;

// --- a strict, minimal XML reader: elements, attributes, text, entities -------------------

struct XmlElement {
  std::string name;
  std::map<std::string, std::string> attributes;
  std::vector<XmlElement> children;
  std::string text;

  [[nodiscard]] std::vector<const XmlElement*> all(std::string_view child_name) const {
    std::vector<const XmlElement*> out;
    for (const XmlElement& child : children) {
      if (child.name == child_name) {
        out.push_back(&child);
      }
    }
    return out;
  }
};

class XmlReader {
public:
  explicit XmlReader(std::string_view text) : m_text(text) {}

  // Parses the whole document; throws std::runtime_error at the first malformed byte.
  XmlElement document() {
    skip_space();
    if (m_text.substr(m_at, 5) == "<?xml") {
      const std::size_t end = m_text.find("?>", m_at);
      if (end == std::string_view::npos) {
        fail("unterminated XML declaration");
      }
      m_at = end + 2;
    }
    skip_space();
    XmlElement root = element();
    skip_space();
    if (m_at != m_text.size()) {
      fail("content after the root element");
    }
    return root;
  }

private:
  [[noreturn]] void fail(const std::string& problem) const {
    throw std::runtime_error("XML offset " + std::to_string(m_at) + ": " + problem);
  }

  void skip_space() {
    while (m_at < m_text.size() &&
           std::string_view(" \t\r\n").find(m_text[m_at]) != std::string_view::npos) {
      ++m_at;
    }
  }

  void expect(char c) {
    if (m_at >= m_text.size() || m_text[m_at] != c) {
      fail(std::string("expected '") + c + "'");
    }
    ++m_at;
  }

  std::string name() {
    const std::size_t start = m_at;
    while (m_at < m_text.size() &&
           (std::isalnum(static_cast<unsigned char>(m_text[m_at])) != 0 ||
            std::string_view("_:-.").find(m_text[m_at]) != std::string_view::npos)) {
      ++m_at;
    }
    if (m_at == start || std::isalpha(static_cast<unsigned char>(m_text[start])) == 0) {
      fail("expected a name");
    }
    return std::string(m_text.substr(start, m_at - start));
  }

  [[nodiscard]] std::string decoded(std::string_view raw) const {
    std::string out;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '<') {
        fail("raw '<' in text or attribute");
      }
      if (raw[i] != '&') {
        out += raw[i];
        continue;
      }
      const std::size_t semicolon = raw.find(';', i);
      if (semicolon == std::string_view::npos) {
        fail("unterminated entity");
      }
      const std::string_view entity = raw.substr(i + 1, semicolon - i - 1);
      static const std::map<std::string_view, char> k_named{
          {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
      if (const auto found = k_named.find(entity); found != k_named.end()) {
        out += found->second;
      } else if (entity.size() > 1 && entity[0] == '#') {
        out += '?'; // a character reference; its value does not matter here
      } else {
        fail("unknown entity &" + std::string(entity) + ";");
      }
      i = semicolon;
    }
    return out;
  }

  XmlElement element() {
    expect('<');
    XmlElement element;
    element.name = name();
    while (true) {
      skip_space();
      if (m_text.substr(m_at, 2) == "/>") {
        m_at += 2;
        return element;
      }
      if (m_at < m_text.size() && m_text[m_at] == '>') {
        ++m_at;
        break;
      }
      const std::string attribute = name();
      skip_space();
      expect('=');
      skip_space();
      if (m_at >= m_text.size() || (m_text[m_at] != '"' && m_text[m_at] != '\'')) {
        fail("attribute value not quoted");
      }
      const char quote = m_text[m_at++];
      const std::size_t end = m_text.find(quote, m_at);
      if (end == std::string_view::npos) {
        fail("unterminated attribute value");
      }
      if (!element.attributes.emplace(attribute, decoded(m_text.substr(m_at, end - m_at))).second) {
        fail("duplicate attribute " + attribute);
      }
      m_at = end + 1;
    }
    while (true) {
      const std::size_t tag = m_text.find('<', m_at);
      if (tag == std::string_view::npos) {
        fail("unclosed element <" + element.name + ">");
      }
      element.text += decoded(m_text.substr(m_at, tag - m_at));
      m_at = tag;
      if (m_text.substr(m_at, 2) == "</") {
        m_at += 2;
        if (name() != element.name) {
          fail("mismatched closing tag for <" + element.name + ">");
        }
        skip_space();
        expect('>');
        return element;
      }
      element.children.push_back(this->element());
    }
  }

  std::string_view m_text;
  std::size_t m_at = 0;
};

// --- running probe --------------------------------------------------------------------------

std::string url_for_port(int port, std::string_view path) {
  return "http://127.0.0.1:" + std::to_string(port) + std::string(path);
}

class CheckCommandTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_EQ(access(PROBE_BINARY, X_OK), 0) << PROBE_BINARY << " is not built";
  }

  // Runs `probe ARGS...` in the temporary directory with a clean probe environment.
  ProcessResult probe(std::vector<std::string> args, ProcessOptions options = {}) {
    args.insert(args.begin(), PROBE_BINARY);
    options.cwd = m_dir.path();
    options.unset_env.insert(options.unset_env.end(), {"PROBE_CONFIG", "NO_COLOR"});
    options.timeout = 10s;
    return fakes::run_process(args, options);
  }

  // A config with api (http JSON), frontend (http HTML) and cache (tcp), pointing where told.
  std::string write_config(const std::string& api_url, const std::string& frontend_url,
                           int cache_port, bool cache_critical = true) {
    return m_dir.write("probe.yaml", "defaults: {timeout: 1s}\n"
                                     "targets:\n"
                                     "  - name: api\n"
                                     "    type: http\n"
                                     "    url: \"" +
                                         api_url +
                                         "\"\n"
                                         "    expect: {status: [200], json: {\"/status\": ok}}\n"
                                         "  - name: frontend\n"
                                         "    type: http\n"
                                         "    url: \"" +
                                         frontend_url +
                                         "\"\n"
                                         "  - name: cache\n"
                                         "    type: tcp\n"
                                         "    address: \"127.0.0.1:" +
                                         std::to_string(cache_port) + "\"\n" +
                                         (cache_critical ? "" : "    critical: false\n"));
  }

  std::string healthy_config() {
    return write_config(m_api.url("/health"), m_frontend.url("/"), m_api.port());
  }

  // The target named `name` in a `--format json` report, or a null json.
  static nlohmann::json target_in(const nlohmann::json& report, const std::string& name) {
    for (const nlohmann::json& target : report.at("targets")) {
      if (target.at("name") == name) {
        return target;
      }
    }
    return nullptr;
  }

  fakes::TempDir m_dir;
  fakes::HttpStandin m_api;
  fakes::HttpStandin m_frontend;
};

TEST_F(CheckCommandTest, AllHealthyExitsZeroAndJsonReportsEveryTargetOk) {
  const std::string config = healthy_config();

  const ProcessResult run = probe({"check", "--config", config, "--format", "json"});

  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  const nlohmann::json report = nlohmann::json::parse(run.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << run.out;
  EXPECT_EQ(report.at("ok"), true);
  ASSERT_EQ(report.at("targets").size(), 3U);
  std::vector<std::string> names;
  for (const nlohmann::json& target : report.at("targets")) {
    names.push_back(target.at("name"));
    EXPECT_EQ(target.at("ok"), true) << target.dump();
    EXPECT_EQ(target.at("result"), "success") << target.dump();
    EXPECT_TRUE(target.at("error").is_null()) << target.dump();
  }
  EXPECT_EQ(names, (std::vector<std::string>{"api", "frontend", "cache"}));
  EXPECT_EQ(target_in(report, "api").at("details").at("http_status"), 200);
  EXPECT_EQ(m_api.requests(), 1U);
  EXPECT_EQ(m_frontend.requests(), 1U);
}

TEST_F(CheckCommandTest, CriticalTargetDownExitsOneAndNamesTargetAndError) {
  const std::string config = write_config(url_for_port(fakes::closed_port(), "/health"),
                                          m_frontend.url("/"), m_api.port());

  const ProcessResult json_run = probe({"check", "--config", config, "--format", "json"});
  const ProcessResult text_run = probe({"check", "--config", config});

  EXPECT_EQ(json_run.exit_code, 1) << json_run.out << json_run.err;
  const nlohmann::json report = nlohmann::json::parse(json_run.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << json_run.out;
  EXPECT_EQ(report.at("ok"), false);
  const nlohmann::json api = target_in(report, "api");
  ASSERT_FALSE(api.is_null());
  EXPECT_EQ(api.at("ok"), false);
  EXPECT_EQ(api.at("result"), "failure");
  EXPECT_EQ(api.at("details").at("reason"), "connection_refused");
  EXPECT_NE(api.at("error").get<std::string>().find("GET /health"), std::string::npos)
      << api.dump();
  EXPECT_EQ(target_in(report, "frontend").at("ok"), true);

  EXPECT_EQ(text_run.exit_code, 1) << text_run.out << text_run.err;
  EXPECT_NE(text_run.out.find("critical failing: api"), std::string::npos) << text_run.out;
  EXPECT_NE(text_run.out.find("GET /health: connect 127.0.0.1:"), std::string::npos)
      << text_run.out;
}

TEST_F(CheckCommandTest, FailingNonCriticalTargetStillExitsZero) {
  const std::string config = write_config(m_api.url("/health"), m_frontend.url("/"),
                                          fakes::closed_port(), /*cache_critical=*/false);

  const ProcessResult run = probe({"check", "--config", config, "--format", "json"});

  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  const nlohmann::json report = nlohmann::json::parse(run.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << run.out;
  EXPECT_EQ(report.at("ok"), true);
  const nlohmann::json cache = target_in(report, "cache");
  ASSERT_FALSE(cache.is_null());
  EXPECT_EQ(cache.at("ok"), false);
  EXPECT_EQ(cache.at("critical"), false);
  EXPECT_EQ(cache.at("details").at("reason"), "connection_refused");
}

TEST_F(CheckCommandTest, OnlyChecksTheNamedTargets) {
  // frontend is down: leaving it out is what makes the exit code 0.
  const std::string config =
      write_config(m_api.url("/health"), url_for_port(fakes::closed_port(), "/"), m_api.port());

  const ProcessResult run =
      probe({"check", "--config", config, "--only", "cache, api", "--format", "json"});

  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  const nlohmann::json report = nlohmann::json::parse(run.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << run.out;
  ASSERT_EQ(report.at("targets").size(), 2U);
  EXPECT_EQ(report.at("targets")[0].at("name"), "api"); // config order, not --only order
  EXPECT_EQ(report.at("targets")[1].at("name"), "cache");
}

TEST_F(CheckCommandTest, OnlyWithUnknownNameExitsTwoNamingIt) {
  const std::string config = healthy_config();

  const ProcessResult run = probe({"check", "--config", config, "--only", "api,nosuch"});

  EXPECT_EQ(run.exit_code, 2) << run.out << run.err;
  EXPECT_NE(run.err.find("\"nosuch\""), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("api, frontend, cache"), std::string::npos) << run.err;
  EXPECT_EQ(m_api.requests(), 0U) << "checked targets despite a usage error";
}

TEST_F(CheckCommandTest, MisspelledKeyIsReportedWithFileLineAndColumn) {
  const std::string config = m_dir.write("probe.yaml", "targets:\n"
                                                       "  - name: cache\n"
                                                       "    type: tcp\n"
                                                       "    adress: \"127.0.0.1:6379\"\n");

  const ProcessResult run = probe({"check", "--config", config});

  EXPECT_EQ(run.exit_code, 2) << run.out << run.err;
  const std::string located = config + ":4:5: ";
  EXPECT_EQ(run.err.rfind(located, 0), 0U)
      << "stderr should start with \"" << located << "\", got: " << run.err;
  EXPECT_NE(run.err.find(located + "targets[0].adress: unknown key"), std::string::npos) << run.err;
  EXPECT_TRUE(run.out.empty()) << run.out;
}

TEST_F(CheckCommandTest, MissingConfigFileExitsTwoNamingIt) {
  const std::string missing = m_dir.path() + "/nope.yaml";

  const ProcessResult run = probe({"check", "--config", missing});

  EXPECT_EQ(run.exit_code, 2) << run.out << run.err;
  EXPECT_NE(run.err.find(missing), std::string::npos) << run.err;
}

TEST_F(CheckCommandTest, ConfigComesFromProbeConfigWhenNoFlag) {
  const std::string config = healthy_config();
  ProcessOptions options;
  options.set_env = {"PROBE_CONFIG=" + config};
  // Run where there is no ./probe.yaml, so only PROBE_CONFIG can lead to the config.
  const std::string elsewhere = m_dir.path() + "/sub";
  ASSERT_TRUE(std::filesystem::create_directory(elsewhere));
  options.cwd = elsewhere;

  std::vector<std::string> args{PROBE_BINARY, "check", "--format", "json"};
  options.unset_env = {"NO_COLOR"};
  const ProcessResult run = fakes::run_process(args, options);

  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  const nlohmann::json report = nlohmann::json::parse(run.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << run.out;
  EXPECT_EQ(report.at("targets").size(), 3U);
}

TEST_F(CheckCommandTest, JunitReportIsValidWithOneTestcasePerTarget) {
  // api critical and down, cache non-critical and down, frontend up.
  const std::string config =
      write_config(url_for_port(fakes::closed_port(), "/health"), m_frontend.url("/"),
                   fakes::closed_port(), /*cache_critical=*/false);
  const std::string report_path = m_dir.path() + "/report.xml";

  const ProcessResult run =
      probe({"check", "--config", config, "--format", "junit", "--output", report_path});

  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
  const std::string xml = read_file(report_path);
  ASSERT_FALSE(xml.empty()) << "no report written to " << report_path;
  XmlElement root;
  try {
    root = XmlReader(xml).document();
  } catch (const std::exception& e) {
    FAIL() << e.what() << "\n" << xml;
  }
  EXPECT_EQ(root.name, "testsuites");
  const std::vector<const XmlElement*> suites = root.all("testsuite");
  ASSERT_EQ(suites.size(), 1U) << xml;
  const XmlElement& suite = *suites[0];
  EXPECT_EQ(suite.attributes.at("tests"), "3");
  EXPECT_EQ(suite.attributes.at("failures"), "1");
  const std::vector<const XmlElement*> cases = suite.all("testcase");
  ASSERT_EQ(cases.size(), 3U) << xml;
  std::map<std::string, const XmlElement*> by_name;
  for (const XmlElement* testcase : cases) {
    by_name[testcase->attributes.at("name")] = testcase;
  }
  ASSERT_EQ(by_name.count("api"), 1U) << xml;
  ASSERT_EQ(by_name.count("frontend"), 1U) << xml;
  ASSERT_EQ(by_name.count("cache"), 1U) << xml;
  const std::vector<const XmlElement*> api_failures = by_name["api"]->all("failure");
  ASSERT_EQ(api_failures.size(), 1U) << xml;
  EXPECT_NE(api_failures[0]->attributes.at("message").find("GET /health"), std::string::npos)
      << xml;
  EXPECT_TRUE(by_name["frontend"]->children.empty()) << xml;
  EXPECT_TRUE(by_name["cache"]->all("failure").empty()) << "a non-critical target failed CI";
  EXPECT_EQ(by_name["cache"]->all("skipped").size(), 1U) << xml;
  // The people-readable table still goes to stdout.
  EXPECT_NE(run.out.find("critical failing: api"), std::string::npos) << run.out;
  EXPECT_EQ(run.out.find("<testsuite"), std::string::npos) << run.out;
}

TEST_F(CheckCommandTest, TextReportToFileStillPrintsTheTable) {
  // --help says: "Write the report to FILE (the text table still goes to stdout)".
  const std::string config = healthy_config();
  const std::string report_path = m_dir.path() + "/report.txt";

  const ProcessResult run = probe({"check", "--config", config, "--output", report_path});

  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(read_file(report_path).find("3 targets: 3 passed"), std::string::npos)
      << read_file(report_path);
  EXPECT_NE(run.out.find("3 targets: 3 passed"), std::string::npos)
      << "stdout was: \"" << run.out << "\"";
}

TEST_F(CheckCommandTest, UnknownFormatIsAUsageError) {
  const std::string config = healthy_config();

  const ProcessResult run = probe({"check", "--config", config, "--format", "bogus"});

  EXPECT_EQ(run.exit_code, 2) << run.out << run.err;
  EXPECT_NE(run.err.find("--format"), std::string::npos) << run.err;
  EXPECT_EQ(m_api.requests(), 0U);
}

TEST_F(CheckCommandTest, VersionExitsZero) {
  const ProcessResult run = probe({"--version"});

  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find(std::string("probe ") + util::version()), std::string::npos) << run.out;
}

TEST_F(CheckCommandTest, CheckHelpExitsZeroAndListsItsFlags) {
  const ProcessResult run = probe({"check", "--help"});

  EXPECT_EQ(run.exit_code, 0) << run.err;
  for (const char* flag : {"--config", "--only", "--format", "--output"}) {
    EXPECT_NE(run.out.find(flag), std::string::npos) << flag << " missing from:\n" << run.out;
  }
}

TEST_F(CheckCommandTest, NoColourUnlessATerminalWithoutNoColor) {
  // A failing target, so the table would have red in it if colour were on.
  const std::string config = write_config(url_for_port(fakes::closed_port(), "/health"),
                                          m_frontend.url("/"), m_api.port());

  const ProcessResult piped = probe({"check", "--config", config});
  ProcessOptions no_color;
  no_color.stdout_is_tty = true;
  no_color.set_env = {"NO_COLOR=1"};
  const ProcessResult tty_no_color = probe({"check", "--config", config}, no_color);
  ProcessOptions tty;
  tty.stdout_is_tty = true;
  const ProcessResult tty_colour = probe({"check", "--config", config}, tty);

  EXPECT_EQ(piped.exit_code, 1) << piped.out << piped.err;
  EXPECT_EQ(piped.out.find('\x1b'), std::string::npos) << "ESC in piped output";
  EXPECT_EQ(tty_no_color.exit_code, 1) << tty_no_color.out << tty_no_color.err;
  EXPECT_NE(tty_no_color.out.find("api"), std::string::npos) << tty_no_color.out;
  EXPECT_EQ(tty_no_color.out.find('\x1b'), std::string::npos) << "ESC despite NO_COLOR";
  // The control case: the same run on a terminal without NO_COLOR does colour.
  EXPECT_NE(tty_colour.out.find('\x1b'), std::string::npos) << tty_colour.out;
}

} // namespace
} // namespace probe
