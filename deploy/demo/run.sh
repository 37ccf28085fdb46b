#!/usr/bin/env bash
# The demo: installs what it needs, builds probe, starts a local stand-in of the HomeGuru stack
# (PostgreSQL, an api with /health, a frontend, a bot that leaves heartbeats in PostgreSQL) on
# loopback ports, and runs `probe serve` against it until Ctrl-C. Everything it starts, it stops.
#
#   deploy/demo/run.sh           serve /metrics, /ready and /status until Ctrl-C
#   deploy/demo/run.sh --once    start the stack, run `probe check --format json` once, stop,
#                                and exit with probe's exit code
set -euo pipefail

usage() { sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
once=false
case "${1:-}" in
  --once) once=true ;;
  -h | --help) usage; exit 0 ;;
  "") ;;
  *) usage >&2; exit 2 ;;
esac

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/deps.sh
source "$root/tests/lib/deps.sh"
# shellcheck source=deploy/demo/stack.sh
source "$root/deploy/demo/stack.sh"

install_packages "${PROBE_BUILD_PACKAGES[@]}" postgresql postgresql-client
build_dir=${PROBE_BUILD_DIR:-$root/build}
build_probe "$root" "$build_dir" >/dev/null
probe=$build_dir/probe
config=$root/deploy/demo/probe.yaml

work=$(mktemp -d /tmp/probe-demo.XXXXXX)
serve_pid=
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  demo_stop
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "demo: starting PostgreSQL, the api, the frontend and the bot" >&2
demo_start "$work" "$build_dir"

if $once; then
  set +e
  "$probe" check --config "$config" --format json
  status=$?
  set -e
  exit "$status"
fi

"$probe" serve --config "$config" &
serve_pid=$!
demo_wait_port "$PROBE_PORT"
cat >&2 <<MSG

demo: probe serve is checking the stack every 5 s:
  metrics  http://127.0.0.1:$PROBE_PORT/metrics
  ready    http://127.0.0.1:$PROBE_PORT/ready
  status   http://127.0.0.1:$PROBE_PORT/status
Try: kill $DEMO_API_PID   (the api goes DOWN after 3 failed checks; /ready turns 503)
     $probe check --config $config   (with the variables this script exported)
Ctrl-C stops everything.

MSG
wait "$serve_pid"
