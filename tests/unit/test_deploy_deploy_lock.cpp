// The host deploy lock on a real filesystem, in a private temporary directory (issue 12, item
// 11): the old default /tmp/probe-deploy.lock was opened through symbolic links and truncated, so
// a local user's symlink there truncated a root-owned file, and a local user holding a flock on
// it blocked every deploy. Pinned: a symbolic link, a FIFO or a hard-linked file at the lock path
// is refused and what it points to is untouched; a directory writable by its group or others, or
// owned by another user, is refused; a missing directory is created 0700; the holder's pid is
// never truncated by a second attempt, and two holders still exclude each other; the default
// path for root, for a user with XDG_RUNTIME_DIR and for one without.
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "probe/deploy/deploy_lock.hpp"
#include "probe/util/error.hpp"
#include "tests/support/files.hpp"

namespace probe::deploy {
namespace {

namespace fs = std::filesystem;

mode_t mode_of(const std::string& path) {
  struct stat info {};
  EXPECT_EQ(::lstat(path.c_str(), &info), 0) << path;
  return info.st_mode & 07777;
}

class DeployLockTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "probe-lock-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    m_dir = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(m_dir, ignored);
  }

  // try_acquire without a database; the Error's message when it throws, else "".
  std::string refusal(const std::string& path) {
    std::string why;
    std::string warning;
    try {
      const std::unique_ptr<DeployLock> lock = DeployLock::try_acquire(path, "", &why, &warning);
      return lock ? "" : "held: " + why;
    } catch (const Error& e) {
      EXPECT_EQ(e.exit_code(), 2);
      return e.what();
    }
  }

  std::string m_dir;
};

TEST_F(DeployLockTest, ASymbolicLinkAtTheLockPathIsRefusedAndItsTargetUntouched) {
  const std::string target = m_dir + "/precious";
  std::ofstream(target) << "root's data\n";
  ::chmod(target.c_str(), 0644);
  const std::string lock = m_dir + "/deploy.lock";
  fs::create_symlink(target, lock);
  EXPECT_EQ(refusal(lock), "deploy lock " + lock +
                               ": is a symbolic link; refused (the lock must be a regular file)");
  EXPECT_EQ(read_file(target), "root's data\n");
  EXPECT_EQ(mode_of(target), 0644U);
  // A dangling link is refused too, and creates nothing where it points.
  fs::remove(lock);
  fs::create_symlink(m_dir + "/nowhere", lock);
  EXPECT_NE(refusal(lock).find("is a symbolic link; refused"), std::string::npos);
  EXPECT_FALSE(fs::exists(m_dir + "/nowhere"));
}

TEST_F(DeployLockTest, AFifoOrAHardLinkIsRefused) {
  const std::string fifo = m_dir + "/fifo.lock";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(refusal(fifo), "deploy lock " + fifo + ": not a regular file; refused");

  const std::string other = m_dir + "/other";
  std::ofstream(other) << "someone else's\n";
  const std::string linked = m_dir + "/linked.lock";
  fs::create_hard_link(other, linked);
  EXPECT_EQ(refusal(linked),
            "deploy lock " + linked +
                ": has 2 hard links; refused (the lock must be a file of its own)");
  EXPECT_EQ(read_file(other), "someone else's\n");
}

TEST_F(DeployLockTest, ADirectoryOthersCanWriteIsRefused) {
  const std::string shared = m_dir + "/shared";
  fs::create_directory(shared);
  for (const mode_t mode : {0770, 0707, 01777}) {
    ::chmod(shared.c_str(), mode);
    const std::string message = refusal(shared + "/deploy.lock");
    EXPECT_NE(
        message.find("deploy lock directory " + shared + ": writable by its group or others (mode"),
        std::string::npos)
        << message;
    EXPECT_FALSE(fs::exists(shared + "/deploy.lock")) << "nothing is created there";
  }
  ::chmod(shared.c_str(), 0755);
  EXPECT_EQ(refusal(shared + "/deploy.lock"), "");
}

TEST_F(DeployLockTest, ADirectoryOwnedByAnotherUserIsRefused) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "only root can give a directory to another user";
  }
  const std::string theirs = m_dir + "/theirs";
  fs::create_directory(theirs);
  ::chmod(theirs.c_str(), 0700);
  ASSERT_EQ(::chown(theirs.c_str(), 65534, 65534), 0);
  EXPECT_EQ(refusal(theirs + "/deploy.lock"),
            "deploy lock directory " + theirs +
                ": owned by uid 65534, not by this user (uid 0) or root; refused: another user "
                "could replace the lock");
}

TEST_F(DeployLockTest, AMissingDirectoryIsCreatedPrivate) {
  const std::string nested = m_dir + "/a/b";
  EXPECT_EQ(refusal(nested + "/deploy.lock"), "");
  EXPECT_EQ(mode_of(m_dir + "/a") & 0777, 0700U);
  EXPECT_EQ(mode_of(nested) & 0777, 0700U);
  EXPECT_EQ(mode_of(nested + "/deploy.lock") & 0777, 0600U);
}

TEST_F(DeployLockTest, TwoHoldersExcludeEachOtherAndTheHoldersPidStays) {
  const std::string path = m_dir + "/deploy.lock";
  std::string why;
  std::string warning;
  const std::unique_ptr<DeployLock> first = DeployLock::try_acquire(path, "", &why, &warning);
  ASSERT_TRUE(first);
  const std::string pid = std::to_string(::getpid()) + "\n";
  EXPECT_EQ(read_file(path), pid);
  EXPECT_FALSE(DeployLock::try_acquire(path, "", &why, &warning));
  EXPECT_EQ(why, "another deploy or rollback holds " + path + " (pid " +
                     std::to_string(::getpid()) + ")");
  EXPECT_EQ(read_file(path), pid) << "a second attempt must not truncate the holder's pid";
}

TEST(DefaultLockPath, IsPrivateToTheUser) {
  EXPECT_EQ(default_lock_path(0, "/run/user/0", "/root"), "/run/probe/deploy.lock");
  EXPECT_EQ(default_lock_path(1000, "/run/user/1000", "/home/deploy"),
            "/run/user/1000/probe/deploy.lock");
  EXPECT_EQ(default_lock_path(1000, nullptr, "/home/deploy"),
            "/home/deploy/.local/state/probe/deploy.lock");
  EXPECT_EQ(default_lock_path(1000, "relative", "/home/deploy"),
            "/home/deploy/.local/state/probe/deploy.lock");
  // No /tmp, whatever the environment says.
  for (const uid_t uid : {0U, 1000U}) {
    EXPECT_NE(default_lock_path(uid, nullptr, "/home/x").rfind("/tmp", 0), 0U);
  }
}

} // namespace
} // namespace probe::deploy
