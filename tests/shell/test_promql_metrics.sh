#!/usr/bin/env bash
# Every PromQL expression in the dashboards and the rules parses, and every metric it names is
# one probe actually exports — checked against a live scrape, not a hand list.
#
# 1. Starts a real `probe serve` (tests/shell/fixtures/promql/probe.yaml: an http and a tcp
#    target on a probe-standin, an https target on `openssl s_server` with a certificate made
#    here (for the HTTP phases' tls and the certificate expiry), a postgres and a heartbeat
#    target on the test PostgreSQL, a deploy section, a webhook channel), records a deploy through it, and collects the metric
#    families from the `# TYPE` lines of /metrics (a histogram also gives NAME_bucket, _sum,
#    _count).
# 2. Extracts every expression: targets and annotations of grafana/dashboards/*.json, the
#    metric of label_values(METRIC, label) variables, the `expr` of every rule in rules/*.yml.
#    Grafana's variables ($target, $__rate_interval, ...) are replaced by valid values.
# 3. Writes them all as recording rules to a temp file: `promtool check rules` must pass.
# 4. Takes the metric names out of each expression (strings, label matchers, ranges and
#    by/on/... label lists removed; tokens followed by "(" are functions; keywords skipped).
#    A name with ':' must be a `record:` name in rules/*.yml; `up` and the other series
#    Prometheus adds to every scrape (scrape_*) are allowed; every other name must be in the
#    live scrape. Each unknown name is listed with where it came from.
#
# Needs PostgreSQL: PROBE_TEST_PG_DSN (tests/run.sh); without it the test starts its own with
# tests/lib/pg.sh, unless PROBE_TEST_REQUIRE_PG=1, when it fails. PROMQL_KEEP=1 keeps the
# temp directory (metrics.txt, exprs.json, names.tsv, ...) to look at.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir=${PROBE_BUILD_DIR:-$root/build}
probe=$build_dir/probe
standin=$build_dir/tests/probe-standin
fixture=$root/tests/shell/fixtures/promql/probe.yaml
# shellcheck source=tests/lib/deps.sh
source "$root/tests/lib/deps.sh"
# shellcheck source=tests/lib/pg.sh
source "$root/tests/lib/pg.sh"
# shellcheck source=tests/lib/procs.sh
source "$root/tests/lib/procs.sh" # alive, wait_until

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }
for tool in jq:jq curl:curl promtool:prometheus psql:postgresql-client openssl:openssl; do
  command -v "${tool%%:*}" >/dev/null || install_packages "${tool#*:}"
done
python3 -c 'import yaml' 2>/dev/null || install_packages python3-yaml
[ -x "$probe" ] || fail "no probe at $probe (build first, or set PROBE_BUILD_DIR)"
[ -x "$standin" ] || fail "no probe-standin at $standin"

work=$(mktemp -d /tmp/probe-promql.XXXXXX)
chmod 755 "$work" # a PostgreSQL started here runs as the postgres user
started_pg=0
db_created=0
serve_pid=
standin_pid=
tls_pid=
db_name=probe_promql_metrics
admin_dsn=
cleanup() {
  local pid
  for pid in "$serve_pid" "$standin_pid" "$tls_pid"; do
    [ -n "$pid" ] || continue
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$db_created" = 1 ]; then
    psql "$admin_dsn" -X -q -c "DROP DATABASE IF EXISTS $db_name" >/dev/null 2>&1 || true
  fi
  # Only a server this test started: under tests/run.sh PG_DIR names the shared one.
  [ "$started_pg" = 1 ] && pg_stop
  [ -z "${PROMQL_KEEP:-}" ] || { echo "kept $work" >&2; return; }
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 1. a live probe serve, scraped ---------------------------------------------------------
if [ -n "${PROBE_TEST_PG_DSN:-}" ]; then
  admin_dsn=$PROBE_TEST_PG_DSN
elif [ "${PROBE_TEST_REQUIRE_PG:-}" = 1 ]; then
  fail "PROBE_TEST_PG_DSN is not set but PROBE_TEST_REQUIRE_PG=1"
else
  pg_start "$work/pg"
  started_pg=1
  admin_dsn=$PG_DSN
fi
# A database of the test's own, so its deploy events meet no one else's.
psql "$admin_dsn" -X -q -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" \
  -c "DROP DATABASE IF EXISTS $db_name" -c "CREATE DATABASE $db_name" \
  >/dev/null || fail "cannot create database $db_name with PROBE_TEST_PG_DSN"
db_created=1
if [[ $admin_dsn == *://* ]]; then
  pg_dsn=${admin_dsn%/*}/$db_name # postgresql://user:pw@host:port/DB -> .../probe_promql_metrics
else
  pg_dsn="$admin_dsn dbname=$db_name" # key=value: a later key wins
fi

standin_port=$(free_port 28600)
: >"$work/standin.log" # before the background start: the loop below reads it at once
"$standin" http --listen "127.0.0.1:$standin_port" --version v1 >"$work/standin.log" 2>&1 &
standin_pid=$!
standin_listens() { grep -q "^listening on" "$work/standin.log"; }
standin_listens_or_died() { standin_listens || ! alive "$standin_pid"; }
wait_until 60 standin_listens_or_died || true
alive "$standin_pid" || fail "probe-standin exited: $(cat "$work/standin.log")"
standin_listens || fail "probe-standin not listening after 60 s"

# The https target: openssl s_server answers every GET with 200 and a status page, over a
# certificate for 127.0.0.1 that the target trusts through its ca_file.
mkdir -p "$work/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$work/tls/key.pem" -out "$work/tls/cert.pem" >"$work/tls/req.log" 2>&1 \
  || fail "openssl req: $(cat "$work/tls/req.log")"
tls_port=$(free_port 28700)
: >"$work/tls/server.log"
openssl s_server -accept "127.0.0.1:$tls_port" -cert "$work/tls/cert.pem" -key "$work/tls/key.pem" \
  -www -quiet </dev/null >"$work/tls/server.log" 2>&1 &
tls_pid=$!
tls_answers() { curl -fsS -o /dev/null --max-time 5 --cacert "$work/tls/cert.pem" "https://127.0.0.1:$tls_port/health" 2>/dev/null; }
tls_answers_or_died() { tls_answers || ! alive "$tls_pid"; }
wait_until 60 tls_answers_or_died || true
alive "$tls_pid" || fail "openssl s_server exited: $(cat "$work/tls/server.log")"
tls_answers || fail "openssl s_server not answering https after 60 s: $(cat "$work/tls/server.log")"

probe_port=$(free_port 29600)
export PROMQL_PROBE_PORT=$probe_port PROMQL_STANDIN_PORT=$standin_port PROMQL_PG_DSN=$pg_dsn \
  PROMQL_WORK=$work PROMQL_TOKEN=promql-test-$RANDOM$RANDOM PROMQL_TLS_PORT=$tls_port
url=http://127.0.0.1:$probe_port
"$probe" serve --config "$fixture" >"$work/serve.log" 2>&1 &
serve_pid=$!
serve_answers() { curl -fsS -o /dev/null --max-time 10 "$url/healthz" 2>/dev/null; }
serve_answers_or_died() { serve_answers || ! alive "$serve_pid"; }
wait_until 60 serve_answers_or_died || true
alive "$serve_pid" || fail "probe serve exited: $(cat "$work/serve.log")"
serve_answers || fail "probe serve not answering /healthz after 60 s: $(cat "$work/serve.log")"

# A deploy recorded through the sidecar: probe_deploy_info gets a SHA, and the sidecar sends
# the webhook notification (probe_notifications_total).
PROBE_TOKEN=$PROMQL_TOKEN "$probe" deploy record --url "$url" --event deploy_succeeded --sha abc1234 \
  --previous 1a2b3c4 >/dev/null 2>"$work/record.err" || fail "deploy record: $(cat "$work/record.err")"

# Some families appear only once something happened: per-target gauges after a target's first
# check, the HTTP phases after a first answer and the certificate expiry after a first
# handshake, probe_deploy_info after a deploy, probe_notifications_total after a notification.
# Wait (at most 60 s: a loaded machine) for all five targets checked, the https target's
# certificate, the deploy and the notification.
scrape=$work/metrics.txt
ready_scrape() {
  curl -fsS "$url/metrics" >"$scrape" 2>/dev/null || return 1
  local target
  for target in web port db bot tls; do
    grep -Eq "^probe_duration_seconds_count\{target=\"$target\",.*\} [1-9]" "$scrape" || return 1
  done
  grep -q '^probe_tls_earliest_cert_expiry_timestamp_seconds{target="tls"}' "$scrape" &&
    grep -q '^probe_deploy_info{.*sha="abc1234"' "$scrape" && grep -q '^probe_notifications_total{' "$scrape"
}
wait_until 60 ready_scrape || fail "after 60 s the scrape still lacks a target's first check, the https target's probe_tls_earliest_cert_expiry_timestamp_seconds, probe_deploy_info{sha=\"abc1234\"} or probe_notifications_total:
$(grep -v '_bucket' "$scrape")
--- serve.log:
$(tail -n 20 "$work/serve.log")"

# Family names from the TYPE lines; a histogram's samples are NAME_bucket, _sum and _count.
awk '$1 == "#" && $2 == "TYPE" {
       print $3
       if ($4 == "histogram") { print $3 "_bucket"; print $3 "_sum"; print $3 "_count" }
       if ($4 == "summary") { print $3 "_sum"; print $3 "_count" }
     }' "$scrape" | sort -u >"$work/exported.txt"
families=$(grep -c '^# TYPE ' "$scrape")
[ "$families" -ge 10 ] || fail "only $families metric families in the scrape: $(cat "$scrape")"
pass "live scrape of probe serve: $families metric families"

# ---- 2. every expression, with where it came from -------------------------------------------
yaml_json() {
  python3 -c 'import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)' "$1"
}
shopt -s nullglob
dashboards=("$root"/grafana/dashboards/*.json)
rule_files=("$root"/rules/*.yml "$root"/rules/*.yaml)
[ ${#dashboards[@]} -gt 0 ] || fail "no dashboards in grafana/dashboards/"
[ ${#rule_files[@]} -gt 0 ] || echo "note: no rules/*.yml yet; only the dashboards are checked"

# Grafana's variables -> values that parse: the built-in intervals become durations, any other
# variable (a label value in a regex matcher, e.g. target=~"$target") becomes .*
# shellcheck disable=SC2016 # jq programs: $f and friends are jq's
dashboard_exprs='
  def grafana_vars:
    gsub("\\$\\{__rate_interval\\}|\\$__rate_interval"; "5m")
    | gsub("\\$\\{__interval_ms\\}|\\$__interval_ms"; "60000")
    | gsub("\\$\\{__interval\\}|\\$__interval"; "1m")
    | gsub("\\$\\{__range_s\\}|\\$__range_s"; "86400")
    | gsub("\\$\\{__range_ms\\}|\\$__range_ms"; "86400000")
    | gsub("\\$\\{__range\\}|\\$__range"; "1d")
    | gsub("\\$\\{[A-Za-z_][A-Za-z0-9_]*(:[^}]*)?\\}|\\$[A-Za-z_][A-Za-z0-9_]*|\\[\\[[A-Za-z_][A-Za-z0-9_]*\\]\\]"; ".*");
  def label_values_metric:
    capture("^\\s*label_values\\((?<m>.*),\\s*[A-Za-z_][A-Za-z0-9_]*\\s*\\)\\s*$").m;
  [ ( (.panels[]? | ., (.panels[]?)) as $p
      | $p.targets[]? | select((.expr // "") | test("\\S"))
      | {src: "\($f): panel \"\($p.title)\" (id \($p.id)) query \(.refId)", expr} ),
    ( .annotations.list[]? as $a | [$a.expr, $a.target.expr?] | map(select(. != null and . != "")) | unique[]
      | {src: "\($f): annotation \"\($a.name)\"", expr: .} ),
    ( .templating.list[]? | select(.type == "query") as $v
      | ((.query | if type == "object" then .query else . end) // .definition // "")
      | (if test("^\\s*label_values\\(") then label_values_metric
         elif test("^\\s*query_result\\(") then capture("^\\s*query_result\\((?<e>.*)\\)\\s*$").e
         else empty end)
      | {src: "\($f): variable \"\($v.name)\"", expr: .} )
  ] | map(.expr |= grafana_vars) | .[]
'
# shellcheck disable=SC2016
rule_exprs='
  .groups[]? | .name as $g | .rules[]?
  | {src: "\($f): \(if .alert then "alert \(.alert)" else "record \(.record)" end) (group \($g))",
     expr: (.expr | tostring)}
'
{
  for file in "${dashboards[@]}"; do
    jq -c --arg f "${file#"$root"/}" "$dashboard_exprs" "$file" || fail "${file#"$root"/}: not valid JSON"
  done
  for file in "${rule_files[@]}"; do
    yaml_json "$file" | jq -c --arg f "${file#"$root"/}" "$rule_exprs" || fail "${file#"$root"/}: not valid YAML"
  done
} | jq -s . >"$work/exprs.json"
for file in "${rule_files[@]}"; do
  yaml_json "$file" | jq -r '.groups[]?.rules[]?.record // empty'
done | sort -u >"$work/records.txt"
total=$(jq length "$work/exprs.json")
from_dashboards=$(jq '[.[] | select(.src | startswith("grafana/"))] | length' "$work/exprs.json")
[ "$from_dashboards" -gt 0 ] || fail "no expressions found in grafana/dashboards/*.json"

problems=()
unparsed=() # indices into exprs.json of expressions promtool refused: no name check for those

# ---- 3. they parse ---------------------------------------------------------------------------
jq '{groups: [{name: "promql-check", rules: (to_entries | map({record: "promql_check:expr_\(.key)", expr: .value.expr}))}]}' \
  "$work/exprs.json" >"$work/exprs.rules.json"
if promtool check rules "$work/exprs.rules.json" >"$work/promtool.out" 2>&1; then
  pass "promtool check rules: $total expressions parse ($from_dashboards from dashboards, $((total - from_dashboards)) from rules)"
else
  mapfile -t bad < <(grep -o '"promql_check:expr_[0-9]*": .*' "$work/promtool.out" || true)
  [ ${#bad[@]} -gt 0 ] || problems+=("promtool check rules failed: $(cat "$work/promtool.out")")
  for line in "${bad[@]}"; do
    n=${line#\"promql_check:expr_}
    n=${n%%\"*}
    unparsed+=("$n")
    problems+=("does not parse: $(jq -r --argjson n "$n" '.[$n] | "\(.src): \(.expr | gsub("\\s+"; " "))"' "$work/exprs.json")
    -> ${line#*: }")
  done
fi

# ---- 4. every metric name is exported, recorded, or Prometheus's own ------------------------
# shellcheck disable=SC2016
names_of='
  def keywords: ["and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
                 "offset", "bool", "atan2", "inf", "nan", "start", "end"];
  def metric_names:
    gsub("\"(\\\\.|[^\"\\\\])*\""; "\"\"") | gsub("\u0027(\\\\.|[^\u0027\\\\])*\u0027"; "\"\"") | gsub("`[^`]*`"; "\"\"")
    | gsub("#[^\n]*"; " ")
    | gsub("\\{[^}]*\\}"; " ")
    | gsub("\\[[^\\]]*\\]"; " ")
    | gsub("\\b(by|without|on|ignoring|group_left|group_right)\\s*\\([^)]*\\)"; " "; "i")
    | [scan("(?<![A-Za-z0-9_:.])([A-Za-z_:][A-Za-z0-9_:]*)(\\s*\\(?)")
       | select(.[1] | endswith("(") | not) | .[0]
       | select(ascii_downcase as $t | keywords | index($t) | not)]
    | unique;
  to_entries[] | select(.key as $k | $unparsed | index($k) | not)
  | .value.src as $src | (.value.expr | metric_names[]) | [., $src] | @tsv
'
jq -r --argjson unparsed "[$(IFS=,; echo "${unparsed[*]}")]" "$names_of" "$work/exprs.json" >"$work/names.tsv"
while IFS=$'\t' read -r name src; do
  if [[ $name == *:* ]]; then
    grep -qxF "$name" "$work/records.txt" && continue
    problems+=("$name (a recording rule name) is not a record: in rules/*.yml — used by $src")
  elif [[ $name == up || $name == scrape_* ]]; then
    continue # Prometheus's own series for every scrape
  else
    grep -qxF "$name" "$work/exported.txt" && continue
    problems+=("$name is not in probe's /metrics — used by $src")
  fi
done <"$work/names.tsv"
distinct=$(cut -f1 "$work/names.tsv" | sort -u | wc -l)
[ "$distinct" -gt 0 ] || problems+=("no metric names found in $total expressions: the extraction is broken")

if [ ${#problems[@]} -gt 0 ]; then
  printf 'FAIL: %s\n' "${problems[@]}" >&2
  exit 1
fi
pass "$distinct metric names in $total expressions: each exported by probe serve, recorded in rules/, or Prometheus's own"
echo "promql metrics: ok"
