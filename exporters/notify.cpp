// Notification channels: the transport of the messages notify_message.cpp writes; see notify.hpp.
// All three channels POST one JSON body and differ only in where, what and what counts as
// delivered, so one retrying poster does the I/O and each channel supplies a Request and a judge of
// the answer. Every error string is built from a masked subject plus redacted server text, never
// from the URL.
#include "exporters/notify.hpp"

#include <algorithm>
#include <array>
#include <exception>
#include <functional>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "probe/util/http_error.hpp"
#include "probe/util/json_text.hpp"
#include "probe/util/secret.hpp"
#include "probe/util/strings.hpp"
#include "probe/util/unicode.hpp"
#include "probe/util/url.hpp"
#include "probe/util/version.hpp"

namespace probe::exporters {
namespace {

using json = nlohmann::json;

// How much of a refusal's body goes into the error: enough for Slack's "invalid_token" or
// Telegram's description, not a whole HTML error page.
constexpr std::size_t k_max_reason_bytes = 200;

// What one request is, with everything needed to talk about it without leaking it.
struct Request {
  std::string url;                  // the real URL, secrets and all
  std::string subject;              // printable form for errors: "POST https://host/***"
  std::string body;                 // JSON
  std::vector<std::string> secrets; // redacted from any text taken from the server
};

enum class Verdict { delivered, retry, give_up };

// Judges an answer (its body already redacted); sets `problem` unless delivered.
using Judge = std::function<Verdict(const httplib::Response&, std::string* problem)>;

// cpp-httplib's enum names ("Connection", "Read") read poorly in a chat-ops warning.
bool retryable_status(int status) {
  return status == 429 || status >= 500;
}

// Printable excerpt of a response body: one line, bounded.
std::string excerpt(const std::string& body) {
  std::string line = util::truncate(body, k_max_reason_bytes);
  for (char& c : line) {
    c = (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
  }
  return std::string(util::trim(line));
}

std::string status_problem(const httplib::Response& response) {
  const std::string reason = excerpt(response.body);
  return "HTTP " + std::to_string(response.status) + (reason.empty() ? "" : ": " + reason);
}

// Any 2xx is delivered (Slack answers 200 "ok", many webhooks 202 or 204).
Verdict judge_2xx(const httplib::Response& response, std::string* problem) {
  if (response.status >= 200 && response.status < 300) {
    return Verdict::delivered;
  }
  *problem = status_problem(response);
  return retryable_status(response.status) ? Verdict::retry : Verdict::give_up;
}

// Telegram's Bot API answers {"ok": true, "result": ...} or {"ok": false, "description": ...}.
Verdict judge_telegram(const httplib::Response& response, std::string* problem) {
  const json answer = json::parse(response.body, nullptr, false);
  const bool is_object = answer.is_object();
  const bool ok =
      is_object && answer.contains("ok") && answer["ok"].is_boolean() && answer["ok"].get<bool>();
  if (response.status == 200 && ok) {
    return Verdict::delivered;
  }
  if (is_object && answer.contains("description") && answer["description"].is_string()) {
    *problem = "HTTP " + std::to_string(response.status) + ": " +
               excerpt(answer["description"].get<std::string>());
  } else if (response.status == 200) {
    *problem = "HTTP 200 without \"ok\": true";
  } else {
    *problem = status_problem(response);
  }
  return retryable_status(response.status) ? Verdict::retry : Verdict::give_up;
}

std::string redact_all(std::string text, const std::vector<std::string>& secrets) {
  for (const std::string& secret : secrets) {
    text = util::redact(std::move(text), secret);
  }
  return text;
}

NotifyResult post_json(const Request& request, const Judge& judge, const NotifyOptions& options) {
  NotifyResult result;
  std::string ignored;
  const std::optional<util::Url> url = util::parse_http_url(request.url, &ignored);
  if (!url) {
    // parse_http_url's message quotes the URL, so it is not passed on.
    result.error = request.subject + ": not an http:// or https:// URL";
    return result;
  }
  httplib::Client client(url->base());
  client.set_connection_timeout(options.connect_timeout);
  client.set_read_timeout(options.read_timeout);
  client.set_write_timeout(options.read_timeout);
  const httplib::Headers headers{{"User-Agent", util::user_agent()},
                                 {"Accept", "application/json"}};

  std::string problem;
  const int max_attempts = std::max(1, options.max_attempts);
  for (int attempt = 1; attempt <= max_attempts; ++attempt) {
    if (attempt > 1 && !options.backoff.empty()) {
      const std::size_t index =
          std::min(static_cast<std::size_t>(attempt - 2), options.backoff.size() - 1);
      options.clock->sleep_for(options.backoff[index]);
    }
    result.attempts = attempt;
    const httplib::Result answer =
        client.Post(url->path_and_query, headers, request.body, "application/json");
    Verdict verdict = Verdict::retry;
    if (!answer) {
      problem = util::describe_http_error(answer.error());
    } else {
      // Redacted before judging, so excerpt() can never cut a secret in half and leave a part.
      httplib::Response response = answer.value();
      response.body = redact_all(std::move(response.body), request.secrets);
      verdict = judge(response, &problem);
    }
    if (verdict == Verdict::delivered) {
      result.ok = true;
      return result;
    }
    if (verdict == Verdict::give_up) {
      break;
    }
  }
  result.error = request.subject + ": " + redact_all(problem, request.secrets) + " (" +
                 std::to_string(result.attempts) +
                 (result.attempts == 1 ? " attempt)" : " attempts)");
  return result;
}

// A webhook URL is a credential as a whole and in its path and query (Slack's
// /services/T/B/X), so both are redacted from server text.
Request webhook_request(const std::string& url, std::string body) {
  Request request;
  request.url = url;
  request.subject = "POST " + util::mask_url(url);
  request.body = std::move(body);
  request.secrets.push_back(url);
  std::string ignored;
  if (const std::optional<util::Url> parsed = util::parse_http_url(url, &ignored)) {
    if (parsed->path_and_query.size() > 1) {
      request.secrets.push_back(parsed->path_and_query);
    }
  }
  return request;
}

// Runs a channel's send without letting anything escape: a notification never throws.
NotifyResult guarded(const std::function<NotifyResult()>& send) {
  try {
    return send();
  } catch (const std::exception& error) {
    return NotifyResult{false, 0, std::string("internal error: ") + error.what()};
  } catch (...) {
    return NotifyResult{false, 0, "internal error"};
  }
}

} // namespace

TelegramChannel::TelegramChannel(config::Notifier notifier, NotifyOptions options)
    : m_notifier(std::move(notifier)), m_options(std::move(options)) {}

bool TelegramChannel::wants(const std::string& kind) const {
  return notify_wants(m_notifier.on, kind);
}

NotifyResult TelegramChannel::send(const deploy::DeployEvent& event) {
  return guarded([&] {
    std::string base = m_notifier.api_url;
    while (!base.empty() && base.back() == '/') {
      base.pop_back();
    }
    const std::string& token = m_notifier.bot_token.reveal();
    Request request;
    request.url = base + "/bot" + token + "/sendMessage";
    // The token is the credential; the base is masked like any URL in case it carries one.
    request.subject = "POST " + util::mask_url(base) + "/bot***/sendMessage";
    request.body = util::json_text(json{{"chat_id", m_notifier.chat_id},
                                        {"text", describe_event(event)},
                                        {"disable_web_page_preview", true}});
    request.secrets.push_back(token);
    if (token.empty()) {
      return NotifyResult{false, 0, request.subject + ": bot_token is empty"};
    }
    return post_json(request, judge_telegram, m_options);
  });
}

SlackChannel::SlackChannel(config::Notifier notifier, NotifyOptions options)
    : m_notifier(std::move(notifier)), m_options(std::move(options)) {}

bool SlackChannel::wants(const std::string& kind) const {
  return notify_wants(m_notifier.on, kind);
}

NotifyResult SlackChannel::send(const deploy::DeployEvent& event) {
  return guarded([&] {
    const Request request = webhook_request(
        m_notifier.url.reveal(),
        util::json_text(json{{"text", describe_event(event, MessageFormat::slack_mrkdwn)}}));
    return post_json(request, judge_2xx, m_options);
  });
}

WebhookChannel::WebhookChannel(config::Notifier notifier, NotifyOptions options)
    : m_notifier(std::move(notifier)), m_options(std::move(options)) {}

bool WebhookChannel::wants(const std::string& kind) const {
  return notify_wants(m_notifier.on, kind);
}

NotifyResult WebhookChannel::send(const deploy::DeployEvent& event) {
  return guarded([&] {
    const Request request =
        webhook_request(m_notifier.url.reveal(),
                        util::json_text(json{{"event", deploy::to_json(deploy::normalized(event))},
                                             {"text", describe_event(event)}}));
    return post_json(request, judge_2xx, m_options);
  });
}

namespace {

using ChannelFactory = std::unique_ptr<Channel> (*)(const config::Notifier&, const NotifyOptions&);

template <typename T>
std::unique_ptr<Channel> make(const config::Notifier& notifier, const NotifyOptions& options) {
  return std::make_unique<T>(notifier, options);
}

// The type -> channel table: the one place that knows every kind of destination.
const std::array<std::pair<config::NotifyType, ChannelFactory>, 3> k_channel_types{{
    {config::NotifyType::telegram, &make<TelegramChannel>},
    {config::NotifyType::slack, &make<SlackChannel>},
    {config::NotifyType::webhook, &make<WebhookChannel>},
}};

} // namespace

std::vector<std::unique_ptr<Channel>> make_channels(const std::vector<config::Notifier>& notifiers,
                                                    const NotifyOptions& options) {
  std::vector<std::unique_ptr<Channel>> channels;
  for (const config::Notifier& notifier : notifiers) {
    for (const auto& [type, factory] : k_channel_types) {
      if (type == notifier.type) {
        channels.push_back(factory(notifier, options));
        break;
      }
    }
  }
  return channels;
}

std::vector<ChannelResult> notify_all(const std::vector<std::unique_ptr<Channel>>& channels,
                                      const deploy::DeployEvent& event,
                                      const NotifyObserver& observer) {
  std::vector<ChannelResult> results;
  try {
    std::vector<Channel*> wanted;
    for (const std::unique_ptr<Channel>& channel : channels) {
      if (channel && channel->wants(event.kind)) {
        wanted.push_back(channel.get());
        results.push_back(ChannelResult{channel->name(), NotifyResult{false, 0, "not sent"}});
      }
    }
    // Concurrently, so a dead endpoint's retries (up to ~25 s) delay the deploy command once,
    // not once per channel.
    std::vector<std::thread> threads;
    threads.reserve(wanted.size()); // so only the thread constructor below can throw
    for (std::size_t i = 0; i < wanted.size(); ++i) {
      auto deliver = [&results, &wanted, &event, i] {
        results[i].result = guarded([&] { return wanted[i]->send(event); });
      };
      try {
        threads.emplace_back(deliver);
      } catch (const std::system_error&) {
        deliver(); // no thread to spare: send in line rather than not at all
      }
    }
    for (std::thread& thread : threads) {
      thread.join();
    }
  } catch (const std::exception& error) {
    spdlog::warn("notify: {}", error.what());
  }
  for (const ChannelResult& sent : results) {
    if (sent.result.ok) {
      spdlog::debug("notify {}: {} sent ({} attempts)", sent.channel, event.kind,
                    sent.result.attempts);
    } else {
      spdlog::warn("notify {}: {}", sent.channel, sent.result.error);
    }
    if (observer) {
      try {
        observer(sent);
      } catch (...) {
        // The observer only counts; losing one count must not fail the deploy.
      }
    }
  }
  return results;
}

} // namespace probe::exporters
