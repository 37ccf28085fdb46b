#!/usr/bin/env bash
# A stand-in for `kubectl`, for running deploy/k8s/scripts/*.sh for real where no cluster is.
# The test puts it first on PATH as `kubectl` (a symlink). It plays only what needs a cluster,
# records every call, and refuses anything else (exit 64), so a script that grows a new kubectl
# command fails its test until the stand-in learns it. What runs offline runs for real:
#
#   [--context=C] [--namespace=N] global flags, accepted and recorded
#   kustomize DIR                      the real kubectl ($FAKE_KUBECTL_REAL)
#   get deployment NAME... -o name     deployment.apps/NAME for each one in the state
#   get deployment NAME -o jsonpath=... the image of container NAME
#   create configmap NAME --from-literal=K=V...   AlreadyExists (exit 1) when NAME exists
#   get configmap NAME -o jsonpath=... its holder; delete configmap NAME [--ignore-not-found]
#   create job --from=cronjob/backup NAME        a backup Job, Complete
#   create -f FILE                     a Job rendered from deploy/k8s/jobs (parsed with PyYAML):
#                                      `alembic upgrade head` sets alembic_version in the test's
#                                      PostgreSQL to the revision of the image's tag
#                                      (FAKE_KUBECTL_REVISIONS="tag=rev ..."), `alembic
#                                      downgrade REV` sets it to REV; the Job is Complete
#   get job/NAME -o jsonpath=...       Complete or Failed (the conditions the scripts poll)
#   logs job/NAME [...]                the Job's log
#   annotate deployment/NAME K=V --overwrite
#   set image deployment/NAME NAME=IMAGE   the image kept in the state; for the api, the
#                                      stand-in api restarts with the tag as its version
#                                      (tests/shell/lib/standin_api.sh), or as version "bad"
#                                      (/health 500) when the tag is in FAKE_KUBECTL_UNHEALTHY
#   rollout status deployment/NAME --timeout=Ns   rolled out
#   exec deploy/probe -c probe -- probe ARGS...   the REAL probe ($FAKE_PROBE_BIN) with the
#                                      pod's PROBE_TOKEN ($FAKE_PROBE_TOKEN) and /var/lib/probe
#                                      (its emptyDir) as $FAKE_KUBECTL_STATE/probe-state, and
#                                      its own listener http://127.0.0.1:9464 as $FAKE_PROBE_URL
#
# Environment: FAKE_KUBECTL_STATE (a directory: calls.log, images/, jobs/, configmaps/,
# annotations/), FAKE_KUBECTL_REAL, FAKE_PROBE_BIN, FAKE_PROBE_TOKEN, FAKE_PROBE_URL, FAKE_DB_DSN (libpq URL of
# the apps' database), FAKE_KUBECTL_FAIL=backup|migrate|downgrade|rollout makes that step fail
# after it is recorded; standin_api.sh's DEMO_WORK, DEMO_STANDIN, DEMO_API_PORT.
# calls.log holds one line per call, the arguments quoted with printf %q.
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
state=${FAKE_KUBECTL_STATE:?fake kubectl: FAKE_KUBECTL_STATE is not set}

printf -v call '%q ' "$@"
printf '%s\n' "${call% }" >>"$state/calls.log"
mkdir -p "$state/images" "$state/jobs" "$state/configmaps" "$state/annotations"

refuse() {
  echo "fake kubectl: not implemented: $*" >&2
  exit 64
}

failing() { [ "${FAKE_KUBECTL_FAIL:-}" = "$1" ]; }

globals=()
while [ $# -gt 0 ]; do
  case $1 in
    --context=* | --namespace=*) globals+=("$1"); shift ;;
    *) break ;;
  esac
done

# A Job's outcome: its state and log files.
finish_job() { # $1 = name, $2 = Complete|Failed, $3 = log text
  printf '%s\n' "$2" >"$state/jobs/$1"
  printf '%s\n' "$3" >"$state/jobs/$1.log"
}

set_revision() {
  # From stdin: psql expands :'rev' there (quoted as a literal), not in -c.
  psql -X -q -v ON_ERROR_STOP=1 -d "${FAKE_DB_DSN:?}" -v rev="$1" >/dev/null \
    <<<"UPDATE alembic_version SET version_num = :'rev'"
}

revision_of() { # the revision image tag $1's migrations end at
  local pair
  for pair in ${FAKE_KUBECTL_REVISIONS:-}; do
    [ "${pair%%=*}" = "$1" ] && { printf '%s' "${pair#*=}"; return 0; }
  done
  return 1
}

# `create -f FILE`: one Job, "run" at once.
create_job_file() {
  local file=$1 name image tag rev
  local fields
  fields=$(python3 - "$file" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
if len(docs) != 1 or docs[0].get("kind") != "Job":
    sys.exit("fake kubectl: create -f wants exactly one Job")
job = docs[0]
c = job["spec"]["template"]["spec"]["containers"][0]
print(job["metadata"]["name"])
print(c["image"])
print(" ".join(c.get("command", [])))
PY
  ) || exit 1
  { read -r name; read -r image; read -r command; } <<<"$fields"
  [ ! -e "$state/jobs/$name" ] || { echo "Error from server (AlreadyExists): jobs.batch \"$name\" already exists" >&2; exit 1; }
  cp "$file" "$state/jobs/$name.yaml"
  tag=${image##*:}
  echo "job.batch/$name created"
  case $command in
    "alembic upgrade head")
      if failing migrate; then
        finish_job "$name" Failed "sqlalchemy.exc.ProgrammingError: column \"x\" does not exist (FAKE_KUBECTL_FAIL=migrate)"
      elif rev=$(revision_of "$tag"); then
        set_revision "$rev"
        finish_job "$name" Complete "INFO  [alembic.runtime.migration] Running upgrade -> $rev"
      else
        finish_job "$name" Complete "INFO  [alembic.runtime.migration] Will assume transactional DDL."
      fi
      ;;
    "alembic downgrade "*)
      rev=${command#alembic downgrade }
      if failing downgrade; then
        finish_job "$name" Failed "alembic downgrade $rev failed (FAKE_KUBECTL_FAIL=downgrade)"
      else
        set_revision "$rev"
        finish_job "$name" Complete "INFO  [alembic.runtime.migration] Running downgrade -> $rev"
      fi
      ;;
    *) refuse "create -f with a Job that runs: $command" ;;
  esac
}

# `exec deploy/probe -c probe -- probe ARGS`: the real probe, as in the pod.
exec_probe() {
  local args=() arg
  for arg in "$@"; do
    case $arg in
      /var/lib/probe/*)
        mkdir -p "$state/probe-state" && chmod 700 "$state/probe-state"
        args+=("$state/probe-state/${arg#/var/lib/probe/}")
        ;;
      # The pod's own listener is the test's probe serve.
      http://127.0.0.1:9464) args+=("${FAKE_PROBE_URL:?}") ;;
      *) args+=("$arg") ;;
    esac
  done
  PROBE_TOKEN=${FAKE_PROBE_TOKEN:?} exec "${FAKE_PROBE_BIN:?}" "${args[@]}"
}

set_image() { # deployment/NAME NAME=IMAGE
  local name=${1#deployment/} image tag version
  [[ $1 == deployment/* && $2 == "$name="* && -f $state/images/$name ]] || refuse set image "$@"
  image=${2#*=}
  printf '%s\n' "$image" >"$state/images/$name"
  echo "deployment.apps/$name image updated"
  if [ "$name" = api ]; then
    tag=${image##*:} version=${image##*:}
    [[ " ${FAKE_KUBECTL_UNHEALTHY:-} " == *" $tag "* ]] && version=bad
    "$here/standin_api.sh" "$version" >/dev/null
  fi
}

case "${1:-}" in
  kustomize)
    [ $# = 2 ] || refuse "$@"
    exec "${FAKE_KUBECTL_REAL:?}" "${globals[@]}" kustomize "$2"
    ;;
  get)
    case "${2:-}" in
      deployment)
        if [ "${*: -2:1}" = -o ] && [ "${*: -1}" = name ]; then
          for name in "${@:3:$#-4}"; do
            [ -f "$state/images/$name" ] || { echo "Error from server (NotFound): deployments.apps \"$name\" not found" >&2; exit 1; }
            echo "deployment.apps/$name"
          done
        elif [[ $# == 5 && $4 == -o && $5 == jsonpath=* && -f $state/images/$3 ]]; then
          tr -d '\n' <"$state/images/$3"
        else
          refuse "$@"
        fi
        ;;
      configmap)
        [[ $# == 5 && $4 == -o ]] || refuse "$@"
        [ -f "$state/configmaps/$3/holder" ] || { echo "Error from server (NotFound): configmaps \"$3\" not found" >&2; exit 1; }
        printf '%s deploying %s since %s' "$(cat "$state/configmaps/$3/holder")" "$(cat "$state/configmaps/$3/sha")" "$(cat "$state/configmaps/$3/since")"
        ;;
      job/*)
        [[ $# == 4 && $3 == -o && $4 == jsonpath=* ]] || refuse "$@"
        [ -f "$state/jobs/${2#job/}" ] || { echo "Error from server (NotFound): jobs.batch \"${2#job/}\" not found" >&2; exit 1; }
        tr -d '\n' <"$state/jobs/${2#job/}"
        ;;
      *) refuse "$@" ;;
    esac
    ;;
  create)
    case "${2:-}" in
      configmap)
        name=${3:?}
        # mkdir is atomic: of two creates at once, one fails, as the API server answers.
        mkdir "$state/configmaps/$name" 2>/dev/null \
          || { echo "Error from server (AlreadyExists): configmaps \"$name\" already exists" >&2; exit 1; }
        for arg in "${@:4}"; do
          [[ $arg =~ ^--from-literal=([a-z]+)=(.*)$ ]] || refuse "$@"
          printf '%s' "${BASH_REMATCH[2]}" >"$state/configmaps/$name/${BASH_REMATCH[1]}"
        done
        echo "configmap/$name created"
        ;;
      job)
        [[ $# == 4 && $3 == --from=cronjob/backup ]] || refuse "$@"
        echo "job.batch/$4 created"
        if failing backup; then
          finish_job "$4" Failed "pg_dump: error: connection to server failed (FAKE_KUBECTL_FAIL=backup)"
        else
          finish_job "$4" Complete "backup written to /backups/$4.dump"
        fi
        ;;
      -f)
        [ $# = 3 ] || refuse "$@"
        create_job_file "$3"
        ;;
      *) refuse "$@" ;;
    esac
    ;;
  delete)
    [[ ${2:-} == configmap && -n ${3:-} ]] || refuse "$@"
    if [ -d "$state/configmaps/$3" ]; then
      rm -rf "${state:?}/configmaps/$3"
      echo "configmap \"$3\" deleted"
    elif [ "${4:-}" != --ignore-not-found ]; then
      echo "Error from server (NotFound): configmaps \"$3\" not found" >&2
      exit 1
    fi
    ;;
  logs)
    [[ ${2:-} == job/* ]] || refuse "$@"
    cat "$state/jobs/${2#job/}.log" 2>/dev/null || { echo "error: no pod for ${2}" >&2; exit 1; }
    ;;
  annotate)
    [[ $# == 4 && $2 == deployment/* && $3 == kubernetes.io/change-cause=* && $4 == --overwrite ]] || refuse "$@"
    printf '%s\n' "${3#*=}" >"$state/annotations/${2#deployment/}"
    echo "${2/deployment/deployment.apps} annotated"
    ;;
  set)
    [[ ${2:-} == image && $# == 4 ]] || refuse "$@"
    set_image "$3" "$4"
    ;;
  rollout)
    [[ ${2:-} == status && ${3:-} == deployment/* && ${4:-} =~ ^--timeout=[0-9]+s$ && $# == 4 ]] || refuse "$@"
    if failing rollout; then
      echo "error: timed out waiting for the condition (FAKE_KUBECTL_FAIL=rollout)" >&2
      exit 1
    fi
    echo "deployment \"${3#deployment/}\" successfully rolled out"
    ;;
  exec)
    [[ ${2:-} == deploy/probe && ${3:-} == -c && ${4:-} == probe && ${5:-} == -- && ${6:-} == probe ]] || refuse "$@"
    exec_probe "${@:7}"
    ;;
  *) refuse "$@" ;;
esac
