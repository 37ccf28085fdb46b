#!/usr/bin/env bash
# Switches the HomeGuru apps in a Kubernetes namespace back to an earlier image tag: the
# counterpart of deploy/scripts/rollback.sh. deploy/k8s/scripts/deploy.sh runs it when probe's
# gate fails, with the previous good SHA and revision probe printed; a person runs it the same
# way. It records rollback_started and rollback_succeeded or rollback_failed through the probe
# pod and gates on its /ready, so the audit log and the team's notifications see every rollback.
set -euo pipefail
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$script_dir/lib.sh"

usage() {
  cat <<'EOF'
Usage: deploy/k8s/scripts/rollback.sh [--dry-run] SHA

Switches the HomeGuru apps (Deployments api, bot, frontend in $K8S_NAMESPACE) back to image
tag SHA, the previous good one; the probe Deployment keeps its own tag. Every kubectl below
takes --namespace (and --context when K8S_CONTEXT is set):

  0. kubectl create configmap deploy-lock ...   unless deploy.sh, which holds it, runs this
     probe deploy record --event rollback_started --sha SHA ...     through the probe pod:
     kubectl exec deploy/probe -c probe -- probe ... --url http://127.0.0.1:9464
  1. only when PROBE_DB_REVISION is set: the schema back to that Alembic revision, run with
     the FAILED image (PROBE_FAILED_SHA), whose migrations are the ones that know the way
     back: deploy/k8s/jobs/db-downgrade.yaml rendered with kubectl kustomize (image
     ...homeguru-api:$PROBE_FAILED_SHA, `alembic downgrade $PROBE_DB_REVISION`, name
     db-downgrade-<sha>-<time>), kubectl create -f, waited for. When it fails its log is shown,
     rollback_failed recorded, no image switched, exit 1: restore the backup Job's dump by hand
     (deploy/docs/kubernetes.md, "Backups")
  2. for api, bot and frontend: kubectl annotate deployment/NAME kubernetes.io/change-cause=...
     and kubectl set image deployment/NAME NAME=ghcr.io/$GHCR_OWNER/homeguru-NAME:SHA, then
     kubectl rollout status deployment/NAME --timeout=${K8S_ROLLOUT_TIMEOUT}s for each
  3. probe wait --url http://127.0.0.1:9464 (in the probe pod): the readiness gate on SHA
  4. probe deploy record --event rollback_succeeded (or rollback_failed) ...

Why `kubectl set image` and not `kubectl rollout undo`: undo goes back one ReplicaSet revision,
which is not always SHA. After a deploy whose rollout never finished, after two deploys of
which the last good one is not the one before, or after a by-hand change, the revision before
is not the release probe chose (the newest deploy_succeeded or rollback_succeeded in the audit
log). set image names that release exactly, the gate then checks the SHA that was asked for,
and `kubectl rollout history` still lists the switch as a new revision with its change cause.

When deploy.sh runs it, the environment names the failed tag and the revision, as probe sets
them for a rollback hook; by hand, e.g. after a bad deploy that exited 4:

  PROBE_FAILED_SHA=<running tag> PROBE_DB_REVISION=<revision> deploy/k8s/scripts/rollback.sh <good SHA>

(`kubectl exec deploy/probe -c probe -- probe deploy list --url http://127.0.0.1:9464` names
the SHAs; with --format json, their details.db_revision.)

Options:
  -n, --dry-run   print each command instead of running it (kubectl is not run at all)
  -h, --help      show this help

Environment:
  PROBE_FAILED_SHA    the tag that runs now; required when PROBE_DB_REVISION is set
  PROBE_DB_REVISION   Alembic revision to downgrade to first; empty: no downgrade
  PROBE_PREVIOUS_SHA  set by probe for its hooks: then probe records and gates, and this
                      script only switches (and downgrades)
  K8S_NAMESPACE, K8S_CONTEXT, KUBECTL, GHCR_OWNER, K8S_JOB_TIMEOUT, K8S_ROLLOUT_TIMEOUT,
  K8S_POLL_INTERVAL, PROBE_ACTOR   as for deploy.sh

Exit codes: 0 switched (and, by hand, healthy), 1 a step failed or the apps are not ready
after the switch (rollback_failed recorded), 2 usage (bad SHA, revision, option or variable;
the cluster, the Deployments or probe not reachable; nothing run), 5 another deploy.sh or
rollback.sh holds the lock (configmap/deploy-lock).
EOF
}

parse_sha_args "$@" # sets sha and DRY_RUN, exits on --help or bad usage

parse_rollback_env # sets revision and failed from the hook's environment, exits 2 on bad values

k8s_setup
k8s_preflight
acquire_cluster_lock

# As probe's hook (PROBE_PREVIOUS_SHA set), probe records and gates; otherwise this script does.
recording=1
[ -n "${PROBE_PREVIOUS_SHA+set}" ] && recording=0

log "rolling back to $sha${failed:+ from $failed}"
record rollback_started "{\"by\":\"rollback.sh\"}"
if [ -n "$revision" ]; then
  # The old code expects the old schema, and only the new image's migrations know the way back.
  run_job db-downgrade "$(job_name db-downgrade "$failed")" "$failed" "$revision" \
    || step_failed "alembic downgrade $revision (with $failed) failed; no image was switched"
fi
switch_failed=
switch_images "$sha" "rollback.sh to $sha${failed:+ from $failed} by ${PROBE_ACTOR:-${USER:-$(id -un)}}" \
  || step_failed "$switch_failed"
if [ "$recording" = 1 ]; then
  run_out err "${probe_cmd[@]}" wait --url "$probe_url" \
    || step_failed "switched to $sha, but the apps are not ready (probe wait)"
  record rollback_succeeded
fi
if [ "$DRY_RUN" = 1 ]; then
  log "dry run: nothing was run"
else
  log "switched to $sha"
fi
