#!/usr/bin/env bash
# The reference frontend (deploy/apps/frontend), built and run as the kit says, without Docker:
# build.sh builds it (a second run, and two at once, find the build current) and leaves the
# source tree without node_modules or .next; the standalone server it prints serves / with
# "HomeGuru", the NEXT_PUBLIC_API_URL given at build time (not the one in the server's
# environment: it is inlined) and the APP_VERSION given at start, /api/health with status ok
# and that version, the static files copied beside it; it exits within 10 s of SIGTERM.
# And, statically: the pnpm version is the same in package.json, build.sh and
# Dockerfile.frontend; every NEXT_PUBLIC_* the app reads is a build argument of the Dockerfile
# and of docker-compose.build.yml, whose dockerfile path, relative to its context, is
# Dockerfile.frontend. (dockerfilelint and `config -q`: tests/shell/test_deploy_compose.sh.)
#
# The build cache is reference-test/ under $PROBE_APPS_CACHE, else under $PROBE_BUILD_DIR/apps:
# a first run builds (about 20 s, more with pnpm's package store empty), later ones find it
# current. Its own cache, because it builds with other NEXT_PUBLIC_ values than the demo: in the
# demo's cache that rebuild would pull the frontend from under a demo stack running beside it.
# Needs node (>= 20.9), npm, curl, jq, flock and docker-compose (tests/lib/deps.sh), and the npm
# registry on a first run.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
build_dir=${PROBE_BUILD_DIR:-$root/build}
export PROBE_APPS_CACHE=${PROBE_APPS_CACHE:-$build_dir/apps}/reference-test
app=deploy/apps/frontend
dockerfile=deploy/docker/Dockerfile.frontend

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

for tool in node:nodejs npm:npm curl:curl jq:jq flock:util-linux docker-compose:docker-compose; do
  command -v "${tool%%:*}" >/dev/null || fail "${tool%%:*} is not installed: apt-get install ${tool#*:}"
done
# shellcheck source=tests/lib/procs.sh
source "$root/tests/lib/procs.sh" # pids, stop_started, alive, wait_gone, wait_until
# shellcheck source=tests/lib/pg.sh
source "$root/tests/lib/pg.sh" # free_port

work=$(mktemp -d /tmp/probe-frontend.XXXXXX)
cleanup() {
  stop_started
  rm -rf "$work"
}
trap cleanup EXIT

# ---- static: versions and build arguments agree ------------------------------------------
pnpm_version=$(jq -r '.packageManager' "$app/package.json")
[ "${pnpm_version%%@*}" = pnpm ] || fail "$app/package.json: packageManager is '$pnpm_version', not pnpm@..."
pnpm_version=${pnpm_version#pnpm@}
grep -q "^pnpm_version=$pnpm_version$" "$app/build.sh" || fail "$app/build.sh does not install pnpm $pnpm_version"
grep -q "npm install .*pnpm@$pnpm_version\$" "$dockerfile" || fail "$dockerfile does not install pnpm $pnpm_version"
grep -q '^FROM node:20\.[0-9][0-9]*-bookworm-slim' "$dockerfile" || fail "$dockerfile: base image not node:20.<minor>-bookworm-slim"

mapfile -t public_vars < <(grep -rhoE 'NEXT_PUBLIC_[A-Z0-9_]+' "$app/app" | sort -u)
[ ${#public_vars[@]} -gt 0 ] || fail "found no NEXT_PUBLIC_* in $app/app"
env -i PATH="$PATH" HOME="$work" API_ENV_FILE=env/api.env.example BOT_ENV_FILE=env/bot.env.example \
  FRONTEND_ENV_FILE=env/frontend.env.example \
  docker-compose --env-file deploy/.env.example -f deploy/docker-compose.yml \
  -f deploy/docker-compose.build.yml config >"$work/compose.yml" || fail "docker-compose config"
# The frontend's build: block (context, dockerfile, args) of the resolved configuration.
awk '/^  [^ ]/ { in_block = ($0 == "  frontend:") } in_block' "$work/compose.yml" >"$work/frontend.yml"
build_line=$(grep -n '^    build:' "$work/frontend.yml" | cut -d: -f1 || true)
[ -n "$build_line" ] || fail "docker-compose.build.yml gives the frontend no build:"
for var in "${public_vars[@]}"; do
  # Declared, and set (as ENV) before `RUN pnpm build` reads it.
  awk -v v="$var" '$0 ~ "^ARG " v "(=|$)" { arg = NR } /^RUN pnpm build/ { build = NR }
    END { exit !(arg && build && arg < build) }' "$dockerfile" ||
    fail "$dockerfile: no ARG $var before RUN pnpm build"
  grep -Eq "^ENV .*$var=|^    $var=" "$dockerfile" || fail "$dockerfile: ARG $var is not set as ENV"
  grep -q "^        $var: " "$work/frontend.yml" || fail "docker-compose.build.yml passes no build arg $var"
done
context=$(sed -n 's/^      context: //p' "$work/frontend.yml")
compose_dockerfile=$(sed -n 's/^      dockerfile: //p' "$work/frontend.yml")
[ "$context" = "$root/$app" ] || fail "the frontend's build context is $context, not $root/$app"
[ "$(readlink -f "$context/$compose_dockerfile")" = "$root/$dockerfile" ] ||
  fail "the frontend's dockerfile, $compose_dockerfile relative to $context, is not $dockerfile"
pass "pnpm $pnpm_version in package.json, build.sh and $dockerfile; ${public_vars[*]}: build args of the Dockerfile and docker-compose.build.yml, whose dockerfile resolves to $dockerfile"

# ---- build.sh ----------------------------------------------------------------------------
# A fixed URL, so that the next run finds the build current; a runtime value that differs.
api_url=http://api.probe-test.invalid:8000
runtime_api_url=http://runtime.probe-test.invalid:8000
had_node_modules=no
if [ -e "$app/node_modules" ] || [ -e "$app/.next" ]; then had_node_modules=yes; fi
build() { NEXT_PUBLIC_API_URL=$api_url NEXT_PUBLIC_SITE_NAME=HomeGuru "$app/build.sh"; }

start=$SECONDS
server=$(build 2>"$work/build.err") || { cat "$work/build.err" >&2; fail "$app/build.sh"; }
cat "$work/build.err" >&2
[ "$server" = "$PROBE_APPS_CACHE/frontend/.next/standalone/server.js" ] || fail "build.sh printed '$server'"
[ -f "$server" ] || fail "$server does not exist"
if [ "$had_node_modules" = no ] && { [ -e "$app/node_modules" ] || [ -e "$app/.next" ]; }; then
  fail "build.sh wrote node_modules or .next into $app"
fi
pass "build.sh: $server in $((SECONDS - start)) s, nothing written into $app"

# Two runs at once: one waits for the other's lock, both find the build current.
build >"$work/again1.out" 2>"$work/again1.err" &
again_pid=$!
pids+=("$again_pid")
build >"$work/again2.out" 2>"$work/again2.err" || { cat "$work/again2.err" >&2; fail "build.sh, run again"; }
wait "$again_pid" || { cat "$work/again1.err" >&2; fail "build.sh, run again beside another"; }
for n in 1 2; do
  [ "$(cat "$work/again$n.out")" = "$server" ] || fail "build.sh, run again, printed '$(cat "$work/again$n.out")'"
  grep -q 'up to date' "$work/again$n.err" || { cat "$work/again$n.err" >&2; fail "build.sh rebuilt an unchanged app"; }
done
pass "build.sh run twice more, at once: both find the build up to date"

# ---- the standalone server ---------------------------------------------------------------
version=test-$RANDOM$RANDOM
port=
server_pid=
# Started with a NEXT_PUBLIC_API_URL of its own, which the page must not show. A port taken
# between free_port and the server's bind is retried with the next one.
for attempt in 1 2 3; do
  port=$(free_port $((28800 + 10 * attempt))) || fail "no free port"
  PORT=$port HOSTNAME=127.0.0.1 APP_VERSION=$version NEXT_PUBLIC_API_URL=$runtime_api_url \
    node "$server" >"$work/server.log" 2>&1 &
  server_pid=$!
  pids+=("$server_pid")
  up_or_gone() { ! alive "$server_pid" || curl -sf -o /dev/null --max-time 5 "http://127.0.0.1:$port/api/health"; }
  wait_until 60 up_or_gone || { cat "$work/server.log" >&2; fail "the server did not answer /api/health within 60 s"; }
  if alive "$server_pid"; then break; fi
  grep -q EADDRINUSE "$work/server.log" || { cat "$work/server.log" >&2; fail "the server exited"; }
  server_pid=
done
[ -n "$server_pid" ] || fail "the server found its port taken 3 times"

curl -sf --max-time 10 "http://127.0.0.1:$port/api/health" >"$work/health.json" || fail "GET /api/health"
[ "$(jq -r .status "$work/health.json")" = ok ] || fail "/api/health: $(cat "$work/health.json")"
[ "$(jq -r .version "$work/health.json")" = "$version" ] || fail "/api/health: $(cat "$work/health.json"), not version $version"
pass "GET /api/health: 200 $(cat "$work/health.json")"

code=$(curl -s --max-time 10 -o "$work/page.html" -w '%{http_code}' "http://127.0.0.1:$port/") || fail "GET /"
[ "$code" = 200 ] || fail "GET / answered $code"
grep -q 'HomeGuru' "$work/page.html" || fail "the page does not say HomeGuru"
grep -qF "$api_url" "$work/page.html" || fail "the page does not show the build-time NEXT_PUBLIC_API_URL $api_url"
if grep -qF "$runtime_api_url" "$work/page.html"; then
  fail "the page shows the server's runtime NEXT_PUBLIC_API_URL: it was not inlined at build time"
fi
grep -qF "$version" "$work/page.html" || fail "the page does not show APP_VERSION $version"
pass "GET /: 200, HomeGuru, the build-time API URL (not the runtime one), version $version"

# The static files build.sh copied into the standalone output: public/ and .next/static.
asset=$(grep -o '/_next/static/[^"]*\.js' "$work/page.html" | head -n 1 || true)
[ -n "$asset" ] || fail "the page references no /_next/static/*.js"
for path in "$asset" /robots.txt; do
  code=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$path") || true
  [ "$code" = 200 ] || fail "GET $path answered $code (static files not copied beside server.js?)"
done
pass "GET $asset and /robots.txt: 200"

kill -TERM "$server_pid"
wait_gone 10 "$server_pid" || fail "the server still runs 10 s after SIGTERM"
if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/api/health"; then fail "port $port still answers"; fi
pass "the server exited within 10 s of SIGTERM"
