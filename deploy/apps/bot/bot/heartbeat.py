"""The bot's heartbeat: proof of life for probe's `bot` target, as the bot has no port.

HEARTBEAT_MODE=postgres (default): upsert this bot's row in bot_heartbeats (the api's
migration 0001); probe reads SELECT max(seen_at) FROM bot_heartbeats.
HEARTBEAT_MODE=push: POST to probe's /heartbeat/<target> (PROBE_HEARTBEAT_URL) with the
bearer token PROBE_HEARTBEAT_TOKEN; probe's target is `source: push`.
"""
import datetime
import logging
import os
import urllib.request

log = logging.getLogger("homeguru.bot.heartbeat")

UPSERT = (
    "INSERT INTO bot_heartbeats (bot_id, seen_at, beats) VALUES (:id, now(), 1) "
    "ON CONFLICT (bot_id) DO UPDATE SET seen_at = now(), beats = bot_heartbeats.beats + 1")

# Mirrors engine_url() in deploy/apps/api/app/db.py (read the why there): any PostgreSQL
# scheme, asyncpg's included, becomes postgresql+psycopg2; the rest of the URL is kept.
_SCHEMES = {"postgresql", "postgres", "postgresql+psycopg2", "postgresql+asyncpg"}


def engine_url(raw: str) -> str:
    scheme, sep, rest = raw.strip().partition("://")
    if not sep or scheme not in _SCHEMES:
        raise ValueError(
            f"DATABASE_URL: unsupported scheme {scheme!r} (use postgresql://, postgres://, "
            "postgresql+psycopg2:// or postgresql+asyncpg://)")
    return "postgresql+psycopg2://" + rest


class ConfigError(Exception):
    """A setting is missing or wrong: the bot cannot start."""


class Heartbeat:
    """A JobQueue callback: one beat per call. A failed beat is logged and the next interval
    tries again; it never raises, so a database that is briefly down cannot stop the bot."""

    def __init__(self, send, target: str, status_file: str = ""):
        self.send, self.target = send, target
        self.status_file = status_file  # HEARTBEAT_FILE: "" writes none
        self.last_ok = None  # datetime of the last beat that got through (for /status)
        self.failing = False

    def __call__(self, _context=None) -> None:
        try:
            self.send()
        except Exception as exc:  # noqa: BLE001 - any failure waits for the next beat
            self.failing = True
            log.warning("heartbeat to %s failed (next try at the next interval): %s",
                        self.target, short_error(exc))
        else:
            if self.failing:
                log.info("heartbeat to %s works again", self.target)
            self.failing = False
            self.last_ok = datetime.datetime.now(datetime.timezone.utc)
        self.write_status()

    def write_status(self) -> None:
        """Every beat, sent or not, rewrites HEARTBEAT_FILE with "ok" or "failing": its age
        tells a process-local liveness check (a Kubernetes exec probe; the bot has no port)
        that the bot's job loop still runs, its word whether the last beat got through."""
        if not self.status_file:
            return
        try:
            with open(self.status_file, "w", encoding="ascii") as f:
                f.write("failing\n" if self.failing else "ok\n")
        except OSError as exc:
            log.warning("HEARTBEAT_FILE %s: %s", self.status_file, exc)


def short_error(exc: BaseException) -> str:
    """One line, without SQL or DSN (libpq's messages carry no password)."""
    orig = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error
    lines = str(orig).strip().splitlines()
    return (lines[0] if lines else type(orig).__name__)[:200]


def postgres_sender(bot_id: str):
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    raw = os.environ.get("DATABASE_URL", "")
    if not raw:
        raise ConfigError("DATABASE_URL is not set (HEARTBEAT_MODE=postgres)")
    try:
        url = engine_url(raw)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    # Short timeouts: a beat against a dead database fails fast instead of piling up.
    engine = create_engine(url, pool_pre_ping=True, pool_size=1, connect_args={
        "connect_timeout": 3, "options": "-c statement_timeout=3000"})

    def send():
        with engine.begin() as connection:
            connection.execute(text(UPSERT), {"id": bot_id})

    return send, make_url(url).render_as_string(hide_password=True), make_url(url).password


def push_sender():
    url = os.environ.get("PROBE_HEARTBEAT_URL", "")
    token = os.environ.get("PROBE_HEARTBEAT_TOKEN", "")
    if not url or not token:
        raise ConfigError("HEARTBEAT_MODE=push needs PROBE_HEARTBEAT_URL "
                          "(e.g. http://probe:9464/heartbeat/bot) and PROBE_HEARTBEAT_TOKEN")

    def send():
        request = urllib.request.Request(url, data=b"", method="POST",
                                         headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=5) as response:  # raises on 4xx/5xx
            response.read()

    return send, url, token


def from_env():
    """The Heartbeat the environment asks for, and the secret it uses (for log redaction)."""
    mode = os.environ.get("HEARTBEAT_MODE", "postgres")
    if mode == "postgres":
        send, target, secret = postgres_sender(os.environ.get("BOT_ID") or "homeguru-bot")
    elif mode == "push":
        send, target, secret = push_sender()
    else:
        raise ConfigError(f"HEARTBEAT_MODE must be postgres or push, not {mode!r}")
    return Heartbeat(send, target, os.environ.get("HEARTBEAT_FILE", "")), secret
