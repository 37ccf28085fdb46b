// LocalEventRecorder keeps the contract's "no event is lost": the store (PostgreSQL) first, the
// journal when it cannot be reached, and the journal replayed into the store, in order, before
// every new event and every read. These tests drive every fallback and replay path against a
// store in memory (tests/fakes/memory_event_store.hpp) that the test takes down, brings back, or
// makes refuse an event: journaled while down; replayed in order before the next event and
// before a read; an outage in the middle of a replay; duplicates and conflicts, stored or
// journaled; a refused event set aside in the quarantine, counted, and never offered again in
// front of the others; reads that put the pending journal first, newest first, within the limit
// and the byte budget. The journal lives in a private temporary directory.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "probe/deploy/journal.hpp"
#include "probe/deploy/local_recorder.hpp"
#include "probe/util/error.hpp"
#include "tests/fakes/memory_event_store.hpp"
#include "tests/support/text_match.hpp"

namespace probe::deploy {
namespace {

namespace fs = std::filesystem;
using test_support::MemoryDatabase;
using Recorded = LocalEventRecorder::Recorded;

DeployEvent event_for(const std::string& sha, EventKind kind = EventKind::deploy_succeeded) {
  return make_event(kind, sha, "", "ci");
}

std::vector<std::string> ids(const std::vector<DeployEvent>& events) {
  std::vector<std::string> out;
  for (const DeployEvent& event : events) {
    out.push_back(event.event_id);
  }
  return out;
}

class LocalRecorderTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "probe-recorder-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    m_dir = pattern;
    m_journal_path = (m_dir / "events" / "journal.jsonl").string();
  }

  void TearDown() override { fs::remove_all(m_dir); }

  // A recorder over `database` (journal only without one) whose warnings land in `warnings`.
  LocalEventRecorder recorder(MemoryDatabase* database = nullptr) {
    return LocalEventRecorder(
        m_journal_path, database != nullptr ? database->opener() : LocalEventRecorder::OpenStore{},
        [this](const std::string& warning) { warnings.push_back(warning); });
  }

  // Records each of `events`, expecting `how`.
  static void record_all(LocalEventRecorder& recorder, const std::vector<DeployEvent>& events,
                         Recorded how) {
    for (const DeployEvent& event : events) {
      EXPECT_EQ(recorder.record_event(event).recorded, how) << event.sha;
    }
  }

  std::vector<DeployEvent> quarantined_events() const {
    return Journal(m_journal_path + ".quarantine").read().events;
  }

  bool any_warning_with(const std::string& part) const {
    for (const std::string& warning : warnings) {
      if (contains(warning, part)) {
        return true;
      }
    }
    return false;
  }

  fs::path m_dir;
  std::string m_journal_path;
  std::vector<std::string> warnings;
};

TEST_F(LocalRecorderTest, WithoutAStoreEveryEventIsJournaledQuietly) {
  LocalEventRecorder events = recorder();
  const DeployEvent first = event_for("aaaaaaa");
  const DeployEvent second = event_for("bbbbbbb");
  record_all(events, {first, second}, Recorded::journaled);
  EXPECT_EQ(events.pending(), 2U);
  EXPECT_EQ(events.replay(), 0U);
  EXPECT_EQ(ids(events.recent(10)), (std::vector<std::string>{second.event_id, first.event_id}));
  EXPECT_EQ(events.counts(), std::nullopt);
  EXPECT_EQ(events.db_revision(), std::nullopt);
  EXPECT_TRUE(warnings.empty());
}

TEST_F(LocalRecorderTest, AnUnreachableDatabaseJournalsTheEventAndSaysSo) {
  MemoryDatabase database;
  database.reachable = false;
  LocalEventRecorder events = recorder(&database);
  const DeployEvent event = event_for("aaaaaaa");
  EXPECT_EQ(events.record_event(event).recorded, Recorded::journaled);
  EXPECT_TRUE(database.rows.empty());
  EXPECT_EQ(events.pending(), 1U);
  EXPECT_EQ(Journal(m_journal_path).read().events, std::vector<DeployEvent>{normalized(event)});
  EXPECT_TRUE(any_warning_with("connection refused"));
  EXPECT_EQ(events.counts(), std::nullopt);
  EXPECT_EQ(events.db_revision(), std::nullopt);
}

TEST_F(LocalRecorderTest, TheJournalIsReplayedInOrderBeforeTheNextEvent) {
  MemoryDatabase database;
  database.reachable = false;
  LocalEventRecorder events = recorder(&database);
  const std::vector<DeployEvent> while_down{event_for("aaaaaaa", EventKind::deploy_started),
                                            event_for("aaaaaaa")};
  record_all(events, while_down, Recorded::journaled);

  database.reachable = true;
  const DeployEvent next = event_for("bbbbbbb", EventKind::deploy_started);
  EXPECT_EQ(events.record_event(next).recorded, Recorded::stored);
  EXPECT_EQ(
      database.stored_ids(),
      (std::vector<std::string>{while_down[0].event_id, while_down[1].event_id, next.event_id}));
  EXPECT_EQ(events.pending(), 0U);
}

TEST_F(LocalRecorderTest, TheJournalIsReplayedBeforeARead) {
  MemoryDatabase database;
  database.reachable = false;
  LocalEventRecorder events = recorder(&database);
  const DeployEvent first = event_for("aaaaaaa");
  const DeployEvent second = event_for("bbbbbbb");
  record_all(events, {first, second}, Recorded::journaled);

  database.reachable = true;
  EXPECT_EQ(ids(events.recent(10)), (std::vector<std::string>{second.event_id, first.event_id}));
  EXPECT_EQ(database.stored_ids(), (std::vector<std::string>{first.event_id, second.event_id}));
  EXPECT_EQ(events.pending(), 0U);
  EXPECT_EQ(events.counts(), (std::map<std::string, long long>{{"deploy_succeeded", 2}}));
}

TEST_F(LocalRecorderTest, AnOutageInTheMiddleOfAReplayKeepsTheRestInOrder) {
  MemoryDatabase database;
  database.reachable = false;
  LocalEventRecorder events = recorder(&database);
  const std::vector<DeployEvent> while_down{event_for("aaaaaaa"), event_for("bbbbbbb"),
                                            event_for("ccccccc")};
  record_all(events, while_down, Recorded::journaled);

  database.reachable = true;
  database.stores_before_outage = 1;
  events.replay(); // stops at the outage, after the first event
  EXPECT_EQ(database.stored_ids(), std::vector<std::string>{while_down[0].event_id});
  EXPECT_EQ(ids(Journal(m_journal_path).read().events),
            (std::vector<std::string>{while_down[1].event_id, while_down[2].event_id}));
  EXPECT_TRUE(any_warning_with("replay stopped"));

  // The failed store is dropped; the next call opens a new one and goes on where it stopped.
  database.reachable = true;
  const std::size_t opened = database.opened;
  EXPECT_EQ(events.replay(), 2U);
  EXPECT_EQ(database.opened, opened + 1);
  EXPECT_EQ(database.stored_ids(), ids(while_down));
  EXPECT_EQ(events.pending(), 0U);
}

TEST_F(LocalRecorderTest, TheSameEventTwiceIsADuplicateStoredOrJournaled) {
  MemoryDatabase database;
  LocalEventRecorder events = recorder(&database);
  const DeployEvent stored = event_for("aaaaaaa");
  EXPECT_EQ(events.record_event(stored).recorded, Recorded::stored);
  EXPECT_EQ(events.record_event(stored).recorded, Recorded::duplicate);
  EXPECT_EQ(database.rows.size(), 1U);

  database.reachable = false;
  const DeployEvent journaled = event_for("bbbbbbb");
  EXPECT_EQ(events.record_event(journaled).recorded, Recorded::journaled);
  EXPECT_EQ(events.record_event(journaled).recorded, Recorded::duplicate);
  EXPECT_EQ(events.pending(), 1U);
}

TEST_F(LocalRecorderTest, AnIdWithOtherContentIsAConflictStoredOrJournaled) {
  MemoryDatabase database;
  LocalEventRecorder events = recorder(&database);
  const DeployEvent stored = event_for("aaaaaaa");
  events.record_event(stored);
  DeployEvent other = stored;
  other.sha = "ccccccc";
  EXPECT_THROW(events.record_event(other), EventConflict);
  EXPECT_EQ(database.rows, std::vector<DeployEvent>{stored});
  EXPECT_EQ(events.pending(), 0U); // a conflict is never journaled

  database.reachable = false;
  const DeployEvent journaled = event_for("bbbbbbb");
  events.record_event(journaled);
  DeployEvent other_journaled = journaled;
  other_journaled.kind = to_string(EventKind::deploy_failed);
  EXPECT_THROW(events.record_event(other_journaled), EventConflict);
  EXPECT_EQ(Journal(m_journal_path).read().events, std::vector<DeployEvent>{journaled});
}

TEST_F(LocalRecorderTest, AJournaledEventThatConflictsOnReplayIsQuarantined) {
  // Another probe stored the id while this one had journaled it with other content.
  MemoryDatabase database;
  const DeployEvent theirs = event_for("aaaaaaa");
  DeployEvent ours = theirs;
  ours.sha = "ccccccc";
  database.rows.push_back(theirs);
  database.reachable = false;
  LocalEventRecorder events = recorder(&database);
  EXPECT_EQ(events.record_event(ours).recorded, Recorded::journaled);

  database.reachable = true;
  const DeployEvent next = event_for("bbbbbbb");
  EXPECT_EQ(events.record_event(next).recorded, Recorded::stored);
  EXPECT_EQ(database.stored_ids(), (std::vector<std::string>{theirs.event_id, next.event_id}));
  EXPECT_EQ(events.quarantined(), 1U);
  EXPECT_EQ(quarantined_events(), std::vector<DeployEvent>{ours});
  EXPECT_EQ(events.pending(), 0U);
  EXPECT_TRUE(any_warning_with(m_journal_path + ".quarantine"));
}

TEST_F(LocalRecorderTest, ARefusedEventIsQuarantinedAndCountedNeverJournaled) {
  MemoryDatabase database;
  database.refuses = [](const DeployEvent& event) { return event.sha == "bad0001"; };
  LocalEventRecorder events = recorder(&database);
  const DeployEvent refused = event_for("bad0001");
  const LocalEventRecorder::RecordOutcome outcome = events.record_event(refused);
  EXPECT_EQ(outcome.recorded, Recorded::quarantined);
  EXPECT_TRUE(contains(outcome.reason, "refused")) << outcome.reason;
  EXPECT_EQ(events.quarantined(), 1U);
  EXPECT_EQ(quarantined_events(), std::vector<DeployEvent>{refused});
  EXPECT_EQ(events.pending(), 0U);
  EXPECT_TRUE(database.rows.empty());
  // The deploy flow's record() counts it as kept: the deploy goes on.
  EXPECT_NO_THROW(events.record(event_for("bad0001")));
  EXPECT_EQ(events.quarantined(), 2U);
}

TEST_F(LocalRecorderTest, ARefusedJournaledEventIsSetAsideAndNotRetriedInFrontOfOthers) {
  MemoryDatabase database;
  database.refuses = [](const DeployEvent& event) { return event.sha == "bad0001"; };
  database.reachable = false;
  LocalEventRecorder events = recorder(&database);
  const std::vector<DeployEvent> while_down{event_for("bad0001"), event_for("aaaaaaa"),
                                            event_for("bbbbbbb")};
  record_all(events, while_down, Recorded::journaled);

  database.reachable = true;
  EXPECT_EQ(events.replay(), 2U);
  EXPECT_EQ(database.stored_ids(),
            (std::vector<std::string>{while_down[1].event_id, while_down[2].event_id}));
  EXPECT_EQ(events.quarantined(), 1U);
  EXPECT_EQ(quarantined_events(), std::vector<DeployEvent>{while_down[0]});
  EXPECT_EQ(events.pending(), 0U);

  // Offered once: neither the next replay nor the next event offers it again.
  EXPECT_EQ(events.replay(), 0U);
  const DeployEvent next = event_for("ccccccc");
  events.record_event(next);
  EXPECT_EQ(database.offered,
            (std::vector<std::string>{while_down[0].event_id, while_down[1].event_id,
                                      while_down[2].event_id, next.event_id}));
  EXPECT_EQ(events.quarantined(), 1U);
}

TEST_F(LocalRecorderTest, RecentPutsPendingJournalEventsFirstNewestFirst) {
  MemoryDatabase database;
  LocalEventRecorder events = recorder(&database);
  const DeployEvent stored_first = event_for("aaaaaaa");
  const DeployEvent stored_second = event_for("bbbbbbb");
  record_all(events, {stored_first, stored_second}, Recorded::stored);
  // Another process journals while this one reads (after its replay): two new events and one
  // the database already has, which is listed once.
  const DeployEvent pending_first = event_for("ccccccc");
  const DeployEvent pending_second = event_for("ddddddd");
  database.before_list = [&] {
    Journal other(m_journal_path);
    other.append(pending_first);
    other.append(stored_second);
    other.append(pending_second);
    database.before_list = nullptr;
  };
  EXPECT_EQ(ids(events.recent(10)),
            (std::vector<std::string>{pending_second.event_id, pending_first.event_id,
                                      stored_second.event_id, stored_first.event_id}));
  EXPECT_EQ(ids(events.recent(3)),
            (std::vector<std::string>{pending_second.event_id, pending_first.event_id,
                                      stored_second.event_id}));
}

TEST_F(LocalRecorderTest, ADatabaseLostWhileListingLeavesTheJournalsEvents) {
  MemoryDatabase database;
  LocalEventRecorder events = recorder(&database);
  events.record_event(event_for("aaaaaaa"));
  const DeployEvent pending = event_for("bbbbbbb");
  database.before_list = [&] {
    Journal(m_journal_path).append(pending);
    database.reachable = false;
    database.before_list = nullptr;
  };
  EXPECT_EQ(ids(events.recent(10)), std::vector<std::string>{pending.event_id});
  EXPECT_TRUE(any_warning_with("list"));
}

TEST_F(LocalRecorderTest, RecentPageKeepsTheLimitAndTheByteBudgetOverTheJournal) {
  LocalEventRecorder events = recorder();
  const std::vector<DeployEvent> journaled{event_for("aaaaaaa"), event_for("bbbbbbb"),
                                           event_for("ccccccc"), event_for("ddddddd")};
  record_all(events, journaled, Recorded::journaled);
  const std::size_t newest_two = json_size(journaled[3]) + json_size(journaled[2]) + 2;

  EventPage page = events.recent_page(10, newest_two);
  EXPECT_EQ(ids(page.events),
            (std::vector<std::string>{journaled[3].event_id, journaled[2].event_id}));
  EXPECT_TRUE(page.truncated);

  page = events.recent_page(10, newest_two - 1);
  EXPECT_EQ(ids(page.events), std::vector<std::string>{journaled[3].event_id});
  EXPECT_TRUE(page.truncated);

  // Stopping at the limit is not truncation.
  page = events.recent_page(3, k_unbounded);
  EXPECT_EQ(page.events.size(), 3U);
  EXPECT_FALSE(page.truncated);
  page = events.recent_page(4, newest_two * 2);
  EXPECT_EQ(page.events.size(), 4U);
  EXPECT_FALSE(page.truncated);
}

TEST_F(LocalRecorderTest, RecentPageKeepsTheByteBudgetOverTheStoreAndTheJournal) {
  MemoryDatabase database;
  LocalEventRecorder events = recorder(&database);
  const std::vector<DeployEvent> stored{event_for("aaaaaaa"), event_for("bbbbbbb"),
                                        event_for("ccccccc")};
  record_all(events, stored, Recorded::stored);
  const std::size_t two = json_size(stored[2]) + json_size(stored[1]) + 2;

  // The store stops at the budget and says so.
  EventPage page = events.recent_page(10, two);
  EXPECT_EQ(ids(page.events), (std::vector<std::string>{stored[2].event_id, stored[1].event_id}));
  EXPECT_TRUE(page.truncated);

  // A pending journal event takes its share of the same budget, first.
  const DeployEvent pending = event_for("ddddddd");
  database.before_list = [&] {
    Journal(m_journal_path).append(pending);
    database.before_list = nullptr;
  };
  page = events.recent_page(10, json_size(pending) + json_size(stored[2]) + 2);
  EXPECT_EQ(ids(page.events), (std::vector<std::string>{pending.event_id, stored[2].event_id}));
  EXPECT_TRUE(page.truncated);
}

TEST_F(LocalRecorderTest, TheStoreAnswersCountsAndTheAppRevision) {
  MemoryDatabase database;
  database.alembic = "3f2a1b";
  LocalEventRecorder events = recorder(&database);
  events.record_event(event_for("aaaaaaa", EventKind::deploy_started));
  events.record_event(event_for("aaaaaaa", EventKind::deploy_failed));
  events.record_event(event_for("bbbbbbb", EventKind::deploy_failed));
  EXPECT_EQ(events.counts(),
            (std::map<std::string, long long>{{"deploy_started", 1}, {"deploy_failed", 2}}));
  EXPECT_EQ(events.db_revision(), "3f2a1b");
  database.reachable = false;
  EXPECT_EQ(events.db_revision(), std::nullopt);
  EXPECT_EQ(events.counts(), std::nullopt);
}

TEST_F(LocalRecorderTest, AnEventNeitherTheStoreNorTheJournalCanKeepIsAnError) {
  MemoryDatabase database;
  database.reachable = false;
  // The journal's directory would have to be made inside a regular file.
  fs::create_directories(m_dir);
  const std::string blocker = (m_dir / "events").string();
  std::FILE* file = std::fopen(blocker.c_str(), "w");
  ASSERT_NE(file, nullptr);
  std::fclose(file);
  LocalEventRecorder events = recorder(&database);
  EXPECT_THROW(events.record_event(event_for("aaaaaaa")), Error);
  EXPECT_EQ(events.quarantined(), 0U);
}

} // namespace
} // namespace probe::deploy
