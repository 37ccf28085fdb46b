#!/usr/bin/env bash
# Figures (not pass/fail) for probe serve's HTTP server, on a probe checking 5 http targets (one
# probe-standin): its RSS and thread count while it holds 5,000 idle connections from 50
# loopback addresses, how long a fresh /metrics takes meanwhile, then wrk on /metrics and
# /ready. Run it against two builds to
# compare them (issue 12: cpp-httplib's server against probe/serve):
#
#   tests/bench/serve_http.sh [PROBE_BINARY] [SECONDS]
#
# PROBE_BINARY defaults to build/probe, SECONDS (per wrk run) to 10. Needs wrk, curl, python3.
# Prints one line per figure; about 3 x SECONDS + 15 s.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
probe=${1:-$root/build/probe}
seconds=${2:-10}
standin=${PROBE_STANDIN:-$root/build/tests/probe-standin}
for tool in wrk curl python3; do
  command -v "$tool" >/dev/null || { echo "$0: $tool not found" >&2; exit 2; }
done
if [ ! -x "$probe" ] || [ ! -x "$standin" ]; then
  echo "$0: no $probe or $standin (build first)" >&2
  exit 2
fi

work=$(mktemp -d /tmp/probe-bench-serve.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Waits (bounded, 10 s) for "listening on 127.0.0.1:PORT" in file $1 and prints PORT.
listening_port() {
  local _ port
  for _ in $(seq 1 200); do
    port=$(sed -nE 's/.*listening on 127\.0\.0\.1:([0-9]+).*/\1/p' "$1" | head -n 1)
    [ -n "$port" ] && { echo "$port"; return 0; }
    sleep 0.05
  done
  echo "$0: nothing listening: $(tail -n 5 "$1")" >&2
  exit 1
}

"$standin" http --listen 127.0.0.1:0 --threads 16 >"$work/standin.log" 2>&1 &
pids+=($!)
target_port=$(listening_port "$work/standin.log")
{
  echo "defaults: {interval: 1s, timeout: 1s}"
  echo "targets:"
  for i in 1 2 3 4 5; do
    echo "  - {name: t$i, type: http, url: \"http://127.0.0.1:$target_port/health?t=$i\"}"
  done
} >"$work/probe.yaml"
"$probe" serve --config "$work/probe.yaml" --listen 127.0.0.1:0 >"$work/serve.log" 2>&1 &
serve_pid=$!
pids+=("$serve_pid")
port=$(listening_port "$work/serve.log")
url=http://127.0.0.1:$port
for _ in $(seq 1 100); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/ready")" = 200 ] && break
  sleep 0.1
done

status_of() {
  sed -nE "s/^$1:[[:space:]]+([0-9]+).*/\1/p" "/proc/$serve_pid/status"
}
echo "quiet: RSS $(($(status_of VmRSS) / 1024)) MiB, $(status_of Threads) threads"
# 5,000 idle connections, 100 from each of 50 addresses (under the per-address cap), held
# for 2 s (both servers close a silent connection after 5 s).
python3 - "$port" "$work/held" <<'EOF' &
import socket, sys, time
port, flag = int(sys.argv[1]), sys.argv[2]
held = []
for i in range(5000):
    s = socket.socket()
    s.bind(("127.9.%d.%d" % (i // 100 // 250, i // 100 % 250 + 1), 0))
    s.connect(("127.0.0.1", port))
    held.append(s)
open(flag, "w").close()
time.sleep(4)
EOF
holder=$!
pids+=("$holder")
for _ in $(seq 1 200); do
  [ -f "$work/held" ] && break
  sleep 0.05
done
sleep 1
echo "5,000 idle connections held: RSS $(($(status_of VmRSS) / 1024)) MiB, $(status_of Threads) threads," \
  "$(find "/proc/$serve_pid/fd" -mindepth 1 | wc -l) fds"
start=$(date +%s%N)
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$url/metrics")
echo "a fresh /metrics meanwhile: $code in $((($(date +%s%N) - start) / 1000000)) ms"
wait "$holder" || true

# "requests/s p50 p99" from wrk --latency's output.
wrk_figures() {
  awk '/^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 } /^Requests\/sec/ { rps = $2 }
       /Socket errors|Non-2xx/ { errors = errors " " $0 }
       END { printf "%s requests/s, p50 %s, p99 %s%s\n", rps, p50, p99, errors }' "$1"
}
for run in "/metrics -t2 -c16" "/ready -t2 -c16" "/metrics -t1 -c1"; do
  read -r path threads connections <<<"$run"
  wrk "$threads" "$connections" -d"${seconds}s" --latency "$url$path" >"$work/wrk.txt" 2>&1
  echo "wrk $threads $connections -d${seconds}s $path: $(wrk_figures "$work/wrk.txt")"
done
echo "after wrk: RSS $(($(status_of VmRSS) / 1024)) MiB, $(status_of Threads) threads"
