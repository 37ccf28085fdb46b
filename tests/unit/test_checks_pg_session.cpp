// How a failed PostgreSQL connect is classed from libpq's own words (issue 18: a name that does
// not resolve is `dns`, not `no_response`, so an operator looks at DNS, not at the database),
// including what pg_isready's PQping told before (issue 15: it blocked for 2 s at least), and
// which host names the session looks up itself, off the loop, before libpq sees them. The
// messages are libpq 15's, as PQerrorMessage returns them (after clean_message's one-line
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

// What PQPING_OK / PQPING_NO_RESPONSE told: whether the server itself sent an error.
TEST(PgConnectMessage, AnErrorTheServerSentIsAuthFailedAsPqPingTold) {
  EXPECT_EQ(classify_connect_failure("connection to server at \"127.0.0.1\", port 5432 failed: "
                                     "FATAL: sorry, too many clients already"),
            "auth_failed");
  EXPECT_EQ(
      classify_connect_failure("connection to server at \"db\" (10.0.0.5), port 5432 "
                               "failed: FATAL: no more connections allowed (max_client_conn)"),
      "auth_failed");
}

TEST(PgConnectMessage, NothingFromAServerIsNoResponseAsPqPingTold) {
  EXPECT_EQ(classify_connect_failure("connection to server at \"127.0.0.1\", port 5432 failed: "
                                     "could not receive data from server: Connection reset by "
                                     "peer"),
            "no_response");
  EXPECT_EQ(classify_connect_failure("connection to server at \"127.0.0.1\", port 8080 failed: "
                                     "expected authentication request from server, but received H"),
            "no_response");
  EXPECT_EQ(classify_connect_failure("connection to server at \"db\" (10.0.0.5), port 5432 "
                                     "failed: SSL error: certificate verify failed"),
            "no_response");
}

TEST(PgConnectMessage, TheNamedClassesStillComeFirst) {
  EXPECT_EQ(classify_connect_failure("connection to server at \"127.0.0.1\", port 5432 failed: "
                                     "FATAL: the database system is shutting down"),
            "rejecting");
  EXPECT_EQ(classify_connect_failure("connection to server at \"127.0.0.1\", port 5432 failed: "
                                     "FATAL: database \"nope\" does not exist"),
            "auth_failed");
  EXPECT_EQ(classify_connect_failure("could not translate host name \"db\" to address: Name or "
                                     "service not known"),
            "dns");
  EXPECT_EQ(classify_connect_failure("connection to server at \"127.0.0.1\", port 1 failed: "
                                     "Connection refused"),
            "no_response");
}

TEST(PgHostLookup, ANameIsLookedUpInEitherDsnForm) {
  EXPECT_EQ(host_needing_lookup("postgresql://app:pw@db:5432/homeguru"), "db");
  EXPECT_EQ(host_needing_lookup("host=db.internal port=5432 dbname=app user=app"), "db.internal");
  EXPECT_EQ(host_needing_lookup("postgres://app@localhost/app?sslmode=disable"), "localhost");
}

TEST(PgHostLookup, WhatLibpqNeedsNoLookupForIsLeftToIt) {
  EXPECT_EQ(host_needing_lookup("postgresql://app:pw@127.0.0.1:5432/app"), "");
  EXPECT_EQ(host_needing_lookup("postgresql://app:pw@[::1]:5432/app"), "");
  EXPECT_EQ(host_needing_lookup("host=/var/run/postgresql dbname=app"), "");
  EXPECT_EQ(host_needing_lookup("postgresql://app@db1:5432,db2:5432/app"), "") << "multi-host";
  EXPECT_EQ(host_needing_lookup("host=db hostaddr=10.0.0.5 dbname=app"), "") << "has hostaddr";
  EXPECT_EQ(host_needing_lookup("dbname=app"), "") << "no host: libpq's default socket";
  EXPECT_EQ(host_needing_lookup("host=db dbname='unterminated"), "") << "libpq says what is wrong";
}

} // namespace
} // namespace probe::checks
