// One deploy or rollback at a time: a file lock (flock) for this host and a PostgreSQL advisory
// lock for every probe sharing the database. Both die with their holder — the flock with the
// process, the advisory lock with its session — so a crashed deploy never blocks the next one.
#pragma once

#include <memory>
#include <optional>
#include <string>

namespace probe::deploy {

class DeployLock {
public:
  ~DeployLock();
  DeployLock(const DeployLock&) = delete;
  DeployLock& operator=(const DeployLock&) = delete;

  // Takes the host lock at `lock_path` and, when `dsn` is set, the database's advisory lock.
  // Returns nullptr with `why` set ("held by pid 123 on this host", "held by another probe on
  // the database") when either is held. A database that cannot be reached leaves only the host
  // lock, with `warning` set. Throws probe::Error when the lock file cannot be opened.
  static std::unique_ptr<DeployLock> try_acquire(const std::string& lock_path,
                                                 const std::string& dsn, std::string* why,
                                                 std::string* warning);

private:
  DeployLock() = default;
  struct Session;
  int m_fd = -1;
  std::unique_ptr<Session> m_session;
};

} // namespace probe::deploy
