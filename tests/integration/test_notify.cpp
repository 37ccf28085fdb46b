// Notifications against real HTTP receivers on loopback: a Receiver plays Telegram's Bot API,
// a Slack incoming webhook or a generic webhook, records every request and answers from a
// script. Pinned here: the exact request each channel sends (path, method, headers, JSON body),
// the retry policy (transport errors, 429 and 5xx are retried up to three attempts; other 4xx
// and Telegram's {"ok": false} are not), that a dead endpoint costs a bounded, failed result
// rather than an exception, that no error text ever shows the bot token or the webhook path,
// that `on` filters what a channel receives, and that channels are sent to concurrently (seen
// by a receiver that holds every request until all of them have arrived, not by timing).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <sys/socket.h>
#include <unistd.h>

#include "exporters/notify.hpp"
#include "probe/util/version.hpp"
#include "tests/fakes/manual_clock.hpp"

namespace probe::exporters {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* k_token = "123456:AAE-secret-bot-token";
constexpr const char* k_hook_path = "/services/T000/B000/XXXXsecretXXXX";

struct Recorded {
  std::string method;
  std::string path;
  httplib::Headers headers;
  std::string body;

  std::string header(const std::string& name) const {
    const auto it = headers.find(name); // httplib::Headers compares names case-insensitively
    return it == headers.end() ? "" : it->second;
  }
};

struct Answer {
  int status = 200;
  std::string body;
};

// An HTTP server on 127.0.0.1, any free port, that records requests and answers each with the
// next scripted Answer (the last one repeats).
class Receiver {
public:
  explicit Receiver(std::vector<Answer> script) : m_script(std::move(script)) {
    m_server.Post(".*", [this](const httplib::Request& request, httplib::Response& response) {
      Answer answer;
      {
        const std::lock_guard<std::mutex> lock(m_mutex);
        m_requests.push_back(Recorded{request.method, request.path, request.headers, request.body});
        const std::size_t index = std::min(m_requests.size() - 1, m_script.size() - 1);
        answer = m_script[index];
      }
      response.status = answer.status;
      response.set_content(answer.body, "application/json");
    });
    m_port = m_server.bind_to_any_port("127.0.0.1");
    if (m_port <= 0) {
      throw std::runtime_error("receiver: cannot bind 127.0.0.1");
    }
    m_thread = std::thread([this] { m_server.listen_after_bind(); });
    for (int i = 0; i < 30'000 && !m_server.is_running(); ++i) { // 60 s: a loaded machine
      std::this_thread::sleep_for(2ms);
    }
    if (!m_server.is_running()) {
      throw std::runtime_error("receiver: server did not start");
    }
  }

  ~Receiver() {
    m_server.stop();
    m_thread.join();
  }

  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  std::string base() const { return "http://127.0.0.1:" + std::to_string(m_port); }

  std::vector<Recorded> requests() const {
    const std::lock_guard<std::mutex> lock(m_mutex);
    return m_requests;
  }

private:
  httplib::Server m_server;
  int m_port = 0;
  std::thread m_thread;
  mutable std::mutex m_mutex;
  std::vector<Answer> m_script;
  std::vector<Recorded> m_requests;
};

// A receiver that holds each request until `expected` requests are held at once (or 20 s pass),
// then answers them all 200 {"ok":true}: senders that run side by side all get through at
// once, senders that run one after another never have more than one request held.
class BarrierReceiver {
public:
  explicit BarrierReceiver(std::size_t expected) : m_expected(expected) {
    m_server.Post(".*", [this](const httplib::Request&, httplib::Response& response) {
      {
        std::unique_lock<std::mutex> lock(m_mutex);
        m_max_held = std::max(m_max_held, ++m_held);
        m_changed.notify_all();
        m_changed.wait_for(lock, 20s, [this] { return m_max_held >= m_expected || m_stopping; });
        --m_held;
      }
      response.set_content(R"({"ok":true})", "application/json");
    });
    m_port = m_server.bind_to_any_port("127.0.0.1");
    if (m_port <= 0) {
      throw std::runtime_error("barrier receiver: cannot bind 127.0.0.1");
    }
    m_thread = std::thread([this] { m_server.listen_after_bind(); });
    for (int i = 0; i < 30'000 && !m_server.is_running(); ++i) {
      std::this_thread::sleep_for(2ms);
    }
    if (!m_server.is_running()) {
      throw std::runtime_error("barrier receiver: server did not start");
    }
  }

  ~BarrierReceiver() {
    {
      const std::lock_guard<std::mutex> lock(m_mutex);
      m_stopping = true;
    }
    m_changed.notify_all();
    m_server.stop();
    m_thread.join();
  }

  BarrierReceiver(const BarrierReceiver&) = delete;
  BarrierReceiver& operator=(const BarrierReceiver&) = delete;

  std::string base() const { return "http://127.0.0.1:" + std::to_string(m_port); }

  // The most requests held at the same time.
  std::size_t max_held() const {
    const std::lock_guard<std::mutex> lock(m_mutex);
    return m_max_held;
  }

private:
  const std::size_t m_expected;
  httplib::Server m_server;
  int m_port = 0;
  std::thread m_thread;
  mutable std::mutex m_mutex;
  std::condition_variable m_changed;
  std::size_t m_held = 0;
  std::size_t m_max_held = 0;
  bool m_stopping = false;
};

// A port nothing listens on: bound once to learn a free one, then closed. (Not with
// httplib::Server: 0.11 leaves a bound but never-run server's socket open and listening.)
int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw std::runtime_error("closed_port: cannot bind 127.0.0.1");
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

// The production backoff (500 ms, then 1 s), waited on a manual clock: no real sleep.
NotifyOptions fast_options(const util::Clock* clock = nullptr) {
  static const fakes::ManualClock no_sleeping;
  NotifyOptions options;
  options.clock = clock != nullptr ? clock : &no_sleeping;
  options.connect_timeout = 1s;
  options.read_timeout = 2s;
  return options;
}

deploy::DeployEvent failed_event() {
  deploy::DeployEvent event;
  event.event_id = "0b7f3c1e-2f4a-4c61-9a8e-0d1c2b3a4f5e";
  event.occurred_at = std::chrono::system_clock::time_point(1'714'564'800'123ms);
  event.kind = "deploy_failed";
  event.sha = "1a2b3c4";
  event.previous_sha = "9f8e7d6";
  event.actor = "ci";
  event.host = "web-1";
  event.details = {
      {"failing", json::array({{{"target", "api"}, {"error", "GET /health -> 500"}}})}};
  return event;
}

const std::string k_message =
    "❌ deploy failed: 1a2b3c4 on host web-1 (previous: 9f8e7d6) — api: GET /health -> 500";

config::Notifier telegram(const std::string& api_url, std::vector<std::string> on = {}) {
  config::Notifier notifier;
  notifier.type = config::NotifyType::telegram;
  notifier.bot_token = util::Secret(k_token);
  notifier.chat_id = "-1001";
  notifier.api_url = api_url;
  notifier.on = std::move(on);
  return notifier;
}

config::Notifier hook(config::NotifyType type, const std::string& base,
                      std::vector<std::string> on = {}) {
  config::Notifier notifier;
  notifier.type = type;
  notifier.url = util::Secret(base + k_hook_path);
  notifier.on = std::move(on);
  return notifier;
}

NotifyResult send_one(const config::Notifier& notifier,
                      const deploy::DeployEvent& event = failed_event()) {
  const std::vector<std::unique_ptr<Channel>> channels = make_channels({notifier}, fast_options());
  return channels.at(0)->send(event);
}

void expect_no_secret(const std::string& text) {
  EXPECT_EQ(text.find("secret"), std::string::npos) << text;
  EXPECT_EQ(text.find(k_token), std::string::npos) << text;
  EXPECT_EQ(text.find("/services"), std::string::npos) << text;
  EXPECT_EQ(text.find("XXXX"), std::string::npos) << text;
}

TEST(NotifyTelegram, SendsTheExactBotApiRequest) {
  Receiver receiver({{200, R"({"ok":true,"result":{"message_id":1}})"}});
  const NotifyResult result = send_one(telegram(receiver.base()));
  EXPECT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.attempts, 1);
  EXPECT_EQ(result.error, "");

  const std::vector<Recorded> requests = receiver.requests();
  ASSERT_EQ(requests.size(), 1U);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].path, std::string("/bot") + k_token + "/sendMessage");
  EXPECT_EQ(requests[0].header("Content-Type"), "application/json");
  EXPECT_EQ(requests[0].header("User-Agent"), util::user_agent());
  const json expected{
      {"chat_id", "-1001"}, {"text", k_message}, {"disable_web_page_preview", true}};
  EXPECT_EQ(json::parse(requests[0].body), expected);
  EXPECT_TRUE(json::parse(requests[0].body)["chat_id"].is_string());
}

TEST(NotifyTelegram, ApiUrlWithTrailingSlashAndPrefix) {
  Receiver receiver({{200, R"({"ok":true})"}});
  EXPECT_TRUE(send_one(telegram(receiver.base() + "/tg/")).ok);
  ASSERT_EQ(receiver.requests().size(), 1U);
  EXPECT_EQ(receiver.requests()[0].path, std::string("/tg/bot") + k_token + "/sendMessage");
}

TEST(NotifyTelegram, OkFalseIsNotDeliveredAndNotRetried) {
  Receiver receiver({{200, R"({"ok":false,"description":"Bad Request: chat not found"})"}});
  const NotifyResult result = send_one(telegram(receiver.base()));
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.attempts, 1);
  EXPECT_NE(result.error.find("chat not found"), std::string::npos) << result.error;
  expect_no_secret(result.error);
}

TEST(NotifyTelegram, ServerTextEchoingTheTokenIsRedacted) {
  Receiver receiver(
      {{401, std::string(R"({"ok":false,"description":"Unauthorized bot )") + k_token + "\"}"}});
  const NotifyResult result = send_one(telegram(receiver.base()));
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.attempts, 1);
  EXPECT_NE(result.error.find("HTTP 401"), std::string::npos) << result.error;
  EXPECT_NE(result.error.find("/bot***/sendMessage"), std::string::npos) << result.error;
  expect_no_secret(result.error);
}

TEST(NotifyTelegram, TokenAtTheExcerptCutIsNotHalfShown) {
  // 190 bytes of text, then the token: a cut at 200 bytes would leave its first 10 bytes.
  Receiver receiver({{403, std::string(R"({"ok":false,"description":")") + std::string(190, '.') +
                               k_token + "\"}"}});
  const NotifyResult result = send_one(telegram(receiver.base()));
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.error.find("123456:AAE"), std::string::npos) << result.error;
  expect_no_secret(result.error);
}

TEST(NotifySlack, SendsTextOnly) {
  Receiver receiver({{200, "ok"}});
  const NotifyResult result = send_one(hook(config::NotifyType::slack, receiver.base()));
  EXPECT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.attempts, 1);

  const std::vector<Recorded> requests = receiver.requests();
  ASSERT_EQ(requests.size(), 1U);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].path, k_hook_path);
  EXPECT_EQ(requests[0].header("Content-Type"), "application/json");
  EXPECT_EQ(requests[0].header("User-Agent"), util::user_agent());
  // mrkdwn: Slack shows "&gt;" as '>' (it asks senders to escape '&', '<' and '>').
  EXPECT_EQ(json::parse(requests[0].body),
            json({{"text", "❌ deploy failed: 1a2b3c4 on host web-1 (previous: 9f8e7d6) — api: GET "
                           "/health -&gt; 500"}}));
}

TEST(NotifyWebhook, SendsEventAndText) {
  Receiver receiver({{204, ""}});
  const NotifyResult result = send_one(hook(config::NotifyType::webhook, receiver.base()));
  EXPECT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.attempts, 1);

  const std::vector<Recorded> requests = receiver.requests();
  ASSERT_EQ(requests.size(), 1U);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].path, k_hook_path);
  EXPECT_EQ(requests[0].header("Content-Type"), "application/json");
  const json expected{
      {"event",
       {{"event_id", "0b7f3c1e-2f4a-4c61-9a8e-0d1c2b3a4f5e"},
        {"occurred_at", "2024-05-01T12:00:00.123Z"},
        {"kind", "deploy_failed"},
        {"sha", "1a2b3c4"},
        {"previous_sha", "9f8e7d6"},
        {"actor", "ci"},
        {"host", "web-1"},
        {"details",
         {{"failing", json::array({{{"target", "api"}, {"error", "GET /health -> 500"}}})}}}}},
      {"text", k_message}};
  EXPECT_EQ(json::parse(requests[0].body), expected);
}

TEST(NotifyRetry, TwoServerErrorsThenSuccess) {
  Receiver receiver({{500, "{}"}, {500, "{}"}, {200, "ok"}});
  const NotifyResult result = send_one(hook(config::NotifyType::slack, receiver.base()));
  EXPECT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.attempts, 3);
  EXPECT_EQ(receiver.requests().size(), 3U);
}

TEST(NotifyRetry, TooManyRequestsIsRetried) {
  Receiver receiver({{429, R"({"ok":false,"description":"Too Many Requests: retry after 1"})"},
                     {200, R"({"ok":true})"}});
  const NotifyResult result = send_one(telegram(receiver.base()));
  EXPECT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.attempts, 2);
}

TEST(NotifyRetry, AlwaysServerErrorGivesUpAfterThree) {
  Receiver receiver({{500, "upstream broke"}});
  const fakes::ManualClock clock;
  const std::vector<std::unique_ptr<Channel>> channels =
      make_channels({hook(config::NotifyType::webhook, receiver.base())}, fast_options(&clock));
  const NotifyResult result = channels.at(0)->send(failed_event());
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.attempts, 3);
  // The backoff before attempts 2 and 3, as production waits it.
  EXPECT_EQ(clock.sleeps(), (std::vector<std::chrono::nanoseconds>{500ms, 1000ms}));
  EXPECT_EQ(receiver.requests().size(), 3U);
  EXPECT_EQ(result.error,
            "POST " + receiver.base() + "/***: HTTP 500: upstream broke (3 attempts)");
  expect_no_secret(result.error);
}

TEST(NotifyRetry, ClientErrorIsNotRetried) {
  Receiver receiver({{400, "invalid_payload"}, {200, "ok"}});
  const NotifyResult result = send_one(hook(config::NotifyType::slack, receiver.base()));
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.attempts, 1);
  EXPECT_EQ(receiver.requests().size(), 1U);
  EXPECT_EQ(result.error,
            "POST " + receiver.base() + "/***: HTTP 400: invalid_payload (1 attempt)");
}

TEST(NotifyRetry, ClosedPortFailsWithoutLeakingSecrets) {
  const std::string base = "http://127.0.0.1:" + std::to_string(closed_port());
  for (const config::Notifier& notifier : {telegram(base), hook(config::NotifyType::slack, base),
                                           hook(config::NotifyType::webhook, base)}) {
    const auto start = std::chrono::steady_clock::now();
    const NotifyResult result = send_one(notifier);
    EXPECT_FALSE(result.ok);
    EXPECT_EQ(result.attempts, 3);
    EXPECT_FALSE(result.error.empty());
    EXPECT_NE(result.error.find("127.0.0.1"), std::string::npos) << result.error;
    expect_no_secret(result.error);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  }
}

TEST(NotifyAll, OnFilteringAndPerChannelResults) {
  Receiver telegram_receiver({{200, R"({"ok":true})"}});
  Receiver slack_receiver({{200, "ok"}});
  Receiver webhook_receiver({{503, "down"}});
  const std::vector<std::unique_ptr<Channel>> channels =
      make_channels({telegram(telegram_receiver.base(), {"deploy_failed"}),
                     hook(config::NotifyType::slack, slack_receiver.base()),
                     hook(config::NotifyType::webhook, webhook_receiver.base(), {"deploy_failed"})},
                    fast_options());

  deploy::DeployEvent succeeded = failed_event();
  succeeded.kind = "deploy_succeeded";
  succeeded.details = json::object();
  std::vector<std::string> observed;
  std::vector<ChannelResult> results = notify_all(
      channels, succeeded, [&](const ChannelResult& r) { observed.push_back(r.channel); });
  ASSERT_EQ(results.size(), 1U);
  EXPECT_EQ(results[0].channel, "slack");
  EXPECT_TRUE(results[0].result.ok);
  EXPECT_EQ(observed, std::vector<std::string>{"slack"});
  EXPECT_TRUE(telegram_receiver.requests().empty());
  EXPECT_TRUE(webhook_receiver.requests().empty());
  EXPECT_EQ(slack_receiver.requests().size(), 1U);

  results = notify_all(channels, failed_event());
  ASSERT_EQ(results.size(), 3U);
  EXPECT_EQ(results[0].channel, "telegram");
  EXPECT_TRUE(results[0].result.ok) << results[0].result.error;
  EXPECT_EQ(results[1].channel, "slack");
  EXPECT_TRUE(results[1].result.ok) << results[1].result.error;
  EXPECT_EQ(results[2].channel, "webhook");
  EXPECT_FALSE(results[2].result.ok);
  EXPECT_EQ(results[2].result.attempts, 3);
  expect_no_secret(results[2].result.error);
  EXPECT_EQ(telegram_receiver.requests().size(), 1U);
  EXPECT_EQ(slack_receiver.requests().size(), 2U);
  EXPECT_EQ(webhook_receiver.requests().size(), 3U);
}

TEST(NotifyAll, ChannelsAreSentToConcurrently) {
  BarrierReceiver receiver(3);
  NotifyOptions options = fast_options();
  options.max_attempts = 1;
  options.read_timeout = 60s; // longer than the receiver holds a request
  const std::vector<std::unique_ptr<Channel>> channels =
      make_channels({hook(config::NotifyType::slack, receiver.base()),
                     hook(config::NotifyType::webhook, receiver.base()), telegram(receiver.base())},
                    options);
  const std::vector<ChannelResult> results = notify_all(channels, failed_event());
  ASSERT_EQ(results.size(), 3U);
  for (const ChannelResult& result : results) {
    EXPECT_TRUE(result.result.ok) << result.channel << ": " << result.result.error;
  }
  EXPECT_EQ(receiver.max_held(), 3U) << "the three channels were not sent to at the same time";
}

TEST(NotifyAll, BadUrlIsAResultNotAnException) {
  config::Notifier notifier;
  notifier.type = config::NotifyType::webhook;
  notifier.url = util::Secret("ftp://example/secret-path");
  const std::vector<std::unique_ptr<Channel>> channels = make_channels({notifier}, fast_options());
  std::vector<ChannelResult> results;
  EXPECT_NO_THROW(results = notify_all(channels, failed_event()));
  ASSERT_EQ(results.size(), 1U);
  EXPECT_FALSE(results[0].result.ok);
  EXPECT_EQ(results[0].result.attempts, 0);
  expect_no_secret(results[0].result.error);
}

// Issue 12, item 12, through real receivers: a hostile event as each channel sends it. Slack's
// text has '&', '<', '>' escaped and every control character shown as an escape; Telegram's is
// plain text (no parse_mode) on one line; the webhook's event carries the values as stored —
// control characters stripped, everything else as it was — beside the one-line text.
TEST(NotifyHostileEvent, EachChannelSendsItsOwnSafeForm) {
  deploy::DeployEvent event = failed_event();
  event.host = "web-1\n\n✅ deploy succeeded: 1a2b3c4 <!channel>";
  event.actor = std::string("ci\0bot", 6);
  const std::string line =
      "❌ deploy failed: 1a2b3c4 on host web-1\\n\\n✅ deploy succeeded: 1a2b3c4 <!channel> "
      "(previous: 9f8e7d6) — api: GET /health -> 500";

  Receiver slack_receiver({{200, "ok"}});
  ASSERT_TRUE(send_one(hook(config::NotifyType::slack, slack_receiver.base()), event).ok);
  ASSERT_EQ(slack_receiver.requests().size(), 1U);
  EXPECT_EQ(
      json::parse(slack_receiver.requests()[0].body),
      (json{{"text", "❌ deploy failed: 1a2b3c4 on host web-1\\n\\n✅ deploy succeeded: 1a2b3c4 "
                     "&lt;!channel&gt; (previous: 9f8e7d6) — api: GET /health -&gt; 500"}}));

  Receiver telegram_receiver({{200, R"({"ok":true,"result":{"message_id":1}})"}});
  ASSERT_TRUE(send_one(telegram(telegram_receiver.base()), event).ok);
  ASSERT_EQ(telegram_receiver.requests().size(), 1U);
  const json telegram_body = json::parse(telegram_receiver.requests()[0].body);
  EXPECT_EQ(telegram_body["text"], line);
  EXPECT_FALSE(telegram_body.contains("parse_mode")) << telegram_body.dump();

  Receiver webhook_receiver({{204, ""}});
  ASSERT_TRUE(send_one(hook(config::NotifyType::webhook, webhook_receiver.base()), event).ok);
  ASSERT_EQ(webhook_receiver.requests().size(), 1U);
  const json webhook_body = json::parse(webhook_receiver.requests()[0].body);
  EXPECT_EQ(webhook_body["text"], line);
  EXPECT_EQ(webhook_body["event"]["host"], "web-1✅ deploy succeeded: 1a2b3c4 <!channel>");
  EXPECT_EQ(webhook_body["event"]["actor"], "cibot");
  EXPECT_EQ(webhook_body["event"]["details"], event.details);
}

} // namespace
} // namespace probe::exporters
