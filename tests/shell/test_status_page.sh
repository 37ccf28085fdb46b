#!/usr/bin/env bash
# The status page (GET /, issue 16) in a real browser: headless Chromium loads it from a real
# `probe serve` checking a healthy stand-in (UP), a closed port (DOWN), a heartbeat file last
# touched two hours ago and a push heartbeat never pushed (both stale: DOWN), and a target that
# succeeds but needs 1000 successes to be proven (UNKNOWN), after a few deploy events posted with
# the token, one with hostile text in its actor and message. Asserted on the DOM Chromium built
# (--dump-dom): every state in words, the table's column headers, the deployed SHA, the hostile
# text shown as text and no <img> element made of it, no Content-Security-Policy violation in
# Chromium's log (the page's one script is allowed by its hash). Screenshots at desktop
# (1280x900) and phone (390x844) width are saved with the DOM under
# BUILD/test-output/status-page, whose paths are printed: look at them. Then the
# same page behind Caddy under a path prefix (/probe/): every link on it resolves under the
# prefix and reaches probe (200; 503 for ready while not ready). Every wait is bounded; every
# process started is stopped by its pid. Needs chromium, caddy, curl and jq (tests/lib/deps.sh
# installs them when missing) and a built probe and probe-standin.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir=${PROBE_BUILD_DIR:-$root/build}
probe=$build_dir/probe
standin=$build_dir/tests/probe-standin
# shellcheck source=tests/lib/pg.sh
source "$root/tests/lib/pg.sh" # free_port
# shellcheck source=tests/lib/procs.sh
source "$root/tests/lib/procs.sh" # pids, stop_started, wait_until
# shellcheck source=tests/lib/deps.sh
source "$root/tests/lib/deps.sh" # install_packages

fail() {
  echo "FAIL: $*" >&2
  local log
  for log in "${work:-/nonexistent}"/*.log; do
    [ -s "$log" ] || continue
    echo "---- last lines of $(basename "$log")" >&2
    tail -n 15 "$log" >&2
  done
  exit 1
}

for tool in chromium curl jq caddy; do
  command -v "$tool" >/dev/null || install_packages "$tool"
  command -v "$tool" >/dev/null || fail "$tool is not installed: apt-get install $tool"
done
[ -x "$probe" ] || fail "$probe not found: build probe first (or set PROBE_BUILD_DIR)"
[ -x "$standin" ] || fail "$standin not found: build the tests first (or set PROBE_BUILD_DIR)"

work=$(mktemp -d /tmp/probe-status-page.XXXXXX)
# The screenshots and the DOM outlive the run (tests/run.sh removes its scratch directory at the
# end): in the build directory, beside the binaries they show, replaced by each run.
out=$build_dir/test-output/status-page
mkdir -p "$out"
cleanup() {
  stop_started
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# port_from LOG: the port a "listening on HOST:PORT" line in LOG names.
port_from() { sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$1" | head -n 1; }

"$standin" http --listen 127.0.0.1:0 >"$work/api.log" 2>&1 &
pids+=($!)
wait_until 60 grep -q 'listening on' "$work/api.log" || fail "the api stand-in did not start"
api_port=$(port_from "$work/api.log")
dead_port=$(free_port $((20000 + RANDOM % 20000))) # nothing listens here
touch -d '2 hours ago' "$work/beat"

cat >"$work/probe.yaml" <<YAML
listen: "127.0.0.1:0"
defaults: {interval: 500ms, timeout: 500ms}
targets:
  - {name: api, type: http, url: "http://127.0.0.1:$api_port/health"}
  - {name: payments, type: tcp, address: "127.0.0.1:$dead_port", failure_threshold: 1}
  - {name: nightly-job, type: heartbeat, source: file, path: "$work/beat", max_age: 1m, critical: false}
  - {name: bot, type: heartbeat, source: push, max_age: 10m, critical: false}
  - {name: warming, type: http, url: "http://127.0.0.1:$api_port/health", success_threshold: 1000, critical: false}
deploy: {journal: "$work/journal.jsonl", token: "tok-status-page"}
status_page: {repository_url: "https://github.com/example-org/example-app"}
YAML
chmod 600 "$work/probe.yaml" # it holds the token
"$probe" serve --config "$work/probe.yaml" >"$work/serve.log" 2>&1 &
pids+=($!)
wait_until 60 grep -q 'listening on' "$work/serve.log" || fail "probe serve did not start"
base=http://127.0.0.1:$(port_from "$work/serve.log")

state_of() { curl -fsS --max-time 10 "$base/status" | jq -r --arg n "$1" '.targets[] | select(.name == $n) | .state'; }
settled() {
  [ "$(state_of api)" = up ] && [ "$(state_of payments)" = down ] &&
    [ "$(state_of nightly-job)" = down ] && [ "$(state_of bot)" = down ]
}
wait_until 60 settled || fail "the targets did not settle: $(curl -sS --max-time 10 "$base/status")"

post_event() {
  curl -fsS --max-time 10 -X POST -H "Authorization: Bearer tok-status-page" \
    -H 'Content-Type: application/json' --data "$1" "$base/deploys" >/dev/null
}
hostile='<img src=x onerror=alert(1)>'
post_event '{"kind":"deploy_started","sha":"0f9e8d7c6b5a","actor":"ci"}'
post_event '{"kind":"deploy_succeeded","sha":"0f9e8d7c6b5a","actor":"ci"}'
post_event "$(jq -cn --arg h "$hostile" \
  '{kind: "deploy_failed", sha: "1a2b3c4d5e6f", previous_sha: "0f9e8d7c6b5a", actor: $h,
    details: {message: ("release notes: " + $h)}}')"
post_event '{"kind":"rollback_succeeded","sha":"0f9e8d7c6b5a","previous_sha":"1a2b3c4d5e6f","actor":"probe"}'
# The deploy thread reads the log after each event; the page shows its last read.
page_shows() { [[ "$(curl -fsS --max-time 10 "$base/")" == *"$1"* ]]; }
wait_until 60 page_shows rollback_succeeded || fail "the deploy events did not reach the page"

# chromium ARGS...: headless, on its own profile, offline, each run bounded.
chromium_run() {
  local profile
  profile=$(mktemp -d "$work/profile.XXXXXX")
  timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" "$@"
}
chromium_run --enable-logging=stderr --v=0 --dump-dom "$base/" >"$out/dom.html" 2>"$work/chromium.log" ||
  fail "chromium --dump-dom failed: $(tail -n 5 "$work/chromium.log")"
dom=$(cat "$out/dom.html")
has() { grep -qF -- "$1" <<<"$dom" || fail "the DOM has no $2 ($1); see $out/dom.html"; }
has '<html lang="en">' "lang"
has '>UP<' "UP badge"
has '>DOWN<' "DOWN badge"
has '>UNKNOWN<' "UNKNOWN badge"
has 'NOT READY' "verdict"
has '<th scope="col">Target</th>' "column header"
has '<caption>' "table caption"
has 'nightly-job' "stale heartbeat target"
has 'href="https://github.com/example-org/example-app/commit/0f9e8d7c6b5a"' "commit link"
has '&lt;img src=x onerror=alert(1)&gt;' "hostile text shown as text"
[ "$(grep -o '<th scope="col">' <<<"$dom" | wc -l)" -ge 9 ] || fail "fewer than 9 column headers"
if grep -q '<img' <<<"$dom"; then
  fail "an <img> element made it into the DOM: $(grep -o '<img[^>]*>' <<<"$dom" | head -n 3)"
fi
if grep -q 'href="/' <<<"$dom"; then
  fail "an absolute link to probe: $(grep -o 'href="/[^"]*"' <<<"$dom" | head -n 3)"
fi
if grep -qi 'Content Security Policy' "$work/chromium.log"; then
  fail "Chromium reports a Content-Security-Policy violation: $(grep -i 'Content Security Policy' "$work/chromium.log" | head -n 2)"
fi
echo "ok: the DOM has every state in words, escaped event text and no injected element"

chromium_run --screenshot="$out/status-page-desktop.png" --window-size=1280,900 "$base/" \
  >"$work/shot-desktop.log" 2>&1 || fail "the desktop screenshot failed"
chromium_run --screenshot="$out/status-page-phone.png" --window-size=390,844 "$base/" \
  >"$work/shot-phone.log" 2>&1 || fail "the phone screenshot failed"
for shot in "$out/status-page-desktop.png" "$out/status-page-phone.png"; do
  [ "$(stat -c %s "$shot" 2>/dev/null || echo 0)" -gt 10000 ] || fail "$shot is missing or blank"
  echo "screenshot: $shot"
done
echo "dom: $out/dom.html"

# Behind a proxy under a path prefix, as README's Status page section shows it.
proxy_port=$(free_port $((20000 + RANDOM % 20000)))
cat >"$work/Caddyfile" <<CADDY
{
	admin off
	auto_https off
}
http://127.0.0.1:$proxy_port {
	redir /probe /probe/
	handle_path /probe/* {
		reverse_proxy ${base#http://}
	}
}
CADDY
XDG_DATA_HOME=$work XDG_CONFIG_HOME=$work caddy run --config "$work/Caddyfile" --adapter caddyfile \
  >"$work/caddy.log" 2>&1 &
pids+=($!)
prefixed=http://127.0.0.1:$proxy_port/probe/
proxied() { alive "${pids[-1]}" && curl -fs --max-time 5 -o /dev/null "$prefixed"; }
wait_until 60 proxied || fail "Caddy did not serve $prefixed"
chromium_run --dump-dom "$prefixed" >"$out/dom-prefixed.html" 2>"$work/chromium-prefixed.log" ||
  fail "chromium --dump-dom $prefixed failed"
grep -qF '>UNKNOWN<' "$out/dom-prefixed.html" || fail "the page behind the proxy is not the page"
links=$(grep -o 'href="[^"#:]*"' "$out/dom-prefixed.html" | sed 's/^href="//; s/"$//' | sort -u)
[ -n "$links" ] || fail "no relative link on the page"
for link in $links; do
  code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "$prefixed$link")
  # ready answers 503 while not ready: still probe's answer, not a wrong path's 404.
  case $code in 200 | 503) ;; *) fail "$prefixed$link (a link on the page) answered $code" ;; esac
done
echo "ok: behind Caddy at /probe/, every link on the page reaches probe: $(tr '\n' ' ' <<<"$links")"
echo "ok: status page rendered by Chromium at desktop and phone width"
