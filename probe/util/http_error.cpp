// Transport error wording; see http_error.hpp.
#include "probe/util/http_error.hpp"

namespace probe::util {

std::string describe_http_error(httplib::Error error) {
  switch (error) {
  case httplib::Error::Connection:
    return "connection failed";
  case httplib::Error::ConnectionTimeout:
    return "connect timed out";
  case httplib::Error::Read:
    return "read failed (connection closed, reset or timed out)";
  case httplib::Error::Write:
    return "write failed";
  case httplib::Error::SSLConnection:
    return "TLS handshake failed";
  case httplib::Error::SSLLoadingCerts:
    return "cannot load CA certificates";
  case httplib::Error::SSLServerVerification:
    return "TLS certificate verification failed";
  case httplib::Error::ExceedRedirectCount:
    return "too many redirects";
  case httplib::Error::Compression:
    return "cannot decompress body";
  default:
    return httplib::to_string(error);
  }
}

} // namespace probe::util
