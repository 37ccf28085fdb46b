#!/usr/bin/env bash
# deploy/k8s/scripts/{deploy,rollback}.sh, run as the deploy-k8s workflow runs them, with a
# stand-in `kubectl` first on PATH (tests/shell/lib/fake_kubectl.sh: no cluster here) that runs
# what can run offline for real (kubectl kustomize renders the Job templates) and, for `kubectl
# exec deploy/probe -c probe -- probe ...`, the REAL probe against a REAL `probe serve` whose
# events go to a real PostgreSQL and whose check is a stand-in api that the "deployed" image
# switches (a tag listed unhealthy answers /health 500):
#   a. --dry-run prints the exact command sequence and runs no kubectl
#   b. hostile SHAs and bad settings exit 2 before kubectl runs; the stand-in refuses what it
#      does not know (the control: a script growing a new kubectl command fails here)
#   c. a good deploy: exit 0, backup then migrate Job (rendered: image, name, securityContext)
#      then set image with a change cause, deploy_started/deploy_succeeded stored with the SHA
#   d. a bad deploy: probe's gate fails in the pod, rollback.sh runs here with the previous good
#      SHA and revision probe printed: db-downgrade Job with the FAILED image first, images back,
#      exit 3, the audit log in order, the schema back at the old revision
#   e. a failed migration: exit 1, its log shown, no image changed, deploy_failed stored;
#      a failed backup: exit 1, nothing else run
#   f. the lock held (configmap/deploy-lock): exit 5, nothing changed, the holder's lock kept
#   g. the deployer Role in deploy/docs/kubernetes.md grants every (group, resource, verb) the
#      kubectl calls of a-f need (control: the Role without pods/exec is refused)
# Waits are for events (probe answers), bounded generously.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir=${PROBE_BUILD_DIR:-$root/build}
probe=$build_dir/probe
scripts=$root/deploy/k8s/scripts
export DEMO_STANDIN=$build_dir/tests/probe-standin
# shellcheck source=tests/lib/pg.sh
source "$root/tests/lib/pg.sh"
# shellcheck source=tests/lib/procs.sh
source "$root/tests/lib/procs.sh"
if [ ! -x "$probe" ] || [ ! -x "$DEMO_STANDIN" ]; then
  echo "FAIL: build probe and probe-standin first ($build_dir)" >&2
  exit 1
fi
real_kubectl=$(command -v kubectl) || { echo "FAIL: kubectl (Debian: apt-get install kubectl) renders the Job templates" >&2; exit 1; }

work=$(mktemp -d /tmp/probe-k8s-deploy.XXXXXX)
chmod 755 "$work"
export DEMO_WORK=$work
cleanup() {
  local pid
  if pid=$(cat "$work/api.pid" 2>/dev/null); then kill "$pid" 2>/dev/null || true; fi
  stop_started
  pg_stop || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

# Nothing from the caller's environment may steer the scripts.
unset K8S_NAMESPACE K8S_CONTEXT KUBECTL GHCR_OWNER K8S_JOB_TIMEOUT K8S_ROLLOUT_TIMEOUT K8S_POLL_INTERVAL \
  DEPLOY_WATCH PROBE_ACTOR PROBE_FROM PROBE_DB_REVISION PROBE_FAILED_SHA PROBE_PREVIOUS_SHA \
  DEPLOY_LOCK_HELD PROBE_TOKEN FAKE_KUBECTL_FAIL FAKE_KUBECTL_UNHEALTHY
export K8S_POLL_INTERVAL=1

state=$work/kube
mkdir -p "$work/bin" "$state/images"
ln -s "$root/tests/shell/lib/fake_kubectl.sh" "$work/bin/kubectl"
export PATH="$work/bin:$PATH" FAKE_KUBECTL_STATE=$state FAKE_KUBECTL_REAL=$real_kubectl
calls() { cat "$state/calls.log" 2>/dev/null || true; }
ncalls() { calls | wc -l; }
calls_since() { calls | tail -n "+$(($1 + 1))"; }
# Whether calls (on stdin; calls.log holds kubectl's arguments) change a Deployment.
changes_images() { grep -qE '(^| )(set image|annotate) '; }
image_of() { cat "$state/images/$1"; }
images() { local a; for a in api bot frontend probe; do printf '%s=%s ' "$a" "$(image_of "$a")"; done; }
# shellcheck source=tests/shell/lib/script_run.sh
source "$root/tests/shell/lib/script_run.sh"
# Job names end in a UTC time stamp: shown as STAMP.
stamped() { sed -E 's/-[0-9]{14}( |:|$)/-STAMP\1/g' "$@"; }

# --- 0. the scripts and the stand-in are shellcheck-clean ----------------------------------
# From the root, where the scripts' `# shellcheck source=` paths start.
(cd "$root" && shellcheck -x deploy/k8s/scripts/*.sh tests/shell/lib/fake_kubectl.sh) || fail "shellcheck"
pass "shellcheck: deploy/k8s/scripts/*.sh and fake_kubectl.sh clean"

# --- a. --dry-run ---------------------------------------------------------------------------
kube="kubectl --namespace=homeguru"
jsonpath='jsonpath=\{.status.conditions\[\?\(@.status==\"True\"\)\].type\}'
exec_probe="$kube exec deploy/probe -c probe -- probe"
holder="--from-literal=holder=ci@$(hostname)"
switch_lines() { # $1 = tag, $2 = cause (quoted as printf %q)
  local app
  for app in api bot frontend; do
    echo "+ $kube annotate deployment/$app kubernetes.io/change-cause=$2 --overwrite"
    echo "+ $kube set image deployment/$app $app=ghcr.io/homeguru/homeguru-$app:$1"
  done
  for app in api bot frontend; do
    echo "+ $kube rollout status deployment/$app --timeout=300s"
  done
}
want="+ $kube create configmap deploy-lock $holder --from-literal=sha=1a2b3c4 --from-literal=since=STAMP
+ $kube create job --from=cronjob/backup backup-1a2b3c4-STAMP
+ $kube get job/backup-1a2b3c4-STAMP -o $jsonpath
# job/migrate-1a2b3c4-STAMP: deploy/k8s/jobs/migrate.yaml with image ghcr.io/homeguru/homeguru-api:1a2b3c4
+ $kube create -f -
+ $kube get job/migrate-1a2b3c4-STAMP -o $jsonpath
$(switch_lines 1a2b3c4 'deploy.sh\ 1a2b3c4\ by\ ci')
+ $exec_probe deploy verify --sha 1a2b3c4 --url http://127.0.0.1:9464 --no-rollback --lock-file /var/lib/probe/deploy.lock --actor ci"
script env PROBE_ACTOR=ci "$scripts/deploy.sh" --dry-run 1a2b3c4
[ "$status" = 0 ] || fail "dry run exited $status: $(cat "$work/err")"
same "deploy.sh --dry-run 1a2b3c4" "$(stamped "$work/out")" "$want"
# Another namespace, context and owner reach every command.
script env K8S_NAMESPACE=homeguru-staging K8S_CONTEXT=stage GHCR_OWNER=acme PROBE_ACTOR=ci "$scripts/deploy.sh" -n 1a2b3c4
if [ "$status" != 0 ] || grep -q '^+ kubectl' <(grep -v -- '--context=stage --namespace=homeguru-staging ' "$work/out") \
  || ! grep -q 'ghcr.io/acme/homeguru-frontend:1a2b3c4' "$work/out"; then
  fail "K8S_NAMESPACE/K8S_CONTEXT/GHCR_OWNER not on every command: $(cat "$work/out" "$work/err")"
fi
want="+ $kube create configmap deploy-lock $holder --from-literal=sha=aaaaaaa --from-literal=since=STAMP
+ $exec_probe deploy record --event rollback_started --sha aaaaaaa --url http://127.0.0.1:9464 --previous bbbbbbb --actor ci --details \{\\\"by\\\":\\\"rollback.sh\\\"\}
# job/db-downgrade-bbbbbbb-STAMP: deploy/k8s/jobs/db-downgrade.yaml with image ghcr.io/homeguru/homeguru-api:bbbbbbb, revision 0001
+ $kube create -f -
+ $kube get job/db-downgrade-bbbbbbb-STAMP -o $jsonpath
$(switch_lines aaaaaaa 'rollback.sh\ to\ aaaaaaa\ from\ bbbbbbb\ by\ ci')
+ $exec_probe wait --url http://127.0.0.1:9464
+ $exec_probe deploy record --event rollback_succeeded --sha aaaaaaa --url http://127.0.0.1:9464 --previous bbbbbbb --actor ci"
script env PROBE_ACTOR=ci PROBE_FAILED_SHA=bbbbbbb PROBE_DB_REVISION=0001 "$scripts/rollback.sh" --dry-run aaaaaaa
[ "$status" = 0 ] || fail "rollback dry run exited $status: $(cat "$work/err")"
same "rollback.sh --dry-run by hand, with a revision" "$(stamped "$work/out")" "$want"
for s in deploy.sh rollback.sh; do
  "$scripts/$s" --help | grep -q '^Usage: deploy/k8s/scripts/' || fail "$s --help"
done
[ "$(ncalls)" = 0 ] || fail "a dry run ran kubectl: $(calls)"
pass "--dry-run prints the exact command sequence and runs no kubectl"

# --- b. bad input exits 2 before kubectl runs -------------------------------------------------
# shellcheck disable=SC2016 # the literal text $(id) is the attack being refused
refuses_shas "$scripts" '; rm -rf /' '$(id)' '' '-rf' '../etc' $'aaaaaaa\nbad' 'a b' "$(printf 'x%.0s' {1..129})" 'ABC;D' 'a/b'
for setting in K8S_NAMESPACE=Prod_NS K8S_NAMESPACE=-x GHCR_OWNER=Acme K8S_JOB_TIMEOUT=10m K8S_ROLLOUT_TIMEOUT=0 \
  K8S_POLL_INTERVAL=99999 PROBE_FROM=host PROBE_FROM=elsewhere DEPLOY_WATCH='5m;x' KUBECTL=/nonexistent/kubectl; do
  script env "$setting" "$scripts/deploy.sh" 1a2b3c4
  [ "$status" = 2 ] || fail "deploy.sh with $setting exited $status, want 2: $(cat "$work/err")"
done
# shellcheck disable=SC2016
for revision in '-1' '$(id)' 'head;x'; do
  script env PROBE_FAILED_SHA=bbbbbbb PROBE_DB_REVISION="$revision" "$scripts/rollback.sh" aaaaaaa
  [ "$status" = 2 ] || fail "rollback.sh with revision '$revision' exited $status, want 2"
done
script env PROBE_DB_REVISION=0001 "$scripts/rollback.sh" aaaaaaa
[ "$status" = 2 ] || fail "rollback.sh with a revision and no PROBE_FAILED_SHA exited $status"
# SHA is checked by probe's rule (deploy/scripts/lib.sh's valid_ref): tags such as release
# names and sha-1a2b3c4 pass, as for the Compose deploy, so uppercase or short tags are not
# refused by the rule itself; only what could never be an image tag is.
[ "$(ncalls)" = 0 ] || fail "bad input ran kubectl: $(calls)"
# The control: the stand-in refuses a command it does not know, so a script that grows one
# fails its test.
set +e
kubectl --namespace=homeguru delete deployment api 2>"$work/err"
code=$?
set -e
if [ "$code" != 64 ] || ! grep -q "not implemented" "$work/err"; then
  fail "the stand-in kubectl accepted an unknown command ($code)"
fi
: >"$state/calls.log"
pass "hostile SHAs, revisions and settings exit 2 with no kubectl run; unknown kubectl commands refused"

# --- c. a good deploy, end to end -------------------------------------------------------------
pg_start "$work/pg"
# The apps' schema, at the revision the running release (aaaaaaa's predecessor) left.
pg_psql -c "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY); INSERT INTO alembic_version VALUES ('0001')"
export FAKE_DB_DSN="postgresql://postgres:$PG_PASSWORD@127.0.0.1:$PG_PORT/postgres"
export FAKE_KUBECTL_REVISIONS="aaaaaaa=0001 bbbbbbb=0002 ccccccc=0003"
DEMO_API_PORT=$(free_port 28500)
export DEMO_API_PORT
probe_port=$(free_port $((DEMO_API_PORT + 1)))
token=k8s-deploy-test-$RANDOM$RANDOM
cat >"$work/probe.yaml" <<YAML
listen: "127.0.0.1:$probe_port"
defaults: {interval: 1s, timeout: 1s, success_threshold: 1, failure_threshold: 2}
targets:
  - {name: api, type: http, url: "http://127.0.0.1:$DEMO_API_PORT/health"}
gate: {timeout: 8s, consecutive_successes: 2, poll_interval: 100ms}
deploy:
  dsn: "$PG_DSN"
  journal: "$work/state/journal.jsonl"
  token: "$token"
YAML
"$probe" serve --config "$work/probe.yaml" 2>"$work/serve.log" &
serve_pid=$!
pids+=("$serve_pid")
serve_answers() { curl -fs "http://127.0.0.1:$probe_port/healthz" >/dev/null 2>&1; }
serve_answers_or_died() { serve_answers || ! alive "$serve_pid"; }
wait_until 60 serve_answers_or_died || true
serve_answers || fail "probe serve does not answer after 60 s: $(cat "$work/serve.log")"
export FAKE_PROBE_BIN=$probe FAKE_PROBE_TOKEN=$token FAKE_PROBE_URL=http://127.0.0.1:$probe_port
export PROBE_ACTOR=k8s-test FAKE_KUBECTL_UNHEALTHY=bbbbbbb

# The cluster as the manifests leave it: every Deployment on an earlier release.
for app in api bot frontend probe; do
  echo "ghcr.io/homeguru/homeguru-$app:0000000" >"$state/images/$app"
done
"$root/tests/shell/lib/standin_api.sh" 0000000 >/dev/null
kinds() { pg_psql -Atc "SELECT coalesce(string_agg(kind || ':' || sha, ' ' ORDER BY id), '') FROM probe_deploy_events ${1:-}"; }
revision() { pg_psql -Atc "SELECT version_num FROM alembic_version"; }
api_version() { curl -s --max-time 5 "http://127.0.0.1:$DEMO_API_PORT/version"; }

script "$scripts/deploy.sh" aaaaaaa
[ "$status" = 0 ] || fail "good deploy exited $status: $(cat "$work/err")"
same "events" "$(kinds)" "deploy_started:aaaaaaa deploy_succeeded:aaaaaaa"
same "actor" "$(pg_psql -Atc "SELECT DISTINCT actor FROM probe_deploy_events")" "k8s-test"
same "images" "$(images)" "api=ghcr.io/homeguru/homeguru-api:aaaaaaa bot=ghcr.io/homeguru/homeguru-bot:aaaaaaa frontend=ghcr.io/homeguru/homeguru-frontend:aaaaaaa probe=ghcr.io/homeguru/homeguru-probe:0000000 "
same "the api's version" "$(api_version)" aaaaaaa
same "change cause" "$(cat "$state/annotations/api")" "deploy.sh aaaaaaa by k8s-test"
# The order: the lock, the backup, the migration, the images, the gate, the lock released.
# (the temporary overlay directory shown as TMP, a `set` by its Deployment)
order=$(calls | stamped | sed -E 's#[^ ]*/k8s-job\.[A-Za-z0-9]+#TMP#g' | awk '{print $2, ($2 == "set" ? $4 : $3)}' | uniq | tr '\n' '|')
calls | changes_images || fail "changes_images does not see the good deploy's set image"
same "kubectl call order" "$order" "get deployment|exec deploy/probe|create configmap|get deployment|create job|get job/backup-aaaaaaa-STAMP|\
kustomize TMP|create -f|get job/migrate-aaaaaaa-STAMP|annotate deployment/api|set deployment/api|annotate deployment/bot|set deployment/bot|\
annotate deployment/frontend|set deployment/frontend|rollout status|exec deploy/probe|delete configmap|"
[ ! -e "$state/configmaps/deploy-lock" ] || fail "the lock was not released"
# The migrate Job as rendered: the new image, a unique name, the security rules kept.
job=$(find "$state/jobs" -name 'migrate-aaaaaaa-*.yaml' | head -n 1)
[ -n "$job" ] || fail "no migrate Job was created"
python3 - "$job" <<'PY' || fail "the rendered migrate Job"
import sys, yaml
job = yaml.safe_load(open(sys.argv[1]))
spec = job["spec"]["template"]["spec"]
c = spec["containers"][0]
assert job["metadata"]["name"].startswith("migrate-aaaaaaa-"), job["metadata"]["name"]
assert c["image"] == "ghcr.io/homeguru/homeguru-api:aaaaaaa", c["image"]
assert c["command"] == ["alembic", "upgrade", "head"], c["command"]
assert spec["securityContext"]["runAsNonRoot"] is True
sc = c["securityContext"]
assert sc["readOnlyRootFilesystem"] is True and sc["capabilities"]["drop"] == ["ALL"] and sc["allowPrivilegeEscalation"] is False
assert c["resources"]["requests"] and c["resources"]["limits"]
env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in c["env"]}
assert env["DATABASE_URL"] == {"name": "homeguru-db", "key": "DATABASE_URL"}, env
assert job["spec"]["backoffLimit"] == 0
PY
same "the schema after aaaaaaa's migrations" "$(revision)" 0001
pass "good deploy: exit 0, backup, migrate Job, images, change cause, deploy_started/deploy_succeeded"

# --- d. a bad deploy is rolled back -----------------------------------------------------------
before=$(ncalls)
script "$scripts/deploy.sh" bbbbbbb
[ "$status" = 3 ] || fail "bad deploy exited $status, want 3: $(cat "$work/err")"
same "events" "$(kinds)" "deploy_started:aaaaaaa deploy_succeeded:aaaaaaa deploy_started:bbbbbbb deploy_failed:bbbbbbb rollback_started:aaaaaaa rollback_succeeded:aaaaaaa"
same "rollback's previous_sha" "$(pg_psql -Atc "SELECT previous_sha FROM probe_deploy_events WHERE kind = 'rollback_succeeded'")" bbbbbbb
same "images" "$(images)" "api=ghcr.io/homeguru/homeguru-api:aaaaaaa bot=ghcr.io/homeguru/homeguru-bot:aaaaaaa frontend=ghcr.io/homeguru/homeguru-frontend:aaaaaaa probe=ghcr.io/homeguru/homeguru-probe:0000000 "
same "the api's version" "$(api_version)" aaaaaaa
same "the schema after the rollback" "$(revision)" 0001
same "change cause" "$(cat "$state/annotations/frontend")" "rollback.sh to aaaaaaa from bbbbbbb by k8s-test"
job=$(find "$state/jobs" -name 'db-downgrade-bbbbbbb-*.yaml' | head -n 1)
[ -n "$job" ] || fail "no db-downgrade Job was created"
same "the db-downgrade Job" "$(python3 -c 'import sys, yaml; c = yaml.safe_load(open(sys.argv[1]))["spec"]["template"]["spec"]["containers"][0]; print(c["image"], *c["command"])' "$job")" \
  "ghcr.io/homeguru/homeguru-api:bbbbbbb alembic downgrade 0001"
# The downgrade ran before the images went back, and after the gate failed.
seq=$(calls_since "$before" | awk '$2 == "set" || ($2 == "create" && $3 == "-f") || $2 == "exec" {print $2, ($2 == "set" ? $5 : ($2 == "create" ? $4 : $8 " " $9))}' \
  | sed -E 's#[^ ]*/k8s-job\.[A-Za-z0-9]+/##' | tr '\n' '|')
same "the bad deploy's steps" "$seq" "exec --version |create job.yaml|\
set api=ghcr.io/homeguru/homeguru-api:bbbbbbb|set bot=ghcr.io/homeguru/homeguru-bot:bbbbbbb|set frontend=ghcr.io/homeguru/homeguru-frontend:bbbbbbb|\
exec deploy verify|exec --version |exec deploy record|create job.yaml|\
set api=ghcr.io/homeguru/homeguru-api:aaaaaaa|set bot=ghcr.io/homeguru/homeguru-bot:aaaaaaa|set frontend=ghcr.io/homeguru/homeguru-frontend:aaaaaaa|\
exec wait --url|exec deploy record|"
grep -q "rolling back to aaaaaaa" "$work/err" || fail "no rollback message: $(cat "$work/err")"
[ ! -e "$state/configmaps/deploy-lock" ] || fail "the lock was not released after a rollback"
pass "bad deploy: exit 3, db-downgrade with the failed image, images back, audit log in order"

# --- e. a failed migration, a failed backup ---------------------------------------------------
before=$(ncalls)
events_before=$(pg_psql -Atc "SELECT max(id) FROM probe_deploy_events")
script env FAKE_KUBECTL_FAIL=migrate "$scripts/deploy.sh" ccccccc
[ "$status" = 1 ] || fail "failed migration exited $status, want 1: $(cat "$work/err")"
grep -q 'column "x" does not exist' "$work/err" || fail "the migration's log was not shown: $(cat "$work/err")"
calls_since "$before" | changes_images && fail "a failed migration changed an image: $(calls_since "$before")"
same "images" "$(images)" "api=ghcr.io/homeguru/homeguru-api:aaaaaaa bot=ghcr.io/homeguru/homeguru-bot:aaaaaaa frontend=ghcr.io/homeguru/homeguru-frontend:aaaaaaa probe=ghcr.io/homeguru/homeguru-probe:0000000 "
same "events after the failed migration" "$(kinds "WHERE id > $events_before")" "deploy_failed:ccccccc"
same "its previous_sha" "$(pg_psql -Atc "SELECT previous_sha FROM probe_deploy_events WHERE id > $events_before")" aaaaaaa
grep -q "to go back: deploy/k8s/scripts/rollback.sh aaaaaaa" "$work/err" || fail "no way back named: $(cat "$work/err")"

before=$(ncalls)
script env FAKE_KUBECTL_FAIL=backup "$scripts/deploy.sh" ccccccc
[ "$status" = 1 ] || fail "failed backup exited $status, want 1"
calls_since "$before" | grep -qE '(^| )(create -f|set image|annotate|exec deploy/probe -c probe -- probe deploy) ' \
  && fail "a failed backup went on: $(calls_since "$before")"
grep -q "pg_dump: error" "$work/err" || fail "the backup's log was not shown: $(cat "$work/err")"
same "events after the failed backup" "$(kinds "WHERE id > $events_before")" "deploy_failed:ccccccc"
pass "failed migration: exit 1, log shown, no image changed, deploy_failed; failed backup: exit 1, nothing after it"

# --- f. the lock held -------------------------------------------------------------------------
mkdir "$state/configmaps/deploy-lock"
printf 'someone@elsewhere' >"$state/configmaps/deploy-lock/holder"
printf 'ddddddd' >"$state/configmaps/deploy-lock/sha"
printf '2026-01-01T00:00:00Z' >"$state/configmaps/deploy-lock/since"
before=$(ncalls)
for s in deploy.sh rollback.sh; do
  script "$scripts/$s" ccccccc
  [ "$status" = 5 ] || fail "$s with the lock held exited $status, want 5: $(cat "$work/err")"
  grep -q "someone@elsewhere deploying ddddddd" "$work/err" || fail "$s does not name the holder: $(cat "$work/err")"
done
calls_since "$before" | grep -qvE '^--namespace=homeguru (get deployment|exec deploy/probe -c probe -- probe --version|create configmap deploy-lock|get configmap deploy-lock)' \
  && fail "a locked run did more than look: $(calls_since "$before")"
[ -d "$state/configmaps/deploy-lock" ] || fail "a locked run removed the holder's lock"
same "events after the locked runs" "$(kinds "WHERE id > $events_before")" "deploy_failed:ccccccc"
pass "lock held: deploy.sh and rollback.sh exit 5, nothing changed, the lock kept"

# --- g. the guide's Role grants every call the scripts made -----------------------------------
# deploy/docs/kubernetes.md gives the deployer a namespaced Role; each kubectl call in calls.log
# (every case above) needs some (API group, resource, verb), and the Role must grant each one,
# or the first real deploy fails on RBAC. The control: the Role without pods/exec is refused.
role_check() { # [RESOURCE: left out of the Role, for the control]
  python3 - "$root/deploy/docs/kubernetes.md" "$state/calls.log" "${1:-}" <<'PY'
import re, shlex, sys, yaml
guide, calls = open(sys.argv[1]).read(), open(sys.argv[2]).read().splitlines()
block = re.search(r"```yaml\n(# deployer\.yaml.*?)```", guide, re.S).group(1)
role = [d for d in yaml.safe_load_all(block) if d and d["kind"] == "Role"][0]
role["rules"] = [r for r in role["rules"] if sys.argv[3] not in r["resources"]]
def granted(group, resource, verb, name=None):
    return any(group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"]
               and (not r.get("resourceNames") or name in r["resourceNames"]) for r in role["rules"])
# What each kubectl command asks the API server for (kubectl's own requests).
def needs(words):
    cmd = " ".join(words[:2])
    dep = [("apps", "deployments", "get")]
    if words[0] == "kustomize": return []  # renders locally
    if cmd == "get deployment": return dep
    if cmd == "exec deploy/probe": return dep + [("", "pods", "list"), ("", "pods/exec", "create"), ("", "pods/exec", "get")]
    if cmd in ("annotate deployment", "set image") or words[0] == "annotate":
        return dep + [("apps", "deployments", "patch")]
    if cmd == "rollout status": return dep + [("apps", "deployments", "watch")]
    if cmd == "create configmap": return [("", "configmaps", "create")]
    if cmd == "get configmap": return [("", "configmaps", "get", words[2])]
    if cmd == "delete configmap": return [("", "configmaps", "delete", words[2])]
    if cmd == "create job": return [("batch", "cronjobs", "get"), ("batch", "jobs", "create")]
    if cmd == "create -f": return [("batch", "jobs", "create")]
    if cmd.startswith("get job/"): return [("batch", "jobs", "get")]
    if cmd.startswith("logs job/"): return [("batch", "jobs", "get"), ("", "pods", "list"), ("", "pods/log", "get")]
    return None
missing, unknown, seen = set(), set(), 0
for line in calls:
    words = [w for w in shlex.split(line) if not w.startswith(("--namespace=", "--context="))]
    if not words: continue
    need = needs(words)
    if need is None:
        unknown.add(" ".join(words[:2])); continue
    seen += 1
    for n in need:
        if not granted(*n):
            missing.add(f"{n} for `kubectl {' '.join(words[:2])}`")
for m in sorted(missing): print("not granted:", m)
for u in sorted(unknown): print("no RBAC mapping for:", u)
print(f"{seen} calls checked")
sys.exit(1 if missing or unknown else 0)
PY
}
role_check >"$work/rbac" || fail "the guide's Role: $(cat "$work/rbac")"
checked=$(tail -n 1 "$work/rbac")
if role_check pods/exec >"$work/rbac" 2>&1; then
  fail "control: a Role without pods/exec passed the RBAC check"
fi
grep -q "pods/exec" "$work/rbac" || fail "control: the RBAC check did not name pods/exec: $(cat "$work/rbac")"
pass "the guide's Role grants what every kubectl call above needs ($checked); control: without pods/exec it is refused"
echo "k8s deploy: ok"
