#!/usr/bin/env bash
# .github/workflows/*.yml are valid GitHub Actions workflows (@action-validator/cli, against the
# schema of workflow files), clean YAML (yamllint), and say what the deploy kit relies on: the
# deploy workflow's input, environment, concurrency group, SSH secrets and pinned host key; the
# build running the README's test command and calling the reusable image workflow; every
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
  .github/workflows/release.yml)
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
import re, sys, yaml

def load(path):
    with open(path) as f:
        doc = yaml.safe_load(f)
    # YAML 1.1 reads the key `on` as true.
    doc["on"] = doc.pop(True, doc.get("on"))
    return doc

def check(cond, what):
    if not cond:
        sys.exit(f"FAIL: {what}")

build, image, deploy, release = (load(p) for p in sys.argv[1:5])
docs = {"build.yml": build, "image.yml": image, "deploy.yml": deploy, "release.yml": release}

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
check(img["with"]["dockerfile"] == "deploy/docker/Dockerfile.probe" and img["with"]["image_name"] == "homeguru-probe",
      "build.yml: probe's Dockerfile and image name")
check("push" in img.get("if", "") and "refs/heads/main" in img.get("if", ""), "build.yml: images only on push to main")
check(img.get("permissions", {}).get("packages") == "write", "build.yml: packages: write on the image job only")
check("failure()" in build["jobs"]["notify"].get("if", ""), "build.yml: notify on failure")

# image.yml
call = image["on"]["workflow_call"]["inputs"]
check({"context", "dockerfile", "image_name"} <= set(call), "image.yml: workflow_call inputs")
steps = image["jobs"]["build"]["steps"]
bp = [s for s in steps if s.get("uses", "").startswith("docker/build-push-action@")]
check(bp and "type=gha" in bp[0]["with"]["cache-from"] and "type=gha" in bp[0]["with"]["cache-to"],
      "image.yml: build-push-action with the gha layer cache")
meta = [s for s in steps if s.get("uses", "").startswith("docker/metadata-action@")]
check(meta and "latest" in meta[0]["with"]["tags"] and "format=long" in meta[0]["with"]["tags"],
      "image.yml: tags latest and the full SHA")
check(image["jobs"]["build"].get("permissions") == {"contents": "read", "packages": "write"},
      "image.yml: permissions contents read, packages write")
# release.yml
inputs = release["on"]["workflow_dispatch"]["inputs"]
for name in ("release", "api", "bot", "frontend"):
    check(inputs[name].get("required") is True, f"release.yml: required input {name}")
check(release.get("permissions") == {} and release["jobs"]["tag"].get("permissions") == {"packages": "write"},
      "release.yml: no permissions but packages: write on its job")
text = open(sys.argv[4]).read()
check("imagetools create" in text and "exists already" in text,
      "release.yml: tags with imagetools create and never moves an existing tag")
print("ok: deploy.yml, build.yml, image.yml and release.yml say what the kit relies on")
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

# 6. What the workflows name exists.
for file in deploy/scripts/deploy.sh tests/run.sh deploy/docker/Dockerfile.probe; do
  [ -f "$file" ] || fail "$file, which a workflow uses, is missing"
done
pass "deploy.sh, tests/run.sh and Dockerfile.probe exist"
echo "workflows: ok"
