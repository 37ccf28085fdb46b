// The deploy-event journal: the file that keeps events safe while PostgreSQL is down, until
// replay stores them; see journal.hpp. Lines are `J1 <length> <crc32> <json>\n` so that a torn
// or corrupted line is recognised as such rather than parsed into a plausible but wrong event.
// Every operation holds flock(2) on the journal file and checks, once locked, that the path still
// names the file it opened: drain() replaces the file by rename, and a writer still holding the
// old one would otherwise append to a file nobody will ever read again. The quarantine file is a
// journal of its own (its own lock), appended to while the journal's lock is held; nothing ever
// locks them in the other order.
#include "probe/deploy/journal.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string_view>
#include <utility>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "probe/util/error.hpp"
#include "probe/util/hex.hpp"
#include "probe/util/json_text.hpp"
#include "probe/util/unique_fd.hpp"

namespace probe::deploy {
namespace {

constexpr std::string_view k_magic = "J1 ";
constexpr mode_t k_journal_file_mode = 0640;
constexpr mode_t k_journal_dir_mode = 0750;

// Owns a file descriptor so every early return and exception closes it.
// A valid line, kept byte for byte so drain() rewrites exactly what was appended.
struct Entry {
  DeployEvent event;
  std::string line; // with its '\n'
};

struct Parsed {
  std::vector<Entry> entries;
  std::vector<std::string> warnings;
  std::size_t skipped = 0;
};

[[noreturn]] void fail(const std::string& path, const std::string& what, int error) {
  throw Error("journal " + path + ": " + what + ": " + std::strerror(error), 1);
}

std::uint32_t checksum(std::string_view data) {
  return static_cast<std::uint32_t>(
      crc32_z(0, reinterpret_cast<const Bytef*>(data.data()), data.size()));
}

std::string encode_line(const DeployEvent& event) {
  // Compact dump: JSON escapes newlines inside strings, so the record stays on one line.
  const std::string json = util::json_text(to_json(event));
  std::array<char, 9> crc{};
  std::snprintf(crc.data(), crc.size(), "%08x", static_cast<unsigned>(checksum(json)));
  return std::string(k_magic) + std::to_string(json.size()) + ' ' + crc.data() + ' ' + json + '\n';
}

// The JSON of `line` once its header checks out; otherwise nullopt and `reason` says why.
std::optional<std::string_view> checked_json(std::string_view line, std::string* reason) {
  if (line.substr(0, k_magic.size()) != k_magic) {
    *reason = line.empty() ? "empty line" : "not a journal record";
    return std::nullopt;
  }
  line.remove_prefix(k_magic.size());
  std::size_t length = 0;
  const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), length);
  const auto digits = static_cast<std::size_t>(end - line.data());
  if (ec != std::errc() || line.size() < digits + 10 || line[digits] != ' ' ||
      line[digits + 9] != ' ' || !util::is_lower_hex(line.substr(digits + 1, 8))) {
    *reason = "malformed header";
    return std::nullopt;
  }
  std::uint32_t crc = 0;
  std::from_chars(line.data() + digits + 1, line.data() + digits + 9, crc, 16);
  const std::string_view json = line.substr(digits + 10);
  if (json.size() != length) {
    *reason = "length mismatch (header says " + std::to_string(length) + " bytes, found " +
              std::to_string(json.size()) + ")";
    return std::nullopt;
  }
  if (checksum(json) != crc) {
    *reason = "checksum mismatch";
    return std::nullopt;
  }
  return json;
}

std::optional<DeployEvent> parse_record(std::string_view line, std::string* reason) {
  const std::optional<std::string_view> text = checked_json(line, reason);
  if (!text) {
    return std::nullopt;
  }
  const nlohmann::json json = nlohmann::json::parse(*text, nullptr, false);
  if (json.is_discarded()) {
    *reason = "not valid JSON";
    return std::nullopt;
  }
  std::string error;
  std::optional<DeployEvent> event = from_json(json, /*fill_defaults=*/false, &error);
  if (!event) {
    *reason = "invalid event: " + error;
  }
  return event;
}

Parsed parse_journal(const std::string& path, std::string_view content) {
  Parsed parsed;
  for (std::size_t number = 1; !content.empty(); ++number) {
    const std::size_t newline = content.find('\n');
    // Without its newline even a line that checks out may be the start of a longer one.
    const bool torn = newline == std::string_view::npos;
    const std::string_view line = content.substr(0, newline);
    content.remove_prefix(torn ? content.size() : newline + 1);
    std::string reason = "torn last line (no trailing newline)";
    std::optional<DeployEvent> event = torn ? std::nullopt : parse_record(line, &reason);
    if (event) {
      parsed.entries.push_back({std::move(*event), std::string(line) + '\n'});
    } else {
      std::string warning = "journal " + path + ":" + std::to_string(number) + ": ";
      warning += reason;
      warning += ", line skipped";
      parsed.warnings.push_back(std::move(warning));
      ++parsed.skipped;
    }
  }
  return parsed;
}

std::string parent_dir(const std::string& path) {
  std::string parent = std::filesystem::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

// Returns 0 or the errno; a new file's name is durable only once its directory is synced.
int sync_dir(const std::string& dir) {
  const util::UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) {
    return errno;
  }
  // Some filesystems cannot sync a directory and say EINVAL; nothing more can be done there.
  return ::fsync(fd.get()) == 0 || errno == EINVAL ? 0 : errno;
}

// Creates `dir` and its missing parents; returns 0 or the errno.
int make_dirs(const std::string& dir) {
  std::filesystem::path prefix;
  for (const std::filesystem::path& part : std::filesystem::path(dir)) {
    prefix /= part;
    struct stat info {};
    if (::stat(prefix.c_str(), &info) == 0) {
      continue;
    }
    if (::mkdir(prefix.c_str(), k_journal_dir_mode) != 0 && errno != EEXIST) {
      return errno;
    }
    if (const int error = sync_dir(parent_dir(prefix.string())); error != 0) {
      return error;
    }
  }
  return 0;
}

int lock(int fd, int operation) {
  while (::flock(fd, operation) != 0) {
    if (errno != EINTR) {
      return errno;
    }
  }
  return 0;
}

bool is_current(int fd, const std::string& path) {
  struct stat opened {};
  struct stat named {};
  if (::fstat(fd, &opened) != 0) {
    return true; // cannot tell; the lock is still the best we have
  }
  return ::stat(path.c_str(), &named) == 0 && opened.st_dev == named.st_dev &&
         opened.st_ino == named.st_ino;
}

// Opens `path` and takes flock `operation`, retrying when drain() renamed a new journal over the
// file between our open and our lock. On failure returns an invalid fd and sets `error`.
util::UniqueFd open_locked(const std::string& path, int flags, int operation, int* error) {
  for (;;) {
    util::UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC, k_journal_file_mode));
    if (!fd.valid()) {
      *error = errno;
      return fd;
    }
    if ((*error = lock(fd.get(), operation)) != 0) {
      return util::UniqueFd();
    }
    if (is_current(fd.get(), path)) {
      return fd;
    }
  }
}

std::string read_all(int fd, const std::string& path) {
  std::string content;
  std::array<char, 65536> buffer{};
  for (;;) {
    const ssize_t n = ::pread(fd, buffer.data(), buffer.size(), static_cast<off_t>(content.size()));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      fail(path, "cannot read", errno);
    }
    if (n == 0) {
      return content;
    }
    content.append(buffer.data(), static_cast<std::size_t>(n));
  }
}

// Returns 0 or the errno; a short write is continued, since the next write() reports the cause.
int write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return n < 0 ? errno : EIO;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return 0;
}

util::UniqueFd open_for_append(const std::string& path) {
  // O_RDWR rather than O_WRONLY: append() reads the last byte to step past a torn line.
  const int flags = O_RDWR | O_APPEND | O_CREAT;
  int error = 0;
  util::UniqueFd fd = open_locked(path, flags, LOCK_EX, &error);
  if (!fd.valid() && error == ENOENT) {
    if (const std::string dir = parent_dir(path); (error = make_dirs(dir)) != 0) {
      fail(path, "cannot append: cannot create directory " + dir, error);
    }
    fd = open_locked(path, flags, LOCK_EX, &error);
  }
  if (!fd.valid()) {
    fail(path, "cannot append", error);
  }
  return fd;
}

off_t file_size(int fd, const std::string& path) {
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    fail(path, "cannot append", errno);
  }
  return info.st_size;
}

// True unless the file ends inside a line that a crash cut short.
bool ends_cleanly(int fd, off_t size) {
  char last = '\n';
  return size == 0 || ::pread(fd, &last, 1, size - 1) != 1 || last == '\n';
}

// Undoes a failed append so no partial line of ours is left, then throws.
[[noreturn]] void abandon_append(int fd, off_t size, const std::string& path, int error) {
  if (::ftruncate(fd, size) == 0) {
    ::fsync(fd);
  }
  fail(path, "cannot append", error);
}

// Replaces the journal with `content` so that a crash leaves either the old file or the new one.
void rewrite(const std::string& path, std::string_view content) {
  const std::string tmp = path + ".tmp";
  const util::UniqueFd fd(
      ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, k_journal_file_mode));
  int error = fd.valid() ? write_all(fd.get(), content) : errno;
  if (error == 0 && ::fsync(fd.get()) != 0) {
    error = errno;
  }
  if (error == 0 && ::rename(tmp.c_str(), path.c_str()) != 0) {
    error = errno;
  }
  if (error != 0) {
    ::unlink(tmp.c_str());
    fail(path, "cannot rewrite", error);
  }
  if ((error = sync_dir(parent_dir(path))) != 0) {
    fail(path, "cannot rewrite", error);
  }
}

// Called while `store` is throwing at entries[next]: removes what was stored before it, keeps
// everything from it on, and stays quiet so the caller sees store's exception, not ours. If the
// rewrite fails the stored events stay and are offered again, which store's idempotence on
// event_id makes harmless.
void keep_unstored(const std::string& path, std::string kept, const std::vector<Entry>& entries,
                   std::size_t next) noexcept {
  try {
    for (; next < entries.size(); ++next) {
      kept += entries[next].line;
    }
    rewrite(path, kept);
  } catch (...) { // NOLINT(bugprone-empty-catch): see above
  }
}

} // namespace

Journal::Journal(std::string path) : m_path(std::move(path)) {}

void Journal::append(const DeployEvent& event) {
  append_line(encode_line(normalized(event)));
}

void Journal::append_line(const std::string& line) {
  const util::UniqueFd fd = open_for_append(m_path);
  const off_t size = file_size(fd.get(), m_path);
  // After a crash tore the last line, start on a fresh one so ours is not glued to the debris.
  const std::string data = ends_cleanly(fd.get(), size) ? line : '\n' + line;
  if (const int error = write_all(fd.get(), data); error != 0) {
    abandon_append(fd.get(), size, m_path, error);
  }
  if (::fsync(fd.get()) != 0) {
    abandon_append(fd.get(), size, m_path, errno);
  }
  // The first line in a file: the file may be new, and its name must survive a crash too.
  if (const int error = size == 0 ? sync_dir(parent_dir(m_path)) : 0; error != 0) {
    abandon_append(fd.get(), size, m_path, error);
  }
}

Journal::ReadResult Journal::read() const {
  int error = 0;
  const util::UniqueFd fd = open_locked(m_path, O_RDONLY, LOCK_SH, &error);
  if (!fd.valid()) {
    if (error == ENOENT) {
      return {};
    }
    fail(m_path, "cannot read", error);
  }
  Parsed parsed = parse_journal(m_path, read_all(fd.get(), m_path));
  ReadResult result;
  result.events.reserve(parsed.entries.size());
  for (Entry& entry : parsed.entries) {
    result.events.push_back(std::move(entry.event));
  }
  result.warnings = std::move(parsed.warnings);
  result.skipped = parsed.skipped;
  return result;
}

std::size_t Journal::pending() const {
  return read().events.size();
}

Journal::DrainResult Journal::drain(const std::function<bool(const DeployEvent&)>& store) {
  return drain([&store](const DeployEvent& event) {
    return store(event) ? Disposition::stored : Disposition::kept;
  });
}

Journal::DrainResult Journal::drain(const std::function<Disposition(const DeployEvent&)>& store) {
  int error = 0;
  const util::UniqueFd fd = open_locked(m_path, O_RDONLY, LOCK_EX, &error);
  if (!fd.valid()) {
    if (error == ENOENT) {
      return {};
    }
    fail(m_path, "cannot drain", error);
  }
  Parsed parsed = parse_journal(m_path, read_all(fd.get(), m_path));
  DrainResult result;
  result.warnings = std::move(parsed.warnings);
  std::string kept;
  // Whether the journal must be rewritten: something left it, or damaged lines are to go.
  auto changed = [&] { return result.stored > 0 || result.quarantined > 0 || parsed.skipped > 0; };
  for (std::size_t i = 0; i < parsed.entries.size(); ++i) {
    Disposition disposition = Disposition::kept;
    try {
      disposition = store(parsed.entries[i].event);
    } catch (...) {
      if (changed()) {
        keep_unstored(m_path, std::move(kept), parsed.entries, i);
      }
      throw;
    }
    if (disposition == Disposition::quarantine) {
      try {
        Journal(quarantine_path()).append_line(parsed.entries[i].line);
      } catch (const Error& e) {
        result.warnings.push_back(std::string(e.what()) + "; event " +
                                  parsed.entries[i].event.event_id + " stays in the journal");
        disposition = Disposition::kept;
      }
    }
    if (disposition == Disposition::stored) {
      ++result.stored;
    } else if (disposition == Disposition::quarantine) {
      ++result.quarantined;
    } else {
      ++result.remaining;
      kept += parsed.entries[i].line;
    }
  }
  if (changed()) {
    rewrite(m_path, kept);
  }
  return result;
}

} // namespace probe::deploy
