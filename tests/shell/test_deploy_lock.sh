#!/usr/bin/env bash
# The locks deploy/scripts/{deploy,rollback}.sh take and check, on a real filesystem (issue 12,
# item 11): `exec 9>"$DEPLOY_DIR/.deploy.lock"` followed a planted symbolic link and truncated its
# target, and probe's default host lock sat in /tmp where any user could hold it or plant a link.
# With a stand-in `docker` and `probe` (nothing here reaches them unless the lock is safe):
#   a. a symbolic link at DEPLOY_DIR/.deploy.lock: deploy.sh and rollback.sh exit 2, the link's
#      target is untouched, nothing runs
#   b. a DEPLOY_DIR its group can write: exit 2, nothing runs
#   c. PROBE_LOCK_FILE a symbolic link, or in a directory like /tmp: exit 2 before anything runs
#   d. a held lock: exit 5, nothing runs; two scripts still exclude each other
#   e. a safe lock: the deploy runs, and the lock file is never truncated
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
scripts=$root/deploy/scripts

work=$(mktemp -d /tmp/probe-deploy-lock.XXXXXX)
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

unset DEPLOY_DIR GHCR_USER GHCR_TOKEN PROBE_URL PROBE_LOCK_FILE DEPLOY_WATCH PROBE_DB_REVISION \
  PROBE_FAILED_SHA PROBE_PREVIOUS_SHA PROBE_ROLLBACK_COMMAND DEPLOY_LOCK_HELD IMAGE_TAG

deploy_dir=$work/deploy
mkdir -p "$deploy_dir" "$work/bin"
chmod 755 "$deploy_dir"
for file in docker-compose.yml docker-compose.prod.yml; do
  echo "# a placeholder" >"$deploy_dir/$file"
done
# Stand-ins that only record that they ran.
for tool in docker probe; do
  printf '#!/bin/sh\necho "%s $*" >>"%s/calls.log"\n' "$tool" "$work" >"$work/bin/$tool"
  chmod +x "$work/bin/$tool"
done
export PATH="$work/bin:$PATH" DEPLOY_DIR=$deploy_dir PROBE_BIN=$work/bin/probe PROBE_TOKEN=tok
calls() { cat "$work/calls.log" 2>/dev/null || true; }
# shellcheck source=tests/shell/lib/script_run.sh
source "$root/tests/shell/lib/script_run.sh"
expect() { # $1 = what, $2 = exit code wanted, $3 = text stderr must contain
  [ "$status" = "$2" ] || fail "$1: exit $status, want $2: $(cat "$work/err")"
  grep -qF -- "$3" "$work/err" || fail "$1: stderr lacks \"$3\": $(cat "$work/err")"
  [ -z "$(calls)" ] || fail "$1: something ran: $(calls)"
}

printf 'root data\n' >"$work/precious"
chmod 644 "$work/precious"

# --- a. a symbolic link at the scripts' own lock ------------------------------------------
ln -s "$work/precious" "$deploy_dir/.deploy.lock"
script "$scripts/deploy.sh" aaaaaaa
expect "deploy.sh with a symlinked .deploy.lock" 2 "the lock file $deploy_dir/.deploy.lock is a symbolic link or not a regular file; refused"
script "$scripts/rollback.sh" aaaaaaa
expect "rollback.sh with a symlinked .deploy.lock" 2 "is a symbolic link or not a regular file; refused"
[ "$(cat "$work/precious")" = "root data" ] || fail "the link's target was changed"
[ "$(stat -c %a "$work/precious")" = 644 ] || fail "the link's target's mode was changed"
rm "$deploy_dir/.deploy.lock"
ln -s "$work/nowhere" "$deploy_dir/.deploy.lock"
script "$scripts/deploy.sh" aaaaaaa
expect "deploy.sh with a dangling .deploy.lock link" 2 "is a symbolic link or not a regular file"
[ ! -e "$work/nowhere" ] || fail "the dangling link's target was created"
rm "$deploy_dir/.deploy.lock"
pass "a symbolic link at DEPLOY_DIR/.deploy.lock is refused (exit 2), its target untouched"

# --- b. a deploy directory others can write -----------------------------------------------
chmod 775 "$deploy_dir"
script "$scripts/deploy.sh" aaaaaaa
expect "deploy.sh in a group-writable DEPLOY_DIR" 2 "the deploy directory $deploy_dir can be written by another user"
chmod 755 "$deploy_dir"
pass "a DEPLOY_DIR its group can write is refused (exit 2)"

# --- c. PROBE_LOCK_FILE ----------------------------------------------------------------
mkdir -m 700 "$work/locks"
ln -s "$work/precious" "$work/locks/probe.lock"
script env PROBE_LOCK_FILE="$work/locks/probe.lock" "$scripts/deploy.sh" aaaaaaa
expect "PROBE_LOCK_FILE a symlink" 2 "probe's lock file $work/locks/probe.lock is a symbolic link; refused"
mkdir -m 1777 "$work/shared"
script env PROBE_LOCK_FILE="$work/shared/probe.lock" "$scripts/deploy.sh" aaaaaaa
expect "PROBE_LOCK_FILE in a directory like /tmp" 2 "which another user can write"
[ "$(cat "$work/precious")" = "root data" ] || fail "PROBE_LOCK_FILE's link target was changed"
pass "an unsafe PROBE_LOCK_FILE is refused before anything runs (exit 2)"

# --- d. a held lock ----------------------------------------------------------------------
exec 8>>"$deploy_dir/.deploy.lock"
flock -n 8
script "$scripts/deploy.sh" aaaaaaa
expect "deploy.sh under a held lock" 5 "another deploy.sh or rollback.sh holds $deploy_dir/.deploy.lock"
script "$scripts/rollback.sh" aaaaaaa
expect "rollback.sh under a held lock" 5 "another deploy.sh or rollback.sh holds"
exec 8>&-
pass "a held lock exits 5, nothing run"

# --- e. a safe lock ----------------------------------------------------------------------
printf 'left by an earlier run\n' >"$deploy_dir/.deploy.lock"
script env PROBE_LOCK_FILE="$work/locks/deploy.lock" "$scripts/deploy.sh" aaaaaaa
[ "$status" = 0 ] || fail "a deploy with safe locks exited $status: $(cat "$work/err")"
grep -q "^docker compose .* up -d" "$work/calls.log" || fail "the deploy did not run: $(calls)"
grep -qF "probe deploy verify --sha aaaaaaa --url http://127.0.0.1:9464 --lock-file $work/locks/deploy.lock" "$work/calls.log" \
  || fail "verify was not given PROBE_LOCK_FILE: $(calls)"
[ "$(cat "$deploy_dir/.deploy.lock")" = "left by an earlier run" ] || fail "the lock file was truncated"
pass "with safe locks the deploy runs and the lock file is not truncated"
