// Reading a libpq connection string (key=value or URI) the way libpq does, for the one thing
// probe needs from it outside a connection: the password, to scrub it from libpq's messages.
#pragma once

#include <string>

namespace probe::util {

// The password in `dsn`, or "" when it has none or does not parse.
std::string dsn_password(const std::string& dsn);

} // namespace probe::util
