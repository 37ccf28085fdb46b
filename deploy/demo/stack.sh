# shellcheck shell=bash
# The local stand-in of the HomeGuru stack, shared by deploy/demo/run.sh and the shell tests:
# PostgreSQL with the bot's heartbeat table, an api with /health, a frontend, and a bot that
# proves it is alive by leaving a heartbeat row every 2 s. Sourced, not run.
#
#   demo_start WORKDIR BUILD_DIR   starts it all; exports DATABASE_URL API_URL FRONTEND_URL
#                                  PROBE_PORT, and DEMO_API_PID DEMO_FRONTEND_PID DEMO_BOT_PID
#   demo_start_api [VERSION]       (re)starts the api stand-in
#   demo_stop                      stops everything demo_start started

demo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DEMO_ROOT=$demo_root
export DEMO_ROOT
# shellcheck source=tests/lib/pg.sh
source "$demo_root/tests/lib/pg.sh"

demo_wait_port() {
  local port=$1 _
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "demo: nothing listens on 127.0.0.1:$port" >&2
  return 1
}

demo_start_api() {
  "$demo_root/deploy/demo/switch_api.sh" "${1:-demo}"
  DEMO_API_PID=$(cat "$DEMO_WORK/api.pid")
  export DEMO_API_PID
}

demo_start() {
  DEMO_WORK=$1
  DEMO_STANDIN=$2/tests/probe-standin
  mkdir -p "$DEMO_WORK"
  chmod 755 "$DEMO_WORK"
  pg_start "$DEMO_WORK/pg"
  pg_psql -c "CREATE DATABASE homeguru"
  PG_DATABASE=homeguru pg_psql -c \
    "CREATE TABLE bot_heartbeats (seen_at timestamptz NOT NULL DEFAULT now())"
  DATABASE_URL="postgresql://postgres:$PG_PASSWORD@127.0.0.1:$PG_PORT/homeguru"

  DEMO_API_PORT=$(free_port "${DEMO_API_PORT:-18000}")
  DEMO_FRONTEND_PORT=$(free_port "${DEMO_FRONTEND_PORT:-13000}")
  PROBE_PORT=$(free_port "${PROBE_PORT:-19464}")
  API_URL="http://127.0.0.1:$DEMO_API_PORT"
  FRONTEND_URL="http://127.0.0.1:$DEMO_FRONTEND_PORT"
  export DEMO_WORK DEMO_STANDIN DEMO_API_PORT DEMO_FRONTEND_PORT
  # The rollback hook (switch_api.sh) needs these; probe passes a hook only an allow-list of
  # its environment plus the names listed here.
  export PROBE_HOOK_ENV="DEMO_WORK DEMO_STANDIN DEMO_API_PORT"
  PROBE_JOURNAL=$DEMO_WORK/state/journal.jsonl
  PROBE_TOKEN=demo-token-$RANDOM$RANDOM
  export PROBE_JOURNAL PROBE_TOKEN
  export DATABASE_URL API_URL FRONTEND_URL PROBE_PORT

  demo_start_api demo
  "$DEMO_STANDIN" http --listen "127.0.0.1:$DEMO_FRONTEND_PORT" --version demo \
    >"$DEMO_WORK/frontend.log" 2>&1 &
  DEMO_FRONTEND_PID=$!
  demo_wait_port "$DEMO_FRONTEND_PORT"

  # The bot has no port: its liveness is the age of its last heartbeat row.
  (
    while true; do
      PG_DATABASE=homeguru pg_psql -c "INSERT INTO bot_heartbeats DEFAULT VALUES" || true
      sleep 2
    done
  ) >"$DEMO_WORK/bot.log" 2>&1 &
  DEMO_BOT_PID=$!
  export DEMO_FRONTEND_PID DEMO_BOT_PID
  local _
  for _ in $(seq 1 50); do
    [ "$(PG_DATABASE=homeguru pg_psql -Atc "SELECT count(*) FROM bot_heartbeats")" != 0 ] && break
    sleep 0.1
  done
}

demo_stop() {
  local pid
  [ -f "${DEMO_WORK:-}/api.pid" ] && DEMO_API_PID=$(cat "$DEMO_WORK/api.pid")
  for pid in "${DEMO_BOT_PID:-}" "${DEMO_API_PID:-}" "${DEMO_FRONTEND_PID:-}"; do
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  done
  for pid in "${DEMO_BOT_PID:-}" "${DEMO_API_PID:-}" "${DEMO_FRONTEND_PID:-}"; do
    if [ -n "$pid" ]; then wait "$pid" 2>/dev/null || true; fi
  done
  pg_stop
}
