// The journal is where deploy events wait while PostgreSQL is down, and the contract says none is
// lost. These tests pin the line format (`J1 <length> <crc32> <json>`, checked against a CRC-32
// computed here independently of zlib), show that every kind of damage a crash or a disk can do
// — a torn last line, a flipped byte, a wrong length, garbage — is skipped with a warning that
// names the line and is never read as an event, and that drain() removes exactly what the store
// accepted, also when the store throws, when appends race with two drains, and when the file
// size limit stops an append halfway (in a forked child, since RLIMIT_FSIZE is per process), and
// that an event the store says to quarantine moves to the quarantine file without blocking the
// rest (issue 12, item 8).
// Everything runs in a private temporary directory.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe/deploy/journal.hpp"
#include "probe/util/error.hpp"
#include "tests/support/files.hpp"
#include "tests/support/text_match.hpp"

namespace probe::deploy {
namespace {

namespace fs = std::filesystem;

// Bitwise CRC-32 (IEEE), so the format is checked against the standard, not against itself.
std::uint32_t reference_crc32(const std::string& data) {
  std::uint32_t crc = 0xFFFFFFFFU;
  for (const char c : data) {
    crc ^= static_cast<unsigned char>(c);
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc >> 1) ^ (0xEDB88320U & (0U - (crc & 1U)));
    }
  }
  return ~crc;
}

std::string record_line(const std::string& json) {
  std::ostringstream out;
  out << "J1 " << json.size() << ' ' << std::hex;
  out.width(8);
  out.fill('0');
  out << reference_crc32(json) << ' ' << json << '\n';
  return out.str();
}

DeployEvent sample_event(int n) {
  static const std::vector<EventKind> kinds{EventKind::deploy_started, EventKind::deploy_succeeded,
                                            EventKind::deploy_failed};
  DeployEvent event =
      make_event(kinds[static_cast<std::size_t>(n) % kinds.size()], "1a2b3c" + std::to_string(n),
                 n % 2 == 0 ? "" : "sha-0f0f0f0", "ci");
  event.details = {{"attempt", n},
                   {"note", "line one\nline two, \"quoted\", ünïcode"},
                   {"checks", {{"api", "up"}, {"db", nullptr}}}};
  return event;
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

std::vector<std::string> lines_of(const std::string& content) {
  std::vector<std::string> lines;
  std::istringstream in(content);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line + '\n');
  }
  return lines;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) {
    out += line;
  }
  return out;
}

class JournalTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "probe-journal-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    m_dir = pattern;
    m_path = (m_dir / "journal.jsonl").string();
  }

  void TearDown() override { fs::remove_all(m_dir); }

  // Appends `count` sample events and returns them.
  std::vector<DeployEvent> append_samples(int count) {
    Journal journal(m_path);
    std::vector<DeployEvent> events;
    for (int i = 0; i < count; ++i) {
      events.push_back(sample_event(i));
      journal.append(events.back());
    }
    return events;
  }

  void expect_no_lines_left() const {
    EXPECT_TRUE(!fs::exists(m_path) || fs::file_size(m_path) == 0);
    EXPECT_FALSE(fs::exists(m_path + ".tmp"));
  }

  // The expected warning prefix for line `number`.
  std::string at_line(int number) const {
    return "journal " + m_path + ":" + std::to_string(number) + ": ";
  }

  fs::path m_dir;
  std::string m_path;
};

TEST(JournalReferenceCrc, MatchesTheStandardCheckValue) {
  EXPECT_EQ(reference_crc32("123456789"), 0xCBF43926U);
}

TEST_F(JournalTest, RoundTripsEventsWithDetails) {
  const std::vector<DeployEvent> events = append_samples(4);
  const Journal::ReadResult result = Journal(m_path).read();
  EXPECT_EQ(result.events, events);
  EXPECT_TRUE(result.warnings.empty());
  EXPECT_EQ(result.skipped, 0U);
  EXPECT_EQ(Journal(m_path).pending(), 4U);
}

TEST_F(JournalTest, LinesAreLengthAndCrcPrefixedCompactJson) {
  const std::vector<DeployEvent> events = append_samples(2);
  const std::vector<std::string> lines = lines_of(read_file(m_path));
  ASSERT_EQ(lines.size(), 2U);
  const std::regex shape(R"(J1 ([0-9]+) ([0-9a-f]{8}) (\{.*\})\n)");
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::smatch match;
    ASSERT_TRUE(std::regex_match(lines[i], match, shape)) << lines[i];
    const std::string json = match[3].str();
    EXPECT_EQ(record_line(json), lines[i]);
    EXPECT_EQ(nlohmann::json::parse(json), to_json(events[i]));
  }
}

TEST_F(JournalTest, FileAndNewDirectoriesAreNotWorldReadable) {
  m_path = (m_dir / "a" / "b" / "journal.jsonl").string();
  append_samples(1);
  struct stat info {};
  ASSERT_EQ(::stat((m_dir / "a" / "b").c_str(), &info), 0);
  EXPECT_TRUE(S_ISDIR(info.st_mode));
  EXPECT_EQ(info.st_mode & 0027, 0U);
  ASSERT_EQ(::stat(m_path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0137, 0U);
  EXPECT_EQ(Journal(m_path).pending(), 1U);
}

TEST_F(JournalTest, TornLastLineIsSkippedWithItsLineNumber) {
  const std::vector<DeployEvent> events = append_samples(3);
  const std::vector<std::string> lines = lines_of(read_file(m_path));
  fs::resize_file(m_path, lines[0].size() + lines[1].size() + lines[2].size() / 2);
  const Journal::ReadResult result = Journal(m_path).read();
  EXPECT_EQ(result.events, std::vector<DeployEvent>(events.begin(), events.begin() + 2));
  ASSERT_EQ(result.warnings.size(), 1U);
  EXPECT_EQ(result.warnings[0], at_line(3) + "torn last line (no trailing newline), line skipped");
  EXPECT_EQ(result.skipped, 1U);
}

TEST_F(JournalTest, LineCutJustBeforeItsNewlineIsStillTorn) {
  append_samples(1);
  fs::resize_file(m_path, fs::file_size(m_path) - 1);
  const Journal::ReadResult result = Journal(m_path).read();
  EXPECT_TRUE(result.events.empty());
  ASSERT_EQ(result.warnings.size(), 1U);
  EXPECT_TRUE(contains(result.warnings[0], at_line(1) + "torn")) << result.warnings[0];
}

TEST_F(JournalTest, AppendAfterATornLineStartsOnAFreshLine) {
  const std::vector<DeployEvent> events = append_samples(2);
  const std::vector<std::string> lines = lines_of(read_file(m_path));
  fs::resize_file(m_path, lines[0].size() + 10);
  const DeployEvent later = sample_event(7);
  Journal(m_path).append(later);
  const Journal::ReadResult result = Journal(m_path).read();
  EXPECT_EQ(result.events, (std::vector<DeployEvent>{events[0], later}));
  ASSERT_EQ(result.warnings.size(), 1U);
  EXPECT_TRUE(contains(result.warnings[0], at_line(2))) << result.warnings[0];
}

TEST_F(JournalTest, CorruptedByteIsAChecksumMismatch) {
  const std::vector<DeployEvent> events = append_samples(3);
  std::vector<std::string> lines = lines_of(read_file(m_path));
  const std::size_t at = lines[1].find(R"("actor":"ci")");
  ASSERT_NE(at, std::string::npos);
  lines[1][at + 9] = 'x';
  write_file(m_path, joined(lines));
  const Journal::ReadResult result = Journal(m_path).read();
  EXPECT_EQ(result.events, (std::vector<DeployEvent>{events[0], events[2]}));
  ASSERT_EQ(result.warnings.size(), 1U);
  EXPECT_EQ(result.warnings[0], at_line(2) + "checksum mismatch, line skipped");
}

TEST_F(JournalTest, WrongLengthIsSkipped) {
  const std::vector<DeployEvent> events = append_samples(3);
  std::vector<std::string> lines = lines_of(read_file(m_path));
  const std::size_t space = lines[0].find(' ', 3);
  const std::size_t length = std::stoul(lines[0].substr(3, space - 3));
  lines[0] = "J1 " + std::to_string(length + 1) + lines[0].substr(space);
  write_file(m_path, joined(lines));
  const Journal::ReadResult result = Journal(m_path).read();
  EXPECT_EQ(result.events, (std::vector<DeployEvent>{events[1], events[2]}));
  ASSERT_EQ(result.warnings.size(), 1U);
  EXPECT_EQ(result.warnings[0], at_line(1) + "length mismatch (header says " +
                                    std::to_string(length + 1) + " bytes, found " +
                                    std::to_string(length) + "), line skipped");
}

TEST_F(JournalTest, GarbageAndEmptyLinesAreSkipped) {
  const std::vector<DeployEvent> events = append_samples(2);
  std::vector<std::string> lines = lines_of(read_file(m_path));
  lines.insert(lines.begin() + 1, {"{\"kind\":\"deploy_started\"}\n", "\n", "J1 12 zz\n"});
  write_file(m_path, joined(lines));
  const Journal::ReadResult result = Journal(m_path).read();
  EXPECT_EQ(result.events, events);
  ASSERT_EQ(result.warnings.size(), 3U);
  EXPECT_EQ(result.warnings[0], at_line(2) + "not a journal record, line skipped");
  EXPECT_EQ(result.warnings[1], at_line(3) + "empty line, line skipped");
  EXPECT_EQ(result.warnings[2], at_line(4) + "malformed header, line skipped");
  EXPECT_EQ(result.skipped, 3U);
}

TEST_F(JournalTest, WellFramedButInvalidContentIsSkipped) {
  nlohmann::json bad_kind = to_json(sample_event(1));
  bad_kind["kind"] = "deploy_exploded";
  nlohmann::json no_id = to_json(sample_event(2));
  no_id.erase("event_id");
  write_file(m_path, record_line(R"({"event_id": )") + record_line(bad_kind.dump()) +
                         record_line(no_id.dump()));
  const Journal::ReadResult result = Journal(m_path).read();
  EXPECT_TRUE(result.events.empty());
  ASSERT_EQ(result.warnings.size(), 3U);
  EXPECT_EQ(result.warnings[0], at_line(1) + "not valid JSON, line skipped");
  EXPECT_EQ(result.warnings[1],
            at_line(2) +
                "invalid event: kind: \"deploy_exploded\" is not an event kind, line skipped");
  EXPECT_EQ(result.warnings[2], at_line(3) + "invalid event: event_id: missing, line skipped");
}

TEST_F(JournalTest, EmptyFileHasNoEvents) {
  write_file(m_path, "");
  const Journal::ReadResult result = Journal(m_path).read();
  EXPECT_TRUE(result.events.empty());
  EXPECT_TRUE(result.warnings.empty());
  EXPECT_EQ(Journal(m_path).pending(), 0U);
}

TEST_F(JournalTest, MissingFileHasNoEventsAndIsNotCreated) {
  const Journal::ReadResult result = Journal(m_path).read();
  EXPECT_TRUE(result.events.empty());
  EXPECT_TRUE(result.warnings.empty());
  EXPECT_EQ(Journal(m_path).pending(), 0U);
  EXPECT_FALSE(fs::exists(m_path));
}

TEST_F(JournalTest, SameEventIdTwiceIsKeptTwice) {
  const DeployEvent event = sample_event(1);
  Journal journal(m_path);
  journal.append(event);
  journal.append(event);
  EXPECT_EQ(journal.read().events, (std::vector<DeployEvent>{event, event}));
}

TEST_F(JournalTest, DrainStoringEverythingEmptiesTheJournal) {
  const std::vector<DeployEvent> events = append_samples(3);
  Journal journal(m_path);
  std::vector<DeployEvent> stored;
  const Journal::DrainResult result = journal.drain([&](const DeployEvent& event) {
    stored.push_back(event);
    return true;
  });
  EXPECT_EQ(stored, events);
  EXPECT_EQ(result.stored, 3U);
  EXPECT_EQ(result.remaining, 0U);
  EXPECT_TRUE(result.warnings.empty());
  EXPECT_EQ(journal.pending(), 0U);
  expect_no_lines_left();
}

TEST_F(JournalTest, DrainKeepsWhatStoreRefuses) {
  const std::vector<DeployEvent> events = append_samples(3);
  Journal journal(m_path);
  const Journal::DrainResult result =
      journal.drain([&](const DeployEvent& event) { return event != events[1]; });
  EXPECT_EQ(result.stored, 2U);
  EXPECT_EQ(result.remaining, 1U);
  EXPECT_EQ(journal.read().events, std::vector<DeployEvent>{events[1]});
  EXPECT_EQ(read_file(m_path), lines_of(read_file(m_path))[0]);
}

TEST_F(JournalTest, DrainRethrowsAndKeepsWhatWasNotStored) {
  const std::vector<DeployEvent> events = append_samples(3);
  Journal journal(m_path);
  int calls = 0;
  auto fails_on_second = [&](const DeployEvent&) -> bool {
    if (++calls == 2) {
      throw std::runtime_error("database went away");
    }
    return true;
  };
  std::string propagated;
  try {
    journal.drain(fails_on_second);
  } catch (const std::runtime_error& error) {
    propagated = error.what();
  }
  EXPECT_EQ(propagated, "database went away");
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(journal.read().events, (std::vector<DeployEvent>{events[1], events[2]}));
}

TEST_F(JournalTest, DrainDropsDamagedLinesAndReportsThem) {
  const std::vector<DeployEvent> events = append_samples(2);
  write_file(m_path, read_file(m_path) + "garbage\n");
  Journal journal(m_path);
  const Journal::DrainResult result = journal.drain([](const DeployEvent&) { return false; });
  EXPECT_EQ(result.stored, 0U);
  EXPECT_EQ(result.remaining, 2U);
  ASSERT_EQ(result.warnings.size(), 1U);
  EXPECT_EQ(result.warnings[0], at_line(3) + "not a journal record, line skipped");
  const Journal::ReadResult after = journal.read();
  EXPECT_EQ(after.events, events);
  EXPECT_TRUE(after.warnings.empty());
}

// Issue 12, item 8: an event the database can never store is set aside, byte for byte, in the
// quarantine file, and the events behind it are still offered and stored.
TEST_F(JournalTest, DrainMovesAQuarantinedEventAsideAndGoesOn) {
  const std::vector<DeployEvent> events = append_samples(4);
  const std::vector<std::string> lines = lines_of(read_file(m_path));
  Journal journal(m_path);
  std::vector<DeployEvent> offered;
  const Journal::DrainResult result = journal.drain([&](const DeployEvent& event) {
    offered.push_back(event);
    if (event == events[0]) {
      return Journal::Disposition::quarantine;
    }
    return event == events[2] ? Journal::Disposition::kept : Journal::Disposition::stored;
  });
  EXPECT_EQ(offered, events);
  EXPECT_EQ(result.stored, 2U);
  EXPECT_EQ(result.quarantined, 1U);
  EXPECT_EQ(result.remaining, 1U);
  EXPECT_EQ(journal.quarantine_path(), m_path + ".quarantine");
  EXPECT_EQ(read_file(m_path + ".quarantine"), lines[0]);
  EXPECT_EQ(read_file(m_path), lines[2]);
  // A second one is appended after the first.
  journal.drain([](const DeployEvent&) { return Journal::Disposition::quarantine; });
  EXPECT_EQ(read_file(m_path + ".quarantine"), lines[0] + lines[2]);
  expect_no_lines_left();
  EXPECT_EQ(Journal(m_path + ".quarantine").read().events,
            (std::vector<DeployEvent>{events[0], events[2]}));
}

TEST_F(JournalTest, AnEventThatCannotBeQuarantinedStaysAndTheRestGoOn) {
  const std::vector<DeployEvent> events = append_samples(3);
  fs::create_directory(m_path + ".quarantine"); // cannot be opened as a file
  Journal journal(m_path);
  const Journal::DrainResult result = journal.drain([&](const DeployEvent& event) {
    return event == events[1] ? Journal::Disposition::quarantine : Journal::Disposition::stored;
  });
  EXPECT_EQ(result.stored, 2U);
  EXPECT_EQ(result.quarantined, 0U);
  EXPECT_EQ(result.remaining, 1U);
  ASSERT_EQ(result.warnings.size(), 1U);
  EXPECT_TRUE(contains(result.warnings[0], "journal " + m_path + ".quarantine: cannot append: "))
      << result.warnings[0];
  EXPECT_TRUE(
      contains(result.warnings[0], "; event " + events[1].event_id + " stays in the journal"))
      << result.warnings[0];
  EXPECT_EQ(journal.read().events, std::vector<DeployEvent>{events[1]});
}

TEST_F(JournalTest, DrainThatChangesNothingDoesNotRewrite) {
  append_samples(2);
  const std::string before = read_file(m_path);
  const fs::file_time_type modified = fs::last_write_time(m_path);
  struct stat old_info {};
  ASSERT_EQ(::stat(m_path.c_str(), &old_info), 0);
  const Journal::DrainResult result =
      Journal(m_path).drain([](const DeployEvent&) { return false; });
  EXPECT_EQ(result.remaining, 2U);
  struct stat new_info {};
  ASSERT_EQ(::stat(m_path.c_str(), &new_info), 0);
  EXPECT_EQ(new_info.st_ino, old_info.st_ino);
  EXPECT_EQ(fs::last_write_time(m_path), modified);
  EXPECT_EQ(read_file(m_path), before);
}

TEST_F(JournalTest, DrainOfMissingJournalDoesNothing) {
  bool called = false;
  const Journal::DrainResult result = Journal(m_path).drain([&](const DeployEvent&) {
    called = true;
    return true;
  });
  EXPECT_FALSE(called);
  EXPECT_EQ(result.stored, 0U);
  EXPECT_FALSE(fs::exists(m_path));
}

// A store shared by concurrent drains: refuses every seventh event, so some must survive every
// drain, and counts how often each other event was stored.
class CountingStore {
public:
  explicit CountingStore(const std::vector<DeployEvent>& events) {
    for (std::size_t i = 0; i < events.size(); i += 7) {
      m_refused.insert(events[i].event_id);
    }
  }

  bool operator()(const DeployEvent& event) {
    const std::lock_guard<std::mutex> guard(m_mutex);
    if (m_refused.contains(event.event_id)) {
      return false;
    }
    ++m_stored[event.event_id];
    return true;
  }

  bool refused(const std::string& id) const { return m_refused.contains(id); }
  int stored(const std::string& id) const {
    const auto it = m_stored.find(id);
    return it == m_stored.end() ? 0 : it->second;
  }

private:
  std::mutex m_mutex;
  std::set<std::string> m_refused;
  std::map<std::string, int> m_stored;
};

// Appends `events` on one thread while two others drain into `store`; returns how many calls
// threw. A drainer drains again once something new was appended: appends land between drains,
// and drains that find nothing new do not take turns on the lock and starve the writer.
int append_while_draining(const std::string& path, const std::vector<DeployEvent>& events,
                          CountingStore& store) {
  std::atomic<int> failures{0};
  std::mutex progress_mutex;
  std::condition_variable progress;
  std::size_t appended = 0; // under progress_mutex
  bool writing = true;      // under progress_mutex
  auto guarded = [&](const std::function<void()>& call) {
    try {
      call();
    } catch (const std::exception&) {
      ++failures;
    }
  };
  std::thread writer([&] {
    for (const DeployEvent& event : events) {
      guarded([&] { Journal(path).append(event); });
      const std::lock_guard<std::mutex> lock(progress_mutex);
      ++appended;
      progress.notify_all();
    }
    const std::lock_guard<std::mutex> lock(progress_mutex);
    writing = false;
    progress.notify_all();
  });
  auto drainer = [&] {
    std::size_t drained_after = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(progress_mutex);
        progress.wait(lock, [&] { return appended != drained_after || !writing; });
        if (!writing) {
          return;
        }
        drained_after = appended;
      }
      guarded([&] { Journal(path).drain(std::ref(store)); });
    }
  };
  std::thread first(drainer);
  std::thread second(drainer);
  writer.join();
  first.join();
  second.join();
  return failures;
}

TEST_F(JournalTest, AppendsRacingTwoDrainsLoseNothingAndDuplicateNothing) {
  std::vector<DeployEvent> events(200);
  for (std::size_t i = 0; i < events.size(); ++i) {
    events[i] = sample_event(static_cast<int>(i));
  }
  CountingStore store(events);
  ASSERT_EQ(append_while_draining(m_path, events, store), 0);
  Journal(m_path).drain(std::ref(store));

  const Journal::ReadResult left = Journal(m_path).read();
  EXPECT_TRUE(left.warnings.empty());
  std::map<std::string, int> remaining;
  for (const DeployEvent& event : left.events) {
    ++remaining[event.event_id];
  }
  for (const DeployEvent& event : events) {
    const bool refused = store.refused(event.event_id);
    EXPECT_EQ(store.stored(event.event_id), refused ? 0 : 1) << event.event_id;
    EXPECT_EQ(remaining[event.event_id], refused ? 1 : 0) << event.event_id;
  }
}

TEST_F(JournalTest, AppendWhereADirectoryCannotBeMadeNamesTheJournal) {
  write_file((m_dir / "file").string(), "not a directory\n");
  const std::string path = (m_dir / "file" / "journal.jsonl").string();
  try {
    Journal(path).append(sample_event(1));
    FAIL() << "append succeeded";
  } catch (const Error& error) {
    EXPECT_TRUE(contains(error.what(), "journal " + path + ": cannot append")) << error.what();
    EXPECT_EQ(error.exit_code(), 1);
  }
}

// Runs in a child process, since the file size limit and SIGXFSZ disposition are per process;
// 0 when append failed as it should, another code says what went wrong instead.
int append_over_size_limit(const std::string& path) {
  std::signal(SIGXFSZ, SIG_IGN);
  rlimit limit{};
  if (::getrlimit(RLIMIT_FSIZE, &limit) != 0) {
    return 10;
  }
  limit.rlim_cur = static_cast<rlim_t>(fs::file_size(path) + 10);
  if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) {
    return 11;
  }
  try {
    Journal(path).append(sample_event(9));
  } catch (const Error& error) {
    return contains(error.what(), "cannot append") && contains(error.what(), "File too large") ? 0
                                                                                               : 2;
  } catch (...) {
    return 3;
  }
  return 1;
}

// Runs `body` in a forked child; its exit code, or 128 + the signal that killed it.
int run_in_child(const std::function<int()>& body) {
  const pid_t child = ::fork();
  if (child == 0) {
    ::_exit(body());
  }
  int status = 0;
  if (child == -1 || ::waitpid(child, &status, 0) != child) {
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST_F(JournalTest, AppendStoppedByFileSizeLimitLeavesNoPartialLine) {
  const std::vector<DeployEvent> events = append_samples(2);
  const std::string before = read_file(m_path);
  EXPECT_EQ(run_in_child([&] { return append_over_size_limit(m_path); }), 0);
  EXPECT_EQ(read_file(m_path), before);
  const Journal::ReadResult result = Journal(m_path).read();
  EXPECT_EQ(result.events, events);
  EXPECT_TRUE(result.warnings.empty());
}

} // namespace
} // namespace probe::deploy
