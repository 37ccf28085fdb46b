#!/usr/bin/env bash
# Deploys one image tag of the HomeGuru apps to a Kubernetes namespace and lets probe gate it,
# rolling back to the previous good tag when the apps do not come up healthy: the Kubernetes
# counterpart of deploy/scripts/deploy.sh, with the same exit codes and the same audit log.
# .github/workflows/deploy-k8s.yml runs it; a person runs it the same way with a kubeconfig.
set -euo pipefail
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$script_dir/lib.sh"

usage() {
  cat <<'EOF'
Usage: deploy/k8s/scripts/deploy.sh [--dry-run] SHA

Deploys image tag SHA of the HomeGuru apps (Deployments api, bot, frontend; images
ghcr.io/$GHCR_OWNER/homeguru-NAME) to namespace $K8S_NAMESPACE and lets probe gate it; the
probe Deployment keeps its own tag. SHA is a git SHA (7-40 lower-case hex) or an image tag
([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}), the rule of probe and of deploy/scripts/deploy.sh;
anything else exits 2 before kubectl runs. Every kubectl below takes --namespace (and
--context when K8S_CONTEXT is set):

  0. kubectl get deployment api bot frontend probe; kubectl exec deploy/probe -c probe --
     probe --version (the cluster, the manifests and probe are there: exit 2 otherwise)
     kubectl create configmap deploy-lock ...   one deploy or rollback at a time in the
                                                namespace (exit 5 when it exists); deleted
                                                when this script ends
  1. a backup before anything changes: kubectl create job --from=cronjob/backup
     backup-<sha>-<time>, waited for (the CronJob's pg_dump, onto its volume)
  2. the migrations with the NEW api image: deploy/k8s/jobs/migrate.yaml rendered with
     kubectl kustomize (image ...homeguru-api:SHA, name migrate-<sha>-<time>), kubectl
     create -f, waited for. A failure shows the Job's log (kubectl logs job/NAME), records
     deploy_failed and exits 1: no image was changed
  3. for api, bot and frontend: kubectl annotate deployment/NAME kubernetes.io/change-cause=...
     and kubectl set image deployment/NAME NAME=ghcr.io/$GHCR_OWNER/homeguru-NAME:SHA; then
     kubectl rollout status deployment/NAME --timeout=${K8S_ROLLOUT_TIMEOUT}s for each
  4. the gate, by the probe in the sidecar's pod (as deploy/scripts/deploy.sh with
     PROBE_FROM=container):
     kubectl exec deploy/probe -c probe -- probe deploy verify --sha SHA
       --url http://127.0.0.1:9464 --no-rollback --lock-file /var/lib/probe/deploy.lock
     probe records deploy_started and deploy_succeeded or deploy_failed (the pod has
     PROBE_TOKEN); when its gate fails it prints the previous good SHA and database revision,
     and deploy/k8s/scripts/rollback.sh runs here with them: the db-downgrade Job with the
     failed image, the images back to the previous good SHA, rollback_started and
     rollback_succeeded or rollback_failed recorded through the sidecar

Waits are polled every K8S_POLL_INTERVAL seconds and bounded: a Job by K8S_JOB_TIMEOUT, a
rollout by K8S_ROLLOUT_TIMEOUT. `kubectl wait --for=condition=complete` is not used for Jobs:
it waits out its whole timeout when the Job fails.

Options:
  -n, --dry-run   print each command instead of running it (kubectl is not run at all)
  -h, --help      show this help

Environment:
  K8S_NAMESPACE        namespace of the apps (default: homeguru; homeguru-staging, ...)
  K8S_CONTEXT          kubeconfig context (default: the kubeconfig's current one)
  KUBECTL              kubectl to run (default: kubectl on PATH); KUBECONFIG as kubectl reads it
  GHCR_OWNER           owner in the image names, lower case (default: homeguru)
  K8S_JOB_TIMEOUT      seconds for the backup and migration Jobs (default: 900)
  K8S_ROLLOUT_TIMEOUT  seconds for each Deployment's rollout (default: 300)
  K8S_POLL_INTERVAL    seconds between looks at a Job (default: 2)
  DEPLOY_WATCH         keep watching this long after the gate opens, e.g. 5m (probe's --watch)
  PROBE_ACTOR          who deploys, for the audit log (default: $USER)
  PROBE_FROM           container (the default and only mode here: probe runs in its pod, this
                       host needs no probe binary nor PROBE_TOKEN; `host` is refused)

Exit codes (probe deploy verify's, passed through unchanged, as deploy/scripts/deploy.sh):
  0  deployed and healthy
  1  failed and nothing rolled back: a step before the gate failed (backup, migrations,
     set image, rollout status; deploy_failed recorded once something changed), or the gate
     failed with no previous good SHA to roll back to
  2  usage or configuration error (bad SHA or option, a bad variable, no kubectl, the cluster
     or the Deployments or probe not reachable); nothing changed
  3  the deploy failed and was rolled back to the previous good SHA, which is healthy
  4  the rollback failed (a step of rollback.sh failed, or unhealthy after it): needs a person
  5  another deploy or rollback holds the lock (configmap/deploy-lock); nothing run
EOF
}

meaning() {
  case $1 in
    0) echo "deployed and healthy" ;;
    1) echo "failed: nothing was rolled back" ;;
    2) echo "usage or configuration error" ;;
    3) echo "failed and rolled back: the previous good SHA runs and is healthy" ;;
    4) echo "rollback failed: the apps need a person (deploy/docs/kubernetes.md)" ;;
    5) echo "locked: another deploy or rollback is running" ;;
    *) echo "unexpected exit code" ;;
  esac
}

parse_sha_args "$@" # sets sha and DRY_RUN, exits on --help or bad usage
k8s_setup
rollback=$script_dir/rollback.sh
if [ "$DRY_RUN" = 0 ]; then
  [ -x "$rollback" ] || die 2 "$rollback is not executable"
  [ -z "${DEPLOY_WATCH:-}" ] || [[ $DEPLOY_WATCH =~ ^[0-9]+(ms|s|m|h)$ ]] \
    || die 2 "DEPLOY_WATCH must be a duration such as 300s or 5m"
fi
k8s_preflight
acquire_cluster_lock
# The tag the apps run now: the way back named when a step fails after something changed.
previous=
[ "$DRY_RUN" = 1 ] || previous=$(deployed_tag api)
stamp_name() { job_name "$1" "$sha"; }

run_backup "$(stamp_name backup)" || die 1 "the backup failed; nothing changed"

# A step failed after the schema or the images may have changed: recorded as deploy_failed
# through the sidecar (which notifies the team), and left as it is for a person to look at.
failed_step() {
  local step=$1
  local record=("${probe_cmd[@]}" deploy record --event deploy_failed --sha "$sha" --url "$probe_url"
    --details "{\"error\": \"deploy.sh: $step failed\"}")
  [ -n "$previous" ] && record+=(--previous "$previous")
  [ -n "${PROBE_ACTOR:-}" ] && record+=(--actor "$PROBE_ACTOR")
  run "${record[@]}" >/dev/null || log "could not record deploy_failed through the probe pod"
  log "$step failed${2:+; $2}"
  [ -n "$previous" ] && log "to go back: deploy/k8s/scripts/rollback.sh $previous"
  exit 1
}

run_job migrate "$(stamp_name migrate)" "$sha" \
  || failed_step "the migrations (alembic upgrade head with $sha)" "no image was changed"

switch_failed=
switch_images "$sha" "deploy.sh $sha by ${PROBE_ACTOR:-${USER:-$(id -un)}}" \
  || failed_step "$switch_failed" "the apps may run $sha in part; nothing was rolled back"

verify=("${probe_cmd[@]}" deploy verify --sha "$sha" --url "$probe_url" --no-rollback
  --lock-file "$k8s_probe_lock")
[ -n "${DEPLOY_WATCH:-}" ] && verify+=(--watch "$DEPLOY_WATCH")
[ -n "${PROBE_ACTOR:-}" ] && verify+=(--actor "$PROBE_ACTOR")
status=0
plan=$(run "${verify[@]}") || status=$?
[ "$DRY_RUN" = 1 ] && { printf '%s\n' "$plan"; exit 0; }
roll_back_from_plan "$status" "$plan" "$rollback" "$sha" || status=$?
log "probe deploy verify exited $status: $(meaning "$status")"
exit "$status"
