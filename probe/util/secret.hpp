// Secrets in config (DSN passwords, tokens, webhook URLs) must never reach a log line, /status
// or an error message. Secret holds the value and has no stream operator, so printing one by
// accident does not compile; masking helpers produce the printable forms.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace probe::util {

class Secret {
public:
  Secret() = default;
  explicit Secret(std::string value) : m_value(std::move(value)) {}

  // The real value, for the one place that needs it (a connection, a header).
  const std::string& reveal() const { return m_value; }
  bool empty() const { return m_value.empty(); }
  // For telling a reloaded config from the running one; not for checking tokens.
  bool operator==(const Secret&) const = default;

private:
  std::string m_value;
};

// "postgresql://app:pw@db:5432/x" -> "postgresql://app:***@db:5432/x";
// "host=db password=pw" -> "host=db password=***".
std::string mask_dsn(std::string_view dsn);

// "https://hooks.slack.com/services/T/B/X" -> "https://hooks.slack.com/***": the path and
// query of a webhook URL are its credential.
std::string mask_url(std::string_view url);

// A URL as a person may see it: scheme, host, port, path and query parameter names stay;
// userinfo and every query value are hidden, and so is a fragment.
// "https://u:pw@api:8443/x?api_key=abc&v=&flag#f" ->
// "https://***@api:8443/x?api_key=***&v=&***#***". A parameter without "=" is hidden whole: a bare
// query is as likely a token as a flag.
std::string mask_url_secrets(std::string_view url);

// The same rule for a request target alone: "/x?api_key=abc" -> "/x?api_key=***".
std::string mask_query(std::string_view path_and_query);

// Whether an option or variable called `name` carries a secret: its words (split on - _ .,
// case ignored) include token, secret, password, passwd, pass, pwd, key, apikey, auth,
// credential(s), cookie or private, or it contains token, secret or passw anywhere
// (GHCR_TOKEN, DBPASSWORD).
bool is_secret_name(std::string_view name);

// `argv` as it may be printed: "--token=abc" -> "--token=***", "DB_PASSWORD=x" ->
// "DB_PASSWORD=***", the word after a bare "--token" or "--password" -> "***" (unless it is
// a {placeholder}), and userinfo and query values of any URL masked as mask_url_secrets does.
std::vector<std::string> mask_argv(const std::vector<std::string>& argv);

// A token shown only as whether it is set.
std::string mask_token(const Secret& token);

// Secrets shorter than this are never searched for in text: a 1-character password would turn
// every occurrence of its letter into "***" ("***robe-test.invalid") and guard nothing.
inline constexpr std::size_t k_min_redacted = 4;

// Replaces every occurrence of `secret` in `text` with "***" (for third-party error messages);
// a secret shorter than k_min_redacted changes nothing.
std::string redact(std::string text, std::string_view secret);

// Compares in time independent of where the strings first differ (bearer tokens).
bool constant_time_equal(std::string_view a, std::string_view b);

} // namespace probe::util
