// Host and database deploy locks; see deploy_lock.hpp.
#include "probe/deploy/deploy_lock.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fcntl.h>
#include <pqxx/pqxx>
#include <sys/file.h>
#include <unistd.h>

#include "probe/util/error.hpp"

namespace probe::deploy {
namespace {

// The advisory lock key every probe agrees on ("probede" in ASCII).
constexpr long long k_deploy_lock = 0x70726f62656465LL;

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
  if (m_fd >= 0) {
    close(m_fd); // and closing the file releases the flock
  }
}

std::unique_ptr<DeployLock> DeployLock::try_acquire(const std::string& lock_path,
                                                    const std::string& dsn, std::string* why,
                                                    std::string* warning) {
  std::unique_ptr<DeployLock> lock(new DeployLock());
  const std::filesystem::path parent = std::filesystem::path(lock_path).parent_path();
  std::error_code ignored;
  if (!parent.empty()) {
    std::filesystem::create_directories(parent, ignored);
  }
  lock->m_fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (lock->m_fd < 0) {
    throw Error("deploy lock " + lock_path + ": " + std::strerror(errno), 1);
  }
  if (flock(lock->m_fd, LOCK_EX | LOCK_NB) != 0) {
    const std::string holder = read_holder(lock->m_fd);
    *why = "another deploy or rollback holds " + lock_path +
           (holder.empty() ? "" : " (pid " + holder.substr(0, holder.find('\n')) + ")");
    return nullptr;
  }
  const std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(lock->m_fd, 0) == 0) {
    (void)pwrite(lock->m_fd, pid.data(), pid.size(), 0);
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

} // namespace probe::deploy
