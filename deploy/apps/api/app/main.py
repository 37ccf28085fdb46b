"""The HTTP app: GET /health (probe's `api` target), GET /version, GET /listings."""
import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app import db, listings

VERSION = os.environ.get("APP_VERSION") or "dev"  # the git SHA in images

log = logging.getLogger("homeguru.api")
if not log.handlers:  # uvicorn configures only its own loggers
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
    log.addHandler(_handler)
    log.setLevel(os.environ.get("LOG_LEVEL", "info").upper())
    log.propagate = False

DATABASE_URL = db.database_url()
engine = db.make_engine(DATABASE_URL)
log.info("version %s, database %s", VERSION, db.safe_url(DATABASE_URL))

app = FastAPI(title="homeguru-api", version=VERSION)


# The bound on a whole health check. connect_timeout and statement_timeout (app/db.py) cover a
# database that is gone or slow; this also covers one that froze with its sockets open (a
# stopped process, a silent network), where a read would wait for TCP to give up.
HEALTH_TIMEOUT = 5.0
# Its own small pool: a check stuck on a frozen database holds a thread here, not one of the
# threads that serve the app's other routes.
_health_executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="health")


def _check_database() -> str:
    # A real round trip on a connection from the pool (pre-pinged): the server answers, the
    # schema's revision, and a query the app depends on, so a code/schema mismatch shows here.
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        listings.count(connection)
    return revision


@app.get("/health")
async def health():
    try:
        revision = await asyncio.wait_for(
            asyncio.get_running_loop().run_in_executor(_health_executor, _check_database),
            HEALTH_TIMEOUT)
    except asyncio.TimeoutError:
        reason = f"no answer within {HEALTH_TIMEOUT:g} s"
    except Exception as exc:  # noqa: BLE001 - every failure is a failed health check
        reason = db.short_error(exc, DATABASE_URL)
    else:
        return {"status": "ok", "version": VERSION, "db_revision": revision}
    log.warning("health: database: %s", reason)
    return JSONResponse(status_code=503, content={
        "status": "error", "version": VERSION, "error": f"database: {reason}"})


@app.get("/version")
def version():
    return {"version": VERSION}


@app.get("/listings")
def get_listings():
    with engine.connect() as connection:
        return listings.rows(connection)
