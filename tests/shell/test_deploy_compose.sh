#!/usr/bin/env bash
# The deploy kit's static checks, as far as they go without a Docker engine: every Compose
# file and profile validates with docker-compose 1.29 against both example env files; the
# resolved stacks have the services, healthchecks, images and sidecar settings the kit
# promises; every ${VAR} the compose files and deploy/probe.yaml read is documented in both
# env examples; every Dockerfile passes dockerfilelint (from npm, installed once into
# $PROBE_BUILD_DIR/npm), Dockerfile.probe installs a package for every library the built
# probe links, and its HEALTHCHECK passes against a live `probe serve` and fails once it
# stops; deploy/probe.yaml passes `probe config check`; yamllint passes on the YAML.
# Needs docker-compose, yamllint, npm and jq (tests/lib/deps.sh) and a built probe.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
build_dir=${PROBE_BUILD_DIR:-$root/build}
probe=$build_dir/probe

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

# Missing tools fail with the Debian 12 package to install (tests/lib/deps.sh lists them).
for tool in docker-compose:docker-compose yamllint:yamllint jq:jq readelf:binutils npm:npm; do
  command -v "${tool%%:*}" >/dev/null ||
    fail "${tool%%:*} is not installed: apt-get install ${tool#*:} (npm: or the machine's Node.js)"
done
[ -x "$probe" ] || fail "$probe not found: build probe first (or set PROBE_BUILD_DIR)"
# shellcheck source=tests/lib/procs.sh
source "$root/tests/lib/procs.sh" # wait_until

work=$(mktemp -d /tmp/probe-compose.XXXXXX)
serve_pid=
cleanup() {
  if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

deploy=deploy
env_files=("$deploy/.env.example" "$deploy/.env.production.example")
base=(-f "$deploy/docker-compose.yml")
prod=(-f "$deploy/docker-compose.yml" -f "$deploy/docker-compose.prod.yml")
build=(-f "$deploy/docker-compose.yml" -f "$deploy/docker-compose.build.yml")
# A stand-in for the frontend repository (docker-compose checks a build context exists); the
# api and bot are built from deploy/apps/ of this repository.
mkdir -p "$work/app"

# compose ENV_FILE [NAME=VALUE...] -- ARGS...: docker-compose with no settings but those of
# ENV_FILE and the NAME=VALUEs (which win, as the shell's environment does). The examples
# stand in for deploy/.env and for deploy/env/*.env, the app services' env_files.
compose() {
  local env_file=$1
  shift
  local settings=()
  while [ "$1" != "--" ]; do
    settings+=("$1")
    shift
  done
  shift
  env -i PATH="$PATH" HOME="$work" API_ENV_FILE=env/api.env.example \
    BOT_ENV_FILE=env/bot.env.example FRONTEND_ENV_FILE=env/frontend.env.example \
    "${settings[@]}" docker-compose --env-file "$env_file" "$@"
}

# env_value FILE NAME: the value NAME= has in an env file.
env_value() { sed -n "s/^$2=//p" "$1" | tail -n 1; }

# service_block NAME: the lines of one service in `docker-compose config` output on stdin.
service_block() {
  awk -v name="$1" '
    /^[^ ]/ { in_services = ($0 == "services:"); in_block = 0; next }
    in_services && /^  [^ ]/ { in_block = ($0 == "  " name ":"); next }
    in_block { print }'
}

# has SERVICE PATTERN FILE: the service's block in FILE has a line matching PATTERN (ERE).
# (grep reads to the end, not -q: an early exit would SIGPIPE awk under pipefail)
has() { service_block "$1" <"$3" | grep -E -- "$2" >/dev/null; }

# ---- every file and profile validates ----------------------------------------------------
for env_file in "${env_files[@]}"; do
  for combo in base prod build; do
    case $combo in
      base) files=("${base[@]}") ;;
      prod) files=("${prod[@]}") ;;
      build) files=("${build[@]}") ;;
    esac
    compose "$env_file" -- "${files[@]}" config -q ||
      fail "docker-compose config -q: $combo files with $env_file"
    compose "$env_file" -- "${files[@]}" --profile monitoring config -q ||
      fail "docker-compose config -q: $combo files + monitoring profile with $env_file"
  done
done
pass "docker-compose config -q: docker-compose.yml alone, + prod, + build, each with and without --profile monitoring, with both env examples"

if compose "${env_files[1]}" GHCR_OWNER= -- "${prod[@]}" config -q 2>"$work/err"; then
  fail "docker-compose.prod.yml accepted an empty GHCR_OWNER"
fi
grep -q "GHCR_OWNER" "$work/err" || fail "the missing-GHCR_OWNER error does not name it: $(cat "$work/err")"
pass "docker-compose.prod.yml refuses to start without GHCR_OWNER and says so"

# ---- the resolved stacks -----------------------------------------------------------------
compose "${env_files[0]}" -- "${base[@]}" --profile monitoring config >"$work/base.yml"
services=$(compose "${env_files[0]}" -- "${base[@]}" --profile monitoring config --services | sort | tr '\n' ' ')
[ "$services" = "alertmanager api bot frontend grafana postgres probe prometheus " ] ||
  fail "services are: $services"
for service in postgres api bot frontend probe; do
  if has "$service" '^    profiles:' "$work/base.yml"; then
    fail "$service belongs to a profile; it must run without one"
  fi
done
for service in prometheus alertmanager grafana; do
  has "$service" '^    - monitoring$' "$work/base.yml" || fail "$service is not in the monitoring profile"
done
pass "services: postgres api bot frontend probe, and prometheus alertmanager grafana in the monitoring profile only"

for service in postgres api bot frontend probe prometheus alertmanager grafana; do
  has "$service" '^      homeguru:' "$work/base.yml" || fail "$service is not on the homeguru network"
  has "$service" '^    restart: unless-stopped$' "$work/base.yml" || fail "$service has no restart: unless-stopped"
  if [ "$service" = bot ]; then
    if has bot '^    healthcheck:' "$work/base.yml"; then fail "bot has a healthcheck (it has no port)"; fi
  else
    has "$service" '^    healthcheck:' "$work/base.yml" || fail "$service has no healthcheck"
  fi
done
pass "every service is on the homeguru network with restart: unless-stopped; every one but bot has a healthcheck"

# A pinned minor release of 16 (a bare postgres:16 would move with every pull).
has postgres '^    image: postgres:16\.[0-9]+-bookworm$' "$work/base.yml" ||
  fail "postgres is not pinned to a 16.x minor release: $(service_block postgres <"$work/base.yml" | grep image:)"
has postgres 'pg_isready' "$work/base.yml" || fail "postgres's healthcheck is not pg_isready"
has postgres '^    - pgdata:/var/lib/postgresql/data' "$work/base.yml" || fail "postgres has no pgdata volume"
for service in api bot; do
  service_block "$service" <"$work/base.yml" | grep -A1 '^      postgres:$' |
    grep 'condition: service_healthy' >/dev/null || fail "$service does not wait for a healthy postgres"
done
pass "postgres:16.x-bookworm (pinned minor) with the pgdata volume and a pg_isready healthcheck; api and bot wait for it to be healthy"

has probe '^    init: true$' "$work/base.yml" || fail "probe has no init: true"
has probe '^    - probe-state:/var/lib/probe' "$work/base.yml" || fail "probe has no probe-state volume at /var/lib/probe"
has probe '/deploy/probe.yaml:/etc/probe/probe.yaml:ro$' "$work/base.yml" || fail "deploy/probe.yaml is not mounted read-only"
has probe '127.0.0.1:9464:9464' "$work/base.yml" || fail "probe's port is not published on 127.0.0.1:9464"
has probe '^      PROBE_TOKEN: ' "$work/base.yml" || fail "probe gets no PROBE_TOKEN"
for var in TELEGRAM_BOT_TOKEN TELEGRAM_CHAT_ID SLACK_WEBHOOK_URL; do
  has probe "^      $var: " "$work/base.yml" || fail "probe gets no $var (deploy/probe.yaml's notify channels)"
done
pass "probe: init, the probe-state volume, deploy/probe.yaml read-only, 127.0.0.1:9464, PROBE_TOKEN, notification variables"

# Each app gets its own env file's settings and none of the stack's secrets.
for service in api bot frontend; do
  has "$service" '^      LOG_LEVEL: info$|^      NODE_ENV: production$' "$work/base.yml" ||
    fail "$service does not get the settings of deploy/env/$service.env"
  for secret in POSTGRES_PASSWORD PROBE_TOKEN GRAFANA_ADMIN_PASSWORD TELEGRAM_BOT_TOKEN; do
    if has "$service" "^      $secret: " "$work/base.yml"; then fail "$service gets $secret"; fi
  done
done
pass "api, bot, frontend: their own env file each, no stack secrets (POSTGRES_PASSWORD, PROBE_TOKEN, ...)"

for service in api bot frontend probe; do
  if has "$service" '^    build:' "$work/base.yml"; then fail "docker-compose.yml builds $service (build: belongs in docker-compose.build.yml)"; fi
done
compose "${env_files[0]}" -- "${build[@]}" config >"$work/build.yml"
for service in api bot frontend probe; do
  has "$service" '^    build:' "$work/build.yml" || fail "docker-compose.build.yml does not build $service"
done
has probe 'dockerfile: deploy/docker/Dockerfile.probe' "$work/build.yml" || fail "probe is not built from deploy/docker/Dockerfile.probe"
# The reference apps: their own folder as the context, with its .dockerignore, and a
# dockerfile: path (relative to the context) that reaches deploy/docker/Dockerfile.<app>.
for app in api bot; do
  context=$(service_block "$app" <"$work/build.yml" | sed -n 's/^      context: //p')
  dockerfile=$(service_block "$app" <"$work/build.yml" | sed -n 's/^      dockerfile: //p')
  [ "$context" = "$root/$deploy/apps/$app" ] || fail "$app's build context is '$context', not $deploy/apps/$app"
  [ "$(readlink -f "$context/$dockerfile")" = "$root/$deploy/docker/Dockerfile.$app" ] ||
    fail "$app's dockerfile: '$dockerfile' does not lead from its context to $deploy/docker/Dockerfile.$app"
  [ -f "$context/.dockerignore" ] || fail "$deploy/apps/$app has no .dockerignore"
done
pass "build: only in docker-compose.build.yml, for api, bot (from deploy/apps/, each with its .dockerignore), frontend and probe"

owner=$(env_value "${env_files[1]}" GHCR_OWNER)
compose "${env_files[1]}" -- "${prod[@]}" config >"$work/prod-example.yml"
compose "${env_files[1]}" GHCR_OWNER=acme-test IMAGE_TAG=0123abcd PROBE_IMAGE_TAG=4567ef01 -- "${prod[@]}" config >"$work/prod.yml"
for name in api bot frontend probe; do
  has "$name" "^    image: ghcr.io/$owner/homeguru-$name:latest$" "$work/prod-example.yml" ||
    fail "prod image of $name is not ghcr.io/$owner/homeguru-$name:latest"
  tag=0123abcd
  if [ "$name" = probe ]; then tag=4567ef01; fi
  has "$name" "^    image: ghcr.io/acme-test/homeguru-$name:$tag$" "$work/prod.yml" ||
    fail "prod image of $name is not ghcr.io/acme-test/homeguru-$name:$tag"
  # docker-compose 1.29 validates pull_policy but drops it from its output: read the file.
  has "$name" '^    pull_policy: always$' "$deploy/docker-compose.prod.yml" || fail "prod $name has no pull_policy: always"
done
pass "prod images: ghcr.io/<GHCR_OWNER>/homeguru-{api,bot,frontend}:<IMAGE_TAG> and homeguru-probe:<PROBE_IMAGE_TAG>, pulled always"

# ---- every variable is documented in both env examples -----------------------------------
# $$ is Compose's escaped dollar (a shell variable inside a container command), not a setting.
mapfile -t vars < <(sed 's/[$][$]//g' "$deploy"/docker-compose*.yml "$deploy/probe.yaml" |
  grep -o '[$][{][A-Za-z_][A-Za-z0-9_]*' | cut -c3- | sort -u)
[ ${#vars[@]} -gt 5 ] || fail "found only ${#vars[@]} variables in the compose files: ${vars[*]}"
for env_file in "${env_files[@]}"; do
  for var in "${vars[@]}"; do
    grep -q "^$var=" "$env_file" || fail "$env_file does not set $var"
  done
  # Each setting has its own comment right above it (or belongs to a commented group).
  awk '/^[A-Za-z_][A-Za-z0-9_]*=/ && prev !~ /^#/ && prev !~ /^[A-Za-z_][A-Za-z0-9_]*=/ {
         print FILENAME ":" FNR ": " $0 " has no comment above it"; bad = 1 }
       /^[^#]/ && !/^[A-Za-z_][A-Za-z0-9_]*=/ && !/^$/ { print FILENAME ":" FNR ": not NAME=value"; bad = 1 }
       { prev = $0 } END { exit bad }' "$env_file" || fail "$env_file is not documented line by line"
  db_url="postgresql://$(env_value "$env_file" POSTGRES_USER):$(env_value "$env_file" POSTGRES_PASSWORD)@postgres:5432/$(env_value "$env_file" POSTGRES_DB)"
  [ "$(env_value "$env_file" DATABASE_URL)" = "$db_url" ] ||
    fail "$env_file: DATABASE_URL does not match POSTGRES_USER/PASSWORD/DB (expected $db_url)"
done
diff <(grep -o '^[A-Za-z_][A-Za-z0-9_]*=' "${env_files[0]}" | sort) \
  <(grep -o '^[A-Za-z_][A-Za-z0-9_]*=' "${env_files[1]}" | sort) >/dev/null ||
  fail "the two env examples do not set the same variables"
pass "${#vars[@]} variables (${vars[*]}) set and commented in both env examples; DATABASE_URL matches POSTGRES_*"

# ---- Dockerfiles -------------------------------------------------------------------------
lint=$build_dir/npm/node_modules/.bin/dockerfilelint
if [ ! -x "$lint" ]; then
  npm install --prefix "$build_dir/npm" --no-audit --no-fund --loglevel=error dockerfilelint@1.8.0 >/dev/null ||
    fail "npm install dockerfilelint@1.8.0 failed"
fi
mapfile -t dockerfiles < <(find "$deploy/docker" -maxdepth 1 -name 'Dockerfile.*' ! -name '*.dockerignore' | sort)
[ ${#dockerfiles[@]} -eq 4 ] || fail "expected 4 Dockerfiles in $deploy/docker, found: ${dockerfiles[*]}"
for dockerfile in "${dockerfiles[@]}"; do
  "$lint" "$dockerfile" >"$work/lint.out" 2>&1 || { cat "$work/lint.out" >&2; fail "dockerfilelint $dockerfile"; }
  head -n 1 "$dockerfile" | grep -q '^# syntax=docker/dockerfile:1' || fail "$dockerfile does not start with a # syntax= line"
  user=$(grep '^USER ' "$dockerfile" | tail -n 1 | cut -d' ' -f2)
  case "$user" in "" | root | 0 | 0:*) fail "$dockerfile runs as root (last USER: '${user}')" ;; esac
done
grep -q '^HEALTHCHECK NONE$' "$deploy/docker/Dockerfile.bot" || fail "Dockerfile.bot should say HEALTHCHECK NONE"
for dockerfile in "$deploy"/docker/Dockerfile.{probe,api,frontend}; do
  grep -q '^HEALTHCHECK ' "$dockerfile" || fail "$dockerfile has no HEALTHCHECK"
done
for label in source version revision title description licenses; do
  grep -q "org.opencontainers.image.$label=" "$deploy/docker/Dockerfile.probe" ||
    fail "Dockerfile.probe has no org.opencontainers.image.$label label"
done
pass "dockerfilelint: ${#dockerfiles[@]} Dockerfiles clean; all run as non-root, every one but the bot's has a HEALTHCHECK, probe's has the OCI labels"

# Every library the probe binary links comes from a package the runtime stage installs
# (libc6 and libgcc-s1 are in debian:12-slim already).
runtime_stage=$(sed -n '/^FROM debian:12-slim/,$p' "$deploy/docker/Dockerfile.probe")
[ -n "$runtime_stage" ] || fail "Dockerfile.probe has no debian:12-slim runtime stage"
packages=()
while read -r soname; do
  # (awk reads to the end: an early exit would SIGPIPE the producer under pipefail)
  path=$(ldconfig -p | awk -v so="$soname" '$1 == so && path == "" { path = $NF } END { print path }')
  [ -n "$path" ] || fail "$soname (linked by probe) is not installed here"
  # dpkg knows a file by the path its package ships, /lib or /usr/lib (merged /usr).
  real=$(readlink -f "$path")
  package=$( (dpkg -S "$real" || dpkg -S "${real#/usr}") 2>/dev/null | awk -F: 'NR == 1 { print $1 }')
  [ -n "$package" ] || fail "no Debian package owns $real ($soname)"
  case "$package" in libc6 | libgcc-s1) continue ;; esac
  awk -v p="$package" '{ for (i = 1; i <= NF; i++) if ($i == p) found = 1 } END { exit !found }' \
    <<<"$runtime_stage" ||
    fail "Dockerfile.probe's runtime stage does not install $package (for $soname)"
  packages+=("$package")
done < <(readelf -d "$probe" | sed -n 's/.*Shared library: \[\(.*\)\]$/\1/p')
pass "Dockerfile.probe installs the package of every library probe links: ${packages[*]}"

# The HEALTHCHECK command, run for real: 0 while probe serves /healthz (waited for up to 60 s:
# a loaded machine), non-zero once it stops.
# Compose repeats it (with $$ for $), so the two must not drift apart.
check=$(sed -n 's/^ *CMD \(\[.*\/dev\/tcp\/.*\]\)$/\1/p' "$deploy/docker/Dockerfile.probe" | jq -r '.[2]')
compose_check=$(sed -n 's/^ *test: \(\[.*\/dev\/tcp\/.*\]\)$/\1/p' "$deploy/docker-compose.yml" | jq -r '.[3]')
[ -n "$check" ] || fail "no /dev/tcp HEALTHCHECK found in Dockerfile.probe"
[ "${compose_check//\$\$/\$}" = "$check" ] || fail "compose's probe healthcheck differs from Dockerfile.probe's"
port=
for candidate in $(seq 29464 29564); do
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then port=$candidate; break; fi
done
[ -n "$port" ] || fail "no free port for probe serve"
cat >"$work/probe.yaml" <<YAML
listen: "127.0.0.1:$port"
targets:
  - {name: self, type: tcp, address: "127.0.0.1:$port"}
deploy: {journal: $work/journal.jsonl}
YAML
"$probe" serve --config "$work/probe.yaml" 2>"$work/serve.log" &
serve_pid=$!
healthy=no
healthcheck_passes() { bash -c "${check//9464/$port}" 2>/dev/null; }
if wait_until 60 healthcheck_passes; then healthy=yes; fi
[ "$healthy" = yes ] || { cat "$work/serve.log" >&2; fail "the HEALTHCHECK command fails against a serving probe"; }
kill "$serve_pid"
wait "$serve_pid" || true
serve_pid=
if bash -c "${check//9464/$port}" 2>/dev/null; then fail "the HEALTHCHECK command passes with probe stopped"; fi
pass "Dockerfile.probe's HEALTHCHECK (bash /dev/tcp GET /healthz) passes while probe serves and fails once it stops"

# ---- deploy/probe.yaml -------------------------------------------------------------------
for env_file in "${env_files[@]}"; do
  settings=()
  while IFS= read -r line; do
    settings+=("$line")
  done < <(grep -E '^[A-Za-z_][A-Za-z0-9_]*=' "$env_file")
  env -i PATH="$PATH" "${settings[@]}" "$probe" config check --sidecar --config "$deploy/probe.yaml" >"$work/resolved" 2>&1 ||
    { cat "$work/resolved" >&2; fail "probe config check deploy/probe.yaml with $env_file"; }
  if grep -qF "$(env_value "$env_file" PROBE_TOKEN)" "$work/resolved"; then
    fail "probe config check printed PROBE_TOKEN"
  fi
done
pass "probe config check deploy/probe.yaml: valid with both env examples, token masked"

# ---- yamllint ----------------------------------------------------------------------------
# relaxed, with warnings as errors but no line-length limit (healthcheck commands are long).
yamllint --strict -d '{extends: relaxed, rules: {line-length: disable}}' \
  "$deploy"/docker-compose*.yml "$deploy/probe.yaml" || fail "yamllint"
pass "yamllint (relaxed, strict, no line-length): the compose files and deploy/probe.yaml"
