#!/usr/bin/env bash
# deploy/proxy/Caddyfile, run for real: Debian's Caddy with the file as it is, its sites and
# upstreams pointed at stand-ins on free loopback ports (plain http: no certificates here).
# Asserts that each site reaches its own service, the headers the guide promises (no Server,
# HSTS, nosniff), request bodies forwarded whole, and that `caddy fmt` leaves the file unchanged.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir=${PROBE_BUILD_DIR:-$root/build}
standin=$build_dir/tests/probe-standin
caddyfile=$root/deploy/proxy/Caddyfile
# shellcheck source=tests/lib/pg.sh
source "$root/tests/lib/pg.sh" # free_port
# shellcheck source=tests/lib/deps.sh
source "$root/tests/lib/deps.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

command -v caddy >/dev/null || install_packages caddy

work=$(mktemp -d /tmp/probe-proxy.XXXXXX)
# shellcheck source=tests/lib/procs.sh
source "$root/tests/lib/procs.sh" # pids, stop_started
cleanup() {
  stop_started
  rm -rf "$work"
}
trap cleanup EXIT

# `caddy fmt` is the style the file is kept in; a hand edit that drifts from it fails here.
caddy fmt "$caddyfile" | diff -u "$caddyfile" - || fail "deploy/proxy/Caddyfile is not as caddy fmt writes it"
pass "caddy fmt: unchanged"

frontend_port=$(free_port 28400)
api_port=$(free_port $((frontend_port + 1)))
site_port=$(free_port $((api_port + 1)))
api_site_port=$(free_port $((site_port + 1)))
admin_port=$(free_port $((api_site_port + 1)))
"$standin" http --listen "127.0.0.1:$frontend_port" --version frontend-v1 2>"$work/frontend.log" &
pids+=($!)
"$standin" http --listen "127.0.0.1:$api_port" --version api-v1 2>"$work/api.log" &
pids+=($!)

export HOMEGURU_SITE=http://127.0.0.1:$site_port HOMEGURU_API_SITE=http://127.0.0.1:$api_site_port
export ACME_EMAIL=ops@example.com CADDY_ADMIN=127.0.0.1:$admin_port
export HOMEGURU_FRONTEND_UPSTREAM=127.0.0.1:$frontend_port HOMEGURU_API_UPSTREAM=127.0.0.1:$api_port
export XDG_DATA_HOME=$work/data XDG_CONFIG_HOME=$work/config # Caddy's storage, not ~/.local
caddy validate --adapter caddyfile --config "$caddyfile" >"$work/validate.log" 2>&1 \
  || fail "caddy validate: $(tail -n 5 "$work/validate.log")"
caddy run --adapter caddyfile --config "$caddyfile" >"$work/caddy.log" 2>&1 &
pids+=($!)

site=http://127.0.0.1:$site_port
api_site=http://127.0.0.1:$api_site_port
# Caddy and the stand-ins answering (60 s at most: a loaded machine; the checks below fail if not).
both_sites_answer() { curl -fs -o /dev/null --max-time 5 "$site/version" && curl -fs -o /dev/null --max-time 5 "$api_site/health"; }
wait_until 60 both_sites_answer || true

# Each site reaches its own service.
got=$(curl -fsS --max-time 5 "$site/version") || fail "GET $site/version: $(tail -n 5 "$work/caddy.log")"
[ "$got" = frontend-v1 ] || fail "the frontend site reached '$got', want frontend-v1"
got=$(curl -fsS --max-time 5 "$api_site/version") || fail "GET $api_site/version"
[ "$got" = api-v1 ] || fail "the api site reached '$got', want api-v1"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$api_site/health")
[ "$code" = 200 ] || fail "GET $api_site/health through the proxy: $code"
pass "each site forwards to its own upstream"

# The headers the guide promises.
for url in "$site/version" "$api_site/version"; do
  headers=$(curl -fsS -D - -o /dev/null --max-time 5 "$url" | tr -d '\r')
  grep -qi '^strict-transport-security: max-age=31536000' <<<"$headers" || fail "$url: no HSTS header: $headers"
  grep -qi '^x-content-type-options: nosniff' <<<"$headers" || fail "$url: no nosniff header"
  ! grep -qi '^server:' <<<"$headers" || fail "$url: a Server header is sent: $headers"
done
pass "HSTS and nosniff set, no Server header"

# A POST reaches the api with its body (the stand-in answers 200 to any method on /health).
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST --data-binary 'x=1' "$api_site/health")
[ "$code" = 200 ] || fail "POST through the api site answered $code"
pass "POST forwarded"

echo "proxy: ok"
