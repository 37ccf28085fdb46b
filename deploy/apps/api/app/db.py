"""The database: DATABASE_URL, normalised for psycopg2, and one engine for the app.

engine_url() is also what migrations/env.py uses, so the app and its migrations always read
DATABASE_URL the same way (deploy/apps/bot/bot/heartbeat.py carries a copy of it).
"""
import os

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine, make_url

# Many stacks write DATABASE_URL for asyncpg (postgresql+asyncpg://...) because another
# service is async, and Heroku-style tools write postgres://, which SQLAlchemy 1.4+ rejects.
# This app is synchronous and uses psycopg2, so every PostgreSQL scheme becomes
# postgresql+psycopg2; the rest of the URL (user, password, host, database and libpq query
# parameters such as sslmode=require) is kept exactly as given. asyncpg-only parameters
# (ssl=require) are not translated: write libpq's names.
_SCHEMES = {"postgresql", "postgres", "postgresql+psycopg2", "postgresql+asyncpg"}


def engine_url(raw: str) -> str:
    scheme, sep, rest = raw.strip().partition("://")
    if not sep or scheme not in _SCHEMES:
        # Only the scheme: the rest may hold a password.
        raise ValueError(
            f"DATABASE_URL: unsupported scheme {scheme!r} (use postgresql://, postgres://, "
            "postgresql+psycopg2:// or postgresql+asyncpg://)")
    return "postgresql+psycopg2://" + rest


def database_url() -> str:
    raw = os.environ.get("DATABASE_URL", "")
    if not raw:
        raise RuntimeError("DATABASE_URL is not set (e.g. postgresql://user:pass@host:5432/db)")
    return engine_url(raw)


def make_engine(url: str) -> Engine:
    # A dead or unreachable database must make /health answer 503 within seconds, not hang:
    # pre-ping drops connections the server closed, connect_timeout bounds a connect,
    # statement_timeout a query, pool_timeout the wait for a free connection.
    connect_args = {"connect_timeout": 3}
    if "options" not in make_url(url).query:  # a URL's own options= wins
        connect_args["options"] = "-c statement_timeout=3000"
    return create_engine(url, pool_pre_ping=True, pool_timeout=5, connect_args=connect_args)


def safe_url(url: str) -> str:
    """The URL for logs: the password masked."""
    return make_url(url).render_as_string(hide_password=True)


def short_error(exc: BaseException, url: str = "") -> str:
    """One line about a database failure, without SQL, DSN or password."""
    orig = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error
    lines = str(orig).strip().splitlines()
    text = lines[0] if lines else type(orig).__name__
    password = make_url(url).password if url else None
    if password:
        text = text.replace(str(password), "***")
    return text[:200]
