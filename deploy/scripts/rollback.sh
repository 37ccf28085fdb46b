#!/usr/bin/env bash
# Switches the HomeGuru apps back to an earlier image tag. It is the rollback hook probe
# runs when a deploy fails its gate (deploy.sh hands it to `probe deploy verify` as
# PROBE_ROLLBACK_COMMAND; probe appends the previous good SHA and gates again afterwards).
# Run by hand, it does what probe would around the switch: records rollback_started through
# the sidecar, gates on its /ready after `up -d`, and records rollback_succeeded or
# rollback_failed, so the audit log, probe_deploy_info and the team's notifications see a
# rollback made by a person too.
set -euo pipefail
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$script_dir/lib.sh"

usage() {
  cat <<'EOF'
Usage: deploy/scripts/rollback.sh [--dry-run] SHA

Switches the HomeGuru apps (api, bot, frontend: IMAGE_TAG) back to image tag SHA, the
previous good one; the probe sidecar keeps its own tag (PROBE_IMAGE_TAG in .env):

  1. IMAGE_TAG=SHA docker compose -f docker-compose.yml -f docker-compose.prod.yml pull
  2. only when PROBE_DB_REVISION is set: the schema back to that Alembic revision, run with the
     FAILED image (PROBE_FAILED_SHA), whose migrations are the ones that know how to downgrade:
     IMAGE_TAG=$PROBE_FAILED_SHA docker compose ... run --rm -T api alembic downgrade $PROBE_DB_REVISION
     When the downgrade fails: the newest backup deploy.sh took before PROBE_FAILED_SHA
     (backups/*_before_<failed>.dump) is restored, with api and bot stopped:
     docker compose ... stop api bot
     docker compose ... exec -T postgres sh -c 'exec pg_restore --clean ... --single-transaction' < BACKUP
  3. IMAGE_TAG=SHA docker compose ... up -d --remove-orphans

Run by hand (PROBE_PREVIOUS_SHA unset, which probe always sets for its hook), it also
  0. probe deploy record --event rollback_started --sha SHA --url $PROBE_URL
  4. probe wait --url $PROBE_URL        the sidecar's readiness gate on the old images
  5. probe deploy record --event rollback_succeeded (or rollback_failed) ...
     and, when ready, writes SHA to $DEPLOY_DIR/.deployed_sha as deploy.sh does
When probe or the token cannot be found it warns, switches and records nothing.

probe deploy verify runs it with the previous good SHA as its argument and sets
PROBE_PREVIOUS_SHA, PROBE_FAILED_SHA and PROBE_DB_REVISION (the revision the previous good SHA
last ran with, when probe knows it). By hand, e.g. after deploy-check.sh shows a bad deploy:

  PROBE_FAILED_SHA=<running tag> PROBE_DB_REVISION=<revision> deploy/scripts/rollback.sh <good SHA>

(`probe deploy list` names the SHAs and, with --format json, their details.db_revision.)

Options:
  -n, --dry-run   print each command instead of running it
  -h, --help      show this help

Environment:
  DEPLOY_DIR         directory with the compose files and .env (default: deploy/)
  PROBE_FAILED_SHA   the tag that runs now; required when PROBE_DB_REVISION is set
  PROBE_DB_REVISION  Alembic revision to downgrade to first; empty: no downgrade
  DEPLOY_BACKUP_DIR  where deploy.sh keeps its backups (default: $DEPLOY_DIR/backups)
  PROBE_FROM, PROBE_BIN, PROBE_URL, PROBE_CONTAINER_URL, PROBE_TOKEN, PROBE_ACTOR
                     as for deploy.sh (by hand only)

Exit codes: 0 switched (and, by hand, healthy), 1 a step failed or, by hand, the stack is
not ready after the switch, 2 usage (bad SHA, revision or option; an unsafe lock: DEPLOY_DIR
writable by another user, or $DEPLOY_DIR/.deploy.lock a symbolic link; nothing run),
5 another deploy.sh or rollback.sh holds the lock ($DEPLOY_DIR/.deploy.lock).
EOF
}

parse_sha_args "$@" # sets sha and DRY_RUN, exits on --help or bad usage

parse_rollback_env # sets revision and failed from the hook's environment, exits 2 on bad values

deploy_dir=${DEPLOY_DIR:-$(cd "$script_dir/.." && pwd)}
if [ "$DRY_RUN" = 0 ]; then
  [ -d "$deploy_dir" ] || die 2 "DEPLOY_DIR $deploy_dir is not a directory"
  command -v docker >/dev/null || die 2 "docker not found on PATH"
fi
trace_cd "$deploy_dir"
[ "$DRY_RUN" = 1 ] || acquire_deploy_lock "$deploy_dir"

# By hand, the rollback is recorded through the sidecar; as probe's hook, probe records it.
recording=0
if [ -z "${PROBE_PREVIOUS_SHA+set}" ]; then
  if probe_setup "$deploy_dir" || [ "$DRY_RUN" = 1 ]; then
    recording=1
  else
    log "warning: $probe_problem; the rollback is not gated and not recorded"
  fi
fi

log "rolling back to $sha${failed:+ from $failed}"
record rollback_started "{\"by\":\"rollback.sh\"}"
# Pull first: if the old images cannot be had, nothing has changed yet.
run IMAGE_TAG="$sha" "${COMPOSE[@]}" pull || step_failed "pull of $sha failed; nothing changed"
# The newest backup deploy.sh took before deploying $failed, or nothing.
backup_before() {
  local dir=${DEPLOY_BACKUP_DIR:-$deploy_dir/backups}
  find "$dir" -maxdepth 1 -type f -name "*_before_$1.dump" 2>/dev/null | sort | tail -n 1
}

# The schema back from a failed downgrade: the apps that hold the database stop, and the backup
# taken before $failed was deployed is restored in one transaction (all or nothing). Whatever
# was written since that backup is lost: said loudly, and kept in the restored-from file's name.
restore_backup() {
  local backup
  backup=$(backup_before "$failed")
  [ -n "$backup" ] || step_failed "alembic downgrade $revision (with $failed) failed and there is no backup taken before $failed; the images were not switched"
  log "alembic downgrade failed: restoring $backup (taken before $failed was deployed; writes since then are lost)"
  run "${COMPOSE[@]}" stop api bot || step_failed "docker compose stop api bot failed before the restore"
  # shellcheck disable=SC2016 # expanded by the container's shell, from its own environment
  run_from "$backup" "${COMPOSE[@]}" exec -T postgres \
    sh -c 'exec pg_restore --clean --if-exists --single-transaction --no-owner -U "$POSTGRES_USER" -d "$POSTGRES_DB"' \
    || step_failed "alembic downgrade failed, and so did restoring $backup; the database is as the failed downgrade left it"
  log "restored $backup"
}

if [ -n "$revision" ]; then
  # The old code expects the old schema, and only the new image's migrations know the way back.
  run IMAGE_TAG="$failed" "${COMPOSE[@]}" run --rm -T api alembic downgrade "$revision" || restore_backup
fi
# `up -d` recreates the containers on the old images; `restart` would keep the new ones.
run IMAGE_TAG="$sha" "${COMPOSE[@]}" up -d --remove-orphans || step_failed "docker compose up -d of $sha failed"
if [ "$recording" = 1 ]; then
  run "${probe_cmd[@]}" wait --url "$probe_url" \
    || step_failed "switched to $sha, but the stack is not ready (probe wait); see deploy/scripts/deploy-check.sh"
  record rollback_succeeded
  if [ "$DRY_RUN" = 0 ]; then
    # As deploy.sh does after a good deploy: the tag a later failed step names as the way back.
    printf '%s\n' "$sha" >"$deploy_dir/.deployed_sha.tmp"
    mv -f "$deploy_dir/.deployed_sha.tmp" "$deploy_dir/.deployed_sha"
  fi
fi
if [ "$DRY_RUN" = 1 ]; then
  log "dry run: nothing was run"
else
  log "switched to $sha"
fi
