#!/usr/bin/env bash
# Releases of the reference apps (deploy/apps/) run as local processes: what `docker compose`
# does with an image tag on a server, done here where no Docker engine runs. The demo runs it,
# and so does the stand-in `docker` of the deploy tests (tests/shell/lib/fake_docker.sh), so the
# deploy and rollback scripts meet the real api (uvicorn), bot (python-telegram-bot) and
# frontend (Next.js), and real Alembic migrations on a real PostgreSQL.
#
#   release.sh build TAG [OVERLAY]   the "image" TAG: a copy of deploy/apps/{api,bot} in
#                                    $DEMO_WORK/releases/TAG; OVERLAY (bad-code, bad-downgrade)
#                                    copies deploy/demo/releases/OVERLAY/ over it: a bad release
#                                    (deploy/demo/releases/README.md)
#   release.sh has TAG               exit 0 when the image TAG exists (as a registry would)
#   release.sh up TAG                (re)starts api, bot and frontend as release TAG, like
#                                    `IMAGE_TAG=TAG docker compose up -d`
#   release.sh alembic TAG ARGS...   Alembic with TAG's migrations, like
#                                    `IMAGE_TAG=TAG docker compose run --rm api alembic ARGS`
#   release.sh rollback PREVIOUS     the demo's rollback hook: the schema back to
#                                    $PROBE_DB_REVISION with $PROBE_FAILED_SHA's migrations (the
#                                    only ones that know the way down), then `up PREVIOUS`
#   release.sh revision              the database's Alembic revision ("none" before any)
#   release.sh stop [SERVICE...]     stops api, bot and frontend (or those named)
#
# Environment: DEMO_WORK (state: releases/, *.pid, *.log), DATABASE_URL (any form the apps and
# probe take, e.g. postgresql+psycopg2://), DEMO_API_PORT, DEMO_FRONTEND_PORT, TELEGRAM_API_URL
# (the fake Bot API), DEMO_FRONTEND_SERVER (the built frontend's server.js; without it no
# frontend runs), HEARTBEAT_INTERVAL (the bot's, seconds). Waits are bounded at 60 s each.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/lib/procs.sh
source "$root/tests/lib/procs.sh"
python=${DEMO_PYTHON:-/usr/bin/python3}
work=${DEMO_WORK:?release.sh: DEMO_WORK is not set}
releases=$work/releases

say() { echo "release.sh: $*" >&2; }
die() { say "$*"; exit 1; }

# The tag rule of deploy/scripts/lib.sh: a tag becomes a directory name here.
valid_tag() { [[ $1 =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]]; }
need_release() {
  valid_tag "$1" || die "not an image tag: $(printf '%q' "$1")"
  [ -d "$releases/$1" ] || die "no image for tag $1 (release.sh build $1 makes one)"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Stops the process in pid file $1 (if any) and waits for it to go.
stop_pidfile() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 0
  rm -f "$1"
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || return 0
  wait_gone 60 "$pid" || die "pid $pid ($1) did not stop within 60 s"
}

# Starts NAME (api, bot, frontend) in the background from directory $2 with command $3...;
# its pid goes to $DEMO_WORK/NAME.pid, its output to NAME.log.
start() {
  local name=$1 dir=$2
  shift 2
  (cd "$dir" && exec nohup "$@" </dev/null >>"$work/$name.log" 2>&1) &
  echo $! >"$work/$name.pid"
}

# Fails when something else listens on port $2, where NAME ($1) is to start: it would answer
# in the release's place.
port_free() {
  ! port_open "$2" || die "127.0.0.1:$2, where the $1 starts, is taken by another process"
}

# Waits until NAME ($1) answers at URL $2 as release $3 (its JSON names its version), or its
# process is gone; fails naming its log. The version, not an open port, tells that the
# process started is the one answering.
await_release() {
  local name=$1 url=$2 tag=$3 pid
  pid=$(cat "$work/$name.pid")
  # shellcheck disable=SC2317 # called through wait_until
  answers() { curl -s --max-time 5 "$url" 2>/dev/null | grep -q "\"version\": *\"$tag\""; }
  # shellcheck disable=SC2317
  answers_or_gone() { answers || ! alive "$pid"; }
  wait_until 60 answers_or_gone || true
  answers && alive "$pid" && return 0
  die "the $name did not start as $tag at $url: $(tail -n 5 "$work/$name.log")"
}

build() {
  local tag=$1 overlay=${2:-}
  valid_tag "$tag" || die "not an image tag: $(printf '%q' "$tag")"
  if [ -n "$overlay" ] && { ! [[ $overlay =~ ^[a-z-]+$ ]] || [ ! -d "$here/releases/$overlay" ]; }; then
    die "build: no overlay $overlay in $here/releases"
  fi
  rm -rf "$releases/$tag.tmp"
  mkdir -p "$releases/$tag.tmp"
  cp -R "$root/deploy/apps/api" "$root/deploy/apps/bot" "$releases/$tag.tmp/"
  [ -z "$overlay" ] || cp -R "$here/releases/$overlay/." "$releases/$tag.tmp/"
  find "$releases/$tag.tmp" -name __pycache__ -prune -exec rm -rf {} +
  echo "$tag" >"$releases/$tag.tmp/TAG"
  rm -rf "${releases:?}/$tag"
  mv "$releases/$tag.tmp" "$releases/$tag"
}

up() {
  local tag=$1
  need_release "$tag"
  stop_pidfile "$work/api.pid"
  stop_pidfile "$work/bot.pid"
  port_free api "${DEMO_API_PORT:?}"
  start api "$releases/$tag/api" env APP_VERSION="$tag" DATABASE_URL="$DATABASE_URL" \
    "$python" -m uvicorn app.main:app --host 127.0.0.1 --port "${DEMO_API_PORT:?}"
  start bot "$releases/$tag/bot" env APP_VERSION="$tag" DATABASE_URL="$DATABASE_URL" \
    TELEGRAM_BOT_TOKEN="${TELEGRAM_BOT_TOKEN:-123456:demo-token}" \
    TELEGRAM_API_URL="${TELEGRAM_API_URL:?}" HEARTBEAT_INTERVAL="${HEARTBEAT_INTERVAL:-2}" \
    "$python" -m bot
  if [ -n "${DEMO_FRONTEND_SERVER:-}" ]; then
    stop_pidfile "$work/frontend.pid"
    port_free frontend "${DEMO_FRONTEND_PORT:?}"
    start frontend "$(dirname "$DEMO_FRONTEND_SERVER")" env APP_VERSION="$tag" \
      PORT="${DEMO_FRONTEND_PORT:?}" HOSTNAME=127.0.0.1 NEXT_TELEMETRY_DISABLED=1 \
      node "$DEMO_FRONTEND_SERVER"
    await_release frontend "http://127.0.0.1:$DEMO_FRONTEND_PORT/api/health" "$tag"
  fi
  await_release api "http://127.0.0.1:$DEMO_API_PORT/version" "$tag"
  alive "$(cat "$work/bot.pid")" || die "the bot exited at once: $(tail -n 5 "$work/bot.log")"
}

run_alembic() {
  local tag=$1
  shift
  need_release "$tag"
  (cd "$releases/$tag/api" && DATABASE_URL=$DATABASE_URL "$python" -m alembic "$@")
}

rollback() {
  local previous=$1
  need_release "$previous"
  if [ -n "${PROBE_DB_REVISION:-}" ]; then
    need_release "${PROBE_FAILED_SHA:?the downgrade needs PROBE_FAILED_SHA, the release that runs now}"
    say "schema back to $PROBE_DB_REVISION with $PROBE_FAILED_SHA's migrations"
    run_alembic "$PROBE_FAILED_SHA" downgrade "$PROBE_DB_REVISION"
  fi
  say "starting $previous"
  up "$previous"
}

revision() {
  local current
  current=$(cd "$root/deploy/apps/api" && DATABASE_URL=$DATABASE_URL "$python" - <<'PY'
import sqlalchemy
from app.db import engine_url
import os
engine = sqlalchemy.create_engine(engine_url(os.environ["DATABASE_URL"]))
with engine.connect() as connection:
    exists = connection.execute(sqlalchemy.text("SELECT to_regclass('alembic_version') IS NOT NULL")).scalar()
    row = connection.execute(sqlalchemy.text("SELECT version_num FROM alembic_version")).first() if exists else None
print(row[0] if row else "none")
PY
  )
  echo "$current"
}

case "${1:-}" in
  build) [ $# = 2 ] || [ $# = 3 ] || die "usage: release.sh build TAG [OVERLAY]"; build "$2" "${3:-}" ;;
  has) [ $# = 2 ] && valid_tag "$2" && [ -d "$releases/$2" ] ;;
  up) [ $# = 2 ] || die "usage: release.sh up TAG"; up "$2" ;;
  alembic) [ $# -ge 3 ] || die "usage: release.sh alembic TAG ARGS..."; tag=$2; shift 2; run_alembic "$tag" "$@" ;;
  rollback) [ $# = 2 ] || die "usage: release.sh rollback PREVIOUS"; rollback "$2" ;;
  revision) revision ;;
  stop)
    shift
    [ $# -gt 0 ] || set -- frontend bot api
    for service in "$@"; do
      [[ $service =~ ^(api|bot|frontend)$ ]] || die "stop: no service $service"
      stop_pidfile "$work/$service.pid"
    done
    ;;
  *) sed -n '2,28p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
