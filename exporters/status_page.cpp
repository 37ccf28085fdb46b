// The status page's HTML; see status_page.hpp. Bytes matter (100 targets must stay under
// 100 KiB): short class names, each chart one small SVG whose paths draw runs rather than cells,
// and no attribute repeated per row that the stylesheet can say once.
#include "exporters/status_page.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

#include <openssl/evp.h>

#include "probe/deploy/history.hpp"
#include "probe/util/strings.hpp"
#include "probe/util/time_format.hpp"
#include "probe/util/unicode.hpp"

namespace probe::exporters {
namespace {

using SystemTime = std::chrono::system_clock::time_point;

// Colours (WCAG AA, contrast against their own background, computed with the WCAG formula):
// body text #1f2328 on #fff 15.8:1, on #f6f8fa 14.8:1; muted #57606a on #fff 6.4:1; links #0550ae
// on #fff 7.6:1; badges UP #116329 on #dafbe1 6.6:1, DOWN #a40e26 on #ffebe9 6.9:1, UNKNOWN
// #424a53 on #eaeef2 7.7:1. The chart cells are graphics (3:1 is the bar): success #1a7f37
// 5.1:1, failure #cf222e 5.4:1, timeout or error #bc4c00 5.0:1 against #fff; the sparkline
// #0550ae 7.6:1. State is never colour alone: every badge says UP, DOWN or UNKNOWN.
constexpr std::string_view k_style =
    ":root{color-scheme:light}"
    "body{margin:0 auto;max-width:1240px;padding:1rem;font:15px/1.45 "
    "system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;color:#1f2328;background:#fff}"
    "h1{font-size:1.6rem;margin:.2rem 0 .6rem}h2{font-size:1.2rem;margin:1.6rem 0 .4rem}"
    "a{color:#0550ae}small,.m,caption{color:#57606a}"
    ".v{padding:.6rem .9rem;border-radius:6px;border:1px solid;font-size:1.1rem;margin:0}"
    ".v.up{background:#dafbe1;color:#116329;border-color:#1a7f37}"
    ".v.down{background:#ffebe9;color:#a40e26;border-color:#cf222e}"
    ".w{overflow-x:auto}table{border-collapse:collapse;width:100%}"
    "caption{text-align:left;padding:.3rem 0}"
    "th,td{padding:.35rem .5rem;border-bottom:1px solid #d0d7de;text-align:left;"
    "vertical-align:middle}"
    "thead th{background:#f6f8fa;font-size:.85rem;white-space:nowrap}"
    "tbody th{position:sticky;left:0;background:#fff;font-weight:600;overflow-wrap:anywhere;"
    "min-width:7rem}"
    // The targets' numeric columns (latency, uptimes) and the text ones (last result, details),
    // said once here rather than as a class on every cell.
    "#t~div td:nth-child(5),#t~div td:nth-child(8),#t~div td:nth-child(9){text-align:right;"
    "white-space:nowrap}"
    "#t~div td:nth-child(4),#r~div td:nth-child(7){min-width:12rem;max-width:24rem;"
    "overflow-wrap:anywhere}"
    ".s{display:inline-block;padding:0 .45rem;border-radius:1rem;font-weight:700;"
    "font-size:.8rem;white-space:nowrap}"
    ".up .s,.s.up{background:#dafbe1;color:#116329}"
    ".down .s,.s.down{background:#ffebe9;color:#a40e26}"
    ".unknown .s,.s.unknown{background:#eaeef2;color:#424a53}"
    "svg{display:block}svg path{fill:none}.b{width:180px;height:14px}"
    // The sparkline's hour as a faint axis, also where no check ran.
    ".k{width:120px;height:24px;"
    "background:linear-gradient(#d0d7de,#d0d7de) 0 100%/100% 1px no-repeat}"
    // Every run of cells is a multiple of the 6-unit dash period long, so cells line up
    // whether or not a renderer restarts the dashes at each run.
    ".b path{stroke-width:14;stroke-dasharray:4 2}"
    ".b .o{stroke:#1a7f37}.b .f{stroke:#cf222e}.b .t{stroke:#bc4c00}.b .e{stroke:#d0d7de}"
    ".k path{stroke:#0550ae;stroke-width:1.5;stroke-linejoin:round;stroke-linecap:round;"
    "vector-effect:non-scaling-stroke}"
    "span[title]{white-space:nowrap}code{font:.85rem ui-monospace,SFMono-Regular,Menlo,monospace}"
    // A phone: each target a block of its own, the column headers kept for screen readers but
    // moved off screen, and the few numbers that need one given a label by the stylesheet.
    "@media (max-width:600px){body{padding:.5rem;font-size:14px}h1{font-size:1.3rem}"
    "#t~div thead{position:absolute;left:-9999px}#t~div tr{display:block;padding:.4rem 0;"
    "border-bottom:1px solid #d0d7de}#t~div tbody th{display:block;position:static;border:0}"
    "#t~div td{display:inline-block;border:0;padding:.15rem .5rem}"
    "#t~div td:nth-child(4){display:block}"
    "#t~div td:nth-child(5)::before{content:\"latency \"}"
    "#t~div td:nth-child(8)::before{content:\"uptime 1 h \"}"
    "#t~div td:nth-child(9)::before{content:\"24 h \"}}";

// Reloads the page every 30 s unless the address ends in #pause; the page needs none of it.
constexpr std::string_view k_script =
    "setInterval(function(){if(location.hash!=\"#pause\")location.reload()},30000)";

// How much of a check detail or an event's details the page shows.
constexpr std::size_t k_detail_bytes = 120;
constexpr std::size_t k_field_bytes = 64;
// The bar: one cell per recent check, k_cell_pitch apart (a 4-unit cell and a 2-unit gap).
constexpr int k_cell_pitch = 6;
// The sparkline: one point per minute of the last hour, drawn one unit per minute and 10 units
// high, stretched by the viewBox to 120 x 24 pixels: small numbers make a short path.
constexpr int k_spark_top = 1;
constexpr int k_spark_height = 10;

// HTML text and attribute values: XML's escaping is HTML's (the page is HTML5, where &apos; is
// an entity too).
std::string escape(std::string_view text) {
  return util::xml_escape(text);
}

// `visible` (valid UTF-8 already) cut to at most `max_bytes` on a character boundary, with "…".
std::string shorten(std::string visible, std::size_t max_bytes) {
  if (visible.size() <= max_bytes) {
    return visible;
  }
  std::size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(visible[cut]) & 0xC0U) == 0x80U) {
    --cut; // never inside a character
  }
  visible.resize(cut);
  return visible + "\u2026";
}

// Outside text for the page: visible, cut to `max_bytes`, escaped.
std::string shown(std::string_view text, std::size_t max_bytes) {
  return escape(shorten(util::visible_text(text), max_bytes));
}

bool is_set(SystemTime when) {
  return when.time_since_epoch().count() != 0;
}

// "42 s", "5 min", "3 h 4 min", "2 d 3 h".
std::string span_text(std::chrono::seconds span) {
  const long long s = std::max<long long>(0, span.count());
  if (s < 60) {
    return std::to_string(s) + " s";
  }
  if (s < 3600) {
    return std::to_string(s / 60) + " min";
  }
  if (s < 48 * 3600) {
    return std::to_string(s / 3600) + " h " + std::to_string(s / 60 % 60) + " min";
  }
  return std::to_string(s / 86400) + " d " + std::to_string(s / 3600 % 24) + " h";
}

// "2026-12-05 03:44:25 UTC".
std::string utc_text(SystemTime when) {
  std::string text = util::format_rfc3339(when); // 2026-12-05T03:44:25.123Z
  text = text.substr(0, 19);
  text[10] = ' ';
  return text + " UTC";
}

// How long ago `when` was ("5 min ago"; the UTC time itself when it is in the future); "—"
// for a never-set time.
std::string ago_text(SystemTime when, SystemTime now) {
  if (!is_set(when)) {
    return "\u2014";
  }
  return when > now
             ? utc_text(when)
             : span_text(std::chrono::duration_cast<std::chrono::seconds>(now - when)) + " ago";
}

// ago_text() with the UTC time on hover.
std::string ago(SystemTime when, SystemTime now) {
  if (!is_set(when)) {
    return "\u2014";
  }
  return "<span title=\"" + utc_text(when) + "\">" + ago_text(when, now) + "</span>";
}

std::string number(double value, int decimals) {
  std::array<char, 32> text{};
  std::snprintf(text.data(), text.size(), "%.*f", decimals, value);
  return text.data();
}

// "0.42 ms", "12.3 ms", "250 ms", "12.3 s".
std::string latency_text(double ms) {
  if (ms >= 10'000) {
    return number(ms / 1000, 1) + " s";
  }
  return number(ms, ms < 10 ? 2 : ms < 100 ? 1 : 0) + " ms";
}

// "100 %", "99.95 %" (never rounded up to 100), "no checks".
std::string uptime_text(const engine::Tally& tally) {
  if (tally.checks() == 0) {
    return "<span class=\"m\">no checks</span>";
  }
  if (tally.failures == 0) {
    return "100 %";
  }
  if (tally.successes == 0) {
    return "0 %";
  }
  const double percent =
      100.0 * static_cast<double>(tally.successes) / static_cast<double>(tally.checks());
  return number(std::floor(percent * 100) / 100, 2) + " %";
}

std::string_view state_word(engine::Health health) {
  switch (health) {
  case engine::Health::up:
    return "UP";
  case engine::Health::down:
    return "DOWN";
  case engine::Health::unknown:
    break;
  }
  return "UNKNOWN";
}

int health_order(engine::Health health) {
  return health == engine::Health::down ? 0 : health == engine::Health::unknown ? 1 : 2;
}

// The bar's class of a result: o(k), f(ailure), t(imeout or error).
char cell_class(checks::CheckStatus status) {
  switch (status) {
  case checks::CheckStatus::success:
    return 'o';
  case checks::CheckStatus::failure:
    return 'f';
  case checks::CheckStatus::timeout:
  case checks::CheckStatus::error:
    break;
  }
  return 't';
}

// The bar of recent checks, newest right: a grey run for the checks not made yet, then one path
// per class holding its runs; the stylesheet's dashes split runs into cells.
std::string history_bar(const std::vector<engine::RecentCheck>& recent) {
  constexpr int k_cells = static_cast<int>(engine::TargetHistory::k_recent_checks);
  const int empty = k_cells - static_cast<int>(recent.size());
  std::array<std::string, 3> paths; // o, f, t
  std::array<int, 4> counts{};      // success, failure, timeout, error
  std::size_t i = 0;
  while (i < recent.size()) {
    const char cls = cell_class(recent[i].status);
    std::size_t end = i;
    while (end < recent.size() && cell_class(recent[end].status) == cls) {
      ++counts[static_cast<std::size_t>(recent[end].status)];
      ++end;
    }
    const int x = (empty + static_cast<int>(i)) * k_cell_pitch;
    const int length = static_cast<int>(end - i) * k_cell_pitch;
    paths[cls == 'o'   ? 0
          : cls == 'f' ? 1
                       : 2] += "M" + std::to_string(x) + " 7h" + std::to_string(length);
    i = end;
  }
  std::string label = "Last " + std::to_string(recent.size()) + " checks: ";
  constexpr std::array<const char*, 4> k_words{"success", "failure", "timeout", "error"};
  bool first = true;
  for (std::size_t k = 0; k < counts.size(); ++k) {
    if (counts[k] > 0) {
      label += (first ? "" : ", ") + std::to_string(counts[k]) + " " + k_words[k];
      first = false;
    }
  }
  if (recent.empty()) {
    label = "No checks yet";
  }
  // The <title> is the image's text alternative (its accessible name) and the hover text.
  std::string out = "<svg class=\"b\" role=\"img\"><title>" + label + "</title>";
  if (empty > 0) {
    out += "<path class=\"e\" d=\"M0 7h" + std::to_string(empty * k_cell_pitch) + "\"/>";
  }
  constexpr std::array<char, 3> k_classes{'o', 'f', 't'};
  for (std::size_t k = 0; k < paths.size(); ++k) {
    if (!paths[k].empty()) {
      out += std::string("<path class=\"") + k_classes[k] + "\" d=\"" + paths[k] + "\"/>";
    }
  }
  return out + "</svg>";
}

// The mean latency of each minute of the last hour as a line; minutes without a check are
// stepped over (a target checked every 5 minutes still draws a line).
std::string sparkline(const std::vector<engine::MinuteBucket>& minutes) {
  double low = 0;
  double high = 0;
  bool any = false;
  std::vector<double> means(minutes.size(), -1);
  for (std::size_t i = 0; i < minutes.size(); ++i) {
    if (minutes[i].checks() == 0) {
      continue;
    }
    means[i] = static_cast<double>(minutes[i].latency_sum_us) / 1000.0 / minutes[i].checks();
    low = any ? std::min(low, means[i]) : means[i];
    high = any ? std::max(high, means[i]) : means[i];
    any = true;
  }
  if (!any) {
    return "<span class=\"m\">no checks</span>";
  }
  std::string d;
  int last_x = 0;
  int last_y = 0;
  for (std::size_t i = 0; i < means.size(); ++i) {
    if (means[i] < 0) {
      continue;
    }
    const int x = static_cast<int>(i);
    const int y = k_spark_top + k_spark_height -
                  (high > 0 ? static_cast<int>(std::lround(k_spark_height * means[i] / high)) : 0);
    if (d.empty()) {
      d = "M" + std::to_string(x) + " " + std::to_string(y) + "l";
    } else {
      const int dy = y - last_y;
      d += (d.back() == 'l' ? "" : " ") + std::to_string(x - last_x) + (dy < 0 ? "" : " ") +
           std::to_string(dy);
    }
    last_x = x;
    last_y = y;
  }
  if (d.back() == 'l') {
    d += "1 0"; // a single point: a dot
  }
  const std::string label =
      "Latency, last hour: min " + latency_text(low) + ", max " + latency_text(high);
  return "<svg class=\"k\" viewBox=\"0 0 " + std::to_string(minutes.size()) + " " +
         std::to_string(k_spark_height + 2 * k_spark_top) + "\" role=\"img\" aria-label=\"" +
         label + "\"><path d=\"" + d + "\"/></svg>";
}

std::string target_row(const engine::TargetView& view, SystemTime now) {
  const config::Target& target = view.snapshot.target;
  const engine::TargetState& state = view.snapshot.state;
  const std::string health(engine::to_string(state.health));
  std::string row = "<tr class=\"" + health + "\"><th scope=\"row\">" + shown(target.name, 128) +
                    "<br><small>" + std::string(config::to_string(target.type)) +
                    (target.critical ? " · critical" : "") + "</small></th>";
  row += "<td><b class=\"s\">" + std::string(state_word(state.health)) + "</b></td>";
  row += "<td>" + ago(state.since, now) + "</td>";
  if (state.checks == 0) {
    row += "<td class=\"m\">not checked yet</td><td>\u2014</td>";
  } else {
    // Masked as /status masks it: the target's own secrets never reach the page.
    row += "<td>" + std::string(checks::to_string(state.last.status)) + ": " +
           shown(config::scrub(state.last.detail, target), k_detail_bytes) + "<br><small>" +
           ago_text(state.last_checked, now) + "</small></td>";
    row += "<td>" +
           latency_text(std::chrono::duration<double, std::milli>(state.last.latency).count()) +
           "</td>";
  }
  row += "<td>" + history_bar(view.history.recent) + "</td>";
  row += "<td>" + sparkline(view.history.last_hour) + "</td>";
  row += "<td>" + uptime_text(view.history.hour) + "</td>";
  row += "<td>" + uptime_text(view.history.day) + "</td></tr>\n";
  return row;
}

std::string targets_section(const StatusPageInput& input) {
  std::vector<const engine::TargetView*> order;
  std::array<int, 3> counts{}; // unknown, up, down: engine::Health's order
  for (const engine::TargetView& view : input.targets) {
    order.push_back(&view);
    ++counts[static_cast<std::size_t>(view.snapshot.state.health)];
  }
  // Problems first, then by name.
  std::stable_sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
    return health_order(a->snapshot.state.health) < health_order(b->snapshot.state.health);
  });
  std::string out =
      "<section aria-labelledby=\"t\"><h2 id=\"t\">Targets</h2><p class=\"m\">Down and unknown "
      "first. Uptime counts single checks, before the thresholds.</p><div class=\"w\">"
      "<table><caption>" +
      std::to_string(input.targets.size()) + " targets: " + std::to_string(counts[1]) + " up, " +
      std::to_string(counts[2]) + " down, " + std::to_string(counts[0]) +
      " unknown</caption>\n<thead><tr><th scope=\"col\">Target</th>"
      "<th scope=\"col\">State</th><th scope=\"col\">Since</th>"
      "<th scope=\"col\">Last result</th><th scope=\"col\">Latency</th>"
      "<th scope=\"col\">Last 30 checks, newest right</th><th scope=\"col\">Latency, 1 h</th>"
      "<th scope=\"col\">Uptime 1 h</th><th scope=\"col\">Uptime 24 h</th></tr>"
      "</thead>\n<tbody>\n";
  for (const engine::TargetView* view : order) {
    out += target_row(*view, input.now);
  }
  return out + "</tbody></table></div></section>\n";
}

bool is_commit_sha(const std::string& sha) {
  return sha.size() >= 7 && sha.size() <= 40 && std::all_of(sha.begin(), sha.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
         });
}

// A SHA (or image tag) as code, linked to its commit when there is a repository URL.
std::string sha_html(const std::string& sha, const std::string& repository_url) {
  if (sha.empty()) {
    return "<span class=\"m\">\u2014</span>";
  }
  // A commit SHA by its first 12 digits, as git shows one unambiguously; the link has it whole.
  const std::string text =
      "<code>" + shown(is_commit_sha(sha) ? sha.substr(0, 12) : sha, k_field_bytes) + "</code>";
  const std::string url = commit_url(repository_url, sha);
  return url.empty() ? text : "<a href=\"" + escape(url) + "\">" + text + "</a>";
}

// An event's details: its "message" first, then the rest as compact JSON, cut short.
std::string details_text(const nlohmann::json& details) {
  std::string text;
  nlohmann::json rest = details;
  if (rest.is_object() && rest.contains("message") && rest["message"].is_string()) {
    text = rest["message"].get<std::string>();
    rest.erase("message");
  }
  if (!rest.is_null() && !(rest.is_object() && rest.empty())) {
    // Strings that are not UTF-8 are replaced, not thrown on.
    const std::string compact = rest.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    text += (text.empty() ? "" : " ") + compact;
  }
  return text;
}

std::string_view kind_class(const std::string& kind) {
  const auto ends_with = [&](std::string_view tail) {
    return kind.size() >= tail.size() &&
           kind.compare(kind.size() - tail.size(), tail.size(), tail) == 0;
  };
  return ends_with("_succeeded") ? "up" : ends_with("_failed") ? "down" : "unknown";
}

std::string deploy_row(const deploy::DeployEvent& event, const StatusPageInput& input) {
  return "<tr><td>" + ago(event.occurred_at, input.now) + "</td><td><span class=\"s " +
         std::string(kind_class(event.kind)) + "\">" + shown(event.kind, k_field_bytes) +
         "</span></td><td>" + sha_html(event.sha, input.repository_url) + "</td><td>" +
         sha_html(event.previous_sha, input.repository_url) + "</td><td>" +
         shown(event.actor, k_field_bytes) + "</td><td>" + shown(event.host, k_field_bytes) +
         "</td><td>" + shown(details_text(event.details), k_detail_bytes) + "</td></tr>\n";
}

std::string deploys_section(const StatusPageInput& input) {
  std::string out = "<section aria-labelledby=\"r\"><h2 id=\"r\">Deploys</h2>\n<p>";
  if (!input.deploys_read) {
    return out + "The deploy log has not been read yet.</p></section>\n";
  }
  if (input.running) {
    const deploy::DeployEvent& running = *input.running;
    out += "Deployed now: " + sha_html(running.sha, input.repository_url) + ", " +
           shown(running.kind, k_field_bytes) + " " + ago(running.occurred_at, input.now) + " by " +
           shown(running.actor, k_field_bytes);
    if (!running.previous_sha.empty()) {
      out += "; it replaced " + sha_html(running.previous_sha, input.repository_url);
    }
    out += ".</p>\n";
  } else {
    out += "No successful deploy recorded yet.</p>\n";
  }
  if (input.deploys.empty()) {
    return out + "<p>No deploy events recorded.</p></section>\n";
  }
  const std::size_t shown_count = std::min(input.deploys.size(), k_status_page_deploys);
  out += "<div class=\"w\"><table><caption>The last " + std::to_string(shown_count) +
         " deploy events, newest first</caption>\n<thead><tr><th scope=\"col\">When</th><th "
         "scope=\"col\">Event</th>"
         "<th scope=\"col\">SHA</th><th scope=\"col\">Previous SHA</th>"
         "<th scope=\"col\">Actor</th><th scope=\"col\">Host</th>"
         "<th scope=\"col\">Details</th></tr></thead>\n<tbody>\n";
  for (std::size_t i = 0; i < shown_count; ++i) {
    out += deploy_row(input.deploys[i], input);
  }
  return out + "</tbody></table></div></section>\n";
}

std::string sidecar_section(const StatusPageInput& input) {
  const ReloadState& reload = input.reload;
  std::string config = "Config loaded " + ago(reload.loaded, input.now);
  if (reload.reloaded && !reload.last_ok) {
    config += "; <b class=\"s down\">RELOAD FAILED</b> " + ago(reload.last_attempt, input.now) +
              ": the config above still runs; the sidecar's log says why";
  } else if (reload.reloaded) {
    config += " (last reload OK)";
  }
  return "<section aria-labelledby=\"c\"><h2 id=\"c\">Sidecar</h2><ul><li>" + config +
         ".</li><li>Version: " + shown(input.version, k_field_bytes) +
         ".</li><li>For machines: <a href=\"status\">status</a>, <a href=\"ready\">ready</a>, "
         "<a href=\"deploys\">deploys</a> (JSON), <a href=\"metrics\">metrics</a> "
         "(Prometheus).</li></ul></section>\n";
}

std::string verdict(const StatusPageInput& input, std::size_t* not_up) {
  std::vector<std::string> names;
  bool any_critical = false;
  for (const engine::TargetView& view : input.targets) {
    if (view.snapshot.target.critical) {
      any_critical = true;
      if (view.snapshot.state.health != engine::Health::up) {
        names.push_back(view.snapshot.target.name);
      }
    }
  }
  std::sort(names.begin(), names.end());
  *not_up = names.size();
  const bool ready = input.readiness.ready;
  std::string out = std::string("<p class=\"v ") + (ready ? "up" : "down") + "\"><b>" +
                    (ready ? "READY" : "NOT READY") + "</b> \u2014 ";
  if (ready) {
    out += any_critical ? "every critical target is up" : "no target is critical";
  } else if (names.empty()) {
    out += "no target is checked yet";
  } else {
    out += std::to_string(names.size()) + " critical target" + (names.size() == 1 ? "" : "s") +
           " not up: ";
    for (std::size_t i = 0; i < names.size() && i < 5; ++i) {
      out += (i == 0 ? "" : ", ") + shown(names[i], 128);
    }
    out += names.size() > 5 ? ", …" : "";
  }
  if (is_set(input.readiness.since)) {
    out += "; since " + ago(input.readiness.since, input.now);
  }
  return out + "</p>\n";
}

std::string base64(const unsigned char* data, std::size_t size) {
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  const int written =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(static_cast<std::size_t>(std::max(written, 0)));
  return out;
}

std::string script_hash() {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(k_script.data(), k_script.size(), digest.data(), &length, EVP_sha256(), nullptr) !=
      1) {
    return ""; // no hash: the policy allows no script, and the page reads the same
  }
  return "'sha256-" + base64(digest.data(), length) + "'";
}

} // namespace

std::string html_text(std::string_view text) {
  return escape(util::visible_text(text));
}

std::string commit_url(const std::string& repository_url, const std::string& sha) {
  if (repository_url.empty() || !is_commit_sha(sha)) {
    return "";
  }
  return repository_url + "/commit/" + sha;
}

std::string_view status_page_script() {
  return k_script;
}

const std::string& status_page_csp() {
  static const std::string policy = [] {
    const std::string hash = script_hash();
    return "default-src 'none'; style-src 'unsafe-inline'; script-src " +
           (hash.empty() ? std::string("'none'") : hash) +
           "; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
  }();
  return policy;
}

std::string render_status_page(const StatusPageInput& input) {
  std::size_t not_up = 0;
  const std::string head_verdict = verdict(input, &not_up);
  std::string page;
  page.reserve(2048 + input.targets.size() * 900);
  page += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>";
  page += input.readiness.ready ? "Ready" : "Not ready (" + std::to_string(not_up) + ")";
  page += " \u2014 probe status</title>\n<style>";
  page += k_style;
  page += "</style>\n</head><body>\n<header><h1>Status</h1>\n";
  page += head_verdict;
  page += "</header>\n<main>\n";
  page += targets_section(input);
  page += deploys_section(input);
  page += sidecar_section(input);
  page += "</main>\n<footer><p class=\"m\">Generated at <time datetime=\"" +
          util::format_rfc3339(input.now) + "\">" + utc_text(input.now) + "</time>" +
          ". With JavaScript on, the page reloads every 30 s (<a href=\"#pause\">pause</a>).</p>"
          "</footer>\n<script>";
  page += k_script;
  page += "</script>\n</body></html>\n";
  return page;
}

} // namespace probe::exporters
