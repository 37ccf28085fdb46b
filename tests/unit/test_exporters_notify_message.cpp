// The notification text is what an operator reads on a phone at 3 a.m., so each event kind is
// pinned byte for byte: the kind, the short SHA, the host, the previous SHA when known, which
// targets were failing and the rollback hook's exit code. Also pinned: the 4000-byte cap
// (Telegram refuses more than 4096 characters) that never splits a UTF-8 sequence, and which
// events a channel subscribes to with the default set and with an explicit `on` list. And (issue
// 12, item 12) that no value in an event can start a line of its own, ping a Slack channel or
// add a link: control characters are shown escaped, Slack's '&', '<', '>' are escaped.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "exporters/notify.hpp"
#include "exporters/notify_message.hpp"

namespace probe::exporters {
namespace {

using nlohmann::json;

deploy::DeployEvent make(const std::string& kind, const std::string& previous = "9f8e7d6") {
  deploy::DeployEvent event;
  event.event_id = "0b7f3c1e-2f4a-4c61-9a8e-0d1c2b3a4f5e";
  event.kind = kind;
  event.sha = "1a2b3c4";
  event.previous_sha = previous;
  event.actor = "ci";
  event.host = "web-1";
  return event;
}

json failing_api() {
  return json{{"failing", json::array({{{"target", "api"}, {"error", "GET /health -> 500"}}})}};
}

TEST(DescribeEvent, EachKindWithPreviousSha) {
  EXPECT_EQ(describe_event(make("deploy_started")),
            "🚀 deploy started: 1a2b3c4 on host web-1 (previous: 9f8e7d6)");
  EXPECT_EQ(describe_event(make("deploy_succeeded")),
            "✅ deploy succeeded: 1a2b3c4 on host web-1 (previous: 9f8e7d6)");
  EXPECT_EQ(describe_event(make("deploy_failed")),
            "❌ deploy failed: 1a2b3c4 on host web-1 (previous: 9f8e7d6)");
  EXPECT_EQ(describe_event(make("rollback_started")),
            "⏪ rollback started: 1a2b3c4 on host web-1 (previous: 9f8e7d6)");
  EXPECT_EQ(describe_event(make("rollback_succeeded")),
            "↩️ rollback succeeded: 1a2b3c4 on host web-1 (previous: 9f8e7d6)");
  EXPECT_EQ(describe_event(make("rollback_failed")),
            "🔥 rollback failed: 1a2b3c4 on host web-1 (previous: 9f8e7d6)");
}

TEST(DescribeEvent, WithoutPreviousSha) {
  EXPECT_EQ(describe_event(make("deploy_succeeded", "")),
            "✅ deploy succeeded: 1a2b3c4 on host web-1");
  EXPECT_EQ(describe_event(make("deploy_failed", "")), "❌ deploy failed: 1a2b3c4 on host web-1");
}

TEST(DescribeEvent, DeployFailedNamesFailingTargets) {
  deploy::DeployEvent event = make("deploy_failed");
  event.details = failing_api();
  EXPECT_EQ(describe_event(event),
            "❌ deploy failed: 1a2b3c4 on host web-1 (previous: 9f8e7d6) — api: GET /health -> 500");

  event.details["failing"].push_back({{"target", "db"}, {"error", "no response"}});
  EXPECT_EQ(describe_event(event), "❌ deploy failed: 1a2b3c4 on host web-1 (previous: 9f8e7d6) "
                                   "— api: GET /health -> 500; db: no response");
}

TEST(DescribeEvent, FailingEntriesOfOddShapesStillRead) {
  deploy::DeployEvent event = make("deploy_failed", "");
  event.details = {{"failing", json::array({{{"target", "api"}}, "frontend", {{"error", "x"}}})}};
  EXPECT_EQ(describe_event(event), "❌ deploy failed: 1a2b3c4 on host web-1 — api; frontend; x");

  event.details = {{"failing", "not an array"}};
  EXPECT_EQ(describe_event(event), "❌ deploy failed: 1a2b3c4 on host web-1");
  event.details = {{"failing", json::array()}};
  EXPECT_EQ(describe_event(event), "❌ deploy failed: 1a2b3c4 on host web-1");
}

TEST(DescribeEvent, RollbackFailedShowsExitCodeAndFailingTargets) {
  deploy::DeployEvent event = make("rollback_failed");
  event.details = {{"exit_code", 4}};
  EXPECT_EQ(describe_event(event), "🔥 rollback failed: 1a2b3c4 on host web-1 (previous: 9f8e7d6) "
                                   "— rollback hook exit code 4");

  event.details = failing_api();
  event.details["exit_code"] = 0;
  EXPECT_EQ(describe_event(event), "🔥 rollback failed: 1a2b3c4 on host web-1 (previous: 9f8e7d6) "
                                   "— rollback hook exit code 0; api: GET /health -> 500");
}

TEST(DescribeEvent, ExitCodeOnlyForRollbackFailed) {
  deploy::DeployEvent event = make("deploy_failed", "");
  event.details = {{"exit_code", 4}};
  EXPECT_EQ(describe_event(event), "❌ deploy failed: 1a2b3c4 on host web-1");
}

TEST(DescribeEvent, FullShaIsShortenedTagsAreNot) {
  deploy::DeployEvent event = make("deploy_succeeded");
  event.sha = "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b";
  event.previous_sha = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432";
  EXPECT_EQ(describe_event(event),
            "✅ deploy succeeded: 1a2b3c4d5e6f on host web-1 (previous: 9f8e7d6c5b4a)");

  event.sha = "sha-1a2b3c4d5e6f7a8b";
  event.previous_sha = "v1.2.3-release-candidate";
  EXPECT_EQ(describe_event(event), "✅ deploy succeeded: sha-1a2b3c4d5e6f7a8b on host web-1 "
                                   "(previous: v1.2.3-release-candidate)");
}

TEST(DescribeEvent, UnknownKindAndMissingHostStillRead) {
  deploy::DeployEvent event = make("deploy_paused", "");
  event.host.clear();
  EXPECT_EQ(describe_event(event), "ℹ️ deploy paused: 1a2b3c4");
}

TEST(DescribeEvent, CappedAt4000BytesWithoutSplittingUtf8) {
  deploy::DeployEvent event = make("deploy_failed");
  json failing = json::array();
  for (int i = 0; i < 200; ++i) {
    // Multi-byte characters throughout, so a cut at an arbitrary byte would split one.
    failing.push_back({{"target", "t" + std::to_string(i)}, {"error", "réponse ✗ trop lente"}});
  }
  event.details = {{"failing", failing}};
  const std::string text = describe_event(event);
  EXPECT_LE(text.size(), k_max_message_bytes);
  EXPECT_GT(text.size(), k_max_message_bytes - 8);
  EXPECT_EQ(text.rfind("❌ deploy failed: 1a2b3c4", 0), 0U);
  EXPECT_EQ(text.substr(text.size() - 3), "...");
  // Valid UTF-8: json::dump throws on an invalid sequence by default.
  EXPECT_NO_THROW((void)json(text).dump());
}

TEST(DescribeEvent, InvalidUtf8InDetailsDoesNotThrow) {
  deploy::DeployEvent event = make("deploy_failed", "");
  event.details = {{"failing", json::array({{{"target", "api"}, {"error", 42}}})}};
  EXPECT_EQ(describe_event(event), "❌ deploy failed: 1a2b3c4 on host web-1 — api: 42");
  event.details = {{"failing", json::array({json::array({std::string("\xff\xfe")})})}};
  EXPECT_NO_THROW((void)describe_event(event));
}

// Issue 12, item 12: event text reached Slack and Telegram raw. A host with newlines faked a
// success line; "<!channel>" pinged everyone. Every value now stays on its line, escaped.
TEST(DescribeEvent, NoFieldCanStartALineOfItsOwn) {
  deploy::DeployEvent event = make("deploy_failed");
  event.host = "web-1\n\n✅ deploy succeeded: good on host web-1";
  event.details = {
      {"failing", json::array({{{"target", "api\r\nfake"},
                                {"error", "GET /health -> 500\n\u2028next\x1b[2J"}}})}};
  const std::string text = describe_event(event);
  EXPECT_EQ(text, "❌ deploy failed: 1a2b3c4 on host web-1\\n\\n✅ deploy succeeded: good on host "
                  "web-1 (previous: 9f8e7d6) — api\\r\\nfake: GET /health -> 500\\n\\u2028next"
                  "\\x1b[2J");
  EXPECT_EQ(text.find('\n'), std::string::npos);
  EXPECT_EQ(text.find('\r'), std::string::npos);
  EXPECT_EQ(text.find("\u2028"), std::string::npos);
  // The same line, escaped for Slack as well.
  EXPECT_EQ(describe_event(event, MessageFormat::slack_mrkdwn),
            "❌ deploy failed: 1a2b3c4 on host web-1\\n\\n✅ deploy succeeded: good on host "
            "web-1 (previous: 9f8e7d6) — api\\r\\nfake: GET /health -&gt; 500\\n\\u2028next"
            "\\x1b[2J");
}

TEST(DescribeEvent, SlackMentionsAndLinksAreInert) {
  deploy::DeployEvent event = make("rollback_failed");
  event.host = "<!channel> <!everyone> <@U0123> & <https://evil.example|click>";
  event.details = {{"exit_code", "<!here>"}};
  EXPECT_EQ(describe_event(event, MessageFormat::slack_mrkdwn),
            "🔥 rollback failed: 1a2b3c4 on host &lt;!channel&gt; &lt;!everyone&gt; &lt;@U0123&gt; "
            "&amp; &lt;https://evil.example|click&gt; (previous: 9f8e7d6) — rollback hook exit "
            "code &lt;!here&gt;");
  // Telegram gets plain text (no parse_mode): the characters are shown as they are.
  EXPECT_EQ(describe_event(event),
            "🔥 rollback failed: 1a2b3c4 on host <!channel> <!everyone> <@U0123> & "
            "<https://evil.example|click> (previous: 9f8e7d6) — rollback hook exit code <!here>");
}

TEST(DescribeEvent, TheSlackCapCountsTheEscapes) {
  deploy::DeployEvent event = make("deploy_failed");
  event.details = {
      {"failing", json::array({{{"target", "api"}, {"error", std::string(3000, '<')}}})}};
  const std::string text = describe_event(event, MessageFormat::slack_mrkdwn);
  EXPECT_LE(text.size(), k_max_message_bytes);
  EXPECT_EQ(text.find('<'), std::string::npos);
}

TEST(NotifyWants, DefaultSetIsOutcomes) {
  const std::vector<std::string> expected{"deploy_succeeded", "deploy_failed", "rollback_succeeded",
                                          "rollback_failed"};
  EXPECT_EQ(default_notify_kinds(), expected);
  EXPECT_FALSE(notify_wants({}, "deploy_started"));
  EXPECT_TRUE(notify_wants({}, "deploy_succeeded"));
  EXPECT_TRUE(notify_wants({}, "deploy_failed"));
  EXPECT_FALSE(notify_wants({}, "rollback_started"));
  EXPECT_TRUE(notify_wants({}, "rollback_succeeded"));
  EXPECT_TRUE(notify_wants({}, "rollback_failed"));
}

TEST(NotifyWants, ChannelsHonourDefaultAndExplicitOn) {
  config::Notifier telegram;
  telegram.type = config::NotifyType::telegram;
  telegram.on = {"deploy_failed", "rollback_failed"};
  config::Notifier slack;
  slack.type = config::NotifyType::slack;
  config::Notifier webhook;
  webhook.type = config::NotifyType::webhook;
  webhook.on = {"deploy_started"};

  const std::vector<std::unique_ptr<Channel>> channels =
      make_channels({telegram, slack, webhook}, NotifyOptions{});
  ASSERT_EQ(channels.size(), 3U);
  EXPECT_EQ(channels[0]->name(), "telegram");
  EXPECT_EQ(channels[1]->name(), "slack");
  EXPECT_EQ(channels[2]->name(), "webhook");

  EXPECT_TRUE(channels[0]->wants("deploy_failed"));
  EXPECT_TRUE(channels[0]->wants("rollback_failed"));
  EXPECT_FALSE(channels[0]->wants("deploy_succeeded"));
  EXPECT_FALSE(channels[0]->wants("rollback_succeeded"));

  EXPECT_TRUE(channels[1]->wants("deploy_succeeded"));
  EXPECT_TRUE(channels[1]->wants("rollback_failed"));
  EXPECT_FALSE(channels[1]->wants("deploy_started"));

  EXPECT_TRUE(channels[2]->wants("deploy_started"));
  EXPECT_FALSE(channels[2]->wants("deploy_failed"));
}

TEST(NotifyAll, SkipsChannelsThatDoNotWantTheEvent) {
  config::Notifier webhook;
  webhook.type = config::NotifyType::webhook;
  webhook.url = util::Secret("http://127.0.0.1:9/hook");
  webhook.on = {"deploy_failed"};
  const std::vector<std::unique_ptr<Channel>> channels = make_channels({webhook}, NotifyOptions{});
  int observed = 0;
  const std::vector<ChannelResult> results =
      notify_all(channels, make("deploy_succeeded"), [&](const ChannelResult&) { ++observed; });
  EXPECT_TRUE(results.empty());
  EXPECT_EQ(observed, 0);
}

} // namespace
} // namespace probe::exporters
