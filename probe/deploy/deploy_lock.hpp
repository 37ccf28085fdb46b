// One deploy or rollback at a time: a file lock (flock) for this host and a PostgreSQL advisory
// lock for every probe sharing the database. Both die with their holder — the flock with the
// process, the advisory lock with its session — so a crashed deploy never blocks the next one.
//
// The lock file lives in a directory only this user (or root) can write: a lock in a directory
// others can write (the old default, /tmp/probe-deploy.lock) lets any local user block every
// deploy by holding a flock on it, or plant a symbolic link there so the deploy truncates
// whatever file it points to. So the directory is created 0700 when missing and refused when
// group- or other-writable or owned by someone else, and the file is opened relative to it with
// O_NOFOLLOW, never truncated on open, and refused unless it is a regular file with one link.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <sys/types.h>

#include "probe/util/unique_fd.hpp"

namespace probe::deploy {

class DeployLock {
public:
  ~DeployLock();
  DeployLock(const DeployLock&) = delete;
  DeployLock& operator=(const DeployLock&) = delete;

  // Takes the host lock at `lock_path` and, when `dsn` is set, the database's advisory lock.
  // Returns nullptr with `why` set ("held by pid 123 on this host", "held by another probe on
  // the database") when either is held. A database that cannot be reached leaves only the host
  // lock, with `warning` set. Throws probe::Error (exit code 2), naming the path and the problem,
  // when the lock file or its directory is unsafe (see above) or cannot be opened.
  static std::unique_ptr<DeployLock> try_acquire(const std::string& lock_path,
                                                 const std::string& dsn, std::string* why,
                                                 std::string* warning);

private:
  DeployLock() = default;
  struct Session;
  util::UniqueFd m_fd;
  std::unique_ptr<Session> m_session;
};

// The host lock when neither --lock-file nor a config says where: /run/probe/deploy.lock for
// root, else $XDG_RUNTIME_DIR/probe/deploy.lock (a per-user 0700 tmpfs), else
// $HOME/.local/state/probe/deploy.lock (HOME from the password database when unset).
std::string default_lock_path();

// default_lock_path() for user `euid` with these environment values (null or relative: unset);
// throws probe::Error when there is no home directory to use either.
std::string default_lock_path(uid_t euid, const char* xdg_runtime_dir, const char* home);

} // namespace probe::deploy
