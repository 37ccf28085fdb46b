"""`python -m bot`: long polling for commands, a heartbeat every HEARTBEAT_INTERVAL seconds.

Settings (environment): TELEGRAM_BOT_TOKEN (required), TELEGRAM_API_URL, TELEGRAM_POLL_TIMEOUT,
HEARTBEAT_MODE, HEARTBEAT_INTERVAL, BOT_ID, DATABASE_URL or PROBE_HEARTBEAT_URL and
PROBE_HEARTBEAT_TOKEN, APP_VERSION, LOG_LEVEL. See README.md.
"""
import logging
import os
import sys
import warnings

# Debian (and any install from PyPI) gives python-telegram-bot 13 the system urllib3 instead of
# its vendored copy; it works, and the warning at import would only alarm people. Set before
# telegram is imported.
warnings.filterwarnings("ignore", message="python-telegram-bot is using upstream urllib3",
                        category=UserWarning)

from telegram.error import InvalidToken  # noqa: E402
from telegram.ext import CommandHandler, Updater  # noqa: E402

from bot import heartbeat  # noqa: E402

log = logging.getLogger("homeguru.bot")


class Redact(logging.Filter):
    """Masks the secrets in every log line: the Telegram token is part of each API URL."""

    def __init__(self, secrets):
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record):
        message = record.getMessage()
        for secret in self.secrets:
            message = message.replace(secret, "***")
        record.msg, record.args = message, None
        return True


def number(name: str, default: float) -> float:
    value = os.environ.get(name) or str(default)
    try:
        if float(value) > 0:
            return float(value)
    except ValueError:
        pass
    raise heartbeat.ConfigError(f"{name} must be a positive number of seconds, not {value!r}")


def main() -> int:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "info").upper(), handlers=[handler])
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # two lines per beat otherwise
    version = os.environ.get("APP_VERSION") or "dev"
    token = os.environ.get("TELEGRAM_BOT_TOKEN", "")
    if not token:
        print("bot: TELEGRAM_BOT_TOKEN is not set (the token from @BotFather)", file=sys.stderr)
        return 2
    try:
        interval = number("HEARTBEAT_INTERVAL", 30)
        poll_timeout = number("TELEGRAM_POLL_TIMEOUT", 5)
        beat, secret = heartbeat.from_env()
    except heartbeat.ConfigError as exc:
        print(f"bot: {exc}", file=sys.stderr)
        return 2
    handler.addFilter(Redact([token, secret]))

    def start(update, _context):
        update.message.reply_text("Hello from HomeGuru. /status tells how I am.")

    def status(update, _context):
        last = beat.last_ok.strftime("%Y-%m-%d %H:%M:%S UTC") if beat.last_ok else "none yet"
        update.message.reply_text(f"homeguru-bot {version}; last heartbeat: {last}")

    base_url = os.environ.get("TELEGRAM_API_URL") or "https://api.telegram.org/bot"
    try:
        updater = Updater(token=token, base_url=base_url)  # PTB appends the token
    except InvalidToken as exc:
        print(f"bot: TELEGRAM_BOT_TOKEN is not a bot token: {exc}", file=sys.stderr)
        return 2
    updater.dispatcher.add_handler(CommandHandler("start", start))
    updater.dispatcher.add_handler(CommandHandler("status", status))
    updater.job_queue.run_repeating(beat, interval=interval, first=0, name="heartbeat")
    # A short long-poll: stopping waits for the poll in flight, so SIGTERM takes at most this.
    updater.start_polling(timeout=poll_timeout)
    log.info("homeguru-bot %s started: heartbeat every %gs to %s", version, interval, beat.target)
    updater.idle()  # until SIGTERM/SIGINT, then stops polling, the jobs and the workers
    log.info("homeguru-bot %s stopped", version)
    return 0


if __name__ == "__main__":
    sys.exit(main())
