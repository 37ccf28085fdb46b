// cpp-httplib's transport errors in words an operator reads in a log or a check result.
#pragma once

#include <string>

#include <httplib.h>

namespace probe::util {

// "connection failed", "connect timed out", "TLS certificate verification failed", ...
std::string describe_http_error(httplib::Error error);

} // namespace probe::util
