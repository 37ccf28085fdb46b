#!/usr/bin/env bash
# The Prometheus rules in rules/ (alerting and recording) are valid, clean YAML, pass their
# promtool unit tests in rules/tests/, and keep their promises to the person paged: every alert
# has a severity, a summary, a description and a runbook_url that lands on its own section of
# deploy/docs/runbook.md, and every alert is tested both firing (labels and annotations
# asserted) and not firing. Controls first show that the unit tests and these checks can fail.
# Prometheus loads rules/*.yml (deploy/docker-compose.yml mounts rules/ at /etc/prometheus/rules),
# so a file there that is not a rule file breaks its rule reload; the tests live in rules/tests/.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/deps.sh
source "$root/tests/lib/deps.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }
cd "$root"

command -v promtool >/dev/null || install_packages prometheus
command -v yamllint >/dev/null || install_packages yamllint
command -v promtool >/dev/null || fail "promtool not found (Debian package prometheus)"

runbook=deploy/docs/runbook.md
[ -f "$runbook" ] || fail "$runbook is missing"
[ -d rules/tests ] || fail "rules/tests/ is missing"
mapfile -t rule_files < <(find rules -maxdepth 1 -type f \( -name '*.yml' -o -name '*.yaml' \) | sort)
mapfile -t test_files < <(find rules/tests -type f -name '*.test.yml' | sort)
[ ${#rule_files[@]} -gt 0 ] || fail "no rule files rules/*.yml"
[ ${#test_files[@]} -gt 0 ] || fail "no unit tests rules/tests/*.test.yml"

# 0. What Prometheus loads is rule files only, named *.yml (its glob).
for f in "${rule_files[@]}"; do
  case $f in
    *.test.yml) fail "$f: a unit test at the top of rules/ would be loaded by Prometheus as rules; move it to rules/tests/" ;;
    *.yaml) fail "$f: Prometheus loads /etc/prometheus/rules/*.yml only; rename it to .yml" ;;
  esac
done

# 1. The YAML: yamllint's relaxed rules with lines up to 160 columns (as for the workflows),
# warnings included.
yamllint --strict -d '{extends: relaxed, rules: {line-length: {max: 160}}}' "${rule_files[@]}" "${test_files[@]}" \
  || fail "yamllint: rules/ (see above)"
pass "yamllint: ${#rule_files[@]} rule files and ${#test_files[@]} test files clean"

# 2. Valid rules, no duplicates (promtool's lint made fatal).
out=$(promtool check rules --lint=all --lint-fatal "${rule_files[@]}" 2>&1) \
  || { echo "$out" >&2; fail "promtool check rules ${rule_files[*]}"; }
pass "promtool check rules: $(grep -o '[0-9]* rules found' <<<"$out" | awk '{n += $1} END {print n}') rules"

# 3. Controls, on a copy: a unit test whose expected label is wrong, and a rule whose `for` no
# longer matches its tests, must both fail; so must the checks of step 5 when an alert loses
# its runbook section. Otherwise a promtool or a checker that passes everything would pass ours.
tmp=$(mktemp -d /tmp/probe-rules-control.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
copy_tree() {
  rm -rf "$tmp/tree" && mkdir -p "$tmp/tree/deploy/docs" && cp -r rules "$tmp/tree/" && cp "$runbook" "$tmp/tree/$runbook"
}
control_test=rules/tests/targets.test.yml
[ -f "$control_test" ] || fail "$control_test (the controls' test file) is missing"
copy_tree
sed -i '0,/severity: critical/s//severity: warning/' "$tmp/tree/$control_test"
cmp -s "$control_test" "$tmp/tree/$control_test" && fail "control: no 'severity: critical' to change in $control_test"
if promtool test rules "$tmp/tree/$control_test" >"$tmp/out" 2>&1; then
  fail "control: promtool test rules passed a test expecting the wrong severity"
fi
grep -q 'FAILED' "$tmp/out" || fail "control: promtool failed without a FAILED report: $(cat "$tmp/out")"
copy_tree
sed -i '/alert: ProbeCriticalTargetDown/,/for:/s/for: 2m/for: 1m/' "$tmp/tree/rules/probe-alerts.yml"
cmp -s rules/probe-alerts.yml "$tmp/tree/rules/probe-alerts.yml" && fail "control: could not change ProbeCriticalTargetDown's for:"
if promtool test rules "$tmp/tree/$control_test" >"$tmp/out" 2>&1; then
  fail "control: promtool test rules passed with ProbeCriticalTargetDown firing after 1m instead of 2m"
fi
pass "controls: promtool test rules fails on a wrong expected label and on a changed rule"

# 4. The unit tests.
promtool test rules "${test_files[@]}" >"$tmp/out" 2>&1 || { cat "$tmp/out" >&2; fail "promtool test rules (see above)"; }
pass "promtool test rules: ${#test_files[@]} files passed"

# 5. Every alert keeps its promises, read from the parsed YAML (PyYAML comes with yamllint):
# severity, annotations, a runbook_url to its own `## Name` section; a firing test that asserts
# labels and annotations, and a test where it must not fire. Recording rules are named
# level:metric:operations and the SLO windows exist.
check_meta() { # ROOT: the tree to check (the repository, or a control's copy)
  python3 - "$1" <<'PY'
import glob, os, re, sys, yaml

root = sys.argv[1]
url_prefix = "https://github.com/OWNER/REPO/blob/main/deploy/docs/runbook.md#"
problems = []

def anchor(heading):
    # GitHub: lower case, punctuation other than - and _ dropped, spaces to -.
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")

runbook = open(os.path.join(root, "deploy/docs/runbook.md")).read()
headings = [h.strip() for h in re.findall(r"^## +(.+)$", runbook, re.M)]
anchors = {anchor(h) for h in headings}

alerts, records = {}, []
for path in sorted(glob.glob(os.path.join(root, "rules/*.yml"))):
    name = os.path.relpath(path, root)
    doc = yaml.safe_load(open(path)) or {}
    if not isinstance(doc.get("groups"), list):
        problems.append(f"{name}: no `groups:` list: not a rule file")
        continue
    for group in doc["groups"]:
        for rule in group.get("rules", []):
            if "record" in rule:
                records.append(rule["record"])
                continue
            alert = rule["alert"]
            where = f"{name}: alert {alert}"
            if alert in alerts:
                problems.append(f"{where}: defined twice (also in {alerts[alert]}): one runbook section per alert")
            alerts[alert] = name
            if not re.fullmatch(r"Probe[A-Z][A-Za-z0-9]*", alert):
                problems.append(f"{where}: name is not PascalCase with the Probe prefix")
            severity = (rule.get("labels") or {}).get("severity")
            if severity not in ("critical", "warning"):
                problems.append(f"{where}: labels.severity is {severity!r}, not critical or warning")
            annotations = rule.get("annotations") or {}
            for key in ("summary", "description", "runbook_url"):
                if not str(annotations.get(key, "")).strip():
                    problems.append(f"{where}: annotation {key} is missing or empty")
            url = str(annotations.get("runbook_url", ""))
            if url and url != url_prefix + anchor(alert):
                problems.append(f"{where}: runbook_url {url!r} should be {url_prefix + anchor(alert)!r}")
            elif url and url.split("#", 1)[1] not in anchors:
                problems.append(f"{where}: runbook_url {url!r}: deploy/docs/runbook.md has no section '## {alert}'")

for heading in headings:
    if re.fullmatch(r"Probe[A-Z]\w*", heading) and heading not in alerts:
        problems.append(f"deploy/docs/runbook.md: section '## {heading}' is for no alert in rules/*.yml")

firing, quiet = {}, set()
for path in sorted(glob.glob(os.path.join(root, "rules/tests/*.test.yml"))):
    name = os.path.relpath(path, root)
    doc = yaml.safe_load(open(path)) or {}
    for test in doc.get("tests", []):
        for case in test.get("alert_rule_test", []) or []:
            alert, expected = case.get("alertname"), case.get("exp_alerts") or []
            if alert not in alerts:
                problems.append(f"{name}: tests alert {alert!r}, which rules/*.yml does not define")
            if not expected:
                quiet.add(alert)
                continue
            for exp in expected:
                labels, annotations = exp.get("exp_labels") or {}, exp.get("exp_annotations") or {}
                missing = [k for k in ("summary", "description", "runbook_url") if k not in annotations]
                if "severity" not in labels or missing:
                    problems.append(f"{name}: {alert} at {case.get('eval_time')}: a firing case must assert "
                                    f"exp_labels.severity and the annotations summary, description, runbook_url")
            firing.setdefault(alert, name)

for alert, name in sorted(alerts.items()):
    if alert not in firing:
        problems.append(f"{name}: alert {alert} has no firing case (exp_alerts not empty) in rules/tests/*.test.yml")
    if alert not in quiet:
        problems.append(f"{name}: alert {alert} has no case where it must not fire (exp_alerts: []) in rules/tests/*.test.yml")

for record in records:
    if not re.fullmatch(r"[a-z][a-z0-9_]*:[a-z][a-z0-9_]*:[a-z0-9_]+", record):
        problems.append(f"rules/*.yml: recording rule {record!r} is not named level:metric:operations")
for window in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"):
    if f"target:probe_availability:ratio_rate{window}" not in records:
        problems.append(f"rules/*.yml: no recording rule target:probe_availability:ratio_rate{window}")

if problems:
    print("\n".join("FAIL: " + p for p in problems), file=sys.stderr)
    sys.exit(1)
print(f"{len(alerts)} alerts, {len(records)} recording rules, {len(anchors)} runbook sections")
PY
}

# The control for these checks: an alert whose runbook section is gone.
copy_tree
sed -i 's/^## ProbeRollbackFailed$/## Rollback failed/' "$tmp/tree/$runbook"
cmp -s "$runbook" "$tmp/tree/$runbook" && fail "control: no '## ProbeRollbackFailed' section to remove from $runbook"
if check_meta "$tmp/tree" >"$tmp/out" 2>&1; then
  fail "control: the checks passed an alert whose runbook section is missing"
fi
grep -q 'ProbeRollbackFailed.*no section' "$tmp/out" || fail "control: unexpected report: $(cat "$tmp/out")"
pass "control: a missing runbook section is reported ($(head -n 1 "$tmp/out"))"

summary=$(check_meta "$root") || fail "rules: see the problems above"
pass "every alert has severity, summary, description, a runbook section and firing and quiet tests: $summary"
echo "rules: ok"
