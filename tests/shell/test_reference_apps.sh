#!/usr/bin/env bash
# The reference apps of deploy/apps/, run for real against a throw-away PostgreSQL
# (tests/lib/pg.sh) and deploy/demo/fake_telegram_api.py, on loopback only:
#   - Alembic: upgrade head, downgrade base, upgrade head with each DATABASE_URL form
#     (postgresql+psycopg2://, postgresql+asyncpg:// with libpq query parameters, postgres://);
#   - the api: /health 200 with its version and revision 0002, /version, /listings; 503 when
#     the schema is behind the code (downgraded to 0001); 503 within 15 s of the database
#     stopping, 200 again once it is back;
#   - the bot: one heartbeat row however many beats, `beats` growing, beats resumed after the
#     database was down; /start and /status answered; push mode POSTs with the bearer token;
#     exit within 10 s of SIGTERM; exit 2 on a missing setting;
#   - no password or token in any log or answer.
# Debian's Python packages (tests/lib/deps.sh PROBE_APP_PACKAGES) are installed if missing.
# Every wait is bounded (60 s: a loaded machine), every process started is stopped by pid.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/deps.sh
source "$root/tests/lib/deps.sh"
# shellcheck source=tests/lib/pg.sh
source "$root/tests/lib/pg.sh"
# shellcheck source=tests/lib/procs.sh
source "$root/tests/lib/procs.sh"

py=/usr/bin/python3 # Debian's, with the packages (a python3 on PATH may be another one)
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ left in the source tree
api_dir=$root/deploy/apps/api
bot_dir=$root/deploy/apps/bot
started_at=$SECONDS

work=$(mktemp -d /tmp/probe-apps.XXXXXX)
chmod 755 "$work" # the postgres user reaches its cluster below
cleanup() {
  stop_started
  pg_stop
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  local log
  for log in "$work"/*.log; do
    [ -f "$log" ] || continue
    echo "---- last lines of $(basename "$log")" >&2
    tail -n 15 "$log" >&2
  done
  exit 1
}
pass() { echo "PASS $*"; }

install_packages "${PROBE_APP_PACKAGES[@]}" postgresql curl jq
"$py" -c 'import fastapi, uvicorn, sqlalchemy, alembic, psycopg2, telegram' 2>"$work/import.log" ||
  fail "$py cannot import the apps' modules after installing ${PROBE_APP_PACKAGES[*]}"

pg_start "$work/pg" || fail "PostgreSQL did not start"
db_url() { echo "$1://postgres:$PG_PASSWORD@127.0.0.1:$PG_PORT/$2${3:-}"; }
sql() { PG_DATABASE=$1 pg_psql -Atc "$2"; }
pg_restart() {
  pg_as_owner "$(pg_bindir)/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 120 start >/dev/null
}

# alembic URL ARGS...: Alembic in the api's folder with DATABASE_URL=URL, logged.
alembic() {
  local url=$1
  shift
  echo "== alembic $*" >>"$work/alembic.log"
  (cd "$api_dir" && DATABASE_URL=$url "$py" -m alembic "$@") >>"$work/alembic.log" 2>&1
}

# ---- migrations, with each form of DATABASE_URL -------------------------------------------
schema_at_head() {
  [ "$(sql "$1" "SELECT version_num FROM alembic_version")" = 0002 ] &&
    [ "$(sql "$1" "SELECT count(*) FROM listings")" = 2 ] &&
    [ "$(sql "$1" "SELECT count(*) FROM bot_heartbeats")" = 0 ]
}
schema_empty() {
  [ "$(sql "$1" "SELECT count(*) FROM alembic_version")" = 0 ] &&
    [ -z "$(sql "$1" "SELECT to_regclass('listings')")" ] &&
    [ -z "$(sql "$1" "SELECT to_regclass('bot_heartbeats')")" ]
}
forms=(postgresql+psycopg2 postgresql+asyncpg postgres)
for i in "${!forms[@]}"; do
  scheme=${forms[$i]} db=migrations_$i
  sql postgres "CREATE DATABASE $db" >/dev/null
  url=$(db_url "$scheme" "$db")
  # libpq query parameters pass through unchanged (an unknown one would fail the connect).
  [ "$scheme" = postgresql+asyncpg ] && url="$url?sslmode=disable&application_name=migrations"
  alembic "$url" upgrade head || fail "alembic upgrade head with $scheme://"
  schema_at_head "$db" || fail "$scheme://: after upgrade head the schema is not at 0002 with 2 listings"
  alembic "$url" downgrade base || fail "alembic downgrade base with $scheme://"
  schema_empty "$db" || fail "$scheme://: downgrade base left tables or a revision behind"
  alembic "$url" upgrade head || fail "alembic upgrade head (again) with $scheme://"
  schema_at_head "$db" || fail "$scheme://: after the second upgrade head the schema is not at 0002"
done
pass "alembic upgrade head / downgrade base / upgrade head with ${forms[*]/%/://} URLs"

if (cd "$api_dir" && env -u DATABASE_URL "$py" -m alembic current) >"$work/no-url.out" 2>&1; then
  fail "alembic ran without DATABASE_URL"
fi
grep -q "DATABASE_URL is not set" "$work/no-url.out" || fail "alembic without DATABASE_URL: $(cat "$work/no-url.out")"
pass "alembic without DATABASE_URL fails and says so"

# ---- the api ------------------------------------------------------------------------------
sql postgres "CREATE DATABASE homeguru" >/dev/null
alembic "$(db_url postgresql homeguru)" upgrade head || fail "alembic upgrade head (homeguru)"
api_version=test-sha-$RANDOM
api_port=$(free_port 21800)
(cd "$api_dir" && DATABASE_URL=$(db_url postgresql+asyncpg homeguru) APP_VERSION=$api_version \
  exec "$py" -m uvicorn app.main:app --host 127.0.0.1 --port "$api_port") >"$work/api.log" 2>&1 &
pids+=($!)
api=http://127.0.0.1:$api_port

# get PATH: the api's answer in $work/body, its status in $status, its time in $took (s).
get() {
  local out
  out=$(curl -s -o "$work/body" -w '%{http_code} %{time_total}' --max-time 30 "$api$1") || true
  status=${out%% *} took=${out#* }
}
health_is() { get /health && [ "$status" = "$1" ]; }
body_has() { jq -e "$1" "$work/body" >/dev/null 2>&1 || fail "$2: $(cat "$work/body")"; }

wait_until 60 health_is 200 || fail "the api's /health is not 200 within 60 s (last: $status)"
body_has ".status == \"ok\" and .version == \"$api_version\" and .db_revision == \"0002\"" "/health"
get /version
[ "$status" = 200 ] || fail "/version answered $status"
body_has ".version == \"$api_version\"" "/version"
get /listings
body_has 'length == 2 and .[0].title != null and .[1].price_eur > 0' "/listings"
pass "api: /health 200 {status ok, version $api_version, db_revision 0002}; /version; /listings"

# A release whose code is ahead of the schema: /health must say so.
alembic "$(db_url postgresql homeguru)" downgrade 0001 || fail "alembic downgrade 0001"
get /health
[ "$status" = 503 ] || fail "/health with the schema at 0001 answered $status, not 503"
body_has '.status == "error" and (.error | startswith("database: ")) and (.error | test("listings"))' \
  "/health with the schema at 0001"
behind=$(jq -r .error "$work/body")
alembic "$(db_url postgresql homeguru)" upgrade head || fail "alembic upgrade head after 0001"
wait_until 60 health_is 200 || fail "/health is not 200 again after upgrade head"
pass "api: /health 503 with the schema at 0001 ($behind), 200 after upgrade head"

# ---- the fake Telegram API ----------------------------------------------------------------
fake_port=$(free_port 21900)
"$py" "$root/deploy/demo/fake_telegram_api.py" --listen "127.0.0.1:$fake_port" --log "$work/fake.log" \
  2>"$work/fake-stderr.log" &
fake_pid=$!
pids+=("$fake_pid")
fake=http://127.0.0.1:$fake_port
fake_up() { curl -s --max-time 5 "$fake/_fake/sent" >/dev/null; }
wait_until 60 fake_up || fail "the fake Telegram API does not answer within 60 s"
out=$(curl -s --max-time 10 -X POST "$fake/bot123:x/frobnicate") || true
jq -e '.ok == false and .error_code == 404 and .description == "Not Found: method not found"' \
  <<<"$out" >/dev/null || fail "the fake API's answer to an unknown method: $out"
pass "fake Telegram API: up; an unknown method gets Telegram's 404"

# ---- the bot: settings ---------------------------------------------------------------------
bot_token=123456:test-token-$RANDOM$RANDOM
rc=0
(cd "$bot_dir" && env -u TELEGRAM_BOT_TOKEN "$py" -m bot) >"$work/no-token.out" 2>&1 || rc=$?
if [ "$rc" != 2 ] || ! grep -q "TELEGRAM_BOT_TOKEN is not set" "$work/no-token.out"; then
  fail "the bot without TELEGRAM_BOT_TOKEN: exit $rc, $(cat "$work/no-token.out")"
fi
rc=0
(cd "$bot_dir" && TELEGRAM_BOT_TOKEN=$bot_token HEARTBEAT_MODE=push \
  env -u PROBE_HEARTBEAT_URL "$py" -m bot) >"$work/no-url.out" 2>&1 || rc=$?
if [ "$rc" != 2 ] || ! grep -q "PROBE_HEARTBEAT_URL" "$work/no-url.out"; then
  fail "the bot in push mode without PROBE_HEARTBEAT_URL: exit $rc, $(cat "$work/no-url.out")"
fi
pass "bot: exit 2 with a message without TELEGRAM_BOT_TOKEN, and in push mode without PROBE_HEARTBEAT_URL"

# start_bot LOG NAME=VALUE...: the bot against the fake API, a beat every second, no
# DATABASE_URL unless given; sets bot_pid.
start_bot() {
  local log=$1
  shift
  (cd "$bot_dir" && exec env -u DATABASE_URL TELEGRAM_BOT_TOKEN="$bot_token" TELEGRAM_API_URL="$fake/bot" \
    TELEGRAM_POLL_TIMEOUT=5 HEARTBEAT_INTERVAL=1 "$@" "$py" -m bot) >"$log" 2>&1 &
  bot_pid=$!
  pids+=("$bot_pid")
}

# stop_bot: SIGTERM, then it must be gone within 10 s, with exit status 0.
stop_bot() {
  local from=$SECONDS rc=0
  kill -TERM "$bot_pid"
  wait_gone 10 "$bot_pid" || fail "the bot (pid $bot_pid) still runs 10 s after SIGTERM"
  wait "$bot_pid" || rc=$?
  [ "$rc" = 0 ] || fail "the bot exited $rc after SIGTERM"
  stopped_in=$((SECONDS - from))
}

# ---- the bot: postgres heartbeat, commands ------------------------------------------------
bot_version=bot-sha-$RANDOM
start_bot "$work/bot.log" DATABASE_URL="$(db_url postgres homeguru)" BOT_ID=test-bot \
  APP_VERSION="$bot_version"
beats() { sql homeguru "SELECT coalesce(max(beats), 0) FROM bot_heartbeats WHERE bot_id = 'test-bot'"; }
beats_over() { [ "$(beats)" -gt "$1" ]; }
wait_until 60 beats_over 0 || fail "no heartbeat row for test-bot within 60 s"
first=$(beats)
wait_until 60 beats_over $((first + 2)) || fail "beats did not grow past $((first + 2)) within 60 s (at $(beats))"
[ "$(sql homeguru "SELECT count(*) FROM bot_heartbeats")" = 1 ] ||
  fail "bot_heartbeats has $(sql homeguru "SELECT count(*) FROM bot_heartbeats") rows, not 1"
age=$(sql homeguru "SELECT extract(epoch FROM now() - max(seen_at))::int FROM bot_heartbeats")
pass "bot: one heartbeat row for test-bot after $(beats) beats (probe's max(seen_at) is ${age}s old)"

# say TEXT: a user message to the bot, through the fake API.
say() {
  curl -s --max-time 10 -X POST -H 'Content-Type: application/json' \
    -d "{\"text\": \"$1\", \"chat_id\": 42}" "$fake/_fake/updates" >/dev/null ||
    fail "cannot queue '$1' at the fake API"
}
replied() {
  curl -s --max-time 10 "$fake/_fake/sent" >"$work/sent.json" || return 1
  jq -e --arg text "$1" 'any(.[]; .chat.id == 42 and (.text | contains($text)))' "$work/sent.json" >/dev/null
}
say /start
wait_until 60 replied "Hello from HomeGuru" || fail "no reply to /start within 60 s: $(cat "$work/sent.json")"
say /status
wait_until 60 replied "homeguru-bot $bot_version; last heartbeat: 20" ||
  fail "no /status reply with the version and a heartbeat time within 60 s: $(cat "$work/sent.json")"
pass "bot: /start and /status answered through the fake Telegram API (/status: $(jq -r '.[-1].text' "$work/sent.json"))"

# ---- the database goes away ---------------------------------------------------------------
before=$(beats)
pg_stop
get /health
[ "$status" = 503 ] || fail "/health with the database stopped answered $status, not 503"
awk -v t="$took" 'BEGIN { exit !(t < 15) }' || fail "/health took ${took}s with the database stopped (bound: 15 s)"
body_has '.status == "error" and (.error | startswith("database: "))' "/health with the database stopped"
grep -qF -- "$PG_PASSWORD" "$work/body" && fail "/health's error holds the password"
grep -qF -- "://" "$work/body" && fail "/health's error holds a URL: $(cat "$work/body")"
pass "api: /health 503 in ${took}s with the database stopped ($(jq -r .error "$work/body"))"

beat_failed() { grep -q "heartbeat to .* failed" "$work/bot.log"; }
wait_until 60 beat_failed || fail "the bot logged no failed heartbeat within 60 s of the database stopping"
alive "$bot_pid" || fail "the bot died with the database"
pg_restart || fail "PostgreSQL did not start again on port $PG_PORT"
wait_until 60 health_is 200 || fail "/health is not 200 within 60 s of the database's return (last: $status)"
wait_until 60 beats_over "$before" || fail "the bot's beats did not resume within 60 s of the database's return"
pass "bot: failed beats logged while the database was down, still running, beats resumed ($before -> $(beats)); api back to 200"

stop_bot
pass "bot: gone ${stopped_in}s after SIGTERM (postgres mode), exit 0"

# ---- push mode ----------------------------------------------------------------------------
# A stand-in for probe's POST /heartbeat/{target}: records method, path, Authorization and body length.
cat >"$work/recorder.py" <<'PY'
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Recorder(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        with open(sys.argv[2], "a") as out:
            print("POST", self.path, self.headers.get("Authorization"), length, file=out, flush=True)
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Recorder).serve_forever()
PY
push_port=$(free_port 22000)
"$py" "$work/recorder.py" "$push_port" "$work/pushes" 2>"$work/recorder.log" &
pids+=($!)
push_token=push-token-$RANDOM$RANDOM
recorder_up() { curl -s --max-time 5 -X POST "http://127.0.0.1:$push_port/up" >/dev/null; }
wait_until 60 recorder_up || fail "the push recorder does not answer within 60 s"
# No DATABASE_URL (start_bot): push mode needs none.
start_bot "$work/bot-push.log" HEARTBEAT_MODE=push PROBE_HEARTBEAT_TOKEN="$push_token" \
  PROBE_HEARTBEAT_URL="http://127.0.0.1:$push_port/heartbeat/bot"
pushes() { grep -c "^POST /heartbeat/bot Bearer $push_token 0$" "$work/pushes" 2>/dev/null || true; }
pushed() { [ "$(pushes)" -ge 3 ]; }
wait_until 60 pushed || fail "fewer than 3 heartbeat POSTs within 60 s: $(cat "$work/pushes" 2>/dev/null)"
stop_bot
pass "bot: push mode, $(pushes) POSTs to /heartbeat/bot with 'Authorization: Bearer <token>' and an empty body; gone ${stopped_in}s after SIGTERM"

# ---- no secrets in the logs; the fake API stops on SIGTERM ---------------------------------
kill -TERM "$fake_pid"
wait_gone 10 "$fake_pid" || fail "the fake Telegram API still runs 10 s after SIGTERM"
rc=0
wait "$fake_pid" || rc=$?
[ "$rc" = 0 ] || fail "the fake Telegram API exited $rc after SIGTERM"
for log in alembic.log api.log bot.log bot-push.log fake.log; do
  for secret in "$PG_PASSWORD" "$bot_token" "$push_token"; do
    grep -qF -- "$secret" "$work/$log" && fail "$log holds a secret (${secret:0:12}...)"
  done
done
calls=$(grep -cE ' (getMe|deleteWebhook|getUpdates|sendMessage)' "$work/fake.log" || true)
pass "no password or token in the logs of alembic, the api, the bot and the fake API ($calls Bot API calls logged); the fake API exits 0 on SIGTERM"

echo "test_reference_apps: all passed in $((SECONDS - started_at)) s"
