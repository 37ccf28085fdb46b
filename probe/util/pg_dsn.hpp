// Reading a libpq connection string (key=value or URI) the way libpq does, for what probe needs
// from it outside a connection: the password, to scrub it from libpq's messages; and the
// translation of the SQLAlchemy-style URLs the apps use into the URI libpq takes, so that one
// DATABASE_URL serves probe, the api and the bot.
#pragma once

#include <string>

namespace probe::util {

// The password in `dsn`, or "" when it has none or does not parse.
std::string dsn_password(const std::string& dsn);

// `dsn` as libpq takes it. An SQLAlchemy URL names its driver in the scheme
// (postgresql+psycopg2://, postgresql+asyncpg://, postgresql+psycopg://), which libpq rejects
// ("missing \"=\""): the driver is dropped. asyncpg spells sslmode `ssl` (ssl=require, and
// ssl=true/false): that one query parameter becomes sslmode. postgres:// and postgresql://
// URIs and key=value strings are libpq's own and come back unchanged.
std::string libpq_dsn(const std::string& dsn);

// The driver an SQLAlchemy URL names ("asyncpg" for postgresql+asyncpg://...), or "".
std::string sqlalchemy_driver(const std::string& dsn);

} // namespace probe::util
