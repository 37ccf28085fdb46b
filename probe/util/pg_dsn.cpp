// DSN password lookup through libpq's own parser, and SQLAlchemy URLs made libpq URIs; see
// pg_dsn.hpp.
#include "probe/util/pg_dsn.hpp"

#include <cctype>
#include <vector>

#include <libpq-fe.h>

#include "probe/util/strings.hpp"

namespace probe::util {
namespace {

constexpr const char* k_sqlalchemy_prefix = "postgresql+";

// asyncpg's `ssl` values, as libpq's sslmode: true and false are asyncpg's too.
std::string sslmode_for(const std::string& value) {
  if (value == "true") {
    return "require";
  }
  if (value == "false") {
    return "disable";
  }
  return value; // disable, allow, prefer, require, verify-ca, verify-full: the same words
}

// `query` (after "?") with each `ssl=` parameter renamed sslmode=.
std::string translate_query(const std::string& query) {
  std::vector<std::string> parameters = split(query, '&');
  for (std::string& parameter : parameters) {
    if (parameter.rfind("ssl=", 0) == 0) {
      parameter = "sslmode=" + sslmode_for(parameter.substr(4));
    }
  }
  return join(parameters, "&");
}

} // namespace

std::string dsn_password(const std::string& dsn) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(libpq_dsn(dsn).c_str(), &error);
  PQfreemem(error);
  std::string password;
  for (PQconninfoOption* option = options; option != nullptr && option->keyword != nullptr;
       ++option) {
    if (option->val != nullptr && std::string(option->keyword) == "password") {
      password = option->val;
    }
  }
  PQconninfoFree(options);
  return password;
}

std::string sqlalchemy_driver(const std::string& dsn) {
  const std::string prefix = k_sqlalchemy_prefix;
  if (dsn.rfind(prefix, 0) != 0) {
    return "";
  }
  const std::size_t scheme_end = dsn.find("://", prefix.size());
  if (scheme_end == std::string::npos || scheme_end == prefix.size()) {
    return "";
  }
  const std::string driver = dsn.substr(prefix.size(), scheme_end - prefix.size());
  for (const char c : driver) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '_') {
      return "";
    }
  }
  return driver;
}

std::string libpq_dsn(const std::string& dsn) {
  const std::string driver = sqlalchemy_driver(dsn);
  if (driver.empty()) {
    return dsn;
  }
  std::string uri =
      "postgresql://" + dsn.substr(std::string(k_sqlalchemy_prefix).size() + driver.size() + 3);
  if (driver != "asyncpg") {
    return uri; // psycopg2 and psycopg hand their query parameters to libpq as they are
  }
  const std::size_t question = uri.find('?');
  if (question == std::string::npos) {
    return uri;
  }
  return uri.substr(0, question + 1) + translate_query(uri.substr(question + 1));
}

} // namespace probe::util
