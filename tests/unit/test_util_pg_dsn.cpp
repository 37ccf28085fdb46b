// SQLAlchemy-style URLs read as the libpq URIs they name, so one DATABASE_URL serves probe, the
// api and the bot.
#include <gtest/gtest.h>

#include "probe/util/pg_dsn.hpp"

namespace probe::util {
namespace {

TEST(LibpqDsn, DropsTheSqlAlchemyDriver) {
  EXPECT_EQ(libpq_dsn("postgresql+psycopg2://app:pw@db:5432/homeguru"),
            "postgresql://app:pw@db:5432/homeguru");
  EXPECT_EQ(libpq_dsn("postgresql+psycopg://app@db/homeguru?sslmode=require"),
            "postgresql://app@db/homeguru?sslmode=require");
  EXPECT_EQ(libpq_dsn("postgresql+asyncpg://app:pw@db/homeguru"),
            "postgresql://app:pw@db/homeguru");
}

TEST(LibpqDsn, AsyncpgSslBecomesSslmode) {
  EXPECT_EQ(libpq_dsn("postgresql+asyncpg://app@db/h?ssl=require"),
            "postgresql://app@db/h?sslmode=require");
  EXPECT_EQ(libpq_dsn("postgresql+asyncpg://app@db/h?ssl=true&application_name=bot"),
            "postgresql://app@db/h?sslmode=require&application_name=bot");
  EXPECT_EQ(libpq_dsn("postgresql+asyncpg://app@db/h?connect_timeout=3&ssl=false"),
            "postgresql://app@db/h?connect_timeout=3&sslmode=disable");
}

TEST(LibpqDsn, PsycopgQueryParametersAreLibpqsAlready) {
  // psycopg2 hands its query to libpq: an `ssl=` there is libpq's error to report, not ours
  // to guess at.
  EXPECT_EQ(libpq_dsn("postgresql+psycopg2://app@db/h?ssl=require"),
            "postgresql://app@db/h?ssl=require");
}

TEST(LibpqDsn, LibpqsOwnFormsAreUnchanged) {
  for (const std::string dsn :
       {"postgresql://app@db/h", "postgres://app:pw@db/h?sslmode=disable",
        "host=db dbname=h user=app", "", "postgresql+://db/h", "postgresql+bad driver://db/h",
        "postgresqlx+asyncpg://db/h", "postgresql+asyncpg:/db/h"}) {
    EXPECT_EQ(libpq_dsn(dsn), dsn) << dsn;
  }
}

TEST(LibpqDsn, TheDriverIsNamedOnlyForAnSqlAlchemyUrl) {
  EXPECT_EQ(sqlalchemy_driver("postgresql+asyncpg://db/h"), "asyncpg");
  EXPECT_EQ(sqlalchemy_driver("postgresql+psycopg2://db/h"), "psycopg2");
  EXPECT_EQ(sqlalchemy_driver("postgresql://db/h"), "");
  EXPECT_EQ(sqlalchemy_driver("host=db"), "");
}

TEST(DsnPassword, IsFoundInAnSqlAlchemyUrlToo) {
  EXPECT_EQ(dsn_password("postgresql+asyncpg://app:hunter2@db/h"), "hunter2");
  EXPECT_EQ(dsn_password("postgresql+psycopg2://app:hunter2@db/h?sslmode=disable"), "hunter2");
  EXPECT_EQ(dsn_password("postgres://app:hunter2@db/h"), "hunter2");
}

} // namespace
} // namespace probe::util
