#!/usr/bin/env bash
# Builds the reference frontend (deploy/apps/frontend) without Docker and prints where its
# standalone server is: <cache>/frontend/.next/standalone/server.js. Start it with
#
#   PORT=3000 HOSTNAME=127.0.0.1 APP_VERSION=<sha> node <cache>/frontend/.next/standalone/server.js
#
# The cache is $PROBE_APPS_CACHE, by default build/apps in this repository (gitignored). In it:
#   pnpm/              pnpm 10.34.9, installed with npm (corepack checks signatures that a
#                      registry mirror may not serve; pnpm 11 does not run on Node 20)
#   frontend/          a copy of the app's sources, where `pnpm install --frozen-lockfile` and
#                      `pnpm build` run: the source tree never gets node_modules or .next
#   frontend.stamp     what the last complete build was built from
#   frontend.log       the output of the last install and build
#   frontend.lock      flock: two runs at once build one after the other, and the second one
#                      finds the build current
# Nothing is done when the stamp matches: a hash of the app's files (lock file and this script
# included), the Node and pnpm versions and every NEXT_PUBLIC_* variable in the environment
# (Next inlines those into the bundle at build time, so a new value needs a new build).
#
# Progress goes to stderr, one line per step with its time; the server's path to stdout.
# pnpm's package store is pnpm's default (~/.local/share/pnpm/store), shared by every cache.
set -euo pipefail

app=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$app/../../.." && pwd)
cache=${PROBE_APPS_CACHE:-$repo/build/apps}
pnpm_version=10.34.9
export NEXT_TELEMETRY_DISABLED=1
# The build-time settings, with the Dockerfile's defaults. Next inlines a NEXT_PUBLIC_* only
# when it is set at build time; one left unset would be read from the server's environment at
# run time in server code, and be undefined in the browser.
export NEXT_PUBLIC_API_URL=${NEXT_PUBLIC_API_URL:-http://127.0.0.1:8000}
export NEXT_PUBLIC_SITE_NAME=${NEXT_PUBLIC_SITE_NAME:-HomeGuru}

log() { echo "frontend build: $*" >&2; }
die() {
  log "FAILED: $*"
  exit 1
}

now_ms() { date +%s%3N; }
# step NAME CMD...: runs CMD and logs NAME with the time it took.
step() {
  local name=$1 start
  shift
  start=$(now_ms)
  "$@"
  local ms=$(($(now_ms) - start))
  log "$(printf '%s: %d.%01d s' "$name" $((ms / 1000)) $((ms % 1000 / 100)))"
}

command -v node >/dev/null || die "node is not installed (Node.js >= 20.9 is needed)"
command -v npm >/dev/null || die "npm is not installed"
command -v flock >/dev/null || die "flock is not installed (apt-get install util-linux)"
node -e 'const [major, minor] = process.versions.node.split(".").map(Number);
  process.exit(major > 20 || (major === 20 && minor >= 9) ? 0 : 1)' ||
  die "node $(node --version) is too old: Next.js 16 needs >= 20.9"

mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
work=$cache/frontend
pnpm_dir=$cache/pnpm
pnpm=$pnpm_dir/node_modules/.bin/pnpm
stamp_file=$cache/frontend.stamp
build_log=$cache/frontend.log
server=$work/.next/standalone/server.js

# One build at a time per cache; a wait longer than 15 minutes means something is stuck.
exec 9>"$cache/frontend.lock"
if ! flock -n 9; then
  log "waiting for another build in $cache"
  flock -w 900 9 || die "another build has held $cache/frontend.lock for 15 minutes"
fi

# The app's files, relative to $app: not the README, nor what a local `pnpm install` or
# `next dev` in the source tree would leave there.
app_files() {
  (cd "$app" && find . \( -name node_modules -o -name .next \) -prune -o -type f ! -name '*.md' -print |
    LC_ALL=C sort)
}

stamp() {
  {
    (cd "$app" && app_files | xargs -d '\n' sha256sum)
    echo "node $(node --version) pnpm $pnpm_version"
    env | grep '^NEXT_PUBLIC_' | LC_ALL=C sort || true
  } | sha256sum | cut -d' ' -f1
}

want=$(stamp)
if [ -f "$server" ] && [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$want" ]; then
  log "up to date ($want)"
  echo "$server"
  exit 0
fi
rm -f "$stamp_file"

# run CMD...: CMD's output goes to the build log; on failure, its end is shown.
run() {
  if ! "$@" >>"$build_log" 2>&1; then
    tail -n 40 "$build_log" >&2
    die "$* (the whole output: $build_log)"
  fi
}

install_pnpm() {
  if [ -x "$pnpm" ] && [ "$("$pnpm" --version 2>/dev/null)" = "$pnpm_version" ]; then return 0; fi
  rm -rf "$pnpm_dir"
  run npm install --prefix "$pnpm_dir" --no-audit --no-fund --loglevel=error "pnpm@$pnpm_version"
}

# The sources replace the previous copy's; node_modules and .next are kept, so a rebuild after
# a source change installs nothing (`next build` empties .next itself, all but its cache).
copy_sources() {
  mkdir -p "$work"
  find "$work" -mindepth 1 -maxdepth 1 ! -name node_modules ! -name .next -exec rm -rf {} +
  (cd "$app" && app_files | tar -cf - -T -) | tar -C "$work" -xf -
}

pnpm_install() { (cd "$work" && run "$pnpm" install --frozen-lockfile --config.confirmModulesPurge=false); }
pnpm_build() { (cd "$work" && run "$pnpm" build); }

# The standalone output has server.js and its traced node_modules, not the static files:
# public/ and .next/static are copied in beside it, as Next's docs say.
assemble() {
  local standalone=$work/.next/standalone
  [ -f "$server" ] || die "next build wrote no $server (is output: 'standalone' still set?)"
  rm -rf "$standalone/public" "$standalone/.next/static"
  if [ -d "$work/public" ]; then cp -a "$work/public" "$standalone/"; fi
  mkdir -p "$standalone/.next"
  cp -a "$work/.next/static" "$standalone/.next/"
}

: >"$build_log"
log "building $app in $work (log: $build_log)"
total=$(now_ms)
step "pnpm $pnpm_version" install_pnpm
step "copy sources" copy_sources
step "pnpm install --frozen-lockfile" pnpm_install
step "pnpm build (next build)" pnpm_build
step "standalone output (public/, .next/static)" assemble
echo "$want" >"$stamp_file"
ms=$(($(now_ms) - total))
log "$(printf 'done in %d.%01d s' $((ms / 1000)) $((ms % 1000 / 100)))"
echo "$server"
