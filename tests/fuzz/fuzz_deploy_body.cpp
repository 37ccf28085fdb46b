// Fuzzes what POST /deploys does with a request body, the one place where a client (a deploy
// script holding the token) hands probe structured data that ends up in PostgreSQL, the journal,
// notifications and, as a SHA, in a rollback hook's argv. Sidecar::record_deploy is a private
// member that needs a running sidecar, so this replays its steps on the pure functions it calls:
// bodies over serve::k_max_body_bytes are refused by the server first (413); the body goes
// through deploy::event_from_body (nesting limit, parse with exceptions off, from_json with
// defaults), exactly as record_deploy calls it; the 400 reply is rendered as json_response renders
// it; an accepted event is recorded through a LocalEventRecorder without a DSN, i.e. into the
// journal, as when PostgreSQL is down. Not covered here: the HTTP layer (routing, bearer token, the
// request parser: fuzz_http_request), the db_revision added from PostgreSQL, the PostgreSQL store
// and the notifications. Properties: an accepted event passes valid_event_id, valid_kind and
// valid_ref (nothing else may reach a hook), a refused one names its problem, and the recorded
// event reads back from the journal unchanged.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include <unistd.h>

#include "probe/config/config.hpp"
#include "probe/deploy/event.hpp"
#include "probe/deploy/journal.hpp"
#include "probe/deploy/local_recorder.hpp"
#include "probe/serve/http_request.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using probe::deploy::DeployEvent;
using probe::fuzz::fail;
using probe::fuzz::require;

// The reply body as probe/serve/router.cpp's json_response renders it; must not throw.
std::string render(const nlohmann::json& reply) {
  return reply.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

void record_and_read_back(const DeployEvent& event) {
  static const std::string k_path = probe::fuzz::scratch_dir() + "/deploys.jsonl";
  ::unlink(k_path.c_str());
  probe::config::Deploy settings; // no dsn: the journal is the only store
  settings.journal = k_path;
  probe::deploy::LocalEventRecorder sink(settings, [](const std::string& warning) {
    fail("LocalEventRecorder warned while recording to the journal only: " + warning);
  });
  sink.record(event);
  require(sink.pending() == 1, "the recorded event is not pending in the journal");
  const probe::deploy::Journal::ReadResult read = probe::deploy::Journal(k_path).read();
  if (read.events.size() != 1 || !(read.events.front() == event)) {
    fail("the event recorded for POST /deploys does not read back unchanged: " +
         render(probe::deploy::to_json(event)));
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > probe::serve::k_max_body_bytes) {
    return 0; // 413 before any handler runs
  }
  const std::string body(reinterpret_cast<const char*>(data), size);
  std::string error;
  const std::optional<DeployEvent> event = probe::deploy::event_from_body(body, &error);
  if (!event) {
    require(!error.empty(), "a refused body without an error message");
    (void)render({{"error", error}});
    return 0;
  }
  require(probe::deploy::valid_event_id(event->event_id), "accepted an invalid event_id");
  require(probe::deploy::valid_kind(event->kind), "accepted an invalid kind");
  require(probe::deploy::valid_ref(event->sha), "accepted an invalid sha");
  require(event->previous_sha.empty() || probe::deploy::valid_ref(event->previous_sha),
          "accepted an invalid previous_sha");
  require(!event->host.empty(), "accepted an event without host");
  (void)render({{"event_id", event->event_id}, {"recorded", true}});
  record_and_read_back(*event);
  return 0;
}
