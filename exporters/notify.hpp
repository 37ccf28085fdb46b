// Deploy notifications: tell people in Telegram, Slack or any webhook what a deploy did. Each
// destination is a Channel behind one small interface, built from the config by a type ->
// factory table (like ccache's remote storage backends), so adding a destination touches one
// table and one class. A notification is a courtesy, never part of the deploy: sending is
// bounded (three attempts, short timeouts), failures come back as data, never as exceptions,
// and no error text carries a bot token or a webhook URL's path (both are credentials).
// The message text is a pure function of the event (notify_message.hpp), tested without a socket.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "exporters/notify_message.hpp"
#include "probe/config/config.hpp"
#include "probe/deploy/event.hpp"
#include "probe/util/clock.hpp"

namespace probe::exporters {

// What one channel's delivery of one event came to.
struct NotifyResult {
  bool ok = false;
  int attempts = 0;  // requests made; 0 when the channel could not even try (bad URL)
  std::string error; // empty when ok; never contains a token or a webhook path
};

// How hard to try. Tests shrink the delays; the defaults are what production uses.
struct NotifyOptions {
  int max_attempts = 3;
  // Wait before attempt 2, 3, ...; the last entry repeats if there are more attempts.
  std::vector<std::chrono::milliseconds> backoff{std::chrono::milliseconds(500),
                                                 std::chrono::milliseconds(1000)};
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds read_timeout{5000};
  // Where the backoff waits are taken (a manual clock in the tests: no real sleeps).
  const util::Clock* clock = &util::system_clock();
};

// One destination for deploy notifications.
class Channel {
public:
  virtual ~Channel() = default;
  // "telegram", "slack" or "webhook": the label for logs and metrics.
  virtual std::string name() const = 0;
  // True when this channel is subscribed to events of `kind`.
  virtual bool wants(const std::string& kind) const = 0;
  // Delivers `event`, retrying as NotifyOptions allow; never throws.
  virtual NotifyResult send(const deploy::DeployEvent& event) = 0;
};

// POST {api_url}/bot{token}/sendMessage with {"chat_id", "text", "disable_web_page_preview"} and
// no parse_mode (plain text: nothing in an event can be read as markup); delivered when Telegram
// answers 200 with {"ok": true}.
class TelegramChannel final : public Channel {
public:
  TelegramChannel(config::Notifier notifier, NotifyOptions options);
  std::string name() const override { return "telegram"; }
  bool wants(const std::string& kind) const override;
  NotifyResult send(const deploy::DeployEvent& event) override;

private:
  config::Notifier m_notifier;
  NotifyOptions m_options;
};

// POST webhook_url with {"text"} (describe_event() in slack_mrkdwn); delivered on any 2xx.
class SlackChannel final : public Channel {
public:
  SlackChannel(config::Notifier notifier, NotifyOptions options);
  std::string name() const override { return "slack"; }
  bool wants(const std::string& kind) const override;
  NotifyResult send(const deploy::DeployEvent& event) override;

private:
  config::Notifier m_notifier;
  NotifyOptions m_options;
};

// POST url with {"event": to_json(normalized(event)), "text"}: the event's values as stored
// (control characters stripped, not escaped; JSON quotes the rest), the plain text beside them;
// delivered on any 2xx.
class WebhookChannel final : public Channel {
public:
  WebhookChannel(config::Notifier notifier, NotifyOptions options);
  std::string name() const override { return "webhook"; }
  bool wants(const std::string& kind) const override;
  NotifyResult send(const deploy::DeployEvent& event) override;

private:
  config::Notifier m_notifier;
  NotifyOptions m_options;
};

// One channel per entry of `notifiers`, in order, built through the type -> factory table.
std::vector<std::unique_ptr<Channel>> make_channels(const std::vector<config::Notifier>& notifiers,
                                                    const NotifyOptions& options);

// What notify_all() did for one channel.
struct ChannelResult {
  std::string channel; // Channel::name()
  NotifyResult result;
};

// Called once per channel that was sent to, e.g. to count outcomes into metrics.
using NotifyObserver = std::function<void(const ChannelResult&)>;

// Sends `event` to every channel in `channels` that wants it, concurrently, and returns one
// result per such channel in channel order. Logs each failure as a warning, calls `observer`
// (when set) for each result, and never throws: a notification failure must not change the
// outcome of the deploy that caused it.
std::vector<ChannelResult> notify_all(const std::vector<std::unique_ptr<Channel>>& channels,
                                      const deploy::DeployEvent& event,
                                      const NotifyObserver& observer = {});

} // namespace probe::exporters
