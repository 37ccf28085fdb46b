// Fuzzes the deploy journal's reader: the lines `J1 <length> <crc32> <json>` that Journal::read()
// and drain() parse after a crash, a full disk or a bad sector may have damaged them. The line
// parser is internal to journal.cpp, so the input goes through the public path: written as the
// journal file (on tmpfs) and read with Journal::read(). The first byte chooses how:
//   - raw: the bytes are the file, to fuzz the header checks (magic, length, CRC, torn lines);
//   - framed: the bytes are one record's JSON and the harness writes a correct header for it,
//     since a fuzzer cannot forge a CRC-32 and would otherwise never reach the JSON and event
//     validation behind it.
// Properties: every line is either an event or a warning; an event read is valid (event id,
// kind, refs) and survives a round trip unchanged — through to_json()/from_json() as replay does,
// and through Journal::append() and read() again, which is what the no-loss promise rests on.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include "probe/deploy/event.hpp"
#include "probe/deploy/journal.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using probe::deploy::DeployEvent;
using probe::deploy::Journal;
using probe::fuzz::fail;
using probe::fuzz::require;

void write_file(const std::string& path, std::string_view content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  require(fd >= 0, "cannot open " + path);
  while (!content.empty()) {
    const ssize_t n = ::write(fd, content.data(), content.size());
    require(n > 0, "cannot write " + path);
    content.remove_prefix(static_cast<std::size_t>(n));
  }
  ::close(fd);
}

// One record with a correct header, the way Journal::append() frames its JSON.
std::string framed(std::string_view json) {
  const auto crc =
      static_cast<unsigned>(crc32_z(0, reinterpret_cast<const Bytef*>(json.data()), json.size()));
  std::array<char, 9> hex{};
  std::snprintf(hex.data(), hex.size(), "%08x", crc);
  return "J1 " + std::to_string(json.size()) + " " + hex.data() + " " + std::string(json) + "\n";
}

// Lines as the journal counts them: a last piece without '\n' is a (torn) line too.
std::size_t count_lines(std::string_view content) {
  std::size_t lines = 0;
  for (std::size_t start = 0; start < content.size(); ++lines) {
    const std::size_t newline = content.find('\n', start);
    start = newline == std::string_view::npos ? content.size() : newline + 1;
  }
  return lines;
}

void check_event(const DeployEvent& event) {
  require(probe::deploy::valid_event_id(event.event_id), "event read with an invalid event_id");
  require(probe::deploy::valid_kind(event.kind), "event read with an invalid kind");
  require(probe::deploy::valid_ref(event.sha), "event read with an invalid sha");
  require(event.previous_sha.empty() || probe::deploy::valid_ref(event.previous_sha),
          "event read with an invalid previous_sha");
  require(event.details.is_object(), "event read whose details are not an object");

  const nlohmann::json json = probe::deploy::to_json(event);
  std::string error;
  const std::optional<DeployEvent> again =
      probe::deploy::from_json(json, /*fill_defaults=*/false, &error);
  if (!again) {
    fail("to_json of an event read from the journal does not parse back: " + error + "\n" +
         json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  if (!(*again == event)) {
    fail("event changed in a to_json/from_json round trip\nread:  " +
         json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\nagain: " +
         probe::deploy::to_json(*again).dump(-1, ' ', false,
                                             nlohmann::json::error_handler_t::replace));
  }

  static const std::string k_copy = probe::fuzz::scratch_dir() + "/copy.jsonl";
  ::unlink(k_copy.c_str());
  Journal copy(k_copy);
  copy.append(event);
  const Journal::ReadResult reread = copy.read();
  require(reread.skipped == 0 && reread.warnings.empty(), "an appended event reads as damaged");
  require(reread.events.size() == 1 && reread.events.front() == event,
          "an event changed in a journal append/read round trip");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const bool frame = (data[0] & 1) != 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string content = frame ? framed(rest) : std::string(rest);

  static const std::string k_path = probe::fuzz::scratch_dir() + "/journal.jsonl";
  write_file(k_path, content);
  const Journal::ReadResult result = Journal(k_path).read();
  require(result.events.size() + result.skipped == count_lines(content),
          "events + skipped lines != lines in the journal");
  require(result.warnings.size() == result.skipped, "a skipped line without its warning");
  for (const DeployEvent& event : result.events) {
    check_event(event);
  }
  return 0;
}
