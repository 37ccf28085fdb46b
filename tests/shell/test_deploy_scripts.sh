#!/usr/bin/env bash
# deploy/scripts/{deploy,rollback,deploy-check}.sh, run as on a server, with a stand-in `docker`
# first on PATH (tests/shell/lib/fake_docker.sh) whose images are releases of the reference apps
# (deploy/demo/release.sh: the real api on uvicorn, the bot on python-telegram-bot against a fake
# Bot API, the Next.js frontend; real Alembic, pg_dump and pg_restore on a real PostgreSQL), and a
# real `probe serve` whose DSN is the apps' own SQLAlchemy DATABASE_URL:
#   a. --dry-run prints the exact command sequence (probe on the host, and in the sidecar's
#      container); the registry token never appears
#   b. hostile SHAs and revisions exit 2 with nothing run; a held deploy lock exits 5
#   c. a good deploy (exit 0, a backup taken first); a bad release (migration 0003 with code that
#      does not match it) that probe's verify, through the sidecar, rolls back with rollback.sh:
#      alembic downgrade to the revision the good release ran with, exit 3, audit log in order;
#      deploy-check.sh healthy (0, no logs) and not (1, the last --log-lines lines of the failing
#      service's log, none of a healthy one); rollback.sh by hand across a real migration; to a
#      tag that stays unhealthy (exit 1, rollback_failed); without the sidecar's token
#      (switches, warns, records nothing); a failing migration (exit 1, deploy_failed recorded)
#      and a pull of a tag with no image (exit 1, nothing changed); scripts in a directory whose
#      path holds a space and a quote
#   d. no probe on the host: verify runs in the sidecar's container (--no-rollback) and the
#      rollback on the host (exit 0, then 3, the same audit log)
#   e. a release whose downgrade fails: rollback.sh restores the backup deploy.sh took, the rows
#      are back, exit 3; only the newest DEPLOY_BACKUP_KEEP backups are kept
# Waits are for events (probe answers, /ready turns), bounded generously; the checks' and the
# gate's timeouts are far above what a healthy loopback api takes on a loaded machine.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir=${PROBE_BUILD_DIR:-$root/build}
probe=$build_dir/probe
scripts=$root/deploy/scripts
release=$root/deploy/demo/release.sh
# shellcheck source=deploy/demo/stack.sh
source "$root/deploy/demo/stack.sh"

work=$(mktemp -d /tmp/probe-deploy-scripts.XXXXXX)
chmod 755 "$work"
serve_pid=
cleanup() {
  if [ -n "$serve_pid" ]; then
    kill "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
  fi
  demo_stop
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }
# Two halves that ctest runs side by side (each on its own stack; the gate waits dominate):
# part 1 is a, b and c up to 6; part 2 is the good deploy again, then 7, d and e. No argument: all.
part=${1:-all}
case $part in 1 | 2 | all) ;; *) fail "usage: $0 [1|2]" ;; esac
in_part() { [ "$part" = all ] || [ "$part" = "$1" ]; }

# Nothing from the caller's environment may steer the scripts.
unset DEPLOY_DIR GHCR_USER GHCR_TOKEN PROBE_BIN PROBE_URL PROBE_TOKEN PROBE_LOCK_FILE DEPLOY_WATCH \
  PROBE_DB_REVISION PROBE_FAILED_SHA PROBE_PREVIOUS_SHA PROBE_ROLLBACK_COMMAND DEPLOY_LOCK_HELD \
  IMAGE_TAG PROBE_CONTAINER_CONFIG FAKE_DOCKER_FAIL PROBE_FROM PROBE_CONTAINER_URL DEPLOY_BACKUP_DIR \
  DEPLOY_BACKUP_KEEP

deploy_dir=$work/deploy
mkdir -p "$deploy_dir" "$work/bin" "$work/docker"
for file in docker-compose.yml docker-compose.prod.yml; do
  echo "# a placeholder: the stand-in docker only checks that it exists" >"$deploy_dir/$file"
done
ln -s "$root/tests/shell/lib/fake_docker.sh" "$work/bin/docker"
export PATH="$work/bin:$PATH" FAKE_DOCKER_STATE=$work/docker
calls() { cat "$FAKE_DOCKER_STATE/calls.log" 2>/dev/null || true; }
calls_since() { calls | tail -n "+$(($1 + 1))"; }
ncalls() { calls | wc -l; }
q() { printf '%q' "$1"; }
compose="docker compose -f docker-compose.yml -f docker-compose.prod.yml"
logged="compose -f docker-compose.yml -f docker-compose.prod.yml" # as calls.log shows it
# shellcheck source=tests/shell/lib/script_run.sh
source "$root/tests/shell/lib/script_run.sh"

# What deploy.sh runs in the postgres container for a backup.
# shellcheck disable=SC2016 # the container's shell expands them
pg_dump_script='exec pg_dump -Fc --exclude-table="probe_*" -U "$POSTGRES_USER" "$POSTGRES_DB"'
# The registry token, which no output may show.
secret=ghp_DoNotPrintMe$RANDOM$RANDOM
if in_part 1; then
# --- a. --dry-run prints the exact sequence -----------------------------------------------
# The backup's file name holds the time: shown as STAMP.
stamped() { sed -E 's/[0-9]{8}T[0-9]{6}Z_before_/STAMP_before_/' "$@"; }
backup_lines() { # $1 = sha
  echo "+ $compose exec -T postgres sh -c $(q "$pg_dump_script")"
  echo "  > $(q "$deploy_dir/backups/STAMP_before_$1.dump.partial")"
}
verify_line="+ PROBE_ROLLBACK_COMMAND=$(q "$scripts/rollback.sh") probe deploy verify --sha 1a2b3c4 --url http://127.0.0.1:9464"
want="+ cd $(q "$deploy_dir")
+ IMAGE_TAG=1a2b3c4 $compose pull
$(backup_lines 1a2b3c4)
+ IMAGE_TAG=1a2b3c4 $compose up -d --remove-orphans
+ IMAGE_TAG=1a2b3c4 $compose run --rm -T api alembic upgrade head
$verify_line"
script env DEPLOY_DIR="$deploy_dir" PROBE_FROM=host "$scripts/deploy.sh" --dry-run 1a2b3c4
[ "$status" = 0 ] || fail "dry run exited $status: $(cat "$work/err")"
same "deploy.sh --dry-run 1a2b3c4" "$(stamped "$work/out")" "$want"

want="+ cd $(q "$deploy_dir")
+ docker login ghcr.io -u octocat --password-stdin
+ IMAGE_TAG=1a2b3c4 $compose pull
$(backup_lines 1a2b3c4)
+ IMAGE_TAG=1a2b3c4 $compose up -d --remove-orphans
+ IMAGE_TAG=1a2b3c4 $compose run --rm -T api alembic upgrade head
$verify_line"
script env DEPLOY_DIR="$deploy_dir" PROBE_FROM=host GHCR_USER=octocat GHCR_TOKEN="$secret" "$scripts/deploy.sh" 1a2b3c4 --dry-run
[ "$status" = 0 ] || fail "dry run with a login exited $status: $(cat "$work/err")"
same "deploy.sh --dry-run 1a2b3c4 with GHCR_USER/GHCR_TOKEN" "$(stamped "$work/out")" "$want"
! grep -qF "$secret" "$work/out" "$work/err" || fail "the registry token was printed"

# No probe on the host: verify in the sidecar's container, told to hand the rollback back.
want="+ cd $(q "$deploy_dir")
+ IMAGE_TAG=1a2b3c4 $compose pull
$(backup_lines 1a2b3c4)
+ IMAGE_TAG=1a2b3c4 $compose up -d --remove-orphans
+ IMAGE_TAG=1a2b3c4 $compose run --rm -T api alembic upgrade head
+ $compose exec -T probe probe deploy verify --sha 1a2b3c4 --url http://127.0.0.1:9464 --no-rollback --lock-file /var/lib/probe/deploy.lock"
script env DEPLOY_DIR="$deploy_dir" PROBE_FROM=container "$scripts/deploy.sh" --dry-run 1a2b3c4
[ "$status" = 0 ] || fail "container dry run exited $status: $(cat "$work/err")"
same "deploy.sh --dry-run 1a2b3c4 with probe in the sidecar's container" "$(stamped "$work/out")" "$want"

script env DEPLOY_DIR="$deploy_dir" DEPLOY_BACKUP_KEEP=0 PROBE_FROM=host "$scripts/deploy.sh" --dry-run 1a2b3c4
grep -q "exec -T postgres" "$work/out" && fail "DEPLOY_BACKUP_KEEP=0 still backs up"
grep -q "warning: DEPLOY_BACKUP_KEEP=0: no backup" "$work/err" || fail "no warning without a backup: $(cat "$work/err")"

script "$scripts/deploy.sh" -n sha-1a2b3c4
[ "$status" = 0 ] || fail "dry run with the default DEPLOY_DIR exited $status"
[ "$(head -n 1 "$work/out")" = "+ cd $(q "$root/deploy")" ] || fail "default DEPLOY_DIR: $(head -n 1 "$work/out")"

record_line() { # $1 = event, $2... = the rest of its arguments
  local event=$1
  shift
  echo "+ probe deploy record --event $event --sha aaaaaaa --url http://127.0.0.1:9464 --previous bad$*"
}
want="+ cd $(q "$deploy_dir")
$(record_line rollback_started " --details $(q '{"by":"rollback.sh"}')")
+ IMAGE_TAG=aaaaaaa $compose pull
+ IMAGE_TAG=bad $compose run --rm -T api alembic downgrade 3f2a1b0c9d8e
+ IMAGE_TAG=aaaaaaa $compose up -d --remove-orphans
+ probe wait --url http://127.0.0.1:9464
$(record_line rollback_succeeded)"
script env DEPLOY_DIR="$deploy_dir" PROBE_FROM=host PROBE_FAILED_SHA=bad PROBE_DB_REVISION=3f2a1b0c9d8e "$scripts/rollback.sh" --dry-run aaaaaaa
[ "$status" = 0 ] || fail "rollback dry run exited $status: $(cat "$work/err")"
same "rollback.sh --dry-run by hand, with a revision" "$(cat "$work/out")" "$want"
# As probe's hook (PROBE_PREVIOUS_SHA set), probe records and gates: the switch only.
want="+ cd $(q "$deploy_dir")
+ IMAGE_TAG=aaaaaaa $compose pull
+ IMAGE_TAG=aaaaaaa $compose up -d --remove-orphans"
script env DEPLOY_DIR="$deploy_dir" PROBE_PREVIOUS_SHA=aaaaaaa PROBE_FAILED_SHA=bad PROBE_DB_REVISION= "$scripts/rollback.sh" --dry-run aaaaaaa
same "rollback.sh --dry-run as probe's hook, without a revision" "$(cat "$work/out")" "$want"
script env DEPLOY_DIR="$deploy_dir" "$scripts/deploy-check.sh" --dry-run
if [ "$status" != 0 ] || ! grep -qx "+ $compose exec -T probe probe check --config /etc/probe/probe.yaml" "$work/out" ||
  ! grep -qx "+ $compose logs --no-color --tail 50 SERVICE" "$work/out"; then
  fail "deploy-check.sh --dry-run: $(cat "$work/out" "$work/err")"
fi
for args in "--log-lines 10000" "--log-lines=7"; do
  read -r -a words <<<"$args"
  script env DEPLOY_DIR="$deploy_dir" "$scripts/deploy-check.sh" --dry-run "${words[@]}"
  n=${args##*[ =]}
  if [ "$status" != 0 ] || ! grep -qx "+ $compose logs --no-color --tail $n SERVICE" "$work/out"; then
    fail "deploy-check.sh --dry-run $args: $status $(cat "$work/out" "$work/err")"
  fi
done
for s in deploy.sh rollback.sh deploy-check.sh; do
  "$scripts/$s" --help | grep -q '^Usage: deploy/scripts/' || fail "$s --help"
done
[ "$(ncalls)" = 0 ] || fail "a dry run ran docker: $(calls)"
pass "--dry-run prints the exact command sequence, the token never"

fi # part 1

# --- b. hostile input exits 2 before anything runs ----------------------------------------
export DEPLOY_DIR=$deploy_dir PROBE_BIN=$probe
if in_part 1; then
# shellcheck disable=SC2016 # the literal text $(id) is the attack being refused
refuses_shas "$scripts" 'a;rm -rf /' '$(id)' '' '-rf' '../etc' $'aaaaaaa\nbad' 'a b' "$(printf 'x%.0s' {1..129})"
for args in "" "aaaaaaa bbbbbbb" "--bogus aaaaaaa"; do
  read -r -a words <<<"$args"
  script "$scripts/deploy.sh" "${words[@]}"
  [ "$status" = 2 ] || fail "deploy.sh $args exited $status, want 2"
done
# shellcheck disable=SC2016
for revision in '-1' '$(id)' 'head;x'; do
  script env PROBE_FAILED_SHA=bad PROBE_DB_REVISION="$revision" "$scripts/rollback.sh" aaaaaaa
  [ "$status" = 2 ] || fail "rollback.sh with PROBE_DB_REVISION '$revision' exited $status"
done
script env PROBE_DB_REVISION=abc123 "$scripts/rollback.sh" aaaaaaa
[ "$status" = 2 ] || fail "a revision without PROBE_FAILED_SHA exited $status"
# shellcheck disable=SC2016
for value in 0 -1 abc 10001 050 '5 ' '' '$(id)' 99999999999999999999; do
  script "$scripts/deploy-check.sh" --log-lines "$value"
  [ "$status" = 2 ] || fail "deploy-check.sh --log-lines '$value' exited $status, want 2"
  [ ! -s "$work/out" ] || fail "deploy-check.sh --log-lines '$value' printed: $(cat "$work/out")"
done
script "$scripts/deploy-check.sh" --log-lines
[ "$status" = 2 ] || fail "deploy-check.sh --log-lines without a value exited $status, want 2"
script "$scripts/deploy-check.sh" --log-lines=0
[ "$status" = 2 ] || fail "deploy-check.sh --log-lines=0 exited $status, want 2"
[ "$(ncalls)" = 0 ] || fail "docker ran for hostile input: $(calls)"
pass "hostile SHAs and revisions, and bad --log-lines values, exit 2, nothing run"

fi # part 1

# --- c. end to end, with a real probe serve -----------------------------------------------
# The stack as the demo runs it: PostgreSQL, the fake Bot API, release 1a2b3c4 of the apps.
demo_random_ports
demo_start "$work/stack" "$build_dir" >/dev/null
unset PROBE_TOKEN # the demo's; the scripts take the sidecar's from deploy/.env, as on a server
"$release" build aaaaaaa
"$release" build ccccccc
"$release" build bad bad-code
"$release" build bdbdbdb bad-downgrade
export FAKE_PG_PORT=$PG_PORT FAKE_PG_PASSWORD=$PG_PASSWORD FAKE_PG_DATABASE=homeguru
probe_port=$(free_port "$PROBE_PORT")
token=deploy-test-token-$RANDOM$RANDOM
# The real api answers in milliseconds, but on a loaded machine uvicorn takes seconds to start
# and a check may take most of its 1 s: the gate gets 20 s for the two passes it needs (a good
# deploy opens it in 2-5 s; a bad one waits all 20 s before rolling back).
cat >"$work/probe.yaml" <<YAML
listen: "127.0.0.1:$probe_port"
defaults: {interval: 1s, timeout: 1s, success_threshold: 1, failure_threshold: 2}
targets:
  - {name: api, type: http, url: "$API_URL/health", expect: {json: {"/status": "ok"}}}
  - {name: bot, type: heartbeat, source: postgres, dsn: "\${DATABASE_URL}", query: "SELECT max(seen_at) FROM bot_heartbeats", max_age: 60s, critical: false}
gate: {timeout: 20s, consecutive_successes: 2, poll_interval: 100ms}
deploy:
  dsn: "\${DATABASE_URL}"
  journal: "$work/state/journal.jsonl"
  token: "$token"
YAML
"$probe" serve --config "$work/probe.yaml" 2>"$work/serve.log" &
serve_pid=$!
serve_answers() { curl -fs "http://127.0.0.1:$probe_port/healthz" >/dev/null 2>&1; }
serve_answers_or_died() { serve_answers || ! alive "$serve_pid"; }
wait_until 60 serve_answers_or_died || true
alive "$serve_pid" || fail "probe serve died: $(cat "$work/serve.log")"
serve_answers || fail "probe serve does not answer after 60 s"

# As on the server: the token for the sidecar comes from deploy/.env.
printf 'GHCR_OWNER=example\nPROBE_TOKEN="%s"\n' "$token" >"$deploy_dir/.env"
export PROBE_URL=http://127.0.0.1:$probe_port PROBE_LOCK_FILE=$work/probe-deploy.lock PROBE_ACTOR=deploy-test
export FAKE_PROBE_BIN=$probe FAKE_PROBE_CONFIG=$work/probe.yaml
# probe passes its rollback hook (rollback.sh, then the stand-in docker) an allow-list of its
# environment plus these names.
export PROBE_HOOK_ENV="FAKE_DOCKER_STATE FAKE_DOCKER_FAIL FAKE_PROBE_BIN FAKE_PROBE_CONFIG FAKE_PG_PORT FAKE_PG_PASSWORD FAKE_PG_DATABASE $PROBE_HOOK_ENV"
api_version() { curl -s --max-time 10 "$API_URL/version" | jq -r .version 2>/dev/null || true; }
ready_is() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$PROBE_URL/ready")" = "$1" ]; }
revision() { "$release" revision; }
backup_call() { # the calls.log line of a backup
  printf 'IMAGE_TAG=%s %s ps -q postgres\nIMAGE_TAG=%s %s exec -T postgres sh -c %s' \
    "$1" "$logged" "$1" "$logged" "$(q "$pg_dump_script")"
}
kinds() {
  curl -fsS "$PROBE_URL/deploys?limit=${1:-20}" | jq -r '[.events[] | .kind + ":" + .sha] | join(" ")'
}

if in_part 1; then
# A deploy lock held elsewhere: exit 5, nothing run.
exec 8>"$deploy_dir/.deploy.lock"
flock -n 8
script "$scripts/deploy.sh" aaaaaaa
[ "$status" = 5 ] || fail "deploy.sh under a held lock exited $status, want 5: $(cat "$work/err")"
script "$scripts/rollback.sh" aaaaaaa
[ "$status" = 5 ] || fail "rollback.sh under a held lock exited $status, want 5"
exec 8>&-
[ "$(ncalls)" = 0 ] || fail "docker ran under a held lock: $(calls)"
pass "a held deploy lock exits 5, nothing run"

fi # part 1

# 1. A good deploy, logging in to the registry first.
script env GHCR_USER=octocat GHCR_TOKEN="$secret" "$scripts/deploy.sh" aaaaaaa
[ "$status" = 0 ] || fail "deploy.sh aaaaaaa exited $status: $(cat "$work/err")"
same "docker calls of deploy.sh aaaaaaa" "$(calls)" "IMAGE_TAG=unset login ghcr.io -u octocat --password-stdin
IMAGE_TAG=aaaaaaa $logged pull
$(backup_call unset)
IMAGE_TAG=aaaaaaa $logged up -d --remove-orphans
IMAGE_TAG=aaaaaaa $logged run --rm -T api alembic upgrade head"
[ "$(cat "$FAKE_DOCKER_STATE/login.password")" = "$secret" ] || fail "docker login did not get the token on stdin"
! grep -qF "$secret" "$work/out" "$work/err" "$FAKE_DOCKER_STATE/calls.log" || fail "the token was printed or on argv"
[ "$(api_version)" = aaaaaaa ] || fail "the api runs $(api_version)"
[ "$(cat "$deploy_dir/.deployed_sha")" = aaaaaaa ] || fail ".deployed_sha: $(cat "$deploy_dir/.deployed_sha")"
grep -q "exited 0: deployed and healthy" "$work/err" || fail "no meaning line: $(cat "$work/err")"
[ "$(kinds)" = "deploy_succeeded:aaaaaaa deploy_started:aaaaaaa" ] || fail "events: $(kinds)"
grep -q "backup: $deploy_dir/backups/[0-9TZ]*_before_aaaaaaa.dump" "$work/err" || fail "the backup is not named: $(cat "$work/err")"
pg_restore --list "$deploy_dir"/backups/*_before_aaaaaaa.dump | grep -q "TABLE public listings" \
  || fail "the backup is not a pg_dump -Fc of the database"
[ "$(stat -c %a "$deploy_dir/backups")" = 700 ] || fail "the backup directory is not private"
[ "$(revision)" = 0002 ] || fail "the schema is at $(revision)"
pass "deploy.sh aaaaaaa: exit 0, backed up first, the api runs aaaaaaa"

if in_part 1; then
# 2. A bad deploy: probe's verify, through the sidecar, runs rollback.sh with aaaaaaa.
before=$(ncalls)
script "$scripts/deploy.sh" bad
[ "$status" = 3 ] || fail "deploy.sh bad exited $status, want 3: $(cat "$work/err")"
same "docker calls of deploy.sh bad" "$(calls_since "$before")" "IMAGE_TAG=bad $logged pull
$(backup_call unset)
IMAGE_TAG=bad $logged up -d --remove-orphans
IMAGE_TAG=bad $logged run --rm -T api alembic upgrade head
IMAGE_TAG=aaaaaaa $logged pull
IMAGE_TAG=bad $logged run --rm -T api alembic downgrade 0002
IMAGE_TAG=aaaaaaa $logged up -d --remove-orphans"
grep -q "hook: rollback.sh: switched to aaaaaaa" "$work/err" || fail "rollback.sh did not run as the hook: $(cat "$work/err")"
[ "$(revision)" = 0002 ] || fail "the schema is at $(revision) after the rollback, want 0002"
[ "$(api_version)" = aaaaaaa ] || fail "the api runs $(api_version) after the rollback"
[ "$(cat "$deploy_dir/.deployed_sha")" = aaaaaaa ] || fail ".deployed_sha changed to $(cat "$deploy_dir/.deployed_sha")"
grep -q "exited 3: failed and rolled back" "$work/err" || fail "no meaning line: $(cat "$work/err")"
same "GET /deploys" "$(kinds 6)" \
  "rollback_succeeded:aaaaaaa rollback_started:aaaaaaa deploy_failed:bad deploy_started:bad deploy_succeeded:aaaaaaa deploy_started:aaaaaaa"
pass "deploy.sh bad: exit 3, downgraded to 0002 and rolled back to aaaaaaa by rollback.sh, audit log in order"

# 3. deploy-check.sh: healthy, then with the api answering 500. Each service has a log; only a
# failing service's last lines are shown.
mkdir -p "$FAKE_DOCKER_STATE/logs"
for i in $(seq 1 60); do echo "api-log-line-$i"; done >"$FAKE_DOCKER_STATE/logs/api.log"
for service in postgres bot frontend probe; do
  echo "$service-log-line-healthy" >"$FAKE_DOCKER_STATE/logs/$service.log"
done
before=$(ncalls)
script "$scripts/deploy-check.sh"
[ "$status" = 0 ] || fail "deploy-check.sh on a healthy stack exited $status: $(cat "$work/out" "$work/err")"
grep -q "^deploy-check: OK: 5 containers up" "$work/out" || fail "summary: $(tail -n 1 "$work/out")"
grep -q "rollback_succeeded" "$work/out" || fail "deploy-check.sh does not list the deploys"
if grep -q -e '-log-line-' -e '^== logs' "$work/out" || calls_since "$before" | grep -q ' logs '; then
  fail "deploy-check.sh on a healthy stack shows logs: $(cat "$work/out")"
fi
"$release" up bad # its code reads a column the 0002 schema does not have
wait_until 60 ready_is 503 || fail "/ready not 503 within 60 s of the api turning bad"
script "$scripts/deploy-check.sh"
[ "$status" = 1 ] || fail "deploy-check.sh with a bad api exited $status, want 1"
summary=$(tail -n 1 "$work/out")
for part in "api unhealthy" "probe check exit 1" "/ready 503"; do
  [[ $summary == "deploy-check: DOWN: "*"$part"* ]] || fail "summary lacks '$part': $summary"
done
pass "deploy-check.sh: 0 when healthy, 1 naming what is down"

# The failing api's last 50 lines (11-60) under its header, no healthy service's; one logs call.
grep -qx "== logs: api (last 50 lines, docker compose logs --no-color --tail 50 api)" "$work/out" ||
  fail "no logs header for the api: $(cat "$work/out")"
for i in 11 60; do grep -qx "api-log-line-$i" "$work/out" || fail "api log line $i not shown: $(cat "$work/out")"; done
! grep -qx "api-log-line-10" "$work/out" || fail "more than 50 api log lines shown"
if grep -q -e '-log-line-healthy' -e '^== logs: [^a]' "$work/out"; then
  fail "a healthy service's logs are shown: $(cat "$work/out")"
fi
same "logs calls of deploy-check.sh" "$(calls | grep ' logs ' || true)" \
  "IMAGE_TAG=unset $logged logs --no-color --tail 50 api"
script "$scripts/deploy-check.sh" --log-lines 3
[ "$status" = 1 ] || fail "deploy-check.sh --log-lines 3 with a bad api exited $status, want 1"
same "api log lines with --log-lines 3" "$(grep '^api-log-line-' "$work/out")" "api-log-line-58
api-log-line-59
api-log-line-60"
# Without a log of its own in the stand-in's state, the api's is the real api's output, which
# says why its /health fails.
rm "$FAKE_DOCKER_STATE/logs/api.log"
script "$scripts/deploy-check.sh" --log-lines 10000
grep -q 'health: database: .*price_cents' "$work/out" || fail "the api's own log is not shown: $(cat "$work/out")"
pass "deploy-check.sh: the last --log-lines lines (default 50) of the failing api's log, none of healthy services"

# 4. rollback.sh by hand across a migration: downgrade with the failed image, then switch.
"$release" alembic bad upgrade head 2>/dev/null # bad runs, on its own schema (0003)
[ "$(revision)" = 0003 ] || fail "bad's migration left the schema at $(revision)"
before=$(ncalls)
script env PROBE_FAILED_SHA=bad PROBE_DB_REVISION=0002 "$scripts/rollback.sh" aaaaaaa
[ "$status" = 0 ] || fail "rollback.sh exited $status: $(cat "$work/err")"
same "docker calls of rollback.sh" "$(calls_since "$before")" "IMAGE_TAG=aaaaaaa $logged pull
IMAGE_TAG=bad $logged run --rm -T api alembic downgrade 0002
IMAGE_TAG=aaaaaaa $logged up -d --remove-orphans"
[ "$(revision)" = 0002 ] || fail "schema at $(revision) after rollback.sh, want 0002"
[ "$(api_version)" = aaaaaaa ] || fail "the api runs $(api_version)"
same "events of rollback.sh by hand" "$(kinds 2)" "rollback_succeeded:aaaaaaa rollback_started:aaaaaaa"
previous=$(curl -fsS "$PROBE_URL/deploys?limit=1" | jq -r '.events[0].previous_sha')
[ "$previous" = bad ] || fail "rollback_succeeded names previous_sha $previous, want bad"
metric=$(curl -fsS "$PROBE_URL/metrics" | grep '^probe_deploy_info{' || true)
[[ $metric == *'sha="aaaaaaa"'*' 1' ]] || fail "probe_deploy_info after a rollback by hand: $metric"
pass "rollback.sh by hand: downgrades with the failed image, switches, gates, records the rollback"

# 4b. rollback.sh by hand to a tag that does not come up: exit 1, rollback_failed recorded.
script env PROBE_FAILED_SHA=aaaaaaa "$scripts/rollback.sh" bad
[ "$status" = 1 ] || fail "rollback.sh to an unhealthy tag exited $status, want 1: $(cat "$work/err")"
grep -q "not ready (probe wait)" "$work/err" || fail "rollback.sh does not say the stack is not ready: $(cat "$work/err")"
same "events of a failed rollback by hand" "$(kinds 2)" "rollback_failed:bad rollback_started:bad"
[ "$(cat "$deploy_dir/.deployed_sha")" = aaaaaaa ] || fail "a failed rollback wrote .deployed_sha"
pass "rollback.sh by hand to an unhealthy tag: exit 1, rollback_failed recorded"

# 4c. Without the sidecar's token it still switches, and says the rollback is not recorded.
mv "$deploy_dir/.env" "$work/env.saved"
script env PROBE_FAILED_SHA=bad "$scripts/rollback.sh" aaaaaaa
mv "$work/env.saved" "$deploy_dir/.env"
[ "$status" = 0 ] || fail "rollback.sh without a token exited $status: $(cat "$work/err")"
grep -q "warning: PROBE_TOKEN is not set.*not gated and not recorded" "$work/err" \
  || fail "no warning about the unrecorded rollback: $(cat "$work/err")"
[ "$(kinds 1)" = "rollback_failed:bad" ] || fail "a rollback without a token was recorded: $(kinds 1)"
[ "$(api_version)" = aaaaaaa ] || fail "the api runs $(api_version)"
pass "rollback.sh by hand without a token: switches, warns that nothing is recorded"

# 5. A failing migration: exit 1, deploy_failed recorded, the way back named.
script env FAKE_DOCKER_FAIL=alembic "$scripts/deploy.sh" ccccccc
[ "$status" = 1 ] || fail "deploy.sh with a failing migration exited $status, want 1"
grep -q "rollback.sh aaaaaaa" "$work/err" || fail "the way back is not named: $(cat "$work/err")"
[ "$(kinds 1)" = "deploy_failed:ccccccc" ] || fail "newest event: $(kinds 1)"
wait_until 60 ready_is 200 || fail "/ready not 200 within 60 s: the api runs $(api_version)"
script "$scripts/deploy-check.sh"
if [ "$status" != 1 ] || [[ $(tail -n 1 "$work/out") != *"last deploy event deploy_failed ccccccc"* ]]; then
  fail "deploy-check.sh after a failed migration: $status $(tail -n 1 "$work/out")"
fi
pass "a failing migration: exit 1, deploy_failed recorded, deploy-check.sh says so"

# 6. A pull of a tag that has no image changes nothing.
before=$(ncalls)
script "$scripts/deploy.sh" ddddddd
[ "$status" = 1 ] || fail "deploy.sh of a tag with no image exited $status, want 1"
grep -q "manifest unknown" "$work/err" || fail "the registry's answer is not shown: $(cat "$work/err")"
same "docker calls of a failing pull" "$(calls_since "$before")" "IMAGE_TAG=ddddddd $logged pull"
[ "$(api_version)" = ccccccc ] || fail "the api runs $(api_version)"
pass "a pull of a tag with no image: exit 1, nothing changed"

fi # part 1

if in_part 2; then
# 7. Scripts in a directory whose path holds a space and a quote (deploy.sh once refused it):
# probe still runs rollback.sh from there as its hook.
odd="$work/it's my deploy"
mkdir -p "$odd"
cp "$scripts"/*.sh "$odd/"
script "$odd/deploy.sh" bad
[ "$status" = 3 ] || fail "deploy.sh from '$odd' exited $status, want 3: $(cat "$work/err")"
grep -q "hook: rollback.sh: switched to aaaaaaa" "$work/err" || fail "rollback.sh from '$odd' did not run as the hook: $(cat "$work/err")"
[ "$(api_version)" = aaaaaaa ] || fail "the api runs $(api_version) after the rollback"
pass "deploy.sh from a path with a space and a quote: rolled back by its own rollback.sh (exit 3)"

# --- d. no probe on the host: the sidecar's own probe gates, the host rolls back ----------
(
  unset PROBE_BIN PROBE_LOCK_FILE
  export PROBE_FROM=container PROBE_CONTAINER_URL=$PROBE_URL
  script "$scripts/deploy.sh" aaaaaaa
  [ "$status" = 0 ] || fail "deploy.sh aaaaaaa with probe in the container exited $status: $(cat "$work/err")"
  calls | grep -qF "IMAGE_TAG=unset $logged exec -T probe probe deploy verify --sha aaaaaaa --url $PROBE_URL --no-rollback --lock-file /var/lib/probe/deploy.lock" \
    || fail "verify did not run in the sidecar's container: $(calls | tail -n 3)"
  script "$scripts/deploy.sh" bad
  [ "$status" = 3 ] || fail "deploy.sh bad with probe in the container exited $status, want 3: $(cat "$work/err")"
  grep -q "rolling back to aaaaaaa on this host" "$work/err" || fail "no host rollback: $(cat "$work/err")"
  grep -q "exited 3: failed and rolled back" "$work/err" || fail "no meaning line: $(cat "$work/err")"
  same "GET /deploys after a container deploy" "$(kinds 4)" \
    "rollback_succeeded:aaaaaaa rollback_started:aaaaaaa deploy_failed:bad deploy_started:bad"
  [ "$(revision)" = 0002 ] || fail "the schema is at $(revision) after the host rollback"
  [ "$(api_version)" = aaaaaaa ] || fail "the api runs $(api_version) after the host rollback"
)
pass "no probe on the host: verify in the sidecar's container, rollback on the host (exit 0, then 3)"

# --- e. a downgrade that fails: the backup deploy.sh took is restored ---------------------
PG_DATABASE=homeguru pg_psql -c "INSERT INTO listings (title, price_eur) VALUES ('Flat added before the deploy', 99000)"
script env DEPLOY_BACKUP_KEEP=2 "$scripts/deploy.sh" bdbdbdb
[ "$status" = 3 ] || fail "deploy.sh bdbdbdb exited $status, want 3: $(cat "$work/err")"
grep -q "alembic downgrade failed: restoring $deploy_dir/backups/[0-9TZ]*_before_bdbdbdb.dump" "$work/err" \
  || fail "the restore is not said: $(cat "$work/err")"
[ "$(revision)" = 0002 ] || fail "the schema is at $(revision) after the restore"
rows=$(PG_DATABASE=homeguru pg_psql -Atc "SELECT count(*) FROM listings WHERE created_at IS NOT NULL")
[ "$rows" = 3 ] || fail "$rows listings with created_at after the restore, want 3"
[ "$(api_version)" = aaaaaaa ] || fail "the api runs $(api_version) after the restore"
same "GET /deploys after a restore" "$(kinds 4)" \
  "rollback_succeeded:aaaaaaa rollback_started:aaaaaaa deploy_failed:bdbdbdb deploy_started:bdbdbdb"
[ "$(find "$deploy_dir/backups" -name '*.dump' | wc -l)" = 2 ] || fail "DEPLOY_BACKUP_KEEP=2 kept $(ls "$deploy_dir/backups")"
pass "a failed downgrade: the backup restored (rows and revision back, the audit log kept), exit 3"
fi # part 2

echo "deploy scripts (part $part): ok"
