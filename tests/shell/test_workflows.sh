#!/usr/bin/env bash
# .github/workflows/*.yml are valid GitHub Actions workflows (@action-validator/cli, against the
# schema of workflow files), clean YAML (yamllint), and say what the deploy kit relies on: the
# deploy workflow's input, environment, concurrency group, SSH secrets and pinned host key, and
# its SHA check accepting the tags the image build pushes; the Kubernetes deploy workflow's
# inputs (sha, environment), environment and concurrency group per environment, minimal
# permissions, pinned kubectl, kubeconfig written under umask 077, and the same SHA check; the build running the README's test
# command, then a matrix over the reusable image workflow for the four images (api, bot,
# frontend, probe) with their build args, tagged latest, full SHA and 7-character SHA, for
# linux/amd64 and linux/arm64, with a gha layer cache per image; a notification on success and
# on failure (the job's `if:` evaluated for each case, the message step run); every
# third-party action pinned to a version; no ${{ }} expression pasted into a shell script, and
# every shell script in them shellcheck-clean.
# GitHub is the only place these files run, so a mistake found here is one not found in prod.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir=${PROBE_BUILD_DIR:-$root/build}
# shellcheck source=tests/lib/deps.sh
source "$root/tests/lib/deps.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }
cd "$root"

workflows=(.github/workflows/build.yml .github/workflows/image.yml .github/workflows/deploy.yml
  .github/workflows/release.yml .github/workflows/deploy-k8s.yml)
for wf in "${workflows[@]}"; do
  [ -f "$wf" ] || fail "$wf is missing"
done
mapfile -t all < <(find .github/workflows -name '*.yml' -o -name '*.yaml' | sort)

# The tools, installed when missing (as tests/run.sh installs everything else).
command -v npm >/dev/null || install_packages npm
command -v yamllint >/dev/null || install_packages yamllint
validator=$build_dir/npm/node_modules/.bin/action-validator
installed=$(jq -r .version "$build_dir/npm/node_modules/@action-validator/cli/package.json" 2>/dev/null || true)
if [ ! -x "$validator" ] || [ "$installed" != 0.6.0 ]; then
  npm install --prefix "$build_dir/npm" --no-audit --no-fund @action-validator/cli@0.6.0 \
    >"$build_dir/npm-action-validator.log" 2>&1 \
    || fail "npm install @action-validator/cli: $(tail -n 20 "$build_dir/npm-action-validator.log")"
fi

# 1. The schema. First a control: a workflow with a misspelt key must be refused, or a
# validator that passes everything would pass ours too.
control=$(mktemp /tmp/probe-workflow-control.XXXXXX.yml)
scripts_dir=$(mktemp -d /tmp/probe-workflow-runs.XXXXXX)
trap 'rm -rf "$control" "$scripts_dir"' EXIT
printf 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    step: []\n' >"$control"
if "$validator" "$control" >/dev/null 2>&1; then fail "action-validator accepted a broken workflow"; fi
for wf in "${all[@]}"; do
  "$validator" "$wf" >/dev/null 2>"$build_dir/action-validator.err" \
    || { "$validator" "$wf" || true; fail "action-validator: $wf"; }
done
pass "action-validator: ${#all[@]} workflows valid"

# 2. The YAML: yamllint's relaxed rules, warnings included, with lines up to 160 columns (a
# shell line in a run: block reads better whole than folded at 80).
yamllint --strict -d '{extends: relaxed, rules: {line-length: {max: 160}}}' "${all[@]}" || fail "yamllint"
pass "yamllint: ${#all[@]} workflows clean"

# 3. Every third-party action is pinned to a version tag (or a commit); local ones are ./...
uses=$(grep -hE '^[[:space:]]*(-[[:space:]]+)?uses:' "${all[@]}" | sed -E 's/^[[:space:]]*(-[[:space:]]+)?uses:[[:space:]]*//; s/[[:space:]]+#.*$//; s/^"(.*)"$/\1/')
[ -n "$uses" ] || fail "no uses: found"
while IFS= read -r ref; do
  case $ref in
    ./*) ;;
    *@main | *@master | *@HEAD | *@latest) fail "not pinned: $ref" ;;
    *) [[ $ref =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@(v[0-9]+(\.[0-9]+){0,2}|[0-9a-f]{40})$ ]] \
      || fail "not pinned to a version: $ref" ;;
  esac
done <<<"$uses"
pass "every action pinned: $(tr '\n' ' ' <<<"$uses")"

# 4. What the kit relies on, read from the parsed YAML (PyYAML comes with yamllint).
python3 - "${workflows[@]}" <<'PY'
import os, re, subprocess, sys, tempfile, yaml

def load(path):
    with open(path) as f:
        doc = yaml.safe_load(f)
    # YAML 1.1 reads the key `on` as true.
    doc["on"] = doc.pop(True, doc.get("on"))
    return doc

def check(cond, what):
    if not cond:
        sys.exit(f"FAIL: {what}")

build, image, deploy, release, k8s = (load(p) for p in sys.argv[1:6])
docs = {"build.yml": build, "image.yml": image, "deploy.yml": deploy, "release.yml": release, "deploy-k8s.yml": k8s}

# No ${{ }} in a run: script — inputs and secrets go through env (script injection).
for name, doc in docs.items():
    for job_name, job in doc["jobs"].items():
        for step in job.get("steps", []):
            check("${{" not in step.get("run", ""), f"{name}: {job_name}: a run: script holds a ${{{{ }}}} expression")

# deploy.yml
inputs = deploy["on"]["workflow_dispatch"]["inputs"]
check(inputs["sha"].get("required") is True and inputs["sha"].get("type") == "string",
      "deploy.yml: workflow_dispatch input sha (required string)")
jobs = list(deploy["jobs"].values())
check(all(j.get("environment") in ("production", {"name": "production"}) for j in jobs),
      "deploy.yml: environment production")
conc = deploy.get("concurrency") or {}
check(conc.get("group") and conc.get("cancel-in-progress") is False,
      "deploy.yml: a concurrency group that does not cancel a running deploy")
text = open(sys.argv[3]).read()
code = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))
for secret in ("SSH_KEY", "SSH_HOST", "SSH_USER", "SSH_KNOWN_HOSTS"):
    check(f"secrets.{secret} }}}}" in code, f"deploy.yml: secret {secret}")
check("StrictHostKeyChecking=yes" in code and "ssh-keyscan" not in code,
      "deploy.yml: host key pinned (StrictHostKeyChecking=yes, no ssh-keyscan)")
check("deploy/scripts/deploy.sh" in code, "deploy.yml: runs deploy/scripts/deploy.sh")
check("GITHUB_STEP_SUMMARY" in code and "rolled back" in code, "deploy.yml: outcome in the job summary")

# deploy-k8s.yml: the same input and the same guards, one environment of two chosen at the run.
inputs = k8s["on"]["workflow_dispatch"]["inputs"]
check(inputs["sha"].get("required") is True and inputs["sha"].get("type") == "string",
      "deploy-k8s.yml: workflow_dispatch input sha (required string)")
check(inputs["environment"].get("type") == "choice" and inputs["environment"].get("options") == ["staging", "production"],
      "deploy-k8s.yml: input environment, a choice of staging and production")
check(all(j.get("environment") in ("${{ inputs.environment }}", {"name": "${{ inputs.environment }}"}) for j in k8s["jobs"].values()),
      "deploy-k8s.yml: the job's environment is the input (its secrets and approval rules)")
conc = k8s.get("concurrency") or {}
check("inputs.environment" in str(conc.get("group")) and conc.get("cancel-in-progress") is False,
      "deploy-k8s.yml: a concurrency group per environment that does not cancel a running deploy")
check(k8s.get("permissions") == {"contents": "read"}, "deploy-k8s.yml: permissions contents: read only")
k8s_steps = k8s["jobs"]["deploy"]["steps"]
kubectl = [s for s in k8s_steps if s.get("uses", "").startswith("azure/setup-kubectl@")]
check(len(kubectl) == 1 and re.fullmatch(r"v1\.\d+\.\d+", str((kubectl[0].get("with") or {}).get("version", ""))),
      "deploy-k8s.yml: azure/setup-kubectl with a pinned kubectl version")
kubeconfig = [s for s in k8s_steps if "secrets.KUBECONFIG }}" in str(s.get("env", {}))]
check(len(kubeconfig) == 1 and "umask 077" in kubeconfig[0]["run"] and "GITHUB_ENV" in kubeconfig[0]["run"],
      "deploy-k8s.yml: the kubeconfig secret written to a file under umask 077")
check(not re.search(r"(echo|cat)[^\n]*KUBECONFIG_DATA", "\n".join(s.get("run", "") for s in k8s_steps)),
      "deploy-k8s.yml: the kubeconfig is never echoed")
text = open(sys.argv[5]).read()
code = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))
check("deploy/k8s/scripts/deploy.sh \"$SHA\"" in code, "deploy-k8s.yml: runs deploy/k8s/scripts/deploy.sh with the SHA from env")
check("GITHUB_STEP_SUMMARY" in code and "rolled back" in code, "deploy-k8s.yml: outcome in the job summary")
check({"Notify Telegram", "Notify Slack"} <= {s.get("name") for s in k8s_steps}, "deploy-k8s.yml: Telegram and Slack notifications")

# build.yml
check("pull_request" in build["on"] and build["on"]["push"]["branches"] == ["main"],
      "build.yml: on pull_request and push to main")
check(build.get("permissions") == {"contents": "read"}, "build.yml: top-level permissions contents: read")
runs = [s.get("run", "") for j in build["jobs"].values() for s in j.get("steps", [])]
check(any(re.search(r"(^|\s)tests/run\.sh(\s|$)", r) for r in runs), "build.yml: runs tests/run.sh")
check(build["jobs"]["test"].get("container") in ("debian:12", {"image": "debian:12"}),
      "build.yml: tests on Debian 12")
img = build["jobs"]["image"]
check(img.get("uses") == "./.github/workflows/image.yml" and img.get("needs") == "test",
      "build.yml: the image job calls image.yml after the tests")
check("push" in img.get("if", "") and "refs/heads/main" in img.get("if", ""), "build.yml: images only on push to main")
check(img.get("permissions", {}).get("packages") == "write", "build.yml: packages: write on the image job only")
others = [n for n, j in build["jobs"].items() if n != "image" and (j.get("permissions") or {}).get("packages")]
check(not others, f"build.yml: packages permission on {others}")
# The matrix: four images, each from its Dockerfile and context, with its build args.
strategy = img.get("strategy") or {}
check(strategy.get("fail-fast") is False, "build.yml: the image matrix does not cancel the others on a failure")
include = (strategy.get("matrix") or {}).get("include") or []
entries = {e.get("image"): e for e in include}
want = {"homeguru-api", "homeguru-bot", "homeguru-frontend", "homeguru-probe"}
check(len(include) == 4 and set(entries) == want, f"build.yml: the matrix builds {sorted(entries)}, want {sorted(want)}")
for name in ("api", "bot", "frontend"):
    e = entries[f"homeguru-{name}"]
    check(e.get("dockerfile") == f"deploy/docker/Dockerfile.{name}" and e.get("context") == f"deploy/apps/{name}",
          f"build.yml: homeguru-{name} from deploy/docker/Dockerfile.{name}, context deploy/apps/{name}")
    check("APP_VERSION=${{ github.sha }}" in e.get("build_args", "").splitlines(),
          f"build.yml: homeguru-{name} gets APP_VERSION=${{{{ github.sha }}}}")
front = entries["homeguru-frontend"].get("build_args", "").splitlines()
for var in ("NEXT_PUBLIC_API_URL", "NEXT_PUBLIC_SITE_NAME"):
    line = [l for l in front if l.startswith(var + "=")]
    check(len(line) == 1 and re.fullmatch(var + r"=\$\{\{ vars\." + var + r" \|\| '[^']+' \}\}", line[0]),
          f"build.yml: frontend build arg {var} from vars.{var} with a default: {line}")
pr = entries["homeguru-probe"]
check(pr.get("dockerfile") == "deploy/docker/Dockerfile.probe" and pr.get("context") == "." and
      "VERSION=${{ needs.test.outputs.version }}" in pr.get("build_args", ""),
      "build.yml: probe's Dockerfile, the repository root as context, VERSION from the tests job")
w = img.get("with") or {}
check(w == {"context": "${{ matrix.context }}", "dockerfile": "${{ matrix.dockerfile }}",
            "image_name": "${{ matrix.image }}", "build_args": "${{ matrix.build_args }}"},
      f"build.yml: image.yml called with the matrix's values: {w}")

# The notification: on success (push to main, tests and images green) and on any failure. Its
# `if:` is evaluated here for each case (a small translation of GitHub's expression syntax, for
# the operators it uses), and its message step is run.
notify = build["jobs"]["notify"]
check(set(notify.get("needs", [])) == {"test", "image"}, "build.yml: notify needs test and image")
cond = notify.get("if", "")
def evaluate(expr, event, test, image):
    needs = {"test": test, "image": image}
    py = expr.replace("always()", "True").replace("failure()", "('failure' in needs.values())")
    py = py.replace("success()", "(set(needs.values()) == {'success'})")
    py = re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", py))
    py = py.replace("contains(needs.*.result, 'failure')", "('failure' in needs.values())")
    py = re.sub(r"needs\.(\w+)\.result", lambda m: repr(needs[m.group(1)]), py)
    py = py.replace("github.event_name", repr(event)).replace("&&", " and ").replace("||", " or ")
    check(re.fullmatch(r"[\sA-Za-z_'().=!{}-]*", py) is not None, f"build.yml: notify if: cannot be evaluated here: {py}")
    try:
        return eval(py, {"__builtins__": {"set": set}}, {"needs": needs})
    except Exception as e:
        sys.exit(f"FAIL: build.yml: notify if: cannot be evaluated here: {py}: {e}")
cases = [  # event, test, image -> notified?
    ("push", "success", "success", True),          # images pushed: success message
    ("push", "failure", "skipped", True),          # tests failed: failure message
    ("push", "success", "failure", True),          # an image failed
    ("pull_request", "failure", "skipped", True),  # a failing pull request
    ("pull_request", "success", "skipped", False), # a green pull request: no noise
    ("push", "cancelled", "skipped", False),       # a cancelled run
    ("push", "success", "cancelled", False),
]
for event, tests_result, images_result, want_notified in cases:
    got = evaluate(cond, event, tests_result, images_result)
    check(got is want_notified,
          f"build.yml: notify if: for {event} tests={tests_result} images={images_result}: {got}, want {want_notified}")
steps = notify["steps"]
compose = [s for s in steps if s.get("id") == "message"]
check(len(compose) == 1, "build.yml: notify has a message step")
def run_step(step, env):
    with tempfile.NamedTemporaryFile("r", suffix=".out") as out:
        full = {"PATH": os.environ["PATH"], "GITHUB_OUTPUT": out.name, **step.get("env", {}), **env}
        full = {k: v for k, v in full.items() if "${{" not in str(v)}
        p = subprocess.run(["bash", "-eo", "pipefail", "-c", step["run"]], env=full, capture_output=True, text=True)
        return p.returncode, p.stdout + p.stderr, out.read()
gh = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "Acme/probe", "GITHUB_REPOSITORY_OWNER": "Acme",
      "GITHUB_RUN_ID": "42", "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567", "GITHUB_REF_NAME": "main",
      "GITHUB_ACTOR": "octocat"}
code, log, output = run_step(compose[0], {**gh, "TEST_RESULT": "success", "IMAGE_RESULT": "success"})
check(code == 0 and "\u2705 build passed" in output and "ghcr.io/acme/homeguru-{api,bot,frontend,probe}:0123456" in output
      and "sha 0123456" in output, f"build.yml: the success message: {code} {output or log}")
code, log, output = run_step(compose[0], {**gh, "TEST_RESULT": "success", "IMAGE_RESULT": "failure"})
check(code == 0 and "\u274c build failed" in output and "images: failure" in output, f"build.yml: the failure message: {code} {output or log}")
senders = {s.get("name"): s for s in steps if "curl" in s.get("run", "")}
check({"Telegram", "Slack"} <= set(senders), f"build.yml: Telegram and Slack steps: {sorted(senders)}")
check("env.TELEGRAM_BOT_TOKEN != ''" in senders["Telegram"].get("if", "") and "env.TELEGRAM_CHAT_ID != ''" in senders["Telegram"].get("if", ""),
      "build.yml: the Telegram step is skipped when its secrets are unset")
check("api.telegram.org" in senders["Telegram"]["run"] and "TELEGRAM_BOT_TOKEN" in senders["Telegram"]["run"],
      "build.yml: Telegram through its Bot API with TELEGRAM_BOT_TOKEN")
check("env.SLACK_WEBHOOK_URL != ''" in senders["Slack"].get("if", ""), "build.yml: the Slack step is skipped when unset")

# image.yml
call = image["on"]["workflow_call"]["inputs"]
check({"context", "dockerfile", "image_name", "platforms"} <= set(call), "image.yml: workflow_call inputs")
platforms = [p.strip() for p in str(call["platforms"].get("default", "")).split(",")]
check(platforms == ["linux/amd64", "linux/arm64"], f"image.yml: platforms default linux/amd64,linux/arm64, not {platforms}")
steps = image["jobs"]["build"]["steps"]
uses = [s.get("uses", "").split("@")[0] for s in steps]
bp_at = uses.index("docker/build-push-action") if "docker/build-push-action" in uses else -1
check(bp_at > 0 and "docker/setup-qemu-action" in uses[:bp_at] and "docker/setup-buildx-action" in uses[:bp_at],
      "image.yml: QEMU and Buildx set up before the build")
bp = steps[bp_at]["with"]
check(bp.get("platforms") == "${{ inputs.platforms }}", "image.yml: build-push-action builds inputs.platforms")
scope = "scope=${{ inputs.image_name }}"
check("type=gha" in bp.get("cache-from", "") and scope in bp.get("cache-from", "") and
      "type=gha" in bp.get("cache-to", "") and scope in bp.get("cache-to", "") and "mode=max" in bp.get("cache-to", ""),
      "image.yml: build-push-action with the gha layer cache, one scope per image")
check(bp.get("push") == "${{ steps.plan.outputs.push == 'true' }}", "image.yml: pushes only when the plan says so")
meta = [s for s in steps if s.get("uses", "").startswith("docker/metadata-action@")]
check(meta and bp.get("tags") == "${{ steps.meta.outputs.tags }}", "image.yml: the build takes metadata-action's tags")
tags = [t.strip() for t in meta[0]["with"]["tags"].splitlines() if t.strip()]
check("type=raw,value=latest,enable={{is_default_branch}}" in tags, f"image.yml: tag latest on the default branch: {tags}")
check("type=sha,prefix=,format=long" in tags, f"image.yml: tag the full SHA: {tags}")
check("type=raw,value=${{ steps.plan.outputs.short_sha }}" in tags, f"image.yml: tag the 7-character SHA: {tags}")
# The plan step, run: the push decision and the 7-character SHA it hands the tags.
plan = [s for s in steps if s.get("id") == "plan"][0]
env = {**gh, "IMAGE_NAME": "homeguru-api", "EXTRA_BUILD_ARGS": "APP_VERSION=x", "DEFAULT_BRANCH": "main",
       "GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/heads/main"}
code, log, output = run_step(plan, env)
check(code == 0 and "short_sha=0123456\n" in output and "image=ghcr.io/acme/homeguru-api\n" in output and "push=true\n" in output
      and "APP_VERSION=x\n" in output, f"image.yml: plan on a push to main: {code} {output or log}")
code, log, output = run_step(plan, {**env, "GITHUB_EVENT_NAME": "pull_request", "GITHUB_REF": "refs/pull/1/merge"})
check(code == 0 and "push=false\n" in output, f"image.yml: plan on a pull request: {code} {output or log}")
check(image["jobs"]["build"].get("permissions") == {"contents": "read", "packages": "write"},
      "image.yml: permissions contents read, packages write")

# The deploy workflows take every tag the image build pushes (their SHA check, run).
for name, doc in (("deploy.yml", deploy), ("deploy-k8s.yml", k8s)):
    validate = [s for s in doc["jobs"]["deploy"]["steps"] if s.get("name") == "Validate the SHA"]
    check(len(validate) == 1, f"{name}: a Validate the SHA step")
    check(doc["jobs"]["deploy"]["steps"].index(validate[0]) == 0, f"{name}: the SHA is validated first")
    for sha, want_code in ((gh["GITHUB_SHA"], 0), (gh["GITHUB_SHA"][:7], 0), ("sha-" + gh["GITHUB_SHA"][:7], 0),
                           ("a b", 2), ("$(id)", 2), ("-rf", 2), ("; rm -rf /", 2)):
        code, log, _ = run_step(validate[0], {"SHA": sha})
        check(code == want_code, f"{name}: Validate the SHA with {sha!r} exited {code}, want {want_code}: {log}")
# release.yml
inputs = release["on"]["workflow_dispatch"]["inputs"]
for name in ("release", "api", "bot", "frontend"):
    check(inputs[name].get("required") is True, f"release.yml: required input {name}")
check(release.get("permissions") == {} and release["jobs"]["tag"].get("permissions") == {"packages": "write"},
      "release.yml: no permissions but packages: write on its job")
text = open(sys.argv[4]).read()
check("imagetools create" in text and "exists already" in text,
      "release.yml: tags with imagetools create and never moves an existing tag")
print("ok: deploy.yml, deploy-k8s.yml, build.yml, image.yml and release.yml say what the kit relies on")
PY

# 5. Every run: block passes shellcheck, as the bash GitHub runs it with (-eo pipefail).
python3 - "$scripts_dir" "${all[@]}" <<'PY'
import os, sys, yaml
out = sys.argv[1]
for path in sys.argv[2:]:
    with open(path) as f:
        doc = yaml.safe_load(f)
    for job_name, job in doc["jobs"].items():
        for i, step in enumerate(job.get("steps", [])):
            if "run" in step:
                name = f"{os.path.basename(path)}.{job_name}.{i}.sh"
                with open(os.path.join(out, name), "w") as f:
                    f.write("#!/usr/bin/env bash\nset -eo pipefail\n" + step["run"])
PY
mapfile -t run_blocks < <(find "$scripts_dir" -name '*.sh' | sort)
[ ${#run_blocks[@]} -gt 0 ] || fail "no run: blocks found"
shellcheck -s bash "${run_blocks[@]}" || fail "shellcheck of the run: blocks"
pass "shellcheck: ${#run_blocks[@]} run: blocks clean"

# 6. What the workflows name exists. The apps' build contexts (deploy/apps/*) are checked once
# deploy/apps exists; before the apps are added to the repository there is nothing to build.
for file in deploy/scripts/deploy.sh deploy/k8s/scripts/deploy.sh tests/run.sh deploy/docker/Dockerfile.{api,bot,frontend,probe}; do
  [ -f "$file" ] || fail "$file, which a workflow uses, is missing"
done
if [ -d deploy/apps ]; then
  for app in api bot frontend; do
    [ -d "deploy/apps/$app" ] || fail "deploy/apps/$app, the build context of homeguru-$app, is missing"
  done
  pass "deploy.sh (Compose and Kubernetes), tests/run.sh, the four Dockerfiles and the apps' build contexts exist"
else
  pass "deploy.sh (Compose and Kubernetes), tests/run.sh and the four Dockerfiles exist (deploy/apps/ not in this checkout yet: contexts not checked)"
fi
echo "workflows: ok"
