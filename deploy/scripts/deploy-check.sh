#!/usr/bin/env bash
# Is the HomeGuru stack on this server up? One look at every layer a person would check after
# a deploy: the containers (Compose's state and healthchecks) with the last log lines of each
# failing one, probe's own checks of every target, the sidecar's readiness, and the recent
# deploy events. Exit 0 only when all is well.
set -euo pipefail
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$script_dir/lib.sh"

usage() {
  cat <<'EOF'
Usage: deploy/scripts/deploy-check.sh [--dry-run] [--log-lines N]

Shows the state of every service of the HomeGuru stack on this server and ends with one
summary line:

  containers     docker compose ps: every service of `docker compose config --services`
                 must be running and, where it has a healthcheck, healthy
  logs           for each service that is down (exited, restarting, unhealthy, still
                 starting): docker compose logs --no-color --tail N SERVICE under a header
                 naming it; nothing for healthy services
  probe check    docker compose exec -T probe probe check --config /etc/probe/probe.yaml
  readiness      curl $PROBE_URL/ready (200 when every critical target is up)
  deploys        probe deploy list --url $PROBE_URL --limit 5; the newest event must not be
                 deploy_failed or rollback_failed (a failure nobody rolled back)

Options:
  -n, --dry-run      print each command instead of running it (the logs command is shown
                     once, for a placeholder SERVICE)
  --log-lines N      log lines per failing service, 1-10000 (default 50)
  -h, --help         show this help

Environment:
  DEPLOY_DIR       directory with the compose files and .env (default: deploy/)
  PROBE_BIN        probe on this host for the deploy log (default: probe on PATH; when there
                   is none, the probe in the probe container is used)
  PROBE_URL        the probe sidecar (default: http://127.0.0.1:9464)
  PROBE_CONTAINER_CONFIG  probe's config inside its container (default: /etc/probe/probe.yaml)

Exit codes: 0 everything is up, 1 something is down (the summary line names it), 2 usage.
EOF
}

log_lines=50
# A positive integer up to 10000, written without a sign or leading zeros (bash would read
# 010 as octal); the value itself is not echoed back.
set_log_lines() {
  if [[ $1 =~ ^[1-9][0-9]{0,4}$ ]] && [ "$1" -le 10000 ]; then
    log_lines=$1
  else
    usage >&2
    die 2 "--log-lines takes a whole number from 1 to 10000"
  fi
}

while [ $# -gt 0 ]; do
  case $1 in
    -h | --help) usage; exit 0 ;;
    -n | --dry-run) DRY_RUN=1 ;;
    --log-lines)
      [ $# -ge 2 ] || { usage >&2; die 2 "--log-lines needs a number"; }
      set_log_lines "$2"
      shift
      ;;
    --log-lines=*) set_log_lines "${1#--log-lines=}" ;;
    *) usage >&2; die 2 "unexpected argument (see --help)" ;;
  esac
  shift
done

deploy_dir=${DEPLOY_DIR:-$(cd "$script_dir/.." && pwd)}
probe_bin=${PROBE_BIN:-probe}
probe_url=${PROBE_URL:-http://127.0.0.1:9464}
container_config=${PROBE_CONTAINER_CONFIG:-/etc/probe/probe.yaml}

services_cmd=("${COMPOSE[@]}" config --services)
ps_cmd=("${COMPOSE[@]}" ps -a --format '{{.Service}}|{{.State}}|{{.Health}}|{{.Status}}')
logs_cmd=("${COMPOSE[@]}" logs --no-color --tail "$log_lines") # + the service
check_cmd=("${COMPOSE[@]}" exec -T probe probe check --config "$container_config")
ready_cmd=(curl -sS --max-time 5 -w '\n%{http_code}' "$probe_url/ready")
if command -v "$probe_bin" >/dev/null; then
  list_cmd=("$probe_bin" deploy list --url "$probe_url" --limit 5)
else
  list_cmd=("${COMPOSE[@]}" exec -T probe probe deploy list --url http://127.0.0.1:9464 --limit 5)
fi

if [ "$DRY_RUN" = 1 ]; then
  trace_cd "$deploy_dir"
  run "${services_cmd[@]}"
  run "${ps_cmd[@]}"
  run "${logs_cmd[@]}" SERVICE
  for cmd in check_cmd ready_cmd list_cmd; do
    declare -n words=$cmd
    run "${words[@]}"
  done
  exit 0
fi

# A report, not a deploy: the section titles say what runs; --dry-run shows the commands.
RUN_TRACE=0
command -v docker >/dev/null || die 2 "docker not found on PATH"
[ -d "$deploy_dir" ] || die 2 "DEPLOY_DIR $deploy_dir is not a directory"
trace_cd "$deploy_dir"

problems=()
section() { printf '\n== %s\n' "$1"; }

section "containers (docker compose ps)"
services=$(run "${services_cmd[@]}") || problems+=("docker compose config failed")
rows=$(run "${ps_cmd[@]}") || problems+=("docker compose ps failed")
declare -A seen=()
failing=()
up=0
while IFS='|' read -r service state health status; do
  [ -n "$service" ] || continue
  seen[$service]=1
  if [ "$state" = running ] && { [ -z "$health" ] || [ "$health" = healthy ]; }; then
    printf '  ok    %-12s %s\n' "$service" "$status"
    up=$((up + 1))
  else
    printf '  DOWN  %-12s %s\n' "$service" "$status"
    problems+=("$service ${health:-$state}")
    failing+=("$service")
  fi
done <<<"$rows"
for service in $services; do
  if [ -z "${seen[$service]:-}" ]; then
    printf '  DOWN  %-12s no container\n' "$service"
    problems+=("$service (no container)")
  fi
done

# Why a container is down is usually in its last lines of output. A service without a
# container has none; a healthy one is not shown.
for service in "${failing[@]}"; do
  section "logs: $service (last $log_lines lines, docker compose logs --no-color --tail $log_lines $service)"
  status=0
  run "${logs_cmd[@]}" "$service" || status=$?
  [ "$status" = 0 ] || printf '  (docker compose logs exited %s)\n' "$status"
done

section "probe check (in the probe container)"
status=0
run "${check_cmd[@]}" || status=$?
[ "$status" = 0 ] || problems+=("probe check exit $status")

section "readiness ($probe_url/ready)"
if response=$(run "${ready_cmd[@]}"); then
  code=${response##*$'\n'}
  body=${response%$'\n'*}
  if command -v jq >/dev/null && jq -e .targets >/dev/null 2>&1 <<<"$body"; then
    jq -r '.targets | to_entries[] | "  \(.value.state)\t\(.key)\t\(.value.error // "")"' <<<"$body"
  else
    printf '  %s\n' "$body"
  fi
  printf '  HTTP %s\n' "$code"
  [ "$code" = 200 ] || problems+=("/ready $code")
else
  problems+=("/ready unreachable")
fi

section "recent deploys (probe deploy list --limit 5)"
status=0
events=$(run "${list_cmd[@]}") || status=$?
if [ "$status" = 0 ]; then
  printf '%s\n' "${events:-  (none recorded)}"
  read -r _ newest_kind newest_sha _ <<<"$events" || true
  case ${newest_kind:-} in
    deploy_failed | rollback_failed) problems+=("last deploy event $newest_kind $newest_sha") ;;
    deploy_started | rollback_started) log "a deploy or rollback of $newest_sha is in progress (or was cut short)" ;;
  esac
else
  problems+=("deploy log unreadable (exit $status)")
fi
if [ -f "$deploy_dir/.deployed_sha" ]; then
  printf '  last deployed by deploy.sh: %s\n' "$(head -n 1 "$deploy_dir/.deployed_sha")"
fi

echo
if [ ${#problems[@]} -eq 0 ]; then
  echo "deploy-check: OK: $up containers up, probe check passed, ready"
  exit 0
fi
summary=$(printf '%s, ' "${problems[@]}")
echo "deploy-check: DOWN: ${summary%, }"
exit 1
