#!/usr/bin/env bash
# Deploys one image tag of the HomeGuru stack on this server and lets probe gate it, rolling
# back to the previous good tag when the stack does not come up healthy. The deploy workflow
# runs it over SSH (.github/workflows/deploy.yml); a person runs it the same way by hand.
set -euo pipefail
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$script_dir/lib.sh"

usage() {
  cat <<'EOF'
Usage: deploy/scripts/deploy.sh [--dry-run] SHA

Deploys image tag SHA of the HomeGuru apps (api, bot, frontend: IMAGE_TAG in the compose
files) on this server and lets probe gate it; the probe sidecar keeps its own tag
(PROBE_IMAGE_TAG in .env). SHA is a git SHA (7-40 lower-case hex, as the image workflow tags
its images) or an image tag such as sha-1a2b3c4; anything else exits 2 before a command runs.

  1. docker login ghcr.io -u $GHCR_USER --password-stdin   only when GHCR_USER and GHCR_TOKEN
                                                           are set; the token goes on stdin
  2. IMAGE_TAG=SHA docker compose -f docker-compose.yml -f docker-compose.prod.yml pull
  3. a backup of the database before anything changes, kept on this host:
     docker compose ... exec -T postgres sh -c 'exec pg_dump -Fc --exclude-table="probe_*" ...'
       > backups/STAMP_before_SHA.dump   (probe's own tables, the audit log, are not in it)
     (the newest DEPLOY_BACKUP_KEEP are kept; rollback.sh restores it if a downgrade fails)
  4. IMAGE_TAG=SHA docker compose ... up -d --remove-orphans
  5. IMAGE_TAG=SHA docker compose ... run --rm -T api alembic upgrade head
  6. probe deploy verify --sha SHA --url $PROBE_URL
     with PROBE_ROLLBACK_COMMAND=deploy/scripts/rollback.sh: when the gate fails, probe runs
     rollback.sh with the previous good SHA and gates again.
     With no probe on this host (PROBE_FROM=container), the probe in the sidecar's container:
     docker compose ... exec -T probe probe deploy verify --sha SHA --url http://127.0.0.1:9464
       --no-rollback --lock-file /var/lib/probe/deploy.lock
     and when its gate fails, rollback.sh runs here, on the host, with the previous good SHA
     and revision it printed (recording the rollback and gating through the sidecar)

Options:
  -n, --dry-run   print each command instead of running it
  -h, --help      show this help

Environment:
  DEPLOY_DIR       directory with docker-compose.yml, docker-compose.prod.yml and .env
                   (default: deploy/, the parent of this script)
  GHCR_USER        GitHub user for ghcr.io; with GHCR_TOKEN (read:packages) it logs in first;
                   unset: docker's stored login (or none, for public images) is used
  GHCR_TOKEN       read on stdin by docker login, never put on a command line
  PROBE_FROM       where probe runs: host, container (the sidecar's, through docker compose
                   exec: no probe binary needed on this host) or auto (default: host when
                   PROBE_BIN is set or probe is on PATH, else container)
  PROBE_BIN        the probe binary on this host (default: probe on PATH)
  PROBE_URL        the probe sidecar, from the host (default: http://127.0.0.1:9464)
  PROBE_CONTAINER_URL  the sidecar from inside its container (default: http://127.0.0.1:9464)
  DEPLOY_BACKUP_DIR    where the backups go (default: $DEPLOY_DIR/backups, mode 700)
  DEPLOY_BACKUP_KEEP   how many backups to keep (default: 7; 0: no backup, with a warning)
  PROBE_TOKEN      the sidecar's deploy.token (default: PROBE_TOKEN from $DEPLOY_DIR/.env)
  PROBE_LOCK_FILE  probe's host lock file (probe's --lock-file), in a directory only this user
                   can write (default: probe's own, /run/probe/deploy.lock as root, else
                   $XDG_RUNTIME_DIR/probe/deploy.lock or ~/.local/state/probe/deploy.lock)
  DEPLOY_WATCH     keep watching this long after the gate opens, e.g. 5m (probe's --watch)
  PROBE_ACTOR      who deploys, for the audit log (default: $USER)

Exit codes (probe deploy verify's, passed through unchanged):
  0  deployed and healthy; SHA written to $DEPLOY_DIR/.deployed_sha
  1  failed and nothing rolled back: a step before the gate failed (pull, backup, up,
     migrations),
     or the gate failed with no previous good SHA to roll back to
  2  usage or configuration error (bad SHA, bad option, missing docker/probe/token, an unsafe
     lock: DEPLOY_DIR writable by another user, $DEPLOY_DIR/.deploy.lock or PROBE_LOCK_FILE a
     symbolic link or in such a directory); nothing run
  3  the deploy failed and was rolled back to the previous good SHA, which is healthy
  4  the rollback failed (hook failed or timed out, or unhealthy after it): needs a person
  5  another deploy or rollback holds the lock; nothing run
EOF
}

# One line per exit code of `probe deploy verify`, for logs and the workflow summary.
meaning() {
  case $1 in
    0) echo "deployed and healthy" ;;
    1) echo "failed: the gate failed and there was nothing to roll back to" ;;
    2) echo "usage or configuration error" ;;
    3) echo "failed and rolled back: the previous good SHA runs and is healthy" ;;
    4) echo "rollback failed: the stack needs a person (deploy/scripts/deploy-check.sh)" ;;
    5) echo "locked: another deploy or rollback is running" ;;
    *) echo "unexpected exit code" ;;
  esac
}

parse_sha_args "$@" # sets sha and DRY_RUN, exits on --help or bad usage

deploy_dir=${DEPLOY_DIR:-$(cd "$script_dir/.." && pwd)}
# rollback.sh, run by probe as the hook, works on the same directory.
export DEPLOY_DIR=$deploy_dir
rollback=$script_dir/rollback.sh

# Everything that can be checked is checked before the first change to the stack.
if [ "$DRY_RUN" = 1 ]; then
  probe_setup "$deploy_dir" || true # only probe_cmd and probe_url are needed to print
else
  [ -d "$deploy_dir" ] || die 2 "DEPLOY_DIR $deploy_dir is not a directory"
  for file in docker-compose.yml docker-compose.prod.yml; do
    [ -f "$deploy_dir/$file" ] || die 2 "$deploy_dir/$file is missing"
  done
  command -v docker >/dev/null || die 2 "docker not found on PATH"
  probe_setup "$deploy_dir" || die 2 "$probe_problem"
  check_probe_lock_file
  [[ $rollback != *[[:cntrl:]]* ]] || die 2 "the path of rollback.sh holds a control character"
  [ -x "$rollback" ] || die 2 "$rollback is not executable"
fi

trace_cd "$deploy_dir"
[ "$DRY_RUN" = 1 ] || acquire_deploy_lock "$deploy_dir"

if [ -n "${GHCR_USER:-}" ] && [ -n "${GHCR_TOKEN:-}" ]; then
  # The token on stdin: on argv it would be visible in ps and in this trace.
  run docker login ghcr.io -u "$GHCR_USER" --password-stdin <<<"$GHCR_TOKEN" \
    || die 1 "docker login ghcr.io failed; nothing changed"
elif [ -n "${GHCR_USER:-}${GHCR_TOKEN:-}" ]; then
  log "GHCR_USER and GHCR_TOKEN go together; using docker's stored login"
fi
# No later command needs it: keep it out of their environments.
unset GHCR_TOKEN

run IMAGE_TAG="$sha" "${COMPOSE[@]}" pull || die 1 "pull of $sha failed; nothing changed"

# A backup before anything changes: the migrations may drop data that a downgrade cannot bring
# back. The dump is PostgreSQL's custom format (pg_restore can pick from it); the credentials
# are the postgres container's own, read by its shell, so none is on this host's command line.
# probe's own tables (probe_*: the deploy audit log) are left out, so that restoring the backup
# never takes back the events recorded since, the failed deploy's among them.
backup_database() {
  local keep=${DEPLOY_BACKUP_KEEP:-7} dir=${DEPLOY_BACKUP_DIR:-$deploy_dir/backups} file
  [[ $keep =~ ^[0-9]+$ ]] || die 2 "DEPLOY_BACKUP_KEEP must be a number (0: no backup)"
  if [ "$keep" = 0 ]; then
    log "warning: DEPLOY_BACKUP_KEEP=0: no backup before the migrations"
    return 0
  fi
  if [ "$DRY_RUN" = 0 ] && [ -z "$("${COMPOSE[@]}" ps -q postgres 2>/dev/null)" ]; then
    log "no running postgres container to back up (a first deploy?): no backup"
    return 0
  fi
  file=$dir/$(date -u +%Y%m%dT%H%M%SZ)_before_$sha.dump
  if [ "$DRY_RUN" = 0 ]; then
    (umask 077 && mkdir -p "$dir") || die 1 "cannot create the backup directory $dir"
  fi
  # shellcheck disable=SC2016 # expanded by the container's shell, from its own environment
  (umask 077 && run_to "$file.partial" "${COMPOSE[@]}" exec -T postgres \
    sh -c 'exec pg_dump -Fc --exclude-table="probe_*" -U "$POSTGRES_USER" "$POSTGRES_DB"') \
    || { rm -f "$file.partial"; die 1 "the backup (pg_dump) failed; nothing changed"; }
  [ "$DRY_RUN" = 1 ] && return 0
  mv -f "$file.partial" "$file"
  log "backup: $file ($(wc -c <"$file") bytes); the newest $keep are kept in $dir"
  # Names start with a UTC time stamp: the newest sort last.
  local old
  while IFS= read -r old; do
    rm -f -- "$old"
  done < <(find "$dir" -maxdepth 1 -name '*_before_*.dump' -type f | sort | head -n "-$keep")
}
backup_database

# From here on the stack changes. A failed step is recorded as deploy_failed through the
# sidecar (which notifies the team); the stack is left as it is for a person to look at.
failed_step() {
  local step=$1 status=$2 previous=
  if [ -f "$deploy_dir/.deployed_sha" ]; then
    previous=$(head -n 1 "$deploy_dir/.deployed_sha")
    valid_ref "$previous" || previous=
  fi
  local record=("${probe_cmd[@]}" deploy record --event deploy_failed --sha "$sha" --url "$probe_url"
    --details "{\"error\": \"deploy.sh: $step exited $status\"}")
  [ -n "$previous" ] && record+=(--previous "$previous")
  run "${record[@]}" >/dev/null || log "could not record deploy_failed through $probe_url"
  log "$step failed (exit $status) after the stack changed: it may run $sha, in whole or in part; nothing was rolled back"
  [ -n "$previous" ] && log "to go back: deploy/scripts/rollback.sh $previous, then deploy/scripts/deploy-check.sh"
  exit 1
}

# `up -d` recreates every container whose image or configuration changed. A plain
# `docker compose restart` would restart the old containers on the OLD image.
status=0
run IMAGE_TAG="$sha" "${COMPOSE[@]}" up -d --remove-orphans || status=$?
[ "$status" = 0 ] || failed_step "docker compose up -d" "$status"

# Migrations with the new api image, against the running database.
run IMAGE_TAG="$sha" "${COMPOSE[@]}" run --rm -T api alembic upgrade head || status=$?
[ "$status" = 0 ] || failed_step "alembic upgrade head" "$status"

verify=("${probe_cmd[@]}" deploy verify --sha "$sha" --url "$probe_url")
[ -n "${DEPLOY_WATCH:-}" ] && verify+=(--watch "$DEPLOY_WATCH")
if [ "$probe_where" = host ]; then
  [ -n "${PROBE_LOCK_FILE:-}" ] && verify+=(--lock-file "$PROBE_LOCK_FILE")
  # probe splits PROBE_ROLLBACK_COMMAND into words as a POSIX shell would (and runs no shell): a
  # path with a space or a quote in it goes single-quoted.
  hook=$rollback
  if ! [[ $hook =~ ^[A-Za-z0-9_./+=:@%,-]+$ ]]; then
    hook="'${hook//\'/\'\\\'\'}'"
  fi
  run PROBE_ROLLBACK_COMMAND="$hook" "${verify[@]}" || status=$?
  [ "$DRY_RUN" = 1 ] && exit 0
else
  # probe in the sidecar's container cannot reach Docker: it gates and records, and hands the
  # rollback back (--no-rollback prints the hook's environment); rollback.sh runs here.
  verify+=(--no-rollback --lock-file /var/lib/probe/deploy.lock)
  plan=$(run "${verify[@]}") || status=$?
  [ "$DRY_RUN" = 1 ] && { printf '%s\n' "$plan"; exit 0; }
  roll_back_from_plan "$status" "$plan" "$rollback" "$sha" || status=$?
fi
log "probe deploy verify exited $status: $(meaning "$status")"
if [ "$status" = 0 ]; then
  printf '%s\n' "$sha" >"$deploy_dir/.deployed_sha.tmp"
  mv -f "$deploy_dir/.deployed_sha.tmp" "$deploy_dir/.deployed_sha"
fi
exit "$status"
