#!/usr/bin/env bash
# Alerting end to end on loopback, with the repository's own configs: a stand-in api checked by
# `probe serve`, a real Prometheus running deploy/monitoring/prometheus.yml with the rules of
# rules/, a real Alertmanager running deploy/monitoring/alertmanager.yml rendered by
# render-config.awk, and a receiver stand-in playing the Telegram Bot API, the webhook and Slack.
# Kill the api: ProbeCriticalTargetDown reaches Telegram (sendMessage, chat id, a text naming
# the alert and the target) and nothing else; ProbeReadinessLost fires too and is inhibited.
# Start the api again: the resolved notice arrives. A non-critical target that never answers
# fires ProbeTargetDown, which reaches the webhook and Slack as a warning, and not Telegram.
#
# Only time is shortened, in copies made here: scrape and evaluation every 1 s, every `for:`
# of the rules 60 times shorter (minutes become seconds, so alerts fire in the production
# order: the page about the api before the stack-wide ProbeReadinessLost it inhibits),
# group_wait 3 s (a few evaluations, so inhibitors from other rule groups arrive first, as the
# production 15 s does) and group_interval 1 s. Whole run: about 20 s. Each wait is for an
# event and bounded generously (a loaded machine delays scrapes, evaluations and
# notifications); the whole test never runs past 240 s (CTest's limit is 300 s). The delays
# are printed, not asserted.
# Needs prometheus, prometheus-alertmanager, jq and curl (tests/lib/deps.sh) and a built probe.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir=${PROBE_BUILD_DIR:-$root/build}
probe=$build_dir/probe
standin=$build_dir/tests/probe-standin
# shellcheck source=tests/lib/pg.sh
source "$root/tests/lib/pg.sh" # free_port

fail() {
  echo "FAIL: $*" >&2
  local log
  for log in "${work:-/nonexistent}"/*.log "${work:-/nonexistent}/received.jsonl"; do
    [ -s "$log" ] || continue
    echo "---- last lines of $(basename "$log")" >&2
    tail -n 15 "$log" >&2
  done
  exit 1
}
pass() { echo "ok: $* (at $(since "$started_ms")s)"; }

for tool in prometheus:prometheus prometheus-alertmanager:prometheus-alertmanager jq:jq curl:curl; do
  command -v "${tool%%:*}" >/dev/null || fail "${tool%%:*} is not installed: apt-get install ${tool#*:}"
done
[ -x "$probe" ] || fail "$probe not found: build probe first (or set PROBE_BUILD_DIR)"
[ -x "$standin" ] || fail "$standin not found: build the tests first (or set PROBE_BUILD_DIR)"
compgen -G "$root/rules/*.yml" >/dev/null || fail "no rules/*.yml to load"

work=$(mktemp -d /tmp/probe-alerting.XXXXXX)
# shellcheck source=tests/lib/procs.sh
source "$root/tests/lib/procs.sh" # pids, stop_started
cleanup() {
  stop_started
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT # (bash runs no EXIT trap when a signal kills it)
trap 'exit 143' TERM

started_ms=$(date +%s%3N)
# since MS: seconds from the date +%s%3N time MS to now, to a tenth.
since() { local now; now=$(date +%s%3N); printf '%d.%d' $(((now - $1) / 1000)) $(((now - $1) % 1000 / 100)); }
# The whole test stays under 240 s: no wait goes past this, whatever its own limit.
deadline_ms=$((started_ms + 240000))

# wait_for SECONDS WHAT COMMAND...: runs COMMAND every 0.2 s until it succeeds; fails naming
# WHAT after SECONDS (or at the test's deadline).
wait_for() {
  local seconds=$1 what=$2
  shift 2
  local until_ms=$(($(date +%s%3N) + seconds * 1000))
  [ "$until_ms" -le "$deadline_ms" ] || until_ms=$deadline_ms
  until "$@"; do
    [ "$(date +%s%3N)" -lt "$until_ms" ] || fail "$what: not within ${seconds}s"
    sleep 0.2
  done
}

# replace FILE OLD NEW: every OLD in FILE (literal text) becomes NEW; fails if there is none,
# so a config that changes shape breaks the test instead of silently testing something else.
replace() {
  local file=$1 old=$2 new=$3 text
  text=$(cat "$file")
  [[ $text == *"$old"* ]] || fail "$(basename "$file"): \"$old\" not found"
  printf '%s\n' "${text//"$old"/"$new"}" >"$file"
}

http_ok() { curl -fs -o /dev/null --max-time 5 "$1"; }

# ---- the receiver, the api and probe -------------------------------------------------------
api_port=$(free_port 28300)
probe_port=$(free_port $((api_port + 1)))
dead_port=$(free_port $((probe_port + 1))) # nothing listens here: the non-critical target
receiver_port=$(free_port $((dead_port + 1)))
prometheus_port=$(free_port $((receiver_port + 1)))
alertmanager_port=$(free_port $((prometheus_port + 1)))
received=$work/received.jsonl

"$standin" receiver --listen "127.0.0.1:$receiver_port" --out "$received" >"$work/receiver.log" 2>&1 &
pids+=($!)
start_api() {
  "$standin" http --listen "127.0.0.1:$api_port" >>"$work/api.log" 2>&1 &
  api_pid=$!
  pids+=("$api_pid")
  wait_for 60 "api stand-in on :$api_port" http_ok "http://127.0.0.1:$api_port/health"
}
start_api
wait_for 60 "receiver stand-in on :$receiver_port" grep -q '^listening on' "$work/receiver.log"

cat >"$work/probe.yaml" <<YAML
listen: "127.0.0.1:$probe_port"
defaults: {interval: 1s, timeout: 1s, failure_threshold: 1}
targets:
  - {name: api, type: http, url: "http://127.0.0.1:$api_port/health"}
  - {name: cache, type: tcp, address: "127.0.0.1:$dead_port", critical: false}
deploy: {journal: "$work/journal.jsonl"}
YAML
"$probe" serve --config "$work/probe.yaml" 2>"$work/probe.log" &
pids+=($!)
wait_for 60 "probe /ready (api up)" http_ok "http://127.0.0.1:$probe_port/ready"

# ---- Prometheus: deploy/monitoring/prometheus.yml, 1 s, local addresses, rules with short for:
mkdir "$work/rules"
for rule_file in "$root"/rules/*.yml; do
  awk '
    match($0, /^[ \t]*(keep_firing_)?for:[ \t]*/) {
      value = substr($0, RLENGTH + 1)
      if (value ~ /^[0-9]+m[ \t]*$/) { sub(/m[ \t]*$/, "s", value) }
      else if (value ~ /^[0-9]+s[ \t]*$/) { value = "1s" }
      else { print FILENAME ":" FNR ": cannot shorten for: " value > "/dev/stderr"; bad = 1 }
      print substr($0, 1, RLENGTH) value
      next
    }
    { print }
    END { exit bad }' "$rule_file" >"$work/rules/$(basename "$rule_file")" ||
    fail "the rules' for: durations changed shape; teach this test to shorten them"
done
prometheus_yml=$work/prometheus.yml
cp "$root/deploy/monitoring/prometheus.yml" "$prometheus_yml"
replace "$prometheus_yml" "scrape_interval: 15s" "scrape_interval: 1s"
replace "$prometheus_yml" "evaluation_interval: 15s" "evaluation_interval: 1s"
replace "$prometheus_yml" "scrape_timeout: 10s" "scrape_timeout: 1s"
replace "$prometheus_yml" '"probe:9464"' "\"127.0.0.1:$probe_port\""
replace "$prometheus_yml" '"alertmanager:9093"' "\"127.0.0.1:$alertmanager_port\""
replace "$prometheus_yml" "/etc/prometheus/rules/*.yml" "$work/rules/*.yml"
prometheus --config.file="$prometheus_yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$prometheus_port" >"$work/prometheus.log" 2>&1 &
pids+=($!)

# ---- Alertmanager: deploy/monitoring/alertmanager.yml rendered as the container does -------
token=123456789:e2e-test-token
chat_id=-1001234567890
env -i PATH="$PATH" TELEGRAM_BOT_TOKEN="$token" TELEGRAM_CHAT_ID="$chat_id" \
  TELEGRAM_API_URL="http://127.0.0.1:$receiver_port" \
  ALERT_WEBHOOK_URL="http://127.0.0.1:$receiver_port/webhook" \
  SLACK_WEBHOOK_URL="http://127.0.0.1:$receiver_port/slack" \
  awk -f "$root/deploy/monitoring/render-config.awk" "$root/deploy/monitoring/alertmanager.yml" \
  >"$work/alertmanager.yml" 2>"$work/render.log" || fail "render-config.awk: $(cat "$work/render.log")"
sed -i -E 's/^([[:space:]]*group_wait:).*/\1 3s/; s/^([[:space:]]*group_interval:).*/\1 1s/' \
  "$work/alertmanager.yml"
grep -Eq '^ *group_wait: 3s$' "$work/alertmanager.yml" || fail "alertmanager.yml has no group_wait to shorten"
prometheus-alertmanager --config.file="$work/alertmanager.yml" --storage.path="$work/alertmanager" \
  --web.listen-address="127.0.0.1:$alertmanager_port" --cluster.listen-address= \
  >"$work/alertmanager.log" 2>&1 &
pids+=($!)

wait_for 60 "Prometheus ready on :$prometheus_port" http_ok "http://127.0.0.1:$prometheus_port/-/ready"
wait_for 60 "Alertmanager ready on :$alertmanager_port" http_ok "http://127.0.0.1:$alertmanager_port/-/ready"
# query PROMQL: prints the first sample's value, or nothing.
query() {
  curl -fs --max-time 10 "http://127.0.0.1:$prometheus_port/api/v1/query" --data-urlencode "query=$1" |
    jq -r '.data.result[0].value[1] // empty'
}
scraped() { [ "$(query 'probe_target_up{job="probe",target="api"}')" = 1 ]; }
wait_for 60 "Prometheus scraping probe with api up" scraped
rules_loaded=$(curl -fs "http://127.0.0.1:$prometheus_port/api/v1/rules" | jq '[.data.groups[].rules[] | select(.type == "alerting")] | length')
[ "$rules_loaded" -gt 0 ] || fail "Prometheus loaded no alerting rules"
pass "probe, Prometheus ($rules_loaded alerting rules) and Alertmanager up"

# notifications JQ_FILTER: the received requests the filter selects, one JSON line each.
notifications() { [ -f "$received" ] && jq -c "$1" "$received"; }
telegram_path="/bot$token/sendMessage"
# telegram_text STATUS: a Telegram message about ProbeCriticalTargetDown for api with STATUS.
telegram_text() {
  notifications "select(.path == \"$telegram_path\") | select(.body.text | test(\"$1: ProbeCriticalTargetDown \\\\(critical\\\\)\\ntarget: api\\n\"))"
}
seen() { [ -n "$("$@")" ]; }

# ---- the api dies: a page through Telegram -------------------------------------------------
kill "$api_pid"
wait "$api_pid" 2>/dev/null || true
killed_ms=$(date +%s%3N)
wait_for 90 "ProbeCriticalTargetDown for api at the Telegram stand-in" seen telegram_text FIRING
page_delay=$(since "$killed_ms")
message=$(telegram_text FIRING | head -n 1)
[ "$(jq -r '.body.chat_id | tostring' <<<"$message")" = "$chat_id" ] || fail "sendMessage chat_id: $message"
for part in "Critical target api is down" "runbook: https://" "since: "; do
  jq -e --arg part "$part" '.body.text | contains($part)' <<<"$message" >/dev/null ||
    fail "the Telegram text lacks \"$part\": $(jq -r .body.text <<<"$message")"
done
pass "api killed: ProbeCriticalTargetDown reached Telegram ${page_delay}s later, to chat $chat_id, naming alert, target, summary and runbook"

# ProbeReadinessLost (probe_ready == 0, later than the page) fires too, and is inhibited by it.
readiness_inhibited() {
  curl -fs --max-time 10 "http://127.0.0.1:$alertmanager_port/api/v2/alerts" | jq -e '
    (.[] | select(.labels.alertname == "ProbeCriticalTargetDown" and .labels.target == "api")
      | .fingerprint) as $page
    | any(.[]; .labels.alertname == "ProbeReadinessLost" and .status.state == "suppressed"
        and any(.status.inhibitedBy[]; . == $page))' >/dev/null
}
wait_for 60 "ProbeReadinessLost firing and inhibited by ProbeCriticalTargetDown" readiness_inhibited
pass "ProbeReadinessLost fired and is inhibited"

# ---- the api is back: the resolved notice --------------------------------------------------
[ -z "$(telegram_text RESOLVED)" ] || fail "ProbeCriticalTargetDown resolved while the api was still down"
start_api
restarted_ms=$(date +%s%3N)
wait_for 90 "the resolved notice of ProbeCriticalTargetDown for api" seen telegram_text RESOLVED
pass "api back: RESOLVED reached Telegram $(since "$restarted_ms")s later"

# ---- a warning: the non-critical cache never answers -> ProbeTargetDown at the webhook ------
cache_down='select(.path == "/webhook") | .body | select(.receiver == "webhook" and .status == "firing")
  | .alerts[] | select(.status == "firing" and .labels.alertname == "ProbeTargetDown"
    and .labels.target == "cache" and .labels.severity == "warning" and .labels.job == "probe")'
wait_for 90 "ProbeTargetDown for cache at the webhook stand-in" seen notifications "$cache_down"
slack_title='select(.path == "/slack") | .body.attachments[]
  | select(.title == "FIRING: ProbeTargetDown (cache)" and (.text | contains("Non-critical target cache is down")))'
wait_for 60 "ProbeTargetDown for cache at the Slack stand-in" seen notifications "$slack_title"
pass "ProbeTargetDown (warning) for cache reached the webhook (firing, with its labels) and Slack"

# ---- and nothing went the wrong way --------------------------------------------------------
wrong=$(notifications 'select(.path == "/webhook") | .body.alerts[] | select(.labels.severity == "critical") | .labels.alertname')
[ -z "$wrong" ] || fail "critical alerts reached the webhook: $wrong"
wrong=$(notifications "select(.path == \"$telegram_path\" and (.body.text | test(\"\\\\(warning\\\\)|ProbeReadinessLost\"))) | .body.text")
[ -z "$wrong" ] || fail "Telegram got a warning or an inhibited alert: $wrong"
wrong=$(notifications "select(.path == \"/slack\") | .body.attachments[].title | select(test(\"ProbeCriticalTargetDown|ProbeErrorBudgetBurnFast\"))")
[ -z "$wrong" ] || fail "critical alerts reached Slack: $wrong"
wrong=$(notifications "select(.path != \"$telegram_path\" and .path != \"/webhook\" and .path != \"/slack\") | .path")
[ -z "$wrong" ] || fail "requests to unexpected paths: $wrong"
pass "no critical alert at the webhook or Slack, no warning and no inhibited alert on Telegram"
echo "alerting e2e: ok"
