// The /deploys answers between `probe serve` and `probe deploy ... --url` (issue 14): the list
// the sidecar writes event by event is the text nlohmann would print for the same object, reads
// back as the same page, and a body that is not probe's names the member; an event that does
// not read (a kind from a newer sidecar) is left out and named, the others kept.
#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "probe/deploy/deploys_wire.hpp"

namespace probe::deploy {
namespace {

using namespace std::chrono_literals;

DeployEvent event(const std::string& kind, const std::string& sha, const std::string& id) {
  DeployEvent e;
  e.event_id = id;
  e.occurred_at = std::chrono::system_clock::time_point(1'700'000'000'250ms);
  e.kind = kind;
  e.sha = sha;
  e.actor = "ci";
  e.host = "runner-1";
  return e;
}

DeploysPage page() {
  DeploysPage p;
  DeployEvent failed = event("deploy_failed", "bbbbbbb", "0b7e4c1a-1111-4222-8333-444455556666");
  failed.previous_sha = "aaaaaaa";
  failed.details = {{"failing", {"api"}}, {"db_revision", "9c1e7a"}, {"note", "caf\xc3\xa9"}};
  p.events = {failed, event("deploy_started", "bbbbbbb", "0b7e4c1a-1111-4222-8333-444455556667")};
  p.pending = 2;
  p.truncated = true;
  return p;
}

std::optional<DeploysPage> read(const std::string& body, std::string* error,
                                std::vector<std::string>* skipped = nullptr) {
  return deploys_page_from_json(nlohmann::json::parse(body), error, skipped);
}

TEST(DeploysWire, TheListIsWhatNlohmannWouldPrint) {
  for (const DeploysPage& p : {page(), DeploysPage{}}) {
    nlohmann::json events = nlohmann::json::array();
    for (const DeployEvent& e : p.events) {
      events.push_back(to_json(e));
    }
    const nlohmann::json whole{
        {"events", events}, {"pending", p.pending}, {"truncated", p.truncated}};
    EXPECT_EQ(deploys_body(p), whole.dump() + "\n");
  }
  EXPECT_EQ(deploys_body(DeploysPage{}), "{\"events\":[],\"pending\":0,\"truncated\":false}\n");
}

TEST(DeploysWire, TheListReadsBackTheSame) {
  for (const DeploysPage& p : {page(), DeploysPage{}}) {
    std::string error;
    std::vector<std::string> skipped;
    const std::optional<DeploysPage> back = read(deploys_body(p), &error, &skipped);
    ASSERT_TRUE(back) << error;
    EXPECT_EQ(*back, p);
    EXPECT_TRUE(skipped.empty());
  }
}

TEST(DeploysWire, AnEnvelopeThatIsNotProbesNamesTheMember) {
  std::string error;
  EXPECT_FALSE(read(R"({"items": []})", &error));
  EXPECT_EQ(error, "events: missing");
  EXPECT_FALSE(read(R"({"events": {}})", &error));
  EXPECT_EQ(error, "events: must be an array, not an object");
  EXPECT_FALSE(read(R"({"events": [], "pending": "2"})", &error));
  EXPECT_EQ(error, "pending: must be a whole number >= 0, not a string");
  EXPECT_FALSE(read(R"({"events": [], "pending": 0, "truncated": "no"})", &error));
  EXPECT_EQ(error, "truncated: must be true or false, not a string");
  EXPECT_FALSE(read(R"([1, 2])", &error));
  EXPECT_EQ(error, "body: must be a JSON object, not an array");
  // A sidecar from before "pending" and "truncated": the events still read.
  const std::optional<DeploysPage> old = read(R"({"events": []})", &error);
  ASSERT_TRUE(old) << error;
  EXPECT_EQ(old->pending, 0U);
  EXPECT_FALSE(old->truncated);
}

TEST(DeploysWire, AnEventThatDoesNotReadIsLeftOutAndNamed) {
  nlohmann::json body = nlohmann::json::parse(deploys_body(page()));
  body["events"][0]["kind"] = "shipped";
  body["events"].push_back(42);
  body["events"].push_back(nlohmann::json::object());
  std::string error;
  std::vector<std::string> skipped;
  const std::optional<DeploysPage> read_back = deploys_page_from_json(body, &error, &skipped);
  ASSERT_TRUE(read_back) << error;
  ASSERT_EQ(read_back->events.size(), 1U);
  EXPECT_EQ(read_back->events[0], page().events[1]);
  EXPECT_EQ(skipped, (std::vector<std::string>{
                         "events[0].kind: \"shipped\" is not an event kind",
                         "events[2]: must be a JSON object",
                         "events[3].event_id: missing",
                     }));
}

TEST(DeploysWire, TheRecordAnswerRoundTripsAndMustSayRecorded) {
  const RecordedWire recorded{"0b7e4c1a-1111-4222-8333-444455556666", true};
  EXPECT_EQ(to_json(recorded).dump(),
            R"({"event_id":"0b7e4c1a-1111-4222-8333-444455556666","recorded":true})");
  std::string error;
  const std::optional<RecordedWire> back =
      recorded_from_json(nlohmann::json::parse(to_json(recorded).dump()), &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(*back, recorded);

  for (const auto& [body, expected] : std::vector<std::pair<std::string, std::string>>{
           {R"({"recorded": true})", "event_id: missing"},
           {R"({"event_id": 7, "recorded": true})", "event_id: must be a string, not a number"},
           {R"({"event_id": "0b7e4c1a-1111-4222-8333-444455556666"})", "recorded: missing"},
           {R"({"event_id": "0b7e4c1a-1111-4222-8333-444455556666", "recorded": false})",
            "recorded: must be true"},
           {R"({"event_id": "x", "recorded": true})", "event_id: not a UUID"},
           {R"("ok")", "body: must be a JSON object, not a string"},
       }) {
    EXPECT_FALSE(recorded_from_json(nlohmann::json::parse(body), &error)) << body;
    EXPECT_EQ(error, expected) << body;
  }
}

} // namespace
} // namespace probe::deploy
