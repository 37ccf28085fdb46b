"""Alembic's environment: the database comes from DATABASE_URL, read through app.db."""
import os
import sys
from logging.config import fileConfig
from pathlib import Path

from alembic import context
from alembic.util import CommandError
from sqlalchemy import create_engine, pool

# So `app` imports wherever alembic is started from (-c path/to/alembic.ini).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from app.db import engine_url  # noqa: E402

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)

raw = os.environ.get("DATABASE_URL", "")
if not raw:
    raise CommandError("DATABASE_URL is not set: alembic reads the database from it "
                       "(e.g. postgresql://user:pass@host:5432/db)")
try:
    url = engine_url(raw)
except ValueError as exc:
    raise CommandError(str(exc)) from None


def run_migrations_offline() -> None:
    # `alembic upgrade head --sql`: prints the SQL instead of running it.
    context.configure(url=url, literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(url, poolclass=pool.NullPool, connect_args={"connect_timeout": 10})
    with engine.connect() as connection:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
