# shellcheck shell=bash
# Helpers shared by deploy/k8s/scripts/deploy.sh and rollback.sh. Sourced, not run. They build
# on the Compose scripts' own helpers (deploy/scripts/lib.sh: `run`, `log`, `die`, the SHA/tag
# rule valid_ref/require_ref, parse_sha_args, --dry-run), so both deploy paths trace, refuse and
# exit the same way. Every kubectl call is an argv array; no value is pasted into a shell string.
#
#   k8s_setup                   reads and checks the environment (exit 2 naming the variable);
#                               sets kube (kubectl with --context/--namespace), probe_cmd (probe
#                               in the sidecar's container), probe_url, registry
#   k8s_preflight               the cluster answers, the four Deployments exist, probe runs in
#                               its container (exit 2 otherwise; nothing changed yet)
#   deployed_tag APP            the image tag APP's Deployment runs now (empty when unknown)
#   acquire_cluster_lock        one deploy.sh/rollback.sh at a time per namespace (exit 5 when held)
#   run_job KIND NAME TAG [REV] renders deploy/k8s/jobs/KIND.yaml (migrate, db-downgrade) with
#                               image TAG (and revision REV), creates job NAME and waits for it;
#                               on failure shows its log and returns 1
#   run_backup NAME             a Job from cronjob/backup, waited for the same way
#   switch_images TAG CAUSE     kubectl set image on api, bot, frontend (change cause recorded),
#                               then rollout status of each; returns 1 naming the first failure
#   job_name PREFIX TAG         PREFIX-<tag, as a DNS label>-<UTC time>, unique per run
k8s_scripts_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
k8s_dir=$(cd "$k8s_scripts_dir/.." && pwd)
# shellcheck source=deploy/scripts/lib.sh
source "$k8s_dir/../scripts/lib.sh"

# The apps a deploy switches; each Deployment's container has the Deployment's name, and its
# image is ghcr.io/OWNER/homeguru-NAME. probe keeps its own tag, as in the Compose deploy.
k8s_apps=(api bot frontend)
# probe's own listener, seen from inside its container, and the lock file on its emptyDir.
k8s_probe_url=http://127.0.0.1:9464
# shellcheck disable=SC2034 # deploy.sh's
k8s_probe_lock=/var/lib/probe/deploy.lock
K8S_LOCK_NAME=deploy-lock

# A whole number of seconds, 1-86400, from variable $1 (default $2); exit 2 naming it otherwise.
seconds_from() {
  local value=${!1:-$2}
  if ! [[ $value =~ ^[1-9][0-9]{0,4}$ ]] || [ "$value" -gt 86400 ]; then
    die 2 "$1 must be a whole number of seconds from 1 to 86400"
  fi
  printf '%s' "$value"
}

# `run` with the command's stdout to /dev/null ($1 = null) or stderr ($1 = err); under --dry-run
# the trace stays on stdout, where it is the script's output.
run_out() {
  local where=$1
  shift
  if [ "$DRY_RUN" = 1 ]; then
    run "$@"
  elif [ "$where" = null ]; then
    run "$@" >/dev/null
  else
    run "$@" >&2
  fi
}

# Globals for the scripts that source this file.
# shellcheck disable=SC2034
k8s_setup() {
  local namespace=${K8S_NAMESPACE:-homeguru} owner=${GHCR_OWNER:-homeguru}
  # A namespace is a DNS label; an owner is what ghcr.io takes in an image name (lower case).
  [[ $namespace =~ ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$ ]] \
    || die 2 "K8S_NAMESPACE must be a Kubernetes namespace name (lower-case letters, digits, '-'; at most 63)"
  [[ $owner =~ ^[a-z0-9]([a-z0-9-]{0,37}[a-z0-9])?$ ]] \
    || die 2 "GHCR_OWNER must be a GitHub owner in lower case, as in ghcr.io image names"
  case ${PROBE_FROM:-container} in
    container | auto) ;;
    host) die 2 "PROBE_FROM=host is not supported by the Kubernetes scripts: probe runs in its pod (kubectl exec), see --help" ;;
    *) die 2 "PROBE_FROM must be container (the only mode of the Kubernetes scripts)" ;;
  esac
  k8s_namespace=$namespace
  registry=ghcr.io/$owner
  job_timeout=$(seconds_from K8S_JOB_TIMEOUT 900)
  rollout_timeout=$(seconds_from K8S_ROLLOUT_TIMEOUT 300)
  poll_interval=$(seconds_from K8S_POLL_INTERVAL 2)
  local kubectl=${KUBECTL:-kubectl}
  kube=("$kubectl")
  # --context=VALUE in one word: a value starting with "-" cannot become an option.
  [ -n "${K8S_CONTEXT:-}" ] && kube+=("--context=$K8S_CONTEXT")
  kube+=("--namespace=$namespace")
  probe_cmd=("${kube[@]}" exec deploy/probe -c probe -- probe)
  probe_url=$k8s_probe_url
  if [ "$DRY_RUN" = 0 ]; then
    command -v "$kubectl" >/dev/null || die 2 "kubectl not found (KUBECTL=$kubectl)"
  fi
}

# Before anything changes: the cluster answers with this context, the Deployments are there,
# and probe runs in its container (deploy.sh's gate and rollback.sh's records go through it:
# finding out after the images switched would leave a deploy nobody gated).
k8s_preflight() {
  [ "$DRY_RUN" = 1 ] && return 0
  "${kube[@]}" get deployment "${k8s_apps[@]}" probe -o name >/dev/null \
    || die 2 "cannot read the Deployments ${k8s_apps[*]} probe in namespace $k8s_namespace (kubeconfig, context, RBAC, or the manifests not applied: see deploy/docs/kubernetes.md); nothing changed"
  "${probe_cmd[@]}" --version >/dev/null \
    || die 2 "cannot run probe in deploy/probe (kubectl exec: RBAC pods/exec, or the probe pod is not running); nothing changed"
}

# The tag after the last ":" of APP's container image, when it is a valid tag.
deployed_tag() {
  local image tag
  image=$("${kube[@]}" get deployment "$1" -o "jsonpath={.spec.template.spec.containers[?(@.name==\"$1\")].image}" 2>/dev/null) || return 0
  tag=${image##*:}
  [ "$tag" != "$image" ] && [[ $tag != */* ]] && valid_ref "$tag" && printf '%s' "$tag"
  return 0
}

# A ConfigMap that only one `kubectl create` can make: the cluster-wide counterpart of the
# Compose scripts' flock, taken before anything changes and deleted on exit. A runner that died
# holding it leaves it behind: the message says how to remove it.
acquire_cluster_lock() {
  [ "${DEPLOY_LOCK_HELD:-}" = 1 ] && return 0
  local holder err
  holder="${PROBE_ACTOR:-${USER:-$(id -un)}}@$(hostname 2>/dev/null || echo unknown)"
  if [ "$DRY_RUN" = 1 ]; then
    run "${kube[@]}" create configmap "$K8S_LOCK_NAME" "--from-literal=holder=$holder" \
      "--from-literal=sha=$sha" "--from-literal=since=STAMP"
    return 0
  fi
  err=$(run "${kube[@]}" create configmap "$K8S_LOCK_NAME" "--from-literal=holder=$holder" \
    "--from-literal=sha=$sha" "--from-literal=since=$(date -u +%Y-%m-%dT%H:%M:%SZ)" 2>&1 >/dev/null) || {
    if [[ $err == *AlreadyExists* || $err == *"already exists"* ]]; then
      local who
      who=$("${kube[@]}" get configmap "$K8S_LOCK_NAME" -o 'jsonpath={.data.holder} deploying {.data.sha} since {.data.since}' 2>/dev/null | tr -cd '[:print:]') || who=
      die 5 "another deploy.sh or rollback.sh holds the lock (configmap/$K8S_LOCK_NAME in $k8s_namespace${who:+: $who}); try again when it is done. If none runs (a runner that died), remove it: kubectl -n $k8s_namespace delete configmap $K8S_LOCK_NAME"
    fi
    printf '%s\n' "$err" >&2
    die 2 "cannot create the lock configmap/$K8S_LOCK_NAME in $k8s_namespace (RBAC: create configmaps); nothing changed"
  }
  DEPLOY_LOCK_HELD=1
  export DEPLOY_LOCK_HELD
  trap release_cluster_lock EXIT
}

release_cluster_lock() {
  run "${kube[@]}" delete configmap "$K8S_LOCK_NAME" --ignore-not-found >/dev/null \
    || log "could not delete configmap/$K8S_LOCK_NAME: remove it by hand (kubectl -n $k8s_namespace delete configmap $K8S_LOCK_NAME)"
}

# PREFIX-<TAG as a DNS label, at most 12 characters>-<UTC time to the second>.
job_name() {
  local part=${2,,}
  part=${part//[^a-z0-9]/-}
  part=${part:0:12}
  while [[ $part == *- ]]; do part=${part%-}; done
  printf '%s-%s-%s' "$1" "${part:-x}" "$(date -u +%Y%m%d%H%M%S)"
}

# Writes the overlay that renders deploy/k8s/jobs/$1.yaml alone as job $2 with image tag $3
# (and, for db-downgrade, revision $4) into directory $5. Every value is validated (tags,
# revisions, DNS labels) and double-quoted: a tag of digits stays a string. patchesJson6902 and
# images are read alike by kustomize v2.0.3 (Debian 12's kubectl 1.20) and v5 (kubectl 1.32,
# which warns that patchesJson6902 is deprecated).
write_job_overlay() {
  local kind=$1 name=$2 tag=$3 revision=${4:-} dir=$5
  cp -R "$k8s_dir/jobs" "$dir/jobs"
  {
    echo "- {op: replace, path: /metadata/name, value: \"$name\"}"
    if [ -n "$revision" ]; then
      echo "- {op: replace, path: /spec/template/spec/containers/0/command/2, value: \"$revision\"}"
    fi
  } >"$dir/patch.yaml"
  {
    echo "apiVersion: kustomize.config.k8s.io/v1beta1"
    echo "kind: Kustomization"
    echo "resources: [\"jobs/$kind.yaml\"]"
    echo "patchesJson6902:"
    echo "  - {target: {group: batch, version: v1, kind: Job, name: \"$kind\"}, path: patch.yaml}"
    echo "images:"
    echo "  - {name: ghcr.io/homeguru/homeguru-api, newName: \"$registry/homeguru-api\", newTag: \"$tag\"}"
  } >"$dir/kustomization.yaml"
}

# Polls job $1 until it is Complete or Failed, for at most job_timeout seconds. `kubectl wait
# --for=condition=complete` waits for one condition only: a failed Job would hold the deploy
# for the whole timeout. Returns 0 complete, 1 failed, 124 still running at the deadline.
wait_job() {
  local deadline=$((SECONDS + job_timeout)) state
  trace "${kube[@]}" get "job/$1" -o 'jsonpath={.status.conditions[?(@.status=="True")].type}'
  [ "$DRY_RUN" = 1 ] && return 0
  while :; do
    state=$("${kube[@]}" get "job/$1" -o 'jsonpath={.status.conditions[?(@.status=="True")].type}' 2>/dev/null) || state=
    case " $state " in
      *" Complete "*) return 0 ;;
      *" Failed "*) return 1 ;;
    esac
    [ "$SECONDS" -lt "$deadline" ] || return 124
    sleep "$poll_interval"
  done
}

# Waits for job $1 (what it is: $2); on failure shows its log and says what happened.
wait_job_or_show() {
  local status=0
  wait_job "$1" || status=$?
  [ "$status" = 0 ] && return 0
  if [ "$status" = 124 ]; then
    log "$2 (job/$1) has not finished after ${job_timeout}s (K8S_JOB_TIMEOUT); it may still be running"
  else
    log "$2 (job/$1) failed; its log:"
  fi
  run "${kube[@]}" logs "job/$1" --all-containers --tail=200 >&2 || log "(no log: kubectl logs job/$1 failed)"
  return 1
}

run_job() {
  local kind=$1 name=$2 tag=$3 revision=${4:-} dir
  if [ "$DRY_RUN" = 1 ]; then
    printf '# job/%s: deploy/k8s/jobs/%s.yaml with image %s%s\n' "$name" "$kind" \
      "$registry/homeguru-api:$tag" "${revision:+, revision $revision}"
    run "${kube[@]}" create -f -
  else
    dir=$(mktemp -d "${TMPDIR:-/tmp}/k8s-job.XXXXXX")
    write_job_overlay "$kind" "$name" "$tag" "$revision" "$dir"
    if ! run_to "$dir/job.yaml" "${kube[@]}" kustomize "$dir"; then
      rm -rf "$dir"
      log "cannot render deploy/k8s/jobs/$kind.yaml (kubectl kustomize)"
      return 1
    fi
    run "${kube[@]}" create -f "$dir/job.yaml" >/dev/null || { rm -rf "$dir"; return 1; }
    rm -rf "$dir"
  fi
  wait_job_or_show "$name" "$kind $tag"
}

run_backup() {
  run_out null "${kube[@]}" create job --from=cronjob/backup "$1" || return 1
  wait_job_or_show "$1" "the backup"
}

# shellcheck disable=SC2034 # switch_failed names the failed step for the caller
switch_images() {
  local tag=$1 cause=$2 app
  for app in "${k8s_apps[@]}"; do
    # The cause goes on the Deployment first, so the ReplicaSet the image change makes carries
    # it: `kubectl rollout history` then says which deploy made each revision.
    run_out null "${kube[@]}" annotate "deployment/$app" "kubernetes.io/change-cause=$cause" --overwrite \
      || { switch_failed="kubectl annotate deployment/$app"; return 1; }
    run_out null "${kube[@]}" set image "deployment/$app" "$app=$registry/homeguru-$app:$tag" \
      || { switch_failed="kubectl set image deployment/$app"; return 1; }
  done
  for app in "${k8s_apps[@]}"; do
    run_out err "${kube[@]}" rollout status "deployment/$app" "--timeout=${rollout_timeout}s" \
      || { switch_failed="kubectl rollout status deployment/$app (K8S_ROLLOUT_TIMEOUT=${rollout_timeout}s)"; return 1; }
  done
}
