#!/usr/bin/env bash
# A stand-in for the `docker` CLI, for running deploy/scripts/*.sh for real where no Docker
# engine runs. The test puts it first on PATH as `docker` (a symlink). It implements only what
# the scripts use, records every call, and refuses anything else, so a script that grows a new
# docker command fails its test until the stand-in learns it:
#
#   docker login ghcr.io -u USER --password-stdin    the password is read from stdin
#   docker compose -f A -f B pull                   recorded only
#   docker compose -f A -f B up -d [--remove-orphans]
#                                   (re)starts the stand-in api with version $IMAGE_TAG through
#                                   deploy/demo/switch_api.sh; version "bad" answers /health 500
#   docker compose -f A -f B run --rm [-T] api alembic upgrade head | downgrade REV
#                                   sets the fake schema revision (upgrade: rev_$IMAGE_TAG)
#   docker compose -f A -f B config --services     the five HomeGuru services
#   docker compose -f A -f B ps -a --format TEMPLATE
#                                   one line per service, {{.Service}} {{.State}} {{.Health}}
#                                   {{.Status}} filled in; the api's health is its /health
#   docker compose -f A -f B exec -T probe probe ARGS...
#                                   the real probe, with `--config F` replaced by
#                                   $FAKE_PROBE_CONFIG
#
# Environment: FAKE_DOCKER_STATE (a directory: calls.log, login.password, schema, up), the
# switch_api.sh variables DEMO_WORK DEMO_API_PORT DEMO_STANDIN, FAKE_PROBE_BIN and
# FAKE_PROBE_CONFIG; FAKE_DOCKER_FAIL=pull|up|alembic makes that step fail (exit 1) after it is
# recorded. calls.log holds one line per call: "IMAGE_TAG=<tag or unset> ARGS...".
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../.." && pwd)
state=${FAKE_DOCKER_STATE:?fake docker: FAKE_DOCKER_STATE is not set}
services=(postgres api bot frontend probe)

printf -v call '%q ' "$@"
printf 'IMAGE_TAG=%s %s\n' "${IMAGE_TAG-unset}" "${call% }" >>"$state/calls.log"

refuse() {
  echo "fake docker: not implemented: $*" >&2
  exit 64
}

fail_if() {
  if [ "${FAKE_DOCKER_FAIL:-}" = "$1" ]; then
    echo "fake docker: $1 fails (FAKE_DOCKER_FAIL)" >&2
    exit 1
  fi
}

need_tag() {
  [ -n "${IMAGE_TAG:-}" ] || { echo "fake docker: IMAGE_TAG is not set for $1" >&2; exit 1; }
}

api_health() {
  local code
  code=$(curl -s -o /dev/null --max-time 2 -w '%{http_code}' "http://127.0.0.1:$DEMO_API_PORT/health" || true)
  if [ "$code" = 200 ]; then echo healthy; else echo unhealthy; fi
}

compose_ps() {
  local format=$1 service line health status
  [ -f "$state/up" ] || return 0
  for service in "${services[@]}"; do
    health=healthy
    [ "$service" = api ] && health=$(api_health)
    status="Up 5 minutes ($health)"
    line=${format//'{{.Service}}'/$service}
    line=${line//'{{.State}}'/running}
    line=${line//'{{.Health}}'/$health}
    line=${line//'{{.Status}}'/$status}
    printf '%s\n' "$line"
  done
}

compose() {
  # The scripts always name both files, and Compose would refuse a missing one.
  while [ "${1:-}" = -f ]; do
    [ -f "$2" ] || { echo "fake docker: compose file $2 not found in $PWD" >&2; exit 1; }
    shift 2
  done
  case "${1:-}" in
    pull)
      [ $# = 1 ] || refuse compose "$@"
      need_tag pull
      fail_if pull
      ;;
    up)
      [ "${2:-}" = -d ] || refuse compose "$@"
      need_tag up
      fail_if up
      "$root/deploy/demo/switch_api.sh" "$IMAGE_TAG" >/dev/null
      touch "$state/up"
      ;;
    run)
      shift
      [ "${1:-}" = --rm ] || refuse compose run "$@"
      shift
      [ "${1:-}" = -T ] && shift
      [[ ${1:-} == api && ${2:-} == alembic ]] || refuse compose run "$@"
      need_tag alembic
      fail_if alembic
      case "${3:-} ${4:-}" in
        "upgrade head") echo "rev_$IMAGE_TAG" >"$state/schema" ;;
        "downgrade "?*) printf '%s\n' "$4" >"$state/schema" ;;
        *) refuse compose run "$@" ;;
      esac
      ;;
    config)
      [ "${2:-}" = --services ] || refuse compose "$@"
      printf '%s\n' "${services[@]}"
      ;;
    ps)
      [[ ${2:-} == -a && ${3:-} == --format && $# == 4 ]] || refuse compose "$@"
      compose_ps "$4"
      ;;
    exec)
      [[ ${2:-} == -T && ${3:-} == probe && ${4:-} == probe ]] || refuse compose "$@"
      shift 4
      local args=()
      while [ $# -gt 0 ]; do
        if [ "$1" = --config ]; then
          args+=(--config "$FAKE_PROBE_CONFIG")
          shift 2
        else
          args+=("$1")
          shift
        fi
      done
      exec "$FAKE_PROBE_BIN" "${args[@]}"
      ;;
    logs)
      # compose -f A -f B logs --no-color --tail N SERVICE: the last N lines of
      # $FAKE_DOCKER_STATE/logs/SERVICE.log, else for the api those of the stand-in api's
      # output ($DEMO_WORK/api.log); else nothing, as for a service that logged nothing.
      [[ $# == 5 && $2 == --no-color && $3 == --tail && $4 =~ ^[0-9]+$ && -n $5 ]] || refuse compose "$@"
      if [ -f "$state/logs/$5.log" ]; then
        tail -n "$4" "$state/logs/$5.log"
      elif [ "$5" = api ] && [ -f "${DEMO_WORK:-}/api.log" ]; then
        tail -n "$4" "$DEMO_WORK/api.log"
      fi
      ;;
    *) refuse compose "$@" ;;
  esac
}

case "${1:-}" in
  login)
    [[ $# == 5 && $2 == ghcr.io && $3 == -u && -n $4 && $5 == --password-stdin ]] || refuse "$@"
    # As docker does: the password is stdin with the trailing newline removed.
    password=$(cat)
    printf '%s' "$password" >"$state/login.password"
    echo "Login Succeeded"
    ;;
  compose)
    shift
    compose "$@"
    ;;
  *) refuse "$@" ;;
esac
