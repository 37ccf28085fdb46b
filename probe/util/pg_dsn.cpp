// DSN password lookup through libpq's own parser; see pg_dsn.hpp.
#include "probe/util/pg_dsn.hpp"

#include <libpq-fe.h>

namespace probe::util {

std::string dsn_password(const std::string& dsn) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
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

} // namespace probe::util
