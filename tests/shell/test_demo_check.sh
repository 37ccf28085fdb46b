#!/usr/bin/env bash
# `probe check` against the demo stack of the reference apps (the real api, bot and frontend, the
# api's migrations on a real PostgreSQL): all four targets pass (exit 0); with the api stopped
# it exits 1 naming api and its error; a misspelled key exits 2 with file:line:col;
# deploy/demo/run.sh --once works end to end; and the README's rollback walk-through
# (deploy/demo/run.sh --rollback-demo) crosses a real migration (0002 -> 0003) and back.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir=${PROBE_BUILD_DIR:-$root/build}
probe=$build_dir/probe
# shellcheck source=deploy/demo/stack.sh
source "$root/deploy/demo/stack.sh"

work=$(mktemp -d /tmp/probe-shell.XXXXXX)
chmod 755 "$work" # the PostgreSQL server runs as the postgres user
trap 'demo_stop; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
fail() { echo "FAIL: $*" >&2; exit 1; }

demo_random_ports
demo_start "$work/stack" "$build_dir"
config=$root/deploy/demo/probe.yaml

# 1. Everything up: exit 0, four targets, all ok.
out=$("$probe" check --config "$config" --format json) || fail "exit $? with the stack up: $out"
[ "$(jq '.targets | length' <<<"$out")" = 4 ] || fail "expected 4 targets: $out"
[ "$(jq '[.targets[] | select(.ok)] | length' <<<"$out")" = 4 ] || fail "not all ok: $out"
[ "$(jq -r '[.targets[].name] | join(",")' <<<"$out")" = "db,api,frontend,bot" ] || fail "$out"

# 2. The api stopped: exit 1, naming api and why.
api_pid=$(demo_api_pid)
kill "$api_pid"
wait_gone 60 "$api_pid" || fail "the api (pid $api_pid) did not stop"
set +e
out=$("$probe" check --config "$config" --format json)
status=$?
text=$("$probe" check --config "$config")
set -e
[ "$status" = 1 ] || fail "expected exit 1 with the api down, got $status"
[ "$(jq -r '.targets[] | select(.ok | not) | .name' <<<"$out")" = api ] || fail "$out"
jq -e '.targets[] | select(.name == "api") | .error | test("Connection refused")' <<<"$out" >/dev/null \
  || fail "api's error is not named: $out"
grep -q "critical failing: api" <<<"$text" || fail "text report does not name api: $text"

# 3. A misspelled key: exit 2 and FILE:LINE:COL: field.
# shellcheck disable=SC2016 # ${FRONTEND_URL} is the config's text, not a shell variable
sed 's/    url: "${FRONTEND_URL}\/"/    ur: "${FRONTEND_URL}\/"/' "$config" >"$work/typo.yaml"
set +e
err=$("$probe" check --config "$work/typo.yaml" 2>&1 >/dev/null)
status=$?
set -e
[ "$status" = 2 ] || fail "expected exit 2 for a misspelled key, got $status"
grep -Eq "^$work/typo.yaml:[0-9]+:[0-9]+: targets\[2\]\.ur: unknown key" <<<"$err" \
  || fail "unexpected message: $err"

demo_stop

# 4. The README's demo command, once.
PROBE_BUILD_DIR=$build_dir "$root/deploy/demo/run.sh" --once >"$work/once.json" \
  || fail "deploy/demo/run.sh --once exited $?"
[ "$(jq '[.targets[] | select(.ok)] | length' "$work/once.json")" = 4 ] || fail "$(cat "$work/once.json")"

# 5. The README's failed-deploy walk-through: a good tag, a bad one rolled back (exit 3 inside).
PROBE_BUILD_DIR=$build_dir "$root/deploy/demo/run.sh" --rollback-demo >"$work/rollback.txt" 2>&1 \
  || fail "deploy/demo/run.sh --rollback-demo: $(cat "$work/rollback.txt")"
grep -q "rollback_succeeded *1a2b3c4 (from e4f5a6b)" "$work/rollback.txt" || fail "$(cat "$work/rollback.txt")"
grep -q "schema revision: before 0002, during 0003, after 0002; the api runs 1a2b3c4" "$work/rollback.txt" \
  || fail "the revisions are not shown: $(cat "$work/rollback.txt")"
echo "demo check: ok"
