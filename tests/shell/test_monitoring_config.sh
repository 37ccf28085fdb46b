#!/usr/bin/env bash
# The monitoring profile's configs, checked as the containers will read them:
# - deploy/monitoring/prometheus.yml passes `promtool check config`, alone and with rule_files
#   pointed at this repository's rules/*.yml (which Compose mounts at /etc/prometheus/rules);
# - deploy/monitoring/alertmanager.yml is rendered by the alertmanager service's own entrypoint,
#   taken from deploy/docker-compose.yml with its volumes mapped to the repository's files
#   (BusyBox sh and awk, as in the image, when busybox is installed; Debian's too), with example
#   values, with each env example's values and with every variable empty; each result passes
#   `amtool check-config` and routes severity=critical to the telegram receiver and everything
#   else to the webhook receiver;
# - render-config.awk refuses values that would break the YAML and malformed blocks;
# - every placeholder is passed to the container, every alert the inhibit rules name exists
#   in rules/, and yamllint passes.
# Needs promtool (prometheus), amtool (prometheus-alertmanager) and yamllint (tests/lib/deps.sh).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
monitoring=deploy/monitoring
compose_file=deploy/docker-compose.yml

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

for tool in promtool:prometheus amtool:prometheus-alertmanager yamllint:yamllint; do
  command -v "${tool%%:*}" >/dev/null || fail "${tool%%:*} is not installed: apt-get install ${tool#*:}"
done

work=$(mktemp -d /tmp/probe-monitoring.XXXXXX)
trap 'rm -rf "$work"' EXIT

# service_block NAME: the lines of one service in deploy/docker-compose.yml.
service_block() {
  awk -v name="$1" '
    /^[^ ]/ { in_services = ($0 == "services:"); in_block = 0; next }
    in_services && /^  [^ #]/ { in_block = ($0 == "  " name ":"); next }
    in_block { print }' "$compose_file"
}

# ---- Prometheus ----------------------------------------------------------------------------
promtool check config "$monitoring/prometheus.yml" >"$work/promtool.out" 2>&1 ||
  fail "promtool check config $monitoring/prometheus.yml: $(cat "$work/promtool.out")"
for line in "scrape_interval: 15s" "evaluation_interval: 15s" '- /etc/prometheus/rules/*.yml' \
  '- targets: ["probe:9464"]' '- targets: ["alertmanager:9093"]' "job_name: probe"; do
  grep -qF -- "$line" "$monitoring/prometheus.yml" || fail "prometheus.yml lacks: $line"
done
prometheus_block=$(service_block prometheus)
for mount in "./monitoring/prometheus.yml:/etc/prometheus/prometheus.yml:ro" "../rules:/etc/prometheus/rules:ro"; do
  grep -qF -- "- $mount" <<<"$prometheus_block" || fail "the prometheus service does not mount $mount"
done
grep -qF -- "--config.file=/etc/prometheus/prometheus.yml" <<<"$prometheus_block" ||
  fail "the prometheus service does not read /etc/prometheus/prometheus.yml"
# As in the container, where ../rules is /etc/prometheus/rules: the same glob, here.
mapfile -t rule_files < <(compgen -G "$root/rules/*.yml" | sort)
[ ${#rule_files[@]} -gt 0 ] || fail "rules/*.yml matches no file: Prometheus would load no rules"
sed "s#/etc/prometheus/rules/\*\.yml#$root/rules/*.yml#" "$monitoring/prometheus.yml" >"$work/prometheus.yml"
promtool check config "$work/prometheus.yml" >"$work/promtool.out" 2>&1 ||
  fail "promtool check config with rule_files = rules/*.yml: $(cat "$work/promtool.out")"
checked=$(grep -c "^  SUCCESS: [0-9]* rules found" "$work/promtool.out" || true)
[ "$checked" = ${#rule_files[@]} ] ||
  fail "promtool loaded $checked rule files, rules/ has ${#rule_files[@]}: $(cat "$work/promtool.out")"
pass "promtool check config: prometheus.yml alone and with the ${#rule_files[@]} rule files of rules/*.yml; mounts as Compose has them"

# ---- the alertmanager service's entrypoint, run here -----------------------------------------
alertmanager_block=$(service_block alertmanager)
# The command (a block scalar under `command: - |`), with Compose's $$ unescaped.
entrypoint=$(awk '
  /^    command:$/ { in_command = 1; next }
  in_command && /^      - [|]$/ { next }
  in_command && /^        / { print substr($0, 9); next }
  in_command { exit }' <<<"$alertmanager_block" | sed 's/[$][$]/$/g')
[[ $entrypoint == *"awk -f /etc/alertmanager/render-config.awk /etc/alertmanager/alertmanager.yml"* ]] ||
  fail "the alertmanager entrypoint does not render with render-config.awk: $entrypoint"
# Its volumes of this repository's files, mapped under $work/root, as is every absolute path the
# command uses; /bin/alertmanager is a stand-in that runs amtool check-config on --config.file.
fakeroot=$work/root
mkdir -p "$fakeroot/etc/alertmanager" "$fakeroot/alertmanager" "$fakeroot/bin"
mounts=0
while read -r source target; do
  ln -s "$root/deploy/${source#./}" "$fakeroot$target"
  mounts=$((mounts + 1))
done < <(sed -n 's#^      - \(\./[^:]*\):\(/etc/alertmanager/[^:]*\):ro$#\1 \2#p' <<<"$alertmanager_block")
[ "$mounts" = 2 ] || fail "expected alertmanager.yml and render-config.awk mounted in /etc/alertmanager, found $mounts"
for file in alertmanager.yml render-config.awk; do
  [ -f "$fakeroot/etc/alertmanager/$file" ] || fail "/etc/alertmanager/$file is not mounted from $monitoring"
done
cat >"$fakeroot/bin/alertmanager" <<'SH'
#!/bin/sh
for arg; do case $arg in --config.file=*) config=${arg#--config.file=} ;; esac; done
exec amtool check-config "$config"
SH
chmod +x "$fakeroot/bin/alertmanager"
entrypoint=$(sed -E "s#(^|[ =])/(etc/alertmanager|alertmanager|bin/alertmanager)#\1$fakeroot/\2#g" <<<"$entrypoint")
rendered=$fakeroot/alertmanager/alertmanager.yml

# The variables Compose passes to the container: the keys of its environment.
mapfile -t env_names < <(sed -n 's/^      \([A-Z_][A-Z0-9_]*\): .*/\1/p' <<<"$alertmanager_block")
[ ${#env_names[@]} -ge 4 ] || fail "alertmanager's environment lists only: ${env_names[*]}"
# Every placeholder of alertmanager.yml is one of them, or it would always render empty.
while read -r name; do
  printf '%s\n' "${env_names[@]}" | grep -qx "$name" ||
    fail "alertmanager.yml uses \${$name}, which deploy/docker-compose.yml does not pass to alertmanager"
done < <(grep -v '^[[:space:]]*#' "$monitoring/alertmanager.yml" | grep -o '[$][{][A-Za-z_][A-Za-z0-9_]*[}]' | sed 's/^..//; s/.$//' | sort -u)

# Shells to run it with: BusyBox's sh and awk, as in the prom/alertmanager image, when
# installed, and Debian's.
shells=(system)
if command -v busybox >/dev/null; then
  mkdir "$work/busybox"
  ln -s "$(command -v busybox)" "$work/busybox/sh"
  ln -s "$(command -v busybox)" "$work/busybox/awk"
  shells+=(busybox)
fi

# entrypoint_run SHELL NAME=VALUE...: the entrypoint with exactly these variables (every other
# variable of the container's environment empty); stdout in $work/check.out, stderr in
# $work/render.err. Returns the entrypoint's exit status.
entrypoint_run() {
  local shell=$1 name
  shift
  local settings=()
  for name in "${env_names[@]}"; do settings+=("$name="); done
  local path=$PATH
  [ "$shell" = busybox ] && path=$work/busybox:$PATH
  rm -f "$rendered"
  env -i "${settings[@]}" "$@" PATH="$path" sh -c "$entrypoint" >"$work/check.out" 2>"$work/render.err"
}

# check_case LABEL NAME=VALUE...: renders with every shell (identical results), checks the
# config and its routing.
check_case() {
  local label=$1 shell receiver
  shift
  for shell in "${shells[@]}"; do
    entrypoint_run "$shell" "$@" ||
      fail "$label ($shell sh): the entrypoint failed: $(cat "$work/render.err" "$work/check.out")"
    grep -q "SUCCESS" "$work/check.out" || fail "$label ($shell sh): amtool check-config: $(cat "$work/check.out")"
    if [ "$shell" = system ]; then
      cp "$rendered" "$work/rendered.yml"
    else
      diff "$work/rendered.yml" "$rendered" >&2 || fail "$label: BusyBox renders differently"
    fi
  done
  for labels in "severity=critical alertname=ProbeCriticalTargetDown target=api:telegram" \
    "severity=critical alertname=ProbeDown:telegram" \
    "severity=warning alertname=ProbeTargetDown target=cache:webhook" \
    "alertname=SomethingWithoutSeverity:webhook"; do
    # shellcheck disable=SC2086 # the label set is split into its labels on purpose
    receiver=$(amtool config routes test --config.file="$work/rendered.yml" ${labels%:*} 2>/dev/null)
    [ "$receiver" = "${labels##*:}" ] || fail "$label: ${labels%:*} routes to '$receiver', want ${labels##*:}"
  done
}

# channels: which receiver configs the last render kept.
channels() { grep -oE '^    (telegram|webhook|slack)_configs:' "$work/rendered.yml" | tr -d ' :' | paste -sd ' ' || true; }

check_case "example values" TELEGRAM_BOT_TOKEN=123456789:example TELEGRAM_CHAT_ID=-1001234567890 \
  TELEGRAM_API_URL=http://telegram-proxy:8081 ALERT_WEBHOOK_URL=http://hooks.example/alertmanager \
  SLACK_WEBHOOK_URL=https://hooks.slack.com/services/T0/B0/x
[ "$(channels)" = "telegram_configs webhook_configs slack_configs" ] || fail "example values kept: $(channels)"
grep -qF 'api_url: "http://telegram-proxy:8081"' "$work/rendered.yml" || fail "TELEGRAM_API_URL is not the api_url"
grep -qF 'chat_id: -1001234567890' "$work/rendered.yml" || fail "TELEGRAM_CHAT_ID is not an unquoted chat_id"
pass "entrypoint (${shells[*]} sh) with example values: amtool check-config passes, Telegram, webhook and Slack kept, critical -> telegram, others -> webhook"

for env_file in deploy/.env.example deploy/.env.production.example; do
  settings=()
  for name in "${env_names[@]}"; do
    line=$(grep "^$name=" "$env_file" | tail -n 1) || fail "$env_file does not set $name"
    settings+=("$line")
  done
  check_case "$env_file" "${settings[@]}"
  pass "entrypoint with $env_file: check-config passes, routing as above; channels kept: $(channels)"
done

check_case "every variable empty"
[ "$(channels)" = "" ] || fail "with every variable empty, channels were kept: $(channels)"
for left_out in "TELEGRAM_BOT_TOKEN, TELEGRAM_CHAT_ID" ALERT_WEBHOOK_URL SLACK_WEBHOOK_URL; do
  grep -qF "not set: $left_out; block left out" "$work/render.err" ||
    fail "the entrypoint does not say that $left_out was left out: $(cat "$work/render.err")"
done
pass "entrypoint with every variable empty: the config still loads, receivers without channels, each channel left out is logged"

# ---- render-config.awk refuses what would break the YAML -----------------------------------
secret='12:abc"def'
if entrypoint_run system TELEGRAM_BOT_TOKEN="$secret" TELEGRAM_CHAT_ID=-1; then
  fail "a token with a double quote was rendered"
fi
grep -q 'TELEGRAM_BOT_TOKEN contains a double quote' "$work/render.err" || fail "unexpected message: $(cat "$work/render.err")"
if grep -qF "$secret" "$work/render.err"; then fail "render-config.awk printed the value"; fi
[ ! -s "$work/check.out" ] || fail "Alertmanager was started after a failed render"
render() { env -i "$@" awk -f "$monitoring/render-config.awk" "$work/in.yml" 2>"$work/render.err"; }
cat >"$work/in.yml" <<'YAML'
a: ok
b: "${UNSET_FOR_TEST}"
YAML
if render >/dev/null; then fail "an empty placeholder outside an if-set block was rendered"; fi
grep -q "in.yml:2: UNSET_FOR_TEST is empty or unset" "$work/render.err" || fail "unexpected message: $(cat "$work/render.err")"
cat >"$work/in.yml" <<'YAML'
#@ if-set A
a: "${A}"
YAML
if render A=1 >/dev/null; then fail "an if-set block without #@ end was accepted"; fi
echo '#@ end' >"$work/in.yml"
if render >/dev/null; then fail "#@ end without #@ if-set was accepted"; fi
cat >"$work/in.yml" <<'YAML'
#@ if-set A
  #@ if-set B
b: "${B}"
  #@ end
a: "${A}"
#@ end
YAML
out=$(render A=1) || fail "nested blocks: $(cat "$work/render.err")"
[ "$(grep -v '#@' <<<"$out")" = 'a: "1"' ] || fail "nested blocks: the inner block was not left out alone: $out"
pass "render-config.awk: refuses a value with a quote (without printing it, and Alertmanager is not started), an empty placeholder, unbalanced blocks; nested blocks work"

# ---- the inhibit rules name real alerts; yamllint --------------------------------------------
mapfile -t inhibit_names < <(sed -n '/^inhibit_rules:/,/^[a-z]/p' "$monitoring/alertmanager.yml" |
  grep -v '^[[:space:]]*#' | grep -oE 'Probe[A-Za-z]+' | sort -u)
[ ${#inhibit_names[@]} -ge 3 ] || fail "inhibit rules name only: ${inhibit_names[*]}"
for name in "${inhibit_names[@]}"; do
  grep -qE "^[[:space:]]*- alert: $name\$" "${rule_files[@]}" ||
    fail "the inhibit rules name $name, which no rule in rules/*.yml defines"
done
pass "the inhibit rules name alerts of rules/: ${inhibit_names[*]}"

yamllint --strict -d '{extends: relaxed, rules: {line-length: disable}}' "$monitoring"/*.yml || fail "yamllint"
pass "yamllint (relaxed, strict): $monitoring/*.yml"
echo "monitoring config: ok"
