// Report rendering; see report.hpp.
#include "exporters/report.hpp"

#include <array>
#include <iomanip>
#include <sstream>

#include <nlohmann/json.hpp>

#include "exporters/json_numbers.hpp"
#include "probe/util/duration.hpp"
#include "probe/util/json_text.hpp"
#include "probe/util/strings.hpp"
#include "probe/util/time_format.hpp"

namespace probe::exporters {
namespace {

using checks::CheckStatus;
using engine::TargetResult;

double to_ms(std::chrono::nanoseconds d) {
  return static_cast<double>(d.count()) / 1e6;
}

std::string colourise(const std::string& text, CheckStatus status, bool colour) {
  if (!colour) {
    return text;
  }
  const char* code = status == CheckStatus::success   ? "\033[32m"
                     : status == CheckStatus::timeout ? "\033[33m"
                                                      : "\033[31m";
  return code + text + "\033[0m";
}

std::string pad(const std::string& text, std::size_t width) {
  return text.size() >= width ? text : text + std::string(width - text.size(), ' ');
}

struct Counts {
  std::size_t passed = 0;
  std::size_t failed = 0;
  std::size_t skipped = 0; // not checkable here: neither passed nor failed
  std::vector<std::string> failing_critical;
};

Counts count(const Report& report) {
  Counts counts;
  for (const TargetResult& row : report.results) {
    if (!row.skipped.empty()) {
      ++counts.skipped;
    } else if (row.result.ok()) {
      ++counts.passed;
    } else {
      ++counts.failed;
      if (row.target->critical) {
        counts.failing_critical.push_back(row.target->name);
      }
    }
  }
  return counts;
}

} // namespace

bool report_passed(const Report& report) {
  return count(report).failing_critical.empty();
}

std::string render_text(const Report& report, bool colour) {
  const std::array<std::string, 5> headings{"TARGET", "TYPE", "RESULT", "LATENCY", "DETAIL"};
  std::array<std::size_t, 4> width{};
  for (std::size_t c = 0; c < width.size(); ++c) {
    width[c] = headings[c].size();
  }
  std::vector<std::array<std::string, 5>> rows;
  for (const TargetResult& row : report.results) {
    std::string name = row.target->name + (row.target->critical ? "" : " (non-critical)");
    if (!row.skipped.empty()) {
      rows.push_back(
          {name, std::string(config::to_string(row.target->type)), "skipped", "-", row.skipped});
    } else {
      rows.push_back({name, std::string(config::to_string(row.target->type)),
                      std::string(checks::to_string(row.result.status)),
                      util::format_latency(row.result.latency), row.result.detail});
    }
    for (std::size_t c = 0; c < width.size(); ++c) {
      width[c] = std::max(width[c], rows.back()[c].size());
    }
  }
  std::ostringstream out;
  for (std::size_t c = 0; c < width.size(); ++c) {
    out << pad(headings[c], width[c] + 2);
  }
  out << headings[4] << "\n";
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const CheckStatus status = report.results[r].result.status;
    const bool skipped = !report.results[r].skipped.empty();
    out << pad(rows[r][0], width[0] + 2) << pad(rows[r][1], width[1] + 2)
        << (skipped ? pad(rows[r][2], width[2])
                    : colourise(pad(rows[r][2], width[2]), status, colour))
        << "  " << pad(rows[r][3], width[3] + 2) << rows[r][4] << "\n";
  }
  const Counts counts = count(report);
  out << report.results.size() << (report.results.size() == 1 ? " target: " : " targets: ")
      << counts.passed << " passed, " << counts.failed << " failed"
      << (counts.skipped > 0 ? ", " + std::to_string(counts.skipped) + " skipped" : "") << " in "
      << util::format_latency(report.wall);
  if (!counts.failing_critical.empty()) {
    out << " (critical failing: " << util::join(counts.failing_critical, ", ") << ")";
  }
  out << "\n";
  return out.str();
}

std::string render_json(const Report& report) {
  nlohmann::json targets = nlohmann::json::array();
  for (const TargetResult& row : report.results) {
    if (!row.skipped.empty()) {
      // Neither passed nor failed: "ok" is null, and the reason says why it was not checked.
      targets.push_back({
          {"name", row.target->name},
          {"type", config::to_string(row.target->type)},
          {"critical", row.target->critical},
          {"ok", nullptr},
          {"result", "skipped"},
          {"latency_ms", nullptr},
          {"error", nullptr},
          {"details", {{"reason", "not_checkable_here"}, {"detail", row.skipped}}},
      });
      continue;
    }
    nlohmann::json details = nlohmann::json::object();
    if (!row.result.reason.empty()) {
      details["reason"] = row.result.reason;
    }
    if (row.result.http_status) {
      details["http_status"] = *row.result.http_status;
    }
    if (row.result.heartbeat_age_seconds) {
      details["heartbeat_age_seconds"] = round3(*row.result.heartbeat_age_seconds);
    }
    details["detail"] = row.result.detail;
    targets.push_back({
        {"name", row.target->name},
        {"type", config::to_string(row.target->type)},
        {"critical", row.target->critical},
        {"ok", row.result.ok()},
        {"result", checks::to_string(row.result.status)},
        {"latency_ms", round3(to_ms(row.result.latency))},
        {"error", row.result.ok() ? nlohmann::json(nullptr) : nlohmann::json(row.result.detail)},
        {"details", details},
    });
  }
  const nlohmann::json document{
      {"ok", report_passed(report)},
      {"checked_at", util::format_rfc3339(report.started_at)},
      {"duration_ms", round3(to_ms(report.wall))},
      {"targets", targets},
  };
  // Replace invalid UTF-8 from a target's body rather than fail the whole report.
  return util::json_text(document, 2) + "\n";
}

std::string render_junit(const Report& report) {
  const Counts counts = count(report);
  const std::size_t skipped = counts.failed - counts.failing_critical.size() + counts.skipped;
  std::ostringstream out;
  out << std::fixed << std::setprecision(3);
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out << "<testsuites name=\"probe\" tests=\"" << report.results.size() << "\" failures=\""
      << counts.failing_critical.size() << "\" errors=\"0\" skipped=\"" << skipped << "\" time=\""
      << to_ms(report.wall) / 1000 << "\">\n";
  out << "  <testsuite name=\"probe\" tests=\"" << report.results.size() << "\" failures=\""
      << counts.failing_critical.size() << "\" errors=\"0\" skipped=\"" << skipped << "\" time=\""
      << to_ms(report.wall) / 1000
      << "\" timestamp=\""
      // The JUnit schema's timestamp is an ISO 8601 time without a zone (UTC here).
      << util::format_rfc3339(report.started_at).substr(0, 19) << "\">\n";
  for (const TargetResult& row : report.results) {
    const std::string type(config::to_string(row.target->type));
    out << "    <testcase classname=\"probe." << type << "\" name=\""
        << util::xml_escape(row.target->name) << "\" time=\"" << to_ms(row.result.latency) / 1000
        << "\"";
    if (!row.skipped.empty()) {
      out << ">\n      <skipped message=\"not checked here: " << util::xml_escape(row.skipped)
          << "\"/>\n    </testcase>\n";
      continue;
    }
    if (row.result.ok()) {
      out << "/>\n";
      continue;
    }
    const std::string message = util::xml_escape(row.result.detail);
    const std::string status(checks::to_string(row.result.status));
    if (row.target->critical) {
      out << ">\n      <failure message=\"" << message << "\" type=\"" << status << "\">" << message
          << "</failure>\n    </testcase>\n";
    } else {
      out << ">\n      <skipped message=\"non-critical target failed (" << status
          << "): " << message << "\"/>\n    </testcase>\n";
    }
  }
  out << "  </testsuite>\n</testsuites>\n";
  return out.str();
}

} // namespace probe::exporters
