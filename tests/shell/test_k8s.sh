#!/usr/bin/env bash
# deploy/k8s: every kustomization under it renders with Debian 12's kubectl 1.20 (kustomize
# v2.0.3) and with the kubectl on PATH when that is another one (Google Cloud SDK's 1.32,
# kustomize v5), to the same objects; every rendered object is valid against the Kubernetes
# and Prometheus Operator schemas, offline (tests/shell/k8s/validate.mjs: no unknown field
# either); the policy holds (resources, a locked-down securityContext, probes, pinned images and
# no Secret values in staging and production, the fixed names the deploy scripts rely on);
# base/probe.yaml is deploy/probe.yaml where it must be (and `probe config check` takes it when
# a probe binary is built); the PrometheusRule is rules/*.yml and passes promtool, the
# dashboards' ConfigMap is grafana/dashboards/; shellcheck and yamllint are clean. Controls:
# broken copies are refused by the validator, the policy and generate.sh --check.
# Nothing here is applied to a cluster: there is none on a test machine.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir=${PROBE_BUILD_DIR:-$root/build}
# shellcheck source=tests/lib/deps.sh
source "$root/tests/lib/deps.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }
cd "$root"
py=/usr/bin/python3 # Debian's, with python3-yaml

install_packages "${PROBE_K8S_TEST_PACKAGES[@]}"
install_npm
mkdir -p "$build_dir"
work=$(mktemp -d /tmp/probe-k8s.XXXXXX)
trap 'rm -rf "$work"' EXIT

# ---- the tools: Debian's kubectl 1.20, extracted (its package conflicts with other kubectls)
extract_deb kubernetes-client "$build_dir/k8s-kubectl" || fail "could not fetch Debian's kubernetes-client"
kubectls=("$build_dir/k8s-kubectl/root/usr/bin/kubectl")
"${kubectls[0]}" version --client 2>/dev/null | grep -q 'GitVersion:"v1.20' || fail "${kubectls[0]} is not kubectl 1.20"
if command -v kubectl >/dev/null && ! kubectl version --client 2>/dev/null | grep -q 'GitVersion:"v1.20'; then
  kubectls+=("$(command -v kubectl)")
fi
for k in "${kubectls[@]}"; do
  pass "kubectl $k: $("$k" version --client 2>/dev/null | grep -oE 'v[0-9]+\.[0-9]+\.[0-9]+' | head -n 1)"
done

# The schema validator from the npm registry, pinned by tests/shell/k8s/package-lock.json.
npm_dir=$build_dir/k8s-npm
if ! cmp -s tests/shell/k8s/package-lock.json "$npm_dir/package-lock.json" || [ ! -d "$npm_dir/node_modules" ]; then
  rm -rf "$npm_dir"
  mkdir -p "$npm_dir"
  cp tests/shell/k8s/package.json tests/shell/k8s/package-lock.json "$npm_dir/"
  npm ci --prefix "$npm_dir" --no-audit --no-fund >"$build_dir/k8s-npm.log" 2>&1 ||
    fail "npm ci (tests/shell/k8s): $(tail -n 20 "$build_dir/k8s-npm.log")"
fi
cp tests/shell/k8s/validate.mjs "$npm_dir/" # resolves its imports from $npm_dir/node_modules
validate() { node "$npm_dir/validate.mjs" "$@"; }

# ---- 1. render every kustomization with every kubectl ------------------------------------
mapfile -t dirs < <(find deploy/k8s \( -name kustomization.yaml -o -name kustomization.yml -o -name Kustomization \) \
  -printf '%h\n' | sort)
[ ${#dirs[@]} -ge 5 ] || fail "found ${#dirs[@]} kustomizations under deploy/k8s: ${dirs[*]}"
mkdir -p "$work/render"
renders=()
for dir in "${dirs[@]}"; do
  name=${dir#deploy/k8s/}
  name=${name//\//-}
  for i in "${!kubectls[@]}"; do
    out=$work/render/$name.$i.yaml
    "${kubectls[$i]}" kustomize "$dir" >"$out" 2>"$work/render.err" ||
      fail "${kubectls[$i]} kustomize $dir: $(cat "$work/render.err")"
    # v5 warns of bases/patchesStrategicMerge/patchesJson6902, which v2.0.3 needs; nothing else is allowed.
    if grep -v "^# Warning: '\(bases\|patchesStrategicMerge\|patchesJson6902\)' is deprecated" "$work/render.err" | grep -q .; then
      fail "${kubectls[$i]} kustomize $dir said: $(cat "$work/render.err")"
    fi
    renders+=("$out")
  done
done
pass "rendered ${#dirs[@]} kustomizations (${dirs[*]}) with ${#kubectls[@]} kubectl(s)"

# YAML to the validator's JSON ({source, object} per object). Secret data is base64 that
# kustomize v5 wraps at 70 columns; the API server's decoder (Go's) skips the newlines, the
# schema's "byte" format does not, so they are dropped here.
to_json() {
  "$py" - "$@" <<'PY'
import json, sys, yaml
out, entries = sys.argv[1], []
for path in sys.argv[2:]:
    with open(path) as f:
        for obj in yaml.safe_load_all(f):
            if obj is None:
                continue
            if obj.get("kind") == "Secret" and isinstance(obj.get("data"), dict):
                obj["data"] = {k: "".join(str(v).split()) for k, v in obj["data"].items()}
            entries.append({"source": path, "object": obj})
with open(out, "w") as f:
    json.dump(entries, f)
PY
}

# ---- 2. the renders agree between kubectls, and the policy holds -------------------------
"$py" - "$work/render" "${#kubectls[@]}" <<'PY' || fail "renders or policy (above)"
import glob, json, os, re, sys, yaml
render_dir, n_kubectl = sys.argv[1], int(sys.argv[2])
problems = []
def bad(where, what):
    problems.append(f"{where}: {what}")

def load(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]

def normalised(objs):
    # Generated names carry a content hash that differs between kustomize versions.
    text = json.dumps(objs, sort_keys=True)
    for o in objs:
        name = o["metadata"]["name"]
        m = re.fullmatch(r"(.+)-[a-z0-9]{10}", name)
        if o["kind"] in ("ConfigMap", "Secret") and m:
            text = text.replace(json.dumps(name), json.dumps(m.group(1) + "-HASH"))
    objs = json.loads(text)
    for o in objs:  # wrapped base64 (see to_json)
        if o["kind"] == "Secret" and isinstance(o.get("data"), dict):
            o["data"] = {k: "".join(v.split()) for k, v in o["data"].items()}
    return sorted(objs, key=lambda o: (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]))

renders = {}
for path in sorted(glob.glob(os.path.join(render_dir, "*.0.yaml"))):
    name = os.path.basename(path)[:-len(".0.yaml")]
    renders[name] = load(path)
    for i in range(1, n_kubectl):
        other = load(path.replace(".0.yaml", f".{i}.yaml"))
        a, b = normalised(renders[name]), normalised(other)
        if a != b:
            ka = [(o["kind"], o["metadata"]["name"]) for o in a]
            kb = [(o["kind"], o["metadata"]["name"]) for o in b]
            diff = [x for x in a if x not in b][:1]
            bad(name, f"kubectl 1.20 and kubectl #{i} render differently: {ka if ka != kb else ''} {json.dumps(diff)[:600]}")

OWN_IMAGES = {f"ghcr.io/homeguru/homeguru-{n}" for n in ("api", "frontend", "bot", "probe")}
def pod_spec(o):
    k = o["kind"]
    if k in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return o["spec"]["template"]["spec"]
    if k == "CronJob":
        return o["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return None

def check_pod(where, o, pinned):
    spec = pod_spec(o)
    psc = spec.get("securityContext") or {}
    long_running = o["kind"] not in ("Job", "CronJob")
    for c in spec.get("initContainers", []) + spec["containers"]:
        w = f"{where}: {o['kind']} {o['metadata']['name']} container {c['name']}"
        csc = c.get("securityContext") or {}
        eff = lambda key: csc.get(key, psc.get(key))
        res = c.get("resources") or {}
        for part in ("requests", "limits"):
            for r in ("cpu", "memory"):
                if not (res.get(part) or {}).get(r):
                    bad(w, f"no resources.{part}.{r}")
        if eff("runAsNonRoot") is not True:
            bad(w, "runAsNonRoot is not true")
        if eff("runAsUser") in (None, 0):
            bad(w, "no non-zero runAsUser")
        image = c.get("image", "")
        repo = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
        if repo in OWN_IMAGES and eff("runAsUser") != 10001:
            bad(w, f"runAsUser {eff('runAsUser')}, not the images' 10001")
        if csc.get("readOnlyRootFilesystem") is not True:
            bad(w, "readOnlyRootFilesystem is not true")
        if csc.get("allowPrivilegeEscalation") is not False:
            bad(w, "allowPrivilegeEscalation is not false")
        if (csc.get("capabilities") or {}).get("drop") != ["ALL"]:
            bad(w, "capabilities.drop is not [ALL]")
        if (eff("seccompProfile") or {}).get("type") != "RuntimeDefault":
            bad(w, "seccompProfile is not RuntimeDefault")
        if long_running and c in spec["containers"]:
            for p in ("livenessProbe", "readinessProbe"):
                if not c.get(p):
                    bad(w, f"no {p}")
        tag = image.rsplit("/", 1)[-1].partition(":")[2]
        if pinned and (not tag or tag == "latest"):
            bad(w, f"image {image} is not pinned to a tag")

def check_render(name, objs):
    pinned = name in ("overlays-staging", "overlays-production")
    for o in objs:
        if pod_spec(o) is not None:
            check_pod(name, o, pinned)
        if pinned and o["kind"] == "Secret" and (o.get("data") or o.get("stringData")):
            bad(name, f"Secret {o['metadata']['name']} carries values")
    return objs

for name, objs in renders.items():
    check_render(name, objs)

# The policy itself can fail: a container without limits, one running as root, a Deployment
# without probes and a :latest image in production are each refused.
import copy
prod = renders["overlays-production"]
api = next(o for o in prod if o["kind"] == "Deployment" and o["metadata"]["name"] == "api")
breakers = {
    "no limits": lambda c: c["resources"].pop("limits"),
    "root": lambda c: c["securityContext"].update(runAsNonRoot=False),
    "no readiness probe": lambda c: c.pop("readinessProbe"),
    "latest": lambda c: c.update(image="ghcr.io/homeguru/homeguru-api:latest"),
    "writable root": lambda c: c["securityContext"].pop("readOnlyRootFilesystem"),
}
before = len(problems)
for label, breaker in breakers.items():
    broken = copy.deepcopy(api)
    breaker(broken["spec"]["template"]["spec"]["containers"][0])
    n = len(problems)
    check_render("overlays-production", [broken])
    if len(problems) == n:
        bad("control", f"the policy accepted a Deployment with {label}")
    del problems[n:]
leaked = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}, "stringData": {"a": "b"}}
n = len(problems)
check_render("overlays-staging", [leaked])
if len(problems) == n:
    bad("control", "the policy accepted a Secret with values in staging")
del problems[n:]

# `kubectl apply` (client-side, what the guide and README show) keeps the whole object in the
# annotation kubectl.kubernetes.io/last-applied-configuration, which the API server caps at
# 256 KiB (262,144 bytes, all annotations together): a larger object (the dashboards' ConfigMap
# grows with every panel) would be refused at apply time, on the cluster only.
for name, objs in renders.items():
    for o in objs:
        size = len(json.dumps(o, separators=(",", ":")))
        if size > 262144 - 4096:
            bad(name, f"{o['kind']} {o['metadata']['name']} is {size} bytes as JSON: too large for "
                "client-side `kubectl apply` (256 KiB annotation); split it or use --server-side")

# ---- the fixed names and shapes the deploy scripts and this design rely on
def find(objs, kind, name):
    got = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    return got[0] if len(got) == 1 else None

def env_of(c):
    return {e["name"]: e for e in c.get("env", [])}

namespaces = {"overlays-production": "homeguru", "overlays-staging": "homeguru-staging", "overlays-demo": "homeguru-demo"}
replicas = {"overlays-production": 2, "overlays-staging": 1, "overlays-demo": 1}
for name, ns in namespaces.items():
    objs = renders.get(name)
    if objs is None:
        bad(name, "not rendered")
        continue
    if not find(objs, "Namespace", ns):
        bad(name, f"no Namespace {ns}")
    for o in objs:
        if o["kind"] != "Namespace" and o["metadata"].get("namespace") != ns:
            bad(name, f"{o['kind']} {o['metadata']['name']} is in namespace {o['metadata'].get('namespace')}, not {ns}")
    names = {o["metadata"]["name"] for o in objs}
    for app in ("api", "frontend", "bot", "probe"):
        d = find(objs, "Deployment", app)
        if not d:
            bad(name, f"no Deployment {app}")
            continue
        cs = d["spec"]["template"]["spec"]["containers"]
        if [c["name"] for c in cs] != [app]:
            bad(name, f"Deployment {app}: containers {[c['name'] for c in cs]}, want [{app}]")
        if not cs[0]["image"].startswith(f"ghcr.io/homeguru/homeguru-{app}:"):
            bad(name, f"Deployment {app}: image {cs[0]['image']}")
        want = replicas[name] if app in ("api", "frontend") else 1
        if d["spec"].get("replicas") != want:
            bad(name, f"Deployment {app}: replicas {d['spec'].get('replicas')}, want {want}")
        for c in cs:  # every Secret and ConfigMap a pod reads exists, or is one the operator applies
            for e in c.get("env", []):
                ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                if ref and ref["name"] not in names and ref["name"] not in ("homeguru-db", "probe", "bot", "notify"):
                    bad(name, f"Deployment {app} reads unknown Secret {ref['name']}")
        for v in d["spec"]["template"]["spec"].get("volumes", []):
            if "configMap" in v and v["configMap"]["name"] not in names:
                bad(name, f"Deployment {app}: ConfigMap {v['configMap']['name']} is not in the render")
    for svc, port in (("api", 8000), ("frontend", 3000), ("probe", 9464)):
        s = find(objs, "Service", svc)
        if not s or [(p.get("name"), p["port"]) for p in s["spec"]["ports"]] != [("http", port)]:
            bad(name, f"Service {svc}: want one port http {port}")
    if find(objs, "Service", "bot"):
        bad(name, "a Service for the bot, which has no port")
    bot = find(objs, "Deployment", "bot")
    if bot and bot["spec"].get("strategy", {}).get("type") != "Recreate":
        bad(name, "Deployment bot: strategy is not Recreate")
    probe = find(objs, "Deployment", "probe")
    if probe:
        c = probe["spec"]["template"]["spec"]["containers"][0]
        e = env_of(c)
        if (e.get("PROBE_HOST", {}).get("valueFrom") or {}).get("fieldRef", {}).get("fieldPath") != "metadata.name":
            bad(name, "probe: PROBE_HOST is not the pod's name (downward API)")
        vols = {v["name"]: v for v in probe["spec"]["template"]["spec"]["volumes"]}
        mounts = {m["mountPath"]: vols.get(m["name"], {}) for m in c.get("volumeMounts", [])}
        if "emptyDir" not in mounts.get("/var/lib/probe", {}):
            bad(name, "probe: /var/lib/probe is not an emptyDir")
        if not mounts.get("/etc/probe", {}).get("configMap", {}).get("name", "").startswith("probe-config"):
            bad(name, "probe: /etc/probe is not the probe-config ConfigMap")
        for p in ("livenessProbe", "readinessProbe"):
            if (c.get(p) or {}).get("httpGet", {}).get("path") != "/healthz":
                bad(name, f"probe: {p} is not on /healthz")
        for var in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID", "SLACK_WEBHOOK_URL"):
            ref = (e.get(var, {}).get("valueFrom") or {}).get("secretKeyRef") or {}
            if ref.get("name") != "notify" or ref.get("optional") is not True:
                bad(name, f"probe: {var} is not an optional key of Secret notify")
    cj = find(objs, "CronJob", "backup")
    if not cj or cj["spec"].get("concurrencyPolicy") != "Forbid" or not find(objs, "PersistentVolumeClaim", "backups"):
        bad(name, "no CronJob backup with concurrencyPolicy Forbid and PVC backups")
    # The database jobs reach PostgreSQL only through NetworkPolicy db-jobs-egress: the
    # component labels of the backup CronJob's pods and of deploy/k8s/jobs' pods must be ones it
    # selects (a job it misses has no egress and hangs on its first connect).
    pol = find(objs, "NetworkPolicy", "db-jobs-egress")
    selected = set()
    for ex in (pol or {}).get("spec", {}).get("podSelector", {}).get("matchExpressions", []):
        if ex["key"] == "app.kubernetes.io/component" and ex["operator"] == "In":
            selected |= set(ex["values"])
    templates = [cj["spec"]["jobTemplate"]["spec"]["template"]] if cj else []
    templates += [j["spec"]["template"] for j in renders.get("jobs", []) if j["kind"] == "Job"]
    if len(templates) < 3:
        bad(name, f"{len(templates)} database job templates (backup, migrate, db-downgrade), want 3")
    for t in templates:
        component = t["metadata"].get("labels", {}).get("app.kubernetes.io/component")
        if component not in selected:
            bad(name, f"a database job's pods (component {component}) are not selected by db-jobs-egress ({sorted(selected)})")
    for pdb in ("api", "frontend"):
        p = find(objs, "PodDisruptionBudget", pdb)
        if not p or p["spec"].get("maxUnavailable") != 1:
            bad(name, f"PodDisruptionBudget {pdb}: want maxUnavailable 1")
    monitored = name != "overlays-demo"
    for kind, obj in (("ServiceMonitor", "probe"), ("PrometheusRule", "probe"), ("ConfigMap", "probe-dashboards")):
        if bool(find(objs, kind, obj)) != monitored:
            bad(name, f"{kind} {obj} {'missing' if monitored else 'present in the demo'}")
    # The way in (deploy/k8s/ingress): each backend is a Service of the render with that port
    # name; staging's hosts are its own, not production's.
    ing = find(objs, "Ingress", "homeguru")
    if bool(ing) != monitored:
        bad(name, f"Ingress homeguru {'missing' if monitored else 'present in the demo'}")
    if ing:
        hosts = [r["host"] for r in ing["spec"]["rules"]]
        if sorted(hosts) != sorted(ing["spec"]["tls"][0]["hosts"]):
            bad(name, f"Ingress: TLS hosts {ing['spec']['tls'][0]['hosts']} are not the rules' {hosts}")
        if (name == "overlays-staging") != all(h.startswith(("staging.", "api.staging.")) for h in hosts):
            bad(name, f"Ingress hosts {hosts}")
        for r in ing["spec"]["rules"]:
            for path in r["http"]["paths"]:
                b = path["backend"]["service"]
                svc = find(objs, "Service", b["name"])
                if not svc or b["port"].get("name") not in [p.get("name") for p in svc["spec"]["ports"]]:
                    bad(name, f"Ingress {r['host']}: no Service {b['name']} with port {b['port']}")
    has_pg = bool(find(objs, "StatefulSet", "postgres")) and bool(find(objs, "Service", "postgres"))
    if has_pg != (name == "overlays-demo"):
        bad(name, "a PostgreSQL StatefulSet and Service belong to the demo overlay only")
    if name == "overlays-demo":
        import base64
        secrets = {o["metadata"]["name"]: o for o in objs if o["kind"] == "Secret"}
        if set(secrets) != {"homeguru-db", "probe", "bot", "postgres"}:
            bad(name, f"demo Secrets {sorted(secrets)}")
        else:
            dsn = base64.b64decode("".join(secrets["homeguru-db"]["data"]["DATABASE_URL"].split())).decode()
            if "@postgres:5432/" not in dsn:
                bad(name, "demo DATABASE_URL does not point to the postgres Service")

for p in problems:
    print("FAIL:", p)
sys.exit(1 if problems else 0)
PY
pass "kubectl 1.20 and the newer one render the same objects; policy holds; the fixed names are there; 6 policy controls refused"

# Objects per render (the figures).
for dir in "${dirs[@]}"; do
  name=${dir#deploy/k8s/}
  name=${name//\//-}
  echo "  $dir: $("$py" -c 'import sys, yaml, collections; c = collections.Counter(d["kind"] for d in yaml.safe_load_all(open(sys.argv[1])) if d); print(sum(c.values()), "objects:", ", ".join(f"{n} {k}" for k, n in sorted(c.items())))' "$work/render/$name.0.yaml")"
done

# ---- 3. schema validation, offline -------------------------------------------------------
to_json "$work/objects.json" "${renders[@]}" deploy/k8s/secrets/secrets.template.yaml
validate "$work/objects.json" >"$work/validate.out" || { cat "$work/validate.out" >&2; fail "schema validation"; }
pass "schemas: $(tail -n 1 "$work/validate.out") (every render of every kubectl, and secrets.template.yaml)"
# Controls: a misspelt field, a wrong type, an unknown kind, a misspelt ServiceMonitor field.
"$py" - "$work/render/overlays-production.0.yaml" "$work/controls.yaml" <<'PY'
import sys, yaml
objs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
api = next(o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == "api")
sm = next(o for o in objs if o["kind"] == "ServiceMonitor")
import copy
a = copy.deepcopy(api); a["spec"]["template"]["spec"]["containers"][0]["imagePullPolice"] = "Always"
b = copy.deepcopy(api); b["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFileSystem"] = True
c = copy.deepcopy(api); c["spec"]["replicas"] = "two"
d = {"apiVersion": "v1", "kind": "Frobnicator", "metadata": {"name": "x"}}
e = copy.deepcopy(sm); e["spec"]["endpoints"][0]["intervall"] = "15s"
yaml.safe_dump_all([a, b, c, d, e], open(sys.argv[2], "w"))
PY
to_json "$work/controls.json" "$work/controls.yaml"
if validate "$work/controls.json" >"$work/controls.out"; then fail "the validator accepted broken objects: $(cat "$work/controls.out")"; fi
refused=$(grep -c '^REFUSED' "$work/controls.out" || true)
[ "$refused" = 5 ] || fail "the validator refused $refused of 5 broken objects: $(cat "$work/controls.out")"
pass "controls: a misspelt container field, a misspelt securityContext field, a string replica count, an unknown kind and a misspelt ServiceMonitor field are refused"

# ---- 4. probe's config: the Compose one where it must be ---------------------------------
"$py" - deploy/probe.yaml deploy/k8s/base/probe.yaml <<'PY' || fail "deploy/k8s/base/probe.yaml"
import sys, yaml
compose, k8s = (yaml.safe_load(open(p)) for p in sys.argv[1:3])
for key in ("listen", "defaults", "targets", "gate"):
    if compose.get(key) != k8s.get(key):
        sys.exit(f"FAIL: deploy/k8s/base/probe.yaml: {key} differs from deploy/probe.yaml's")
if "rollback" in (k8s.get("deploy") or {}):
    sys.exit("FAIL: deploy/k8s/base/probe.yaml has a rollback hook; the deploy job runs it")
if k8s["deploy"].get("journal", "").rpartition("/")[0] != "/var/lib/probe":
    sys.exit("FAIL: deploy/k8s/base/probe.yaml: the journal is not on the /var/lib/probe emptyDir")
PY
pass "base/probe.yaml: listen, defaults, targets and gate equal deploy/probe.yaml's; no rollback hook; journal in /var/lib/probe"
# The bot's exec probes, run here against a heartbeat file: live while the file is fresh
# (whatever its word), ready only while fresh and "ok", neither when it is missing or stale.
"$py" - "$work/render/base.0.yaml" "$work/heartbeat" <<'PY' || fail "the bot's exec probes"
import os, subprocess, sys, time, yaml
bot = next(d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] == "Deployment" and d["metadata"]["name"] == "bot")
c = bot["spec"]["template"]["spec"]["containers"][0]
beat = sys.argv[2]
for probe, want in (("livenessProbe", (0, 0, 1, 1)), ("readinessProbe", (0, 1, 1, 1))):
    cmd = c[probe]["exec"]["command"]
    assert cmd[0] == "python", cmd
    got = []
    for content, age in (("ok\n", 0), ("failing\n", 0), ("ok\n", 120), (None, 0)):
        if content is None:
            os.unlink(beat)
        else:
            open(beat, "w").write(content)
            os.utime(beat, (time.time() - age, time.time() - age))
        argv = [sys.executable] + [a.replace("/tmp/heartbeat", beat) for a in cmd[1:]]
        got.append(subprocess.run(argv, stderr=subprocess.DEVNULL).returncode)
    if tuple(got) != want:
        sys.exit(f"FAIL: bot {probe}: exit codes {got} for fresh ok, fresh failing, stale, missing; want {list(want)}")
PY
pass "bot's exec probes: liveness passes on a fresh file (ok or failing), readiness only on fresh ok; both fail on stale or missing"
probe_bin=$build_dir/probe
if [ -x "$probe_bin" ]; then
  DATABASE_URL=postgresql://u:p@postgres:5432/db PROBE_TOKEN=x "$probe_bin" config check \
    --config deploy/k8s/base/probe.yaml >"$work/config-check.out" 2>&1 ||
    fail "probe config check deploy/k8s/base/probe.yaml: $(cat "$work/config-check.out")"
  pass "$probe_bin config check: $(head -n 1 "$work/config-check.out")"
else
  echo "skip: no probe binary at $probe_bin: base/probe.yaml not run through probe config check"
fi

# ---- 5. the Prometheus Operator objects are rules/ and grafana/ --------------------------
deploy/k8s/monitoring/generate.sh --check || fail "deploy/k8s/monitoring is stale"
"$py" - "$work/groups.yml" <<'PY' || fail "PrometheusRule or dashboards"
import glob, json, sys, yaml
rule = yaml.safe_load(open("deploy/k8s/monitoring/prometheusrule.yaml"))
want = [g for f in sorted(glob.glob("rules/*.yml")) for g in yaml.safe_load(open(f))["groups"]]
if rule["spec"]["groups"] != want:
    sys.exit("FAIL: the PrometheusRule's groups are not those of rules/*.yml")
yaml.safe_dump({"groups": rule["spec"]["groups"]}, open(sys.argv[1], "w"))
cm = yaml.safe_load(open("deploy/k8s/monitoring/grafana-dashboards.yaml"))
files = {f.rsplit("/", 1)[1]: json.load(open(f)) for f in glob.glob("grafana/dashboards/*.json")}
if {k: json.loads(v) for k, v in cm["data"].items()} != files or cm["metadata"]["labels"].get("grafana_dashboard") != "1":
    sys.exit("FAIL: the dashboards' ConfigMap is not grafana/dashboards/*.json with label grafana_dashboard: \"1\"")
print(f"ok: PrometheusRule: the {len(want)} groups of rules/*.yml; ConfigMap probe-dashboards: {', '.join(sorted(files))}")
PY
promtool check rules "$work/groups.yml" >"$work/promtool.out" 2>&1 || { cat "$work/promtool.out" >&2; fail "promtool check rules"; }
pass "promtool check rules (the PrometheusRule's groups): $(grep -o 'SUCCESS: [0-9]* rules found' "$work/promtool.out")"
# Control: a copy whose rules changed after generation is stale.
mkdir -p "$work/tree/deploy/k8s"
cp -r rules grafana "$work/tree/"
cp -r deploy/k8s/monitoring "$work/tree/deploy/k8s/"
sed -i 's/for: 5m/for: 6m/' "$work/tree/rules/probe-alerts.yml"
if "$work/tree/deploy/k8s/monitoring/generate.sh" --check 2>/dev/null; then fail "generate.sh --check passed a stale copy"; fi
pass "control: generate.sh --check exits 1 after a rule changed"

# ---- 6. lint -----------------------------------------------------------------------------
shellcheck -x deploy/k8s/monitoring/generate.sh tests/shell/test_k8s.sh tests/lib/deps.sh || fail "shellcheck"
# yamllint's relaxed rules with lines up to 160 columns (as rules/ and the workflows), but
# none for the generated dashboards, whose JSON has long lines.
mapfile -t yamls < <(find deploy/k8s -name '*.yaml' -o -name '*.yml' | sort)
yamllint --strict -d '{extends: relaxed, rules: {line-length: {max: 160, ignore: [deploy/k8s/monitoring/grafana-dashboards.yaml]}}}' \
  "${yamls[@]}" || fail "yamllint"
pass "shellcheck and yamllint (${#yamls[@]} files) clean"
echo "k8s: ok"
