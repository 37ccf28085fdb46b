// The deploy commands' decisions (probe/cli/deploy_support.hpp), without running one: the audit
// log's terminal table, where no field can fake a row or drive the terminal (issue 12); the
// note that events without deploy.dsn live only in the journal (issue 18).

#include <gtest/gtest.h>

#include "probe/cli/deploy_support.hpp"
#include "probe/util/terminal.hpp"

namespace probe::cli {
namespace {

deploy::DeployEvent event(const std::string& kind, const std::string& sha,
                          const std::string& actor) {
  deploy::DeployEvent e;
  e.kind = kind;
  e.sha = sha;
  e.actor = actor;
  e.host = "web-1";
  e.occurred_at =
      std::chrono::system_clock::time_point(std::chrono::milliseconds(1'700'000'000'123));
  return e;
}

TEST(TerminalSafe, ControlCharactersAreShownEscaped) {
  EXPECT_EQ(util::terminal_safe("plain ünïcode ✅"), "plain ünïcode ✅");
  EXPECT_EQ(util::terminal_safe("a\r\nb\tc"), "a\\r\\nb\\tc");
  EXPECT_EQ(util::terminal_safe("\x1b[31mred\x7f\x01"), "\\x1b[31mred\\x7f\\x01");
  EXPECT_EQ(util::terminal_safe(std::string("nul\0x", 5)), "nul\\x00x");
  // U+009B (CSI) as UTF-8: some terminals obey it like ESC [.
  EXPECT_EQ(util::terminal_safe("\xc2\x9b"
                                "2J"),
            "\\u009b2J");
}

TEST(EventList, AnActorCannotFakeARowOrDriveTheTerminal) {
  const std::string list = render_event_list(
      {event("deploy_failed", "bbbbbbb",
             "mallory\r\n2023-11-14T22:13:20.123Z  deploy_succeeded   bbbbbbb  ci@web-1\x1b[2K")});
  EXPECT_EQ(list, "2023-11-14T22:13:20.123Z  deploy_failed      bbbbbbb  "
                  "mallory\\r\\n2023-11-14T22:13:20.123Z  deploy_succeeded   bbbbbbb  "
                  "ci@web-1\\x1b[2K@web-1\n");
  EXPECT_EQ(std::count(list.begin(), list.end(), '\n'), 1);
  EXPECT_EQ(list.find('\x1b'), std::string::npos);
}

TEST(EventList, NoEventsSaysSo) {
  EXPECT_EQ(render_event_list({}), "no deploy events\n");
  deploy::DeployEvent rolled = event("rollback_succeeded", "aaaaaaa", "ci");
  rolled.previous_sha = "bbbbbbb";
  EXPECT_EQ(render_event_list({rolled}),
            "2023-11-14T22:13:20.123Z  rollback_succeeded aaaaaaa (from bbbbbbb)  ci@web-1\n");
}

TEST(JournalNote, SaysWhereEventsGoWithoutADatabase) {
  config::Deploy deploy;
  EXPECT_EQ(journal_only_note(deploy), "deploy.dsn is not set: deploy events are kept only in "
                                       "the journal /var/lib/probe/journal.jsonl");
  deploy.dsn = util::Secret("postgresql://probe@db/probe");
  EXPECT_EQ(journal_only_note(deploy), "");
}

} // namespace
} // namespace probe::cli
