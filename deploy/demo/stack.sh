# shellcheck shell=bash
# The local stand-in of the HomeGuru stack, shared by deploy/demo/run.sh and the shell tests:
# PostgreSQL with the bot's heartbeat table, an api with /health, a frontend, and a bot that
# proves it is alive by leaving a heartbeat row every 2 s. Sourced, not run.
#
#   demo_start WORKDIR BUILD_DIR   starts it all; exports DATABASE_URL API_URL FRONTEND_URL
#                                  PROBE_PORT, and DEMO_API_PID DEMO_FRONTEND_PID DEMO_BOT_PID
#   demo_start_api [VERSION]       (re)starts the api stand-in
#   demo_stop                      stops everything demo_start started; safe to call at any
#                                  point (halfway through demo_start too) and twice
#
# Waits for a process to start are bounded by generous deadlines (60 s): a loaded machine may
# be slow, and a stand-in that starts at once costs nothing.

demo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DEMO_ROOT=$demo_root
export DEMO_ROOT
# shellcheck source=tests/lib/pg.sh
source "$demo_root/tests/lib/pg.sh"
# shellcheck source=tests/lib/procs.sh
source "$demo_root/tests/lib/procs.sh"

demo_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

demo_wait_port() {
  wait_until 60 demo_port_open "$1" && return 0
  echo "demo: nothing listens on 127.0.0.1:$1 after 60 s" >&2
  return 1
}

demo_start_api() {
  "$demo_root/deploy/demo/switch_api.sh" "${1:-demo}"
  DEMO_API_PID=$(cat "$DEMO_WORK/api.pid")
  export DEMO_API_PID
}

demo_heartbeats() { [ "$(PG_DATABASE=homeguru pg_psql -Atc "SELECT count(*) FROM bot_heartbeats")" != 0 ]; }

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
    --pid-file "$DEMO_WORK/frontend.pid" >"$DEMO_WORK/frontend.log" 2>&1 &
  DEMO_FRONTEND_PID=$!
  demo_wait_port "$DEMO_FRONTEND_PORT"

  # The bot has no port: its liveness is the age of its last heartbeat row. Stopped, it takes
  # its sleep (or psql) with it, so nothing it started outlives demo_stop.
  (
    child=
    trap 'if [ -n "$child" ]; then kill "$child" 2>/dev/null; fi; exit 0' TERM
    while true; do
      PG_DATABASE=homeguru pg_psql -c "INSERT INTO bot_heartbeats DEFAULT VALUES" &
      child=$!
      wait "$child" || true
      sleep 2 &
      child=$!
      wait "$child" || true
    done
  ) >"$DEMO_WORK/bot.log" 2>&1 &
  DEMO_BOT_PID=$!
  echo "$DEMO_BOT_PID" >"$DEMO_WORK/bot.pid"
  export DEMO_FRONTEND_PID DEMO_BOT_PID
  wait_until 60 demo_heartbeats || echo "demo: the bot left no heartbeat within 60 s" >&2
}

demo_stop() {
  local pid api_pids=()
  # The api may have been restarted (switch_api.sh) since demo_start: its pid file says which.
  pid=$(cat "${DEMO_WORK:-/nonexistent}/api.pid" 2>/dev/null) || pid=
  for pid in "$pid" "${DEMO_API_PID:-}"; do
    if [ -n "$pid" ]; then api_pids+=("$pid"); fi
  done
  for pid in "${DEMO_BOT_PID:-}" "${DEMO_FRONTEND_PID:-}" "${api_pids[@]}"; do
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  done
  for pid in "${DEMO_BOT_PID:-}" "${DEMO_FRONTEND_PID:-}"; do
    if [ -n "$pid" ]; then wait "$pid" 2>/dev/null || true; fi
  done
  # The api was started by switch_api.sh, so it is not this shell's child to wait for.
  wait_gone 30 "${api_pids[@]}" || true
  pg_stop || true
}
