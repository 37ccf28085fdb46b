// EventKind is the one vocabulary of deploy events in code; the text on the wire and the list
// config/ validates notify.on against (config::event_kinds(), which cannot include deploy/) must
// name exactly the same kinds, in the same order, or a notify.on entry would load and never
// match, or be refused though the flow records it.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "probe/config/config.hpp"
#include "probe/deploy/event.hpp"
#include "probe/deploy/event_kind.hpp"

namespace probe::deploy {
namespace {

TEST(EventKind, ConfigsListNamesEveryKindInOrder) {
  std::vector<std::string> names;
  for (const EventKind kind : k_event_kinds) {
    names.emplace_back(to_string(kind));
  }
  EXPECT_EQ(config::event_kinds(), names);
}

TEST(EventKind, EveryNameParsesBackToItsKind) {
  for (const EventKind kind : k_event_kinds) {
    EXPECT_EQ(parse_event_kind(to_string(kind)), kind) << to_string(kind);
    EXPECT_TRUE(valid_kind(std::string(to_string(kind))));
  }
}

TEST(EventKind, ForeignTextIsNoKind) {
  for (const char* text : {"", "shipped", "Deploy_Started", "deploy_started ", "deploy", "unknown",
                           "rollback_succeeded\n"}) {
    EXPECT_EQ(parse_event_kind(text), std::nullopt) << text;
    EXPECT_FALSE(valid_kind(text)) << text;
  }
}

TEST(EventKind, AnEventIsOfTheKindItsTextNames) {
  const DeployEvent event = make_event(EventKind::rollback_failed, "aaaaaaa", "bbbbbbb", "ci");
  EXPECT_EQ(event.kind, "rollback_failed"); // the wire keeps the text
  EXPECT_TRUE(is_kind(event, EventKind::rollback_failed));
  EXPECT_FALSE(is_kind(event, EventKind::rollback_started));
}

TEST(EventKind, ABodyWithAForeignKindIsRefusedAtTheDoor) {
  std::string error;
  EXPECT_FALSE(event_from_body(R"({"kind": "shipped", "sha": "aaaaaaa"})", &error));
  EXPECT_EQ(error, "kind: \"shipped\" is not an event kind");
}

} // namespace
} // namespace probe::deploy
