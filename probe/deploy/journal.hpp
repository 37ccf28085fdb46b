// The local, durable fallback for deploy events. The contract promises that no event is lost:
// when PostgreSQL is unreachable, `probe deploy` appends the event here and fsyncs it before
// reporting it recorded, and replay later moves it into Postgres (idempotent on event_id, so an
// event offered twice is stored once). Each line is self-checking —
// `J1 <length> <crc32> <json>\n` — because a crash can cut the last append short and a
// filesystem can leave garbage after the last durable byte; with the length and checksum,
// "is this what we wrote?" is a yes/no question, so a damaged line is skipped with a warning and
// is never replayed as a wrong event (a wrong SHA could become the rollback target). Appends and
// drains serialize on an flock(2) of the journal file itself, across threads and processes.
//
// An event the database refuses for its content can never be stored; left in place it would be
// offered again at every replay, in front of every event behind it. drain() therefore lets the
// store say "quarantine": the line moves, byte for byte, to the quarantine file beside the
// journal (quarantine_path(), the same self-checking format, appended and fsync'd before the
// journal is rewritten without it), where an operator can read it, and replay goes on.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "probe/deploy/event.hpp"

namespace probe::deploy {

class Journal {
public:
  struct ReadResult {
    std::vector<DeployEvent> events;   // valid events, in append order
    std::vector<std::string> warnings; // "journal PATH:LINE: reason, line skipped"
    std::size_t skipped = 0;           // lines that were not valid records
  };

  struct DrainResult {
    std::size_t stored = 0;            // events `store` accepted; removed from the journal
    std::size_t remaining = 0;         // valid events still in the journal
    std::size_t quarantined = 0;       // moved to quarantine_path(); removed from the journal
    std::vector<std::string> warnings; // as in ReadResult
  };

  // What drain()'s `store` made of one event.
  enum class Disposition { stored, kept, quarantine };

  // A journal at `path`; nothing is touched until the first call.
  explicit Journal(std::string path);

  const std::string& path() const { return m_path; }
  // Where drain() sets aside events that can never be stored: the journal's path + ".quarantine".
  std::string quarantine_path() const { return m_path + ".quarantine"; }

  // Appends `event` as one line and returns only once it is durable (file fsync'd, and the
  // directory too when the file is new); creates missing parent directories (mode 0750). Either
  // the whole line is in the journal or append throws probe::Error (exit code 1) and the journal
  // is as it was. The process must ignore SIGXFSZ (cli::run() does) so that hitting
  // RLIMIT_FSIZE is an error here instead of killing the process.
  void append(const DeployEvent& event);

  // Every valid event; damaged lines are skipped and reported in `warnings`. A missing journal is
  // empty. Throws probe::Error (exit code 1) when the file exists but cannot be read.
  ReadResult read() const;

  // How many valid events wait to be stored (for probe_events_pending).
  std::size_t pending() const;

  // Under the journal's exclusive lock, offers each valid event to `store` in order and removes
  // those it returns true for; the rest stay, damaged lines are dropped. The file is replaced
  // atomically, and only when something changed. If `store` throws, what was stored is removed
  // when possible, everything else is kept, and the exception propagates. `store` must not call
  // this journal (its lock is held).
  DrainResult drain(const std::function<bool(const DeployEvent&)>& store);

  // As above, and an event `store` says to quarantine is appended to quarantine_path() (durably)
  // and removed from the journal; if it cannot be appended there it stays in the journal, counted
  // in `remaining` with a warning, and the events behind it are still offered.
  DrainResult drain(const std::function<Disposition(const DeployEvent&)>& store);

private:
  // Appends the already encoded `line` as append() does.
  void append_line(const std::string& line);

  std::string m_path;
};

} // namespace probe::deploy
