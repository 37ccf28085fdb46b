#!/usr/bin/env bash
# The demo: installs what it needs, builds probe, starts a local HomeGuru stack of the reference
# apps (deploy/apps/: PostgreSQL with the api's Alembic migrations applied, the FastAPI api on
# uvicorn, the python-telegram-bot bot against a local fake Telegram Bot API, the Next.js
# frontend) on loopback ports, and runs `probe serve` against it until Ctrl-C. Everything it
# starts, it stops.
#
#   deploy/demo/run.sh                 serve the status page, /metrics, /ready and /status
#                                      until Ctrl-C
#   deploy/demo/run.sh --once          start the stack, run `probe check --format json` once,
#                                      stop, and exit with probe's exit code
#   deploy/demo/run.sh --rollback-demo deploy a release whose migration changes the schema and
#                                      whose api then fails /health; probe rolls it back (the
#                                      hook downgrades with Alembic and restarts the previous
#                                      release); prints the revision before, during and after
#                                      and the audit log, stops; exit 0 when it went so
#
# Progress goes to stderr ("demo: ..."); the first run spends minutes installing and building
# (probe, and the frontend with pnpm). Ctrl-C or SIGTERM at any moment, even during the build
# or while PostgreSQL starts, stops everything it started and removes its temporary directory
# ($TMPDIR/probe-demo.*, printed at the start): the cleanup runs on every way out and goes on
# past whatever is already gone.
set -euo pipefail

usage() { sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
once=false
rollback_demo=false
case "${1:-}" in
  --once) once=true ;;
  --rollback-demo) rollback_demo=true ;;
  -h | --help) usage; exit 0 ;;
  "") ;;
  *) usage >&2; exit 2 ;;
esac

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/deps.sh
source "$root/tests/lib/deps.sh"
# shellcheck source=deploy/demo/stack.sh
source "$root/deploy/demo/stack.sh"
say() { echo "demo: $*" >&2; }

say "checking the Debian packages it needs"
install_packages "${PROBE_BUILD_PACKAGES[@]}" "${PROBE_APP_PACKAGES[@]}" postgresql curl
install_npm # the frontend's build: pnpm and Next.js come from the npm registry

# From here on everything started is stopped, and the directory removed, however the script
# ends. Each step tolerates a pid file that is missing and a process that is already gone, and
# a second Ctrl-C does not cut the cleanup short.
work=$(mktemp -d "${TMPDIR:-/tmp}/probe-demo.XXXXXX")
serve_pid=
cleanup() {
  set +e
  trap '' INT TERM
  if [ -n "$serve_pid" ]; then
    kill "$serve_pid" 2>/dev/null
    wait "$serve_pid" 2>/dev/null
  fi
  demo_stop
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
say "working in $work"

build_dir=${PROBE_BUILD_DIR:-$root/build}
say "building probe (first run takes a few minutes) in $build_dir, log in $work/build.log"
build_started=$SECONDS
# cmake's "[ 42%]" (make) or "[12/80]" (ninja) lines, shown at every tenth of the way.
build_probe_targets "$root" "$build_dir" probe 2>&1 | tee "$work/build.log" | awk '
  match($0, /^\[ *[0-9]+%\]/) { done = substr($0, 2, RLENGTH - 3) + 0 }
  match($0, /^\[[0-9]+\/[0-9]+\]/) { split(substr($0, 2, RLENGTH - 2), n, "/"); done = int(100 * n[1] / n[2]) }
  done >= shown + 10 { shown = done - done % 10; printf "demo: building ... %d%%\n", shown > "/dev/stderr"; fflush("/dev/stderr") }' ||
  { tail -n 30 "$work/build.log" >&2; say "the build failed (log above)"; exit 1; }
say "built in $((SECONDS - build_started)) s"
probe=$build_dir/probe
config=$root/deploy/demo/probe.yaml

say "building the frontend (the first time: pnpm install and next build), then starting PostgreSQL, the api, the bot and the frontend"
demo_start "$work" "$build_dir"

if $once; then
  set +e
  "$probe" check --config "$config" --format json
  status=$?
  set -e
  exit "$status"
fi

if $rollback_demo; then
  # What deploy.sh does on a server, with release.sh standing in for Docker Compose: the images
  # are releases of deploy/apps/, the migrations real Alembic runs.
  step() { echo "+ $*" >&2; }
  revision() { "$DEMO_RELEASE_SH" revision; }
  running() { curl -s "$API_URL/version" | sed -n 's/.*"version": *"\([^"]*\)".*/\1/p'; }
  before=$(revision)
  say "release 1a2b3c4 runs; the schema is at revision $before"
  step "probe deploy verify --sha 1a2b3c4"
  "$probe" deploy verify --config "$config" --sha 1a2b3c4 --actor demo
  step "release.sh build e4f5a6b bad-code   # migration 0003 renames a column; its api reads another"
  "$DEMO_RELEASE_SH" build e4f5a6b bad-code
  step "release.sh alembic e4f5a6b upgrade head && release.sh up e4f5a6b   # the deploy"
  "$DEMO_RELEASE_SH" alembic e4f5a6b upgrade head 2>&1 | sed 's/^/  alembic: /' >&2
  during=$(revision)
  "$DEMO_RELEASE_SH" up e4f5a6b
  say "e4f5a6b runs; the schema is at revision $during; its /health: $(curl -s "$API_URL/health")"
  step "probe deploy verify --sha e4f5a6b   # fails; the hook: alembic downgrade $before, then 1a2b3c4"
  set +e
  "$probe" deploy verify --config "$config" --sha e4f5a6b --actor demo
  status=$?
  set -e
  after=$(revision)
  echo "probe deploy verify exited $status (3: failed and rolled back healthy)" >&2
  step "probe deploy list"
  "$probe" deploy list --config "$config"
  echo "schema revision: before $before, during $during, after $after; the api runs $(running)" >&2
  [ "$status" = 3 ] && [ "$(running)" = 1a2b3c4 ] && [ "$before" = "$after" ] && [ "$during" != "$before" ]
  exit
fi

export -p | grep -E ' (DATABASE_URL|API_URL|FRONTEND_URL|TELEGRAM_API_URL|PROBE_[A-Z_]+|DEMO_[A-Z_]+|HEARTBEAT_INTERVAL)=' >"$work/env.sh"
"$probe" serve --config "$config" &
serve_pid=$!
echo "$serve_pid" >"$work/serve.pid"
demo_wait_port "$PROBE_PORT"
cat >&2 <<MSG

demo: probe serve is checking the stack every 5 s:
  page     http://127.0.0.1:$PROBE_PORT/          (the status page, for a browser)
  metrics  http://127.0.0.1:$PROBE_PORT/metrics
  ready    http://127.0.0.1:$PROBE_PORT/ready
  status   http://127.0.0.1:$PROBE_PORT/status
  the api  $API_URL/health    the frontend  $FRONTEND_URL/
Try, in another terminal (the variables are in $work/env.sh):
  source $work/env.sh
  kill \$(cat \$DEMO_WORK/api.pid)     # the api goes DOWN after 3 failed checks; /ready turns 503
  deploy/demo/release.sh up 1a2b3c4   # the api back
  $probe deploy verify --config $config --sha 1a2b3c4   # 1a2b3c4 recorded as good
  deploy/demo/release.sh build e4f5a6b bad-code && deploy/demo/release.sh alembic e4f5a6b upgrade head \\
    && deploy/demo/release.sh up e4f5a6b && $probe deploy verify --config $config --sha e4f5a6b  # rolls back
  deploy/demo/release.sh revision; $probe deploy list --config $config
Ctrl-C stops everything.

MSG
wait "$serve_pid"
