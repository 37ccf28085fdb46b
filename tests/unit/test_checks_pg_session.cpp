// How a failed PostgreSQL connect is classed from libpq's own words (issue 18: a name that does
// not resolve is `dns`, not `no_response`, so an operator looks at DNS, not at the database).
// The messages are libpq 15's, as PQerrorMessage returns them (after clean_message's one-line
// folding).
#include <gtest/gtest.h>

#include "probe/checks/pg_session.hpp"

namespace probe::checks {
namespace {

TEST(PgConnectMessage, AnUnresolvableNameIsDns) {
  EXPECT_EQ(classify_connect_message("could not translate host name \"db.invalid\" to address: "
                                     "Name or service not known"),
            "dns");
  EXPECT_EQ(classify_connect_message("could not translate host name \"db\" to address: "
                                     "Temporary failure in name resolution"),
            "dns");
}

TEST(PgConnectMessage, OtherFailuresKeepTheirClass) {
  EXPECT_EQ(classify_connect_message("connection to server at \"127.0.0.1\", port 1 failed: "
                                     "Connection refused Is the server running on that host and "
                                     "accepting TCP/IP connections?"),
            "no_response");
  EXPECT_EQ(classify_connect_message("connection to server at \"127.0.0.1\", port 5432 failed: "
                                     "FATAL: the database system is starting up"),
            "rejecting");
  EXPECT_EQ(classify_connect_message("connection to server at \"127.0.0.1\", port 5432 failed: "
                                     "FATAL: password authentication failed for user \"probe\""),
            "auth_failed");
  EXPECT_EQ(classify_connect_message("timeout expired"), "timeout");
  EXPECT_EQ(classify_connect_message("something new"), "");
}

} // namespace
} // namespace probe::checks
