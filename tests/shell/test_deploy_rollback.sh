#!/usr/bin/env bash
# The deploy path end to end, with a real PostgreSQL, a real hook and a stand-in api whose
# version the hook switches: a good deploy; a bad deploy rolled back to the previous good SHA
# (exit 3) with the audit log in order; a hook that hangs killed with its children (exit 4);
# two verifies at once (exit 5, nothing recorded); hostile SHAs refused before any hook (exit 2);
# PostgreSQL down -> journal -> replayed once; a torn journal line skipped. Processes are
# stopped and checked by the pids they wrote down, never by name; waits are for events
# (an event recorded, a process gone), bounded generously.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir=${PROBE_BUILD_DIR:-$root/build}
probe=$build_dir/probe
export DEMO_STANDIN=$build_dir/tests/probe-standin
# shellcheck source=tests/lib/pg.sh
source "$root/tests/lib/pg.sh"
# shellcheck source=tests/lib/procs.sh
source "$root/tests/lib/procs.sh"

work=$(mktemp -d /tmp/probe-deploy.XXXXXX)
chmod 755 "$work"
export DEMO_WORK=$work
cleanup() {
  local pid
  # The api (its pid file goes with it), and what is left of the hanging hook's process group
  # (the hook's own pid) when the test failed before it was gone.
  if pid=$(cat "$work/api.pid" 2>/dev/null); then kill "$pid" 2>/dev/null || true; fi
  if pid=$(head -n 1 "$work/hook.pids" 2>/dev/null); then kill -KILL -- "-$pid" 2>/dev/null || true; fi
  stop_started
  pg_stop || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

pg_start "$work/pg"
DEMO_API_PORT=$(free_port 28000)
export DEMO_API_PORT
# The hook's environment is an allow-list; standin_api.sh needs these beyond it.
export PROBE_HOOK_ENV="DEMO_WORK DEMO_STANDIN DEMO_API_PORT"
hook=$root/tests/shell/lib/standin_api.sh

write_config() { # $1 = rollback command as a YAML flow list, $2 = rollback timeout
  cat >"$work/probe.yaml" <<YAML
defaults: {interval: 1s, timeout: 500ms}
targets:
  - {name: api, type: http, url: "http://127.0.0.1:$DEMO_API_PORT/health"}
gate: {timeout: 6s, consecutive_successes: 2, poll_interval: 100ms}
deploy:
  dsn: "$PG_DSN"
  journal: "$work/state/journal.jsonl"
  rollback: {command: $1, timeout: $2}
YAML
}
write_config "[\"$hook\", \"{previous_sha}\"]" 60s
kinds() { pg_psql -Atc "SELECT string_agg(kind || ':' || sha, ' ' ORDER BY id) FROM probe_deploy_events"; }
started_count() { pg_psql -Atc "SELECT count(*) FROM probe_deploy_events WHERE kind = 'deploy_started'"; }
# Whether a verify started after `started_count` printed $1 holds the lock: it records
# deploy_started once it has the lock.
holds_lock() { [ "$(started_count)" -gt "$1" ]; }
verify() { # args -> exit code in $status, stderr in $work/verify.err
  set +e
  "$probe" deploy verify --config "$work/probe.yaml" "$@" 2>"$work/verify.err"
  status=$?
  set -e
}

# 1. A good deploy of aaaaaaa.
"$hook" aaaaaaa
verify --sha aaaaaaa
[ "$status" = 0 ] || fail "good deploy exited $status: $(cat "$work/verify.err")"
[ "$(kinds)" = "deploy_started:aaaaaaa deploy_succeeded:aaaaaaa" ] || fail "log: $(kinds)"
pass "good deploy exit 0"

# 2. A bad deploy rolls back to aaaaaaa: the hook runs with it, the api is healthy again.
"$hook" bad
verify --sha bad
[ "$status" = 3 ] || fail "bad deploy exited $status, want 3: $(cat "$work/verify.err")"
[ "$(kinds)" = "deploy_started:aaaaaaa deploy_succeeded:aaaaaaa deploy_started:bad deploy_failed:bad rollback_started:aaaaaaa rollback_succeeded:aaaaaaa" ] \
  || fail "log: $(kinds)"
[ "$(tail -n 1 "$work/hook.log")" = aaaaaaa ] || fail "hook ran with $(tail -n 1 "$work/hook.log")"
[ "$(curl -s "http://127.0.0.1:$DEMO_API_PORT/version")" = aaaaaaa ] || fail "api runs $(curl -s "http://127.0.0.1:$DEMO_API_PORT/version")"
pg_psql -Atc "SELECT details->'failing'->0->>'target' FROM probe_deploy_events WHERE kind='deploy_failed'" | grep -qx api \
  || fail "deploy_failed does not name api"
[ "$("$probe" deploy list --config "$work/probe.yaml" --format json | jq -r '.events[0].kind')" = rollback_succeeded ] \
  || fail "deploy list is not newest first"
pass "bad deploy rolled back, exit 3, log in order"

# 3. Hostile SHAs are refused before anything runs.
# shellcheck disable=SC2016 # the literal text $(id) is the attack being refused
for sha in 'a;rm -rf /' '$(id)' '../etc' '-rf' ''; do
  verify --sha "$sha"
  [ "$status" = 2 ] || fail "sha '$sha' exited $status"
done
[ "$(tail -n 1 "$work/hook.log")" = aaaaaaa ] || fail "a hook ran for a hostile SHA"
pass "hostile SHAs exit 2, no hook"

# 4. A hook that hangs is killed at its timeout with its children: exit 4. The hook writes down
# its own pid and its two children's, which the test checks (and the cleanup stops).
cat >"$work/hanging_hook.sh" <<HOOK
#!/bin/sh
echo \$\$ >>"$work/hook.pids"
sleep 31 &
echo \$! >>"$work/hook.pids"
sleep 31 &
echo \$! >>"$work/hook.pids"
wait
HOOK
chmod +x "$work/hanging_hook.sh"
write_config "[\"$work/hanging_hook.sh\"]" 1s
"$hook" bad
verify --sha bad --previous aaaaaaa
[ "$status" = 4 ] || fail "hanging hook exited $status, want 4: $(cat "$work/verify.err")"
mapfile -t hook_pids <"$work/hook.pids"
[ "${#hook_pids[@]}" = 3 ] || fail "the hook wrote ${#hook_pids[@]} pids: ${hook_pids[*]}"
wait_gone 30 "${hook_pids[@]}" || fail "the hook or its children survived: $(cat "$work/hook.pids")"
pg_psql -Atc "SELECT details->>'timed_out' FROM probe_deploy_events WHERE kind='rollback_failed' ORDER BY id DESC LIMIT 1" | grep -qx true \
  || fail "rollback_failed does not say timed_out"
pass "hanging hook killed with its children, exit 4"

# 5. Two verifies at once: the second gets exit 5 and records nothing. The first holds the lock
# for its whole gate (the api is bad: 6 s) once it has recorded deploy_started.
write_config "[\"$hook\", \"{previous_sha}\"]" 60s
before=$(pg_psql -Atc "SELECT count(*) FROM probe_deploy_events")
started_before=$(started_count)
"$probe" deploy verify --config "$work/probe.yaml" --sha bad --previous aaaaaaa 2>/dev/null &
first=$!
pids+=("$first")
wait_until 60 holds_lock "$started_before" || fail "the first verify recorded no deploy_started"
verify --sha ccccccc
[ "$status" = 5 ] || fail "second verify exited $status, want 5"
[ "$(pg_psql -Atc "SELECT count(*) FROM probe_deploy_events WHERE sha='ccccccc'")" = 0 ] || fail "locked verify recorded"
wait "$first" || true
pids=()
[ "$(pg_psql -Atc "SELECT count(*) FROM probe_deploy_events")" -gt "$before" ] || fail "first verify recorded nothing"
pass "concurrent verify exit 5"

# 5b. A lock held by a dead process never blocks: kill -9 a verify mid-gate, then verify again.
"$hook" bad # so the doomed verify is still gating when it dies
started_before=$(started_count)
"$probe" deploy verify --config "$work/probe.yaml" --sha bad --previous aaaaaaa 2>/dev/null &
doomed=$!
pids+=("$doomed")
wait_until 60 holds_lock "$started_before" || fail "the doomed verify recorded no deploy_started"
kill -9 "$doomed"
wait "$doomed" 2>/dev/null || true
pids=()
"$hook" aaaaaaa
verify --sha aaaaaaa
[ "$status" = 0 ] || fail "verify after a killed holder exited $status: $(cat "$work/verify.err")"
pass "a dead holder's lock does not block"

# 6. PostgreSQL down: events go to the journal; back up: replayed once, none lost or doubled.
pg_stop
for i in 1 2 3; do
  "$probe" deploy record --config "$work/probe.yaml" --event deploy_started --sha "dddddd$i" >/dev/null 2>"$work/record.err" \
    || fail "record with PostgreSQL down: $(cat "$work/record.err")"
done
[ "$(grep -c '^J1 ' "$work/state/journal.jsonl")" = 3 ] || fail "journal does not hold 3 events"
printf 'J1 500 deadbeef {"event_id":"torn' >>"$work/state/journal.jsonl" # a torn last line
source_port=$PG_PORT
pg_as_owner "$(pg_bindir)/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w start >/dev/null
[ "$PG_PORT" = "$source_port" ] || fail "port changed"
"$probe" deploy record --config "$work/probe.yaml" --event deploy_started --sha eeeeeee >/dev/null 2>"$work/record.err"
"$probe" deploy record --config "$work/probe.yaml" --event deploy_started --sha fffffff >/dev/null 2>>"$work/record.err"
for i in 1 2 3; do
  [ "$(pg_psql -Atc "SELECT count(*) FROM probe_deploy_events WHERE sha='dddddd$i'")" = 1 ] \
    || fail "dddddd$i stored $(pg_psql -Atc "SELECT count(*) FROM probe_deploy_events WHERE sha='dddddd$i'") times"
done
grep -q "line skipped" "$work/record.err" || fail "torn line not reported: $(cat "$work/record.err")"
[ "$(grep -c '^J1 ' "$work/state/journal.jsonl" 2>/dev/null || true)" = 0 ] || fail "journal not drained"
pass "journal replayed once, torn line skipped"
echo "deploy rollback: ok"
