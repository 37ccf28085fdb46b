#!/usr/bin/env bash
# The Grafana dashboards and provisioning, checked without a Grafana (Debian has no package):
# every grafana/dashboards/*.json is valid JSON in the Grafana 10 model (schemaVersion >= 38,
# current panel types only, unique panel ids, a gridPos on every panel, no overlapping panels),
# picks its datasource through a datasource variable on every panel, target and annotation (no
# hard-coded uid), and has the target variable; the provisioning files pass yamllint and point
# where deploy/docker-compose.yml mounts grafana/. Whether the queries parse and name real
# metrics is tests/shell/test_promql_metrics.sh's job.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/deps.sh
source "$root/tests/lib/deps.sh"
command -v jq >/dev/null || install_packages jq
command -v yamllint >/dev/null || install_packages yamllint
python3 -c 'import yaml' 2>/dev/null || install_packages python3-yaml

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }
# YAML -> JSON on stdout (python3-yaml comes with yamllint), so jq can read compose and provisioning.
yaml_json() {
  python3 -c 'import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)' "$1" \
    || fail "$1 is not valid YAML"
}

grafana=$root/grafana
compose=$root/deploy/docker-compose.yml
shopt -s nullglob
dashboards=("$grafana"/dashboards/*.json)
[ ${#dashboards[@]} -gt 0 ] || fail "no dashboards in grafana/dashboards/"

# ---- 1. the dashboards ----------------------------------------------------------------------
# One jq program per dashboard; it prints one line per problem, naming the panel.
# shellcheck disable=SC2016 # jq's $variables, not the shell's
check_dashboard='
  def allowed: ["stat", "timeseries", "table", "state-timeline", "gauge", "bargauge", "text", "row"];
  def name(p): "panel \"\(p.title // "")\" (id \(p.id // "none"))";
  def ds_var: [.templating.list[]? | select(.type == "datasource")][0];
  def want($var): {"type": "prometheus", "uid": "${\($var)}"};
  def overlap(a; b):
    a.gridPos.x < b.gridPos.x + b.gridPos.w and b.gridPos.x < a.gridPos.x + a.gridPos.w
    and a.gridPos.y < b.gridPos.y + b.gridPos.h and b.gridPos.y < a.gridPos.y + a.gridPos.h;
  def overlaps(ps):
    [range(0; ps | length) as $i | range($i + 1; ps | length) as $j
     | select(overlap(ps[$i]; ps[$j]))
     | "\(name(ps[$i])) and \(name(ps[$j])) overlap"];
  (ds_var.name // "datasource") as $var
  | want($var) as $ds
  | [.panels[]?, (.panels[]? | .panels[]?)] as $all
  | (if (.schemaVersion // 0) < 38 then ["schemaVersion \(.schemaVersion) < 38 (Grafana 10 and later)"] else [] end)
  + (if (.uid // "") | test("^[A-Za-z0-9_-]{1,40}$") | not then ["uid \(.uid) missing or not [A-Za-z0-9_-]{1,40}"] else [] end)
  + (if (.title // "") == "" then ["no title"] else [] end)
  + (if .id != null then ["a top-level id (\(.id)): provisioned dashboards must leave it out"] else [] end)
  + (if (.refresh // "") | test("^[0-9]+[smhd]$") | not then ["refresh \(.refresh) is not an interval"] else [] end)
  + (if ($all | length) == 0 then ["no panels"] else [] end)
  + (if ds_var == null then ["no templating variable of type datasource"]
     elif ds_var.query != "prometheus" then ["the datasource variable \"\($var)\" has query \(ds_var.query), not prometheus"]
     else [] end)
  + ([.templating.list[]? | select(.name == "target")] as $t
     | if ($t | length) == 0 then ["no templating variable \"target\""]
       elif $t[0].type != "query" or ($t[0].multi | not) or ($t[0].includeAll | not)
         or ((($t[0].query | if type == "object" then .query else . end) // "")
             | test("^\\s*label_values\\(\\s*[a-zA-Z_:][a-zA-Z0-9_:]*\\s*(\\{[^}]*\\})?\\s*,\\s*target\\s*\\)\\s*$") | not)
       then ["variable \"target\" must be a query variable label_values(METRIC, target), multi, include all"]
       else [] end)
  + ([$all[] | select(.id == null)] | map("\(name(.)): no id"))
  + ([$all[] | select(.id != null)] | group_by(.id) | map(select(length > 1)
     | "panel id \(.[0].id) used \(length) times: \(map("\"\(.title)\"") | join(", "))"))
  + ($all | map(select(.type as $ty | allowed | index($ty) | not)
               | "\(name(.)): type \"\(.type)\" is not a current panel type (\(allowed | join(", ")))"))
  + ($all | map(select((.gridPos | type) != "object"
                       or ([.gridPos.h, .gridPos.w, .gridPos.x, .gridPos.y] | map(type == "number") | all | not))
               | "\(name(.)): no gridPos {h, w, x, y}"))
  + ($all | map(select((.gridPos | type) == "object" and (.gridPos.x | type) == "number"
                       and (.gridPos.x < 0 or .gridPos.w < 1 or .gridPos.h < 1 or .gridPos.x + .gridPos.w > 24))
               | "\(name(.)): gridPos \(.gridPos | tojson) is outside the 24-column grid"))
  + ([.panels[]? | select(.type == "row" and (.collapsed | not) and ((.panels // []) | length) > 0)]
     | map("\(name(.)): an open row holding panels (they belong after it, at the top level)"))
  + ([.panels[]? | select(.gridPos | type == "object")] | overlaps(.))
  + ([.panels[]? | select(.type == "row" and .collapsed) | [.panels[]? | select(.gridPos | type == "object")]]
     | map(overlaps(.)) | add // [])
  + ($all | map(select(.type != "row" and .type != "text") | . as $p
                | if .datasource != $ds then "\(name($p)): datasource \(.datasource | tojson), want \($ds | tojson)"
                  elif ((.targets // []) | length) == 0 then "\(name($p)): no targets"
                  else empty end))
  + ($all | map(. as $p | (.targets // [])[]
                | if .datasource != $ds then "\(name($p)) target \(.refId): datasource \(.datasource | tojson), want \($ds | tojson)"
                  elif ((.expr // "") | test("\\S") | not) then "\(name($p)) target \(.refId): no expr"
                  else empty end))
  + ($all | map(. as $p | [(.targets // [])[].refId] | group_by(.) | map(select(length > 1))
                | map("\(name($p)): refId \(.[0]) used twice")[]))
  + ([.annotations.list[]? | select(.datasource != $ds)]
     | map("annotation \"\(.name)\": datasource \(.datasource | tojson), want \($ds | tojson)"))
  + ([paths(objects and has("datasource")) as $p | getpath($p) | select(.datasource != $ds)
      | "at .\($p | map(tostring) | join(".")) (\(.title // .name // .refId // "")): datasource \(.datasource | tojson) is not the variable"]
     | unique)
  | .[]
'
uids=()
for file in "${dashboards[@]}"; do
  rel=${file#"$root"/}
  jq empty "$file" 2>/dev/null || fail "$rel is not valid JSON: $(jq empty "$file" 2>&1)"
  problems=$(jq -r "$check_dashboard" "$file") || fail "$rel: jq failed on the check"
  if [ -n "$problems" ]; then
    while IFS= read -r line; do echo "FAIL: $rel: $line"; done <<<"$problems" >&2
    exit 1
  fi
  uids+=("$(jq -r .uid "$file")")
  pass "$rel: $(jq '[.panels[], (.panels[] | .panels[]?)] | length' "$file") panels, current types, unique ids, gridPos, \${$(jq -r '[.templating.list[] | select(.type == "datasource")][0].name' "$file")} everywhere"
done
dup=$(printf '%s\n' "${uids[@]}" | sort | uniq -d)
[ -z "$dup" ] || fail "dashboard uid used twice: $dup"

# ---- 2. the provisioning files ---------------------------------------------------------------
provisioning=("$grafana"/provisioning/*/*.yml "$grafana"/provisioning/*/*.yaml)
[ ${#provisioning[@]} -gt 0 ] || fail "no provisioning files under grafana/provisioning/"
yamllint --strict "${provisioning[@]}" || fail "yamllint on grafana/provisioning"
pass "yamllint --strict: ${#provisioning[@]} provisioning files"

[ -f "$compose" ] || fail "deploy/docker-compose.yml is missing"
compose_json=$(yaml_json "$compose")
grafana_svc=$(jq -c '.services.grafana // empty' <<<"$compose_json")
[ -n "$grafana_svc" ] || fail "deploy/docker-compose.yml has no grafana service"
# Where the compose file mounts a directory of this repository into the grafana container
# (short "SRC:DST[:ro]" or long {source, target} syntax; SRC relative to deploy/).
mount_target() { # $1 = path relative to the repo root
  local want=$1 source target
  while IFS=$'\t' read -r source target; do
    if [ "$(realpath -m "$root/deploy/$source")" = "$root/$want" ]; then
      echo "$target"
      return 0
    fi
  done < <(jq -r '.volumes[]? | if type == "string" then (split(":") | [.[0], .[1]]) else [.source, .target] end
                  | @tsv' <<<"$grafana_svc")
  return 1
}
prov_target=$(mount_target grafana/provisioning) || fail "the grafana service does not mount grafana/provisioning"
# Grafana reads provisioning from GF_PATHS_PROVISIONING, /etc/grafana/provisioning by default.
prov_path=$(jq -r '(.environment // {}) | if type == "array" then (map(split("=") | {(.[0]): .[1]}) | add) else . end
                   | .GF_PATHS_PROVISIONING // "/etc/grafana/provisioning"' <<<"$grafana_svc")
[ "$prov_target" = "$prov_path" ] \
  || fail "grafana/provisioning is mounted at $prov_target, but Grafana reads provisioning from $prov_path"
dash_target=$(mount_target grafana/dashboards) || fail "the grafana service does not mount grafana/dashboards"
pass "compose mounts grafana/provisioning at $prov_target, grafana/dashboards at $dash_target"

providers=0
for file in "$grafana"/provisioning/dashboards/*.y*ml; do
  rel=${file#"$root"/}
  json=$(yaml_json "$file")
  [ "$(jq -r .apiVersion <<<"$json")" = 1 ] || fail "$rel: apiVersion is not 1"
  while IFS=$'\t' read -r name type path; do
    [ "$type" = file ] || fail "$rel: provider \"$name\" has type \"$type\", want file"
    [ "$path" = "$dash_target" ] \
      || fail "$rel: provider \"$name\" reads $path, but the compose file mounts grafana/dashboards at $dash_target"
    providers=$((providers + 1))
  done < <(jq -r '.providers[]? | [.name, (.type // "file"), (.options.path // "")] | @tsv' <<<"$json")
done
[ "$providers" -gt 0 ] || fail "no dashboard provider in grafana/provisioning/dashboards/"
pass "$providers dashboard provider(s) of type file read $dash_target"

datasources=0
for file in "$grafana"/provisioning/datasources/*.y*ml; do
  rel=${file#"$root"/}
  json=$(yaml_json "$file")
  [ "$(jq -r .apiVersion <<<"$json")" = 1 ] || fail "$rel: apiVersion is not 1"
  while IFS=$'\t' read -r name type url; do
    [ "$type" = prometheus ] || continue
    # http://SERVICE:PORT: SERVICE must be a compose service on the network (prometheus:9090).
    [[ $url =~ ^https?://([a-z0-9_-]+):([0-9]+)/?$ ]] || fail "$rel: datasource \"$name\" url $url is not http://SERVICE:PORT"
    service=${BASH_REMATCH[1]}
    port=${BASH_REMATCH[2]}
    jq -e --arg s "$service" '.services[$s]' <<<"$compose_json" >/dev/null \
      || fail "$rel: datasource \"$name\" points at $service, which is not a service in deploy/docker-compose.yml"
    # Prometheus listens on :9090 unless its command sets --web.listen-address.
    listen=$(jq -r --arg s "$service" '[(.services[$s].command // []) | if type == "string" then split(" ") else . end
                                       | .[] | select(startswith("--web.listen-address="))][0] // ":9090"' <<<"$compose_json")
    [ "$port" = "${listen##*:}" ] \
      || fail "$rel: datasource \"$name\" uses port $port, but $service listens on ${listen##*[=]}"
    datasources=$((datasources + 1))
  done < <(jq -r '.datasources[]? | [.name, .type, .url] | @tsv' <<<"$json")
done
[ "$datasources" -gt 0 ] || fail "no prometheus datasource in grafana/provisioning/datasources/"
pass "$datasources prometheus datasource(s) point at a compose service"
echo "grafana: ok"
