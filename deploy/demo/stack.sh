# shellcheck shell=bash
# The local HomeGuru stack, shared by deploy/demo/run.sh, the shell tests and the benchmark: a
# real PostgreSQL, the reference apps of deploy/apps/ on their real frameworks (the api on
# uvicorn with its Alembic migrations applied, the bot on python-telegram-bot talking to a local
# fake Telegram Bot API, the frontend's Next.js standalone server), all on loopback ports.
# Sourced, not run.
#
#   demo_start WORKDIR BUILD_DIR   starts it all as release $DEMO_TAG (default 1a2b3c4);
#                                  exports DATABASE_URL (the apps' SQLAlchemy form, which probe
#                                  takes too) API_URL FRONTEND_URL PROBE_PORT TELEGRAM_API_URL,
#                                  DEMO_WORK and the ports deploy/demo/release.sh needs
#   demo_api_pid                   the api's pid now (releases restart it)
#   demo_random_ports              for tests: the stack's ports start at a random place below
#                                  the kernel's ephemeral range instead of the demo's defaults,
#                                  so a test beside a running demo (or another run) rarely meets
#                                  a port taken between the check and the bind
#   demo_stop                      stops everything demo_start started; safe to call at any
#                                  point (halfway through demo_start too) and twice
#
# The frontend is built once (deploy/apps/frontend/build.sh, into $PROBE_APPS_CACHE, default
# BUILD_DIR/apps) and reused. Waits are bounded by generous deadlines (60 s): a loaded machine
# may be slow, and a process that starts at once costs nothing.

demo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DEMO_ROOT=$demo_root
export DEMO_ROOT
# shellcheck source=tests/lib/pg.sh
source "$demo_root/tests/lib/pg.sh"
# shellcheck source=tests/lib/procs.sh
source "$demo_root/tests/lib/procs.sh"

DEMO_RELEASE_SH=$demo_root/deploy/demo/release.sh
demo_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

demo_wait_port() {
  wait_until 60 demo_port_open "$1" && return 0
  echo "demo: nothing listens on 127.0.0.1:$1 after 60 s" >&2
  return 1
}

demo_api_pid() { cat "$DEMO_WORK/api.pid" 2>/dev/null; }

demo_random_ports() {
  local base=$((20000 + RANDOM % 2000 * 4))
  DEMO_API_PORT=$base DEMO_FRONTEND_PORT=$((base + 1)) DEMO_TELEGRAM_PORT=$((base + 2))
  PROBE_PORT=$((base + 3))
  export DEMO_API_PORT DEMO_FRONTEND_PORT DEMO_TELEGRAM_PORT PROBE_PORT
}

demo_heartbeats() {
  [ "$(PG_DATABASE=homeguru pg_psql -Atc "SELECT count(*) FROM bot_heartbeats" 2>/dev/null)" = 1 ]
}

# Builds the frontend once (a no-op when current); sets DEMO_FRONTEND_SERVER.
demo_build_frontend() {
  local cache=${PROBE_APPS_CACHE:-$1/apps} out
  out=$(PROBE_APPS_CACHE=$cache "$demo_root/deploy/apps/frontend/build.sh") || return 1
  DEMO_FRONTEND_SERVER=$(tail -n 1 <<<"$out")
  [ -f "$DEMO_FRONTEND_SERVER" ] || { echo "demo: the frontend build left no server.js" >&2; return 1; }
  export DEMO_FRONTEND_SERVER
}

demo_start() {
  DEMO_WORK=$1
  local build_dir=$2 tag=${DEMO_TAG:-1a2b3c4}
  mkdir -p "$DEMO_WORK"
  chmod 755 "$DEMO_WORK"
  export DEMO_WORK
  demo_build_frontend "$build_dir" || return 1

  pg_start "$DEMO_WORK/pg" || return 1
  pg_psql -c "CREATE DATABASE homeguru" || return 1
  # One DATABASE_URL, in the form the apps' SQLAlchemy takes, for the api, the bot and probe.
  DATABASE_URL="postgresql+psycopg2://postgres:$PG_PASSWORD@127.0.0.1:$PG_PORT/homeguru"

  DEMO_API_PORT=$(free_port "${DEMO_API_PORT:-18000}")
  DEMO_FRONTEND_PORT=$(free_port "${DEMO_FRONTEND_PORT:-13000}")
  DEMO_TELEGRAM_PORT=$(free_port "${DEMO_TELEGRAM_PORT:-18081}")
  PROBE_PORT=$(free_port "${PROBE_PORT:-19464}")
  API_URL="http://127.0.0.1:$DEMO_API_PORT"
  FRONTEND_URL="http://127.0.0.1:$DEMO_FRONTEND_PORT"
  TELEGRAM_API_URL="http://127.0.0.1:$DEMO_TELEGRAM_PORT/bot"
  HEARTBEAT_INTERVAL=${HEARTBEAT_INTERVAL:-2}
  export DATABASE_URL DEMO_API_PORT DEMO_FRONTEND_PORT DEMO_TELEGRAM_PORT PROBE_PORT API_URL \
    FRONTEND_URL TELEGRAM_API_URL HEARTBEAT_INTERVAL
  # The rollback hook (release.sh rollback) needs these; probe passes a hook only an allow-list
  # of its environment plus the names listed here.
  export PROBE_HOOK_ENV="DEMO_WORK DATABASE_URL DEMO_API_PORT DEMO_FRONTEND_PORT TELEGRAM_API_URL DEMO_FRONTEND_SERVER HEARTBEAT_INTERVAL"
  PROBE_JOURNAL=$DEMO_WORK/state/journal.jsonl
  PROBE_TOKEN=demo-token-$RANDOM$RANDOM
  export PROBE_JOURNAL PROBE_TOKEN

  # The bot talks to this instead of api.telegram.org: no message leaves the machine.
  /usr/bin/python3 "$demo_root/deploy/demo/fake_telegram_api.py" \
    --listen "127.0.0.1:$DEMO_TELEGRAM_PORT" \
    >>"$DEMO_WORK/telegram.log" 2>&1 &
  DEMO_TELEGRAM_PID=$!
  echo "$DEMO_TELEGRAM_PID" >"$DEMO_WORK/telegram.pid"
  export DEMO_TELEGRAM_PID
  demo_wait_port "$DEMO_TELEGRAM_PORT" || return 1

  "$DEMO_RELEASE_SH" build "$tag" || return 1
  "$DEMO_RELEASE_SH" alembic "$tag" upgrade head >>"$DEMO_WORK/alembic.log" 2>&1 \
    || { tail -n 20 "$DEMO_WORK/alembic.log" >&2; return 1; }
  "$DEMO_RELEASE_SH" up "$tag" || return 1
  # The bot has no port: its liveness is its heartbeat row (one per bot, upserted).
  wait_until 60 demo_heartbeats || echo "demo: the bot left no heartbeat within 60 s" >&2
}

demo_stop() {
  if [ -n "${DEMO_WORK:-}" ] && [ -d "$DEMO_WORK" ]; then "$DEMO_RELEASE_SH" stop 2>/dev/null || true; fi
  if [ -n "${DEMO_TELEGRAM_PID:-}" ]; then
    kill "$DEMO_TELEGRAM_PID" 2>/dev/null || true
    wait "$DEMO_TELEGRAM_PID" 2>/dev/null || true
  fi
  pg_stop || true
}
