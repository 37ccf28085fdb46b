// Host and database deploy locks; see deploy_lock.hpp.
#include "probe/deploy/deploy_lock.hpp"

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <utility>

#include <fcntl.h>
#include <pqxx/pqxx>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "probe/util/error.hpp"
#include "probe/util/unique_fd.hpp"

namespace probe::deploy {
namespace {

// The advisory lock key every probe agrees on ("probede" in ASCII).
constexpr long long k_deploy_lock = 0x70726f62656465LL;
constexpr mode_t k_lock_dir_mode = 0700;
constexpr mode_t k_lock_file_mode = 0600;

// Owns a descriptor so every refusal below closes it.
[[noreturn]] void refuse(const std::string& subject, const std::string& problem) {
  throw Error("deploy lock " + subject + ": " + problem, 2);
}

std::string octal_mode(mode_t mode) {
  std::array<char, 8> text{};
  std::snprintf(text.data(), text.size(), "%04o", static_cast<unsigned>(mode & 07777));
  return text.data();
}

// Creates the missing directories of `dir`, each 0700 (an existing one is left as it is).
void make_private_dirs(const std::filesystem::path& dir) {
  std::filesystem::path prefix;
  for (const std::filesystem::path& part : dir) {
    prefix /= part;
    if (::mkdir(prefix.c_str(), k_lock_dir_mode) != 0 && errno != EEXIST) {
      const int error = errno;
      refuse("directory " + prefix.string(), std::string("cannot create: ") + std::strerror(error));
    }
  }
}

// Opens `dir` (not through a symbolic link) and checks that only this user or root can write it.
util::UniqueFd open_private_dir(const std::filesystem::path& dir) {
  const std::string subject = "directory " + dir.string();
  util::UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0 && errno == ENOENT) {
    make_private_dirs(dir);
    fd = util::UniqueFd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  }
  if (fd.get() < 0) {
    const int error = errno;
    refuse(subject, error == ELOOP || error == ENOTDIR
                        ? "is a symbolic link or not a directory; refused"
                        : std::string("cannot open: ") + std::strerror(error));
  }
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) {
    refuse(subject, std::string("cannot stat: ") + std::strerror(errno));
  }
  const uid_t me = ::geteuid();
  if (info.st_uid != me && info.st_uid != 0) {
    refuse(subject, "owned by uid " + std::to_string(info.st_uid) + ", not by this user (uid " +
                        std::to_string(me) +
                        ") or root; refused: another user could replace the lock");
  }
  if ((info.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    refuse(subject, "writable by its group or others (mode " + octal_mode(info.st_mode) +
                        "); refused: another user could hold or replace the lock (chmod go-w, "
                        "or choose another --lock-file)");
  }
  return fd;
}

std::string read_holder(int fd) {
  char buf[32] = {};
  const ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
}

} // namespace

struct DeployLock::Session {
  explicit Session(const std::string& dsn) : pq(dsn) {}
  pqxx::connection pq;
};

DeployLock::~DeployLock() {
  m_session.reset(); // closing the session releases the advisory lock
  m_fd.reset();      // and closing the file releases the flock
}

std::unique_ptr<DeployLock> DeployLock::try_acquire(const std::string& lock_path,
                                                    const std::string& dsn, std::string* why,
                                                    std::string* warning) {
  const std::filesystem::path path(lock_path);
  if (!path.has_filename()) {
    refuse(lock_path, "not a file name");
  }
  const std::filesystem::path parent = path.has_parent_path() ? path.parent_path() : ".";
  const util::UniqueFd dir = open_private_dir(parent);
  // Relative to the checked directory, so the path cannot be swapped between check and open;
  // no O_TRUNC (the holder's pid stays) and O_NONBLOCK so a FIFO planted there cannot hang us.
  util::UniqueFd fd(::openat(dir.get(), path.filename().c_str(),
                             O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK,
                             k_lock_file_mode));
  if (fd.get() < 0) {
    refuse(lock_path, errno == ELOOP ? "is a symbolic link; refused (the lock must be a regular "
                                       "file)"
                                     : std::strerror(errno));
  }
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) {
    refuse(lock_path, std::strerror(errno));
  }
  if (!S_ISREG(info.st_mode)) {
    refuse(lock_path, "not a regular file; refused");
  }
  if (info.st_nlink != 1) {
    refuse(lock_path, "has " + std::to_string(info.st_nlink) +
                          " hard links; refused (the lock must be a file of its own)");
  }
  std::unique_ptr<DeployLock> lock(new DeployLock());
  lock->m_fd = std::move(fd);
  if (flock(lock->m_fd.get(), LOCK_EX | LOCK_NB) != 0) {
    const std::string holder = read_holder(lock->m_fd.get());
    *why = "another deploy or rollback holds " + lock_path +
           (holder.empty() ? "" : " (pid " + holder.substr(0, holder.find('\n')) + ")");
    return nullptr;
  }
  // Ours now, and a regular file of its own in a directory only we control: safe to rewrite.
  const std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(lock->m_fd.get(), 0) == 0) {
    (void)pwrite(lock->m_fd.get(), pid.data(), pid.size(), 0);
  }
  if (dsn.empty()) {
    return lock;
  }
  try {
    lock->m_session = std::make_unique<Session>(dsn);
    pqxx::nontransaction work(lock->m_session->pq);
    if (!work.exec_params1("SELECT pg_try_advisory_lock($1)", k_deploy_lock)[0].as<bool>()) {
      *why = "another probe sharing the database holds the deploy lock";
      return nullptr;
    }
  } catch (const std::exception&) {
    lock->m_session.reset();
    *warning = "the database is unreachable: only this host's deploy lock is held";
  }
  return lock;
}

std::string default_lock_path(uid_t euid, const char* xdg_runtime_dir, const char* home) {
  const auto absolute = [](const char* dir) { return dir != nullptr && dir[0] == '/'; };
  if (euid == 0) {
    return "/run/probe/deploy.lock";
  }
  if (absolute(xdg_runtime_dir)) {
    return std::string(xdg_runtime_dir) + "/probe/deploy.lock";
  }
  std::string base;
  if (absolute(home)) {
    base = home;
  } else if (const struct passwd* user = ::getpwuid(euid);
             user != nullptr && absolute(user->pw_dir)) {
    base = user->pw_dir;
  } else {
    throw Error("deploy lock: no XDG_RUNTIME_DIR and no home directory for uid " +
                    std::to_string(euid) + "; pass --lock-file",
                2);
  }
  return base + "/.local/state/probe/deploy.lock";
}

std::string default_lock_path() {
  return default_lock_path(::geteuid(), std::getenv("XDG_RUNTIME_DIR"), std::getenv("HOME"));
}

} // namespace probe::deploy
