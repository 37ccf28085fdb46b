#!/usr/bin/env bash
# A stand-in for the `docker` CLI, for running deploy/scripts/*.sh for real where no Docker
# engine runs. The test puts it first on PATH as `docker` (a symlink). It implements only what
# the scripts use, records every call, and refuses anything else, so a script that grows a new
# docker command fails its test until the stand-in learns it. The images are the reference
# apps' releases (deploy/demo/release.sh: real uvicorn, python-telegram-bot and Next.js
# processes, real Alembic on a real PostgreSQL):
#
#   docker login ghcr.io -u USER --password-stdin    the password is read from stdin
#   docker compose -f A -f B pull                   fails, as a registry would, for a tag with
#                                                   no image (release.sh build TAG makes one)
#   docker compose -f A -f B up -d [--remove-orphans]
#                                   release.sh up $IMAGE_TAG: api, bot and frontend restarted
#   docker compose -f A -f B run --rm [-T] api alembic ARGS...
#                                   real Alembic with $IMAGE_TAG's migrations
#   docker compose -f A -f B stop SERVICE...        release.sh stop SERVICE...
#   docker compose -f A -f B ps -q postgres         an id: the database always runs
#   docker compose -f A -f B exec -T postgres sh -c SCRIPT
#                                   SCRIPT run here with the postgres container's environment
#                                   (POSTGRES_USER, POSTGRES_DB) and PG* pointing at the test's
#                                   server: real pg_dump and pg_restore
#   docker compose -f A -f B config --services     the five HomeGuru services
#   docker compose -f A -f B ps -a --format TEMPLATE
#                                   one line per service, {{.Service}} {{.State}} {{.Health}}
#                                   {{.Status}} filled in; the api's health is its /health
#   docker compose -f A -f B exec -T probe probe ARGS...
#                                   the real probe, as in the sidecar's container: PROBE_TOKEN
#                                   from ./.env (Compose gives it the container), `--config F`
#                                   replaced by $FAKE_PROBE_CONFIG, /var/lib/probe (its volume)
#                                   by $FAKE_DOCKER_STATE/probe-state
#
# Environment: FAKE_DOCKER_STATE (a directory: calls.log, login.password, up), release.sh's
# (DEMO_WORK, DATABASE_URL, DEMO_API_PORT, TELEGRAM_API_URL, ...), FAKE_PROBE_BIN and
# FAKE_PROBE_CONFIG, FAKE_PG_PORT FAKE_PG_PASSWORD FAKE_PG_DATABASE (the server the postgres
# "container" is); FAKE_DOCKER_FAIL=pull|up|alembic|pg_dump makes that step fail (exit 1) after
# it is recorded. calls.log holds one line per call: "IMAGE_TAG=<tag or unset> ARGS...".
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../.." && pwd)
release=$root/deploy/demo/release.sh
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

# `exec -T postgres sh -c SCRIPT`: the script runs here, in the environment the postgres
# container gives it, against the test's server.
exec_postgres() {
  [[ ${1:-} == sh && ${2:-} == -c && $# == 3 ]] || refuse compose exec -T postgres "$@"
  [[ $3 == *pg_dump* ]] && fail_if pg_dump
  POSTGRES_USER=postgres POSTGRES_DB=${FAKE_PG_DATABASE:?} PGHOST=127.0.0.1 PGPORT=${FAKE_PG_PORT:?} \
    PGPASSWORD=${FAKE_PG_PASSWORD:?} exec sh -c "$3"
}

# `exec -T probe probe ARGS`: the real probe with the container's token, config and volume.
exec_probe() {
  [ "${1:-}" = probe ] || refuse compose exec -T probe "$@"
  shift
  local args=() token=
  while [ $# -gt 0 ]; do
    case $1 in
      --config) args+=(--config "$FAKE_PROBE_CONFIG"); shift 2 ;;
      /var/lib/probe/*) mkdir -p "$state/probe-state" && chmod 700 "$state/probe-state"; args+=("$state/probe-state/${1#/var/lib/probe/}"); shift ;;
      *) args+=("$1"); shift ;;
    esac
  done
  if [ -f .env ]; then
    token=$(sed -n 's/^PROBE_TOKEN="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' .env | tail -n 1)
  fi
  PROBE_TOKEN=$token exec "$FAKE_PROBE_BIN" "${args[@]}"
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
      "$release" has "$IMAGE_TAG" || { echo "manifest for $IMAGE_TAG not found: manifest unknown" >&2; exit 1; }
      ;;
    up)
      [ "${2:-}" = -d ] || refuse compose "$@"
      need_tag up
      fail_if up
      "$release" up "$IMAGE_TAG"
      touch "$state/up"
      ;;
    stop)
      shift
      [ $# -gt 0 ] || refuse compose stop
      "$release" stop "$@"
      ;;
    run)
      shift
      [ "${1:-}" = --rm ] || refuse compose run "$@"
      shift
      [ "${1:-}" = -T ] && shift
      [[ ${1:-} == api && ${2:-} == alembic ]] || refuse compose run "$@"
      need_tag alembic
      fail_if alembic
      shift 2
      "$release" alembic "$IMAGE_TAG" "$@"
      ;;
    config)
      [ "${2:-}" = --services ] || refuse compose "$@"
      printf '%s\n' "${services[@]}"
      ;;
    ps)
      if [[ ${2:-} == -q && ${3:-} == postgres && $# == 3 ]]; then
        echo 0123456789ab
        return 0
      fi
      [[ ${2:-} == -a && ${3:-} == --format && $# == 4 ]] || refuse compose "$@"
      compose_ps "$4"
      ;;
    exec)
      [ "${2:-}" = -T ] || refuse compose "$@"
      case "${3:-}" in
        postgres) exec_postgres "${@:4}" ;;
        probe) exec_probe "${@:4}" ;;
        *) refuse compose "$@" ;;
      esac
      ;;
    logs)
      # compose -f A -f B logs --no-color --tail N SERVICE: the last N lines of
      # $FAKE_DOCKER_STATE/logs/SERVICE.log, else for the api those of the real api's
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
