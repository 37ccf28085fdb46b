#!/usr/bin/env bash
# The benchmark: what probe costs on the machine it watches, side by side with Debian's
# prometheus-blackbox-exporter, on loopback, bounded in time. Prints figures (tables), never a
# pass/fail; the README's Performance section quotes them. Usage:
#
#   tests/bench/run.sh [--seconds S] [--only cost|scrape|oneshot|gate|sched]
#
#   1. sidecar cost: N = 4, 10, 100, 1000 http targets (one stand-in server, one URL per target)
#      checked every 1 s for S seconds (default 30) by `probe serve`, then the same URLs probed
#      at the same rate through blackbox_exporter's /probe by probe-bench-driver (a separate
#      process: its own CPU is not counted). CPU from /proc/PID/task/*/schedstat of the
#      measured process over the window, checks from probe's probe_checks_total (blackbox: the
#      driver's count of answered probes), peak RSS from VmHWM.
#   2. scrape: /metrics of probe serve with 1000 targets under wrk -t2 -c16 -d10s, then with
#      one connection (-t1 -c1), as Prometheus scrapes.
#   3. one-shot: `probe check` over the demo stack's 4 targets, hyperfine, 200 runs.
#   4. gate latency: a stand-in that starts listening at a random moment (0.3-1.3 s); the time
#      from then until `probe wait` (poll 250 ms, one pass needed) returns, 20 trials. The
#      moments are stratified: trial i falls at a random point of the i-th twentieth of a poll
#      interval (plus whole intervals), so the 20 trials cover every phase of the polling once
#      and the median measures probe, not the luck of the draw (plain random moments put the
#      median of 20 anywhere within +-28 ms of the true one).
#   5. scheduler under load: 200 http targets that answer in 500 ms, each checked every 1 s for
#      S seconds: checks run against the 200 x S due, runs skipped (probe_checks_skipped_total
#      by reason), the largest probe_check_lag_seconds, threads. Then the memory a check in
#      flight costs: N = 1, 64, 256, 512 targets that hang for their whole 5 s timeout, all in
#      flight at once (the pool's ceiling is 256: past it, checks wait), RSS and threads.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir=${PROBE_BUILD_DIR:-$root/build}
# shellcheck source=tests/lib/deps.sh
source "$root/tests/lib/deps.sh"
# shellcheck source=deploy/demo/stack.sh
source "$root/deploy/demo/stack.sh"

seconds=30
only=
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=$2; shift ;;
    --only) only=$2; shift ;;
    -h | --help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if ! [[ $seconds =~ ^[0-9]+$ ]] || [ "$seconds" -lt 5 ] || [ "$seconds" -gt 600 ]; then
  echo "run.sh: --seconds must be 5-600" >&2
  exit 2
fi
wants() { [ -z "$only" ] || [ "$only" = "$1" ]; }

install_packages "${PROBE_BUILD_PACKAGES[@]}" postgresql hyperfine wrk jq curl prometheus-blackbox-exporter
build_probe "$root" "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
probe=$build_dir/probe
standin=$build_dir/tests/probe-standin
driver=$build_dir/tests/probe-bench-driver

work=$(mktemp -d /tmp/probe-bench.XXXXXX)
chmod 755 "$work"
# shellcheck source=tests/lib/procs.sh
source "$root/tests/lib/procs.sh" # pids, stop_started
cleanup() {
  stop_started
  demo_stop 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# CPU seconds (user + system) the process has used so far: the sum of its threads' time on a
# CPU from /proc/PID/task/*/schedstat, in nanoseconds (utime/stime in /proc/PID/stat count
# 10 ms ticks, too coarse for a few hundred checks). Both measured programs keep their threads.
cpu_seconds() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ ns += $1 } END { printf "%.6f", ns / 1e9 }'; }
peak_rss_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
threads_of() { awk '/^Threads:/ { print $2 }' "/proc/$1/status"; }
now() { date +%s.%N; }
# Waits (bounded, 10 s) until `curl -fs URL` succeeds.
wait_http() {
  local _
  for _ in $(seq 1 200); do curl -fs -o /dev/null "$1" && return 0; sleep 0.05; done
  echo "run.sh: $1 does not answer" >&2
  exit 1
}
checks_done() { # sum of probe_checks_total in a scrape of $1
  curl -fs "$1/metrics" | awk '/^probe_checks_total\{/ { sum += $2 } END { printf "%d", sum }'
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(. /etc/os-release; echo "$PRETTY_NAME"), $(uname -r)"
echo "probe $("$probe" --version 2>&1 | head -n 1); $(prometheus-blackbox-exporter --version 2>&1 | head -n 1)"

# The one fast stand-in every http target points at; /health?t=N is one URL per target.
target_port=$(free_port 28600)
"$standin" http --listen "127.0.0.1:$target_port" --version bench --threads 1100 >"$work/standin.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$target_port/health"

probe_config() { # $1 = targets, $2 = listen port
  {
    echo "listen: \"127.0.0.1:$2\""
    echo "defaults: {interval: 1s, timeout: 1s, success_threshold: 1, failure_threshold: 3}"
    echo "targets:"
    for i in $(seq 0 $(($1 - 1))); do
      echo "  - {name: t$i, type: http, url: \"http://127.0.0.1:$target_port/health?t=$i\"}"
    done
  } >"$work/probe-$1.yaml"
}

# Starts probe serve over $1 targets; sets serve_pid and serve_url.
start_serve() {
  local port
  port=$(free_port 29600)
  probe_config "$1" "$port"
  "$probe" serve --config "$work/probe-$1.yaml" 2>"$work/serve-$1.log" &
  serve_pid=$!
  pids+=("$serve_pid")
  serve_url=http://127.0.0.1:$port
  wait_http "$serve_url/healthz"
}

stop_pid() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# --- 1. sidecar cost ----------------------------------------------------------------------
if wants cost; then
  cat >"$work/blackbox.yml" <<'YAML'
modules:
  http_2xx:
    prober: http
    timeout: 1s
    http:
      preferred_ip_protocol: ip4
YAML
  printf '\n## 1. sidecar cost: N http targets, each checked every 1 s for %s s\n\n' "$seconds"
  echo "| N | probe checks | probe CPU s / 1000 checks | probe peak RSS | probe threads | blackbox probes | blackbox CPU s / 1000 probes | blackbox peak RSS | CPU ratio probe/blackbox | RSS ratio |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for n in 4 10 100 1000; do
    start_serve "$n"
    sleep 3 # past start-up: every target has been checked and the pools are warm
    c0=$(cpu_seconds "$serve_pid")
    k0=$(checks_done "$serve_url")
    sleep "$seconds"
    c1=$(cpu_seconds "$serve_pid")
    k1=$(checks_done "$serve_url")
    p_rss=$(peak_rss_kib "$serve_pid")
    p_threads=$(threads_of "$serve_pid")
    stop_pid "$serve_pid"
    p_checks=$((k1 - k0))
    p_cost=$(awk -v a="$c0" -v b="$c1" -v k="$p_checks" 'BEGIN { printf "%.5f", (b - a) / k * 1000 }')

    bb_port=$(free_port 29115)
    prometheus-blackbox-exporter --config.file="$work/blackbox.yml" \
      --web.listen-address="127.0.0.1:$bb_port" >"$work/blackbox-$n.log" 2>&1 &
    bb_pid=$!
    pids+=("$bb_pid")
    wait_http "http://127.0.0.1:$bb_port/metrics"
    # Warm-up like probe's: one round first, not counted.
    "$driver" --exporter "127.0.0.1:$bb_port" --target-base "http://127.0.0.1:$target_port/health?t=" \
      --targets "$n" --interval 1s --duration 2s --threads 8 >/dev/null || true
    b0=$(cpu_seconds "$bb_pid")
    out=$("$driver" --exporter "127.0.0.1:$bb_port" --target-base "http://127.0.0.1:$target_port/health?t=" \
      --targets "$n" --interval 1s --duration "${seconds}s" --threads 8) || true
    b1=$(cpu_seconds "$bb_pid")
    b_rss=$(peak_rss_kib "$bb_pid")
    stop_pid "$bb_pid"
    b_probes=$(sed -E 's/.* ok=([0-9]+).*/\1/' <<<"$out")
    b_cost=$(awk -v a="$b0" -v b="$b1" -v k="$b_probes" 'BEGIN { printf "%.5f", (b - a) / k * 1000 }')
    awk -v n="$n" -v pk="$p_checks" -v pc="$p_cost" -v pr="$p_rss" -v pt="$p_threads" \
      -v bk="$b_probes" -v bc="$b_cost" -v br="$b_rss" -v raw="$out" 'BEGIN {
        printf "| %d | %d | %.3f | %.1f MiB | %d | %d (%s) | %.3f | %.1f MiB | %.2f | %.2f |\n",
          n, pk, pc, pr / 1024, pt, bk, raw, bc, br / 1024, pc / bc, pr / br }'
  done
fi

# --- 2. scrape ----------------------------------------------------------------------------
# The issue's load (wrk -t2 -c16), and one connection at a time as Prometheus scrapes.
if wants scrape; then
  printf '\n## 2. /metrics of probe serve with 1000 targets: wrk -d10s\n\n'
  start_serve 1000
  sleep 3
  size=$(curl -fs "$serve_url/metrics" | wc -c)
  printf '| wrk | body | p50 | p99 | requests/s | errors |\n|---|---|---|---|---|---|\n'
  for load in "-t2 -c16" "-t1 -c1"; do
    read -r -a wrk_load <<<"$load"
    wrk "${wrk_load[@]}" -d10s --latency "$serve_url/metrics" >"$work/wrk.txt"
    awk -v size="$size" -v load="$load" '
      /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 } /^Requests\/sec:/ { rps = $2 }
      /Non-2xx|Socket errors/ { errors = errors $0 " " }
      END { printf "| %s | %.0f KiB | %s | %s | %s | %s |\n",
              load, size / 1024, p50, p99, rps, errors == "" ? "none" : errors }' "$work/wrk.txt"
  done
  stop_pid "$serve_pid"
fi

# --- 3. one-shot --------------------------------------------------------------------------
if wants oneshot; then
  printf '\n## 3. one-shot: probe check over the demo stack (postgres, 2 x http, heartbeat)\n\n'
  demo_start "$work/stack" "$build_dir" >/dev/null
  "$probe" check --config "$root/deploy/demo/probe.yaml" >/dev/null
  hyperfine -N --warmup 10 --runs 200 --export-json "$work/check.json" \
    "$probe check --config $root/deploy/demo/probe.yaml" >/dev/null
  jq -r '.results[0] | "median \(.median * 1000 * 100 | round / 100) ms, mean \(.mean * 1000 * 100 | round / 100) ms, min \(.min * 1000 * 100 | round / 100) ms, max \(.max * 1000 * 100 | round / 100) ms (200 runs), user \(.user * 1000 * 100 | round / 100) ms, system \(.system * 1000 * 100 | round / 100) ms"' "$work/check.json"
  demo_stop
fi

# --- 4. gate latency ----------------------------------------------------------------------
if wants gate; then
  printf '\n## 4. gate latency: probe wait, poll_interval 250ms, consecutive_successes 1, 20 trials\n\n'
  : >"$work/gate.txt"
  for trial in $(seq 1 20); do
    port=$(free_port 28700)
    cat >"$work/gate.yaml" <<YAML
defaults: {interval: 1s, timeout: 200ms}
targets:
  - {name: api, type: http, url: "http://127.0.0.1:$port/health"}
gate: {timeout: 10s, consecutive_successes: 1, poll_interval: 250ms}
YAML
    # Whole poll intervals (0-3), then a random point within this trial's twentieth of one.
    delay_ms=$((300 + 250 * (RANDOM % 4) + (trial - 1) * 250 / 20 + RANDOM % (250 / 20)))
    rm -f "$work/gate.pid"
    "$standin" http --listen "127.0.0.1:$port" --start-delay "${delay_ms}ms" \
      --pid-file "$work/gate.pid" >"$work/gate-standin.log" 2>&1 &
    gate_pid=$!
    "$probe" wait --config "$work/gate.yaml" >/dev/null 2>&1 || echo "trial $trial: probe wait failed" >&2
    end=$(now)
    # The stand-in writes its pid file as it starts, then waits delay_ms and listens: the
    # target is healthy from mtime + delay (its own start-up is not counted against probe).
    healthy_from=$(stat -c %.9Y "$work/gate.pid")
    stop_pid "$gate_pid"
    awk -v s="$healthy_from" -v e="$end" -v d="$delay_ms" 'BEGIN { printf "%.1f\n", (e - s) * 1000 - d }' >>"$work/gate.txt"
  done
  sort -n "$work/gate.txt" | awk '{ v[NR] = $1 } END {
    printf "| trials | median | max | min | goal (poll/2 + 10 ms) |\n|---|---|---|---|---|\n| %d | %.1f ms | %.1f ms | %.1f ms | 135 ms |\n",
      NR, (v[int((NR + 1) / 2)] + v[int(NR / 2) + 1]) / 2, v[NR], v[1] }'
fi

# --- 5. scheduler under load --------------------------------------------------------------
if wants sched; then
  # $1 = targets, $2 = listen port, $3 = interval and timeout, $4 = the stand-in's port
  sched_config() {
    {
      echo "listen: \"127.0.0.1:$2\""
      echo "defaults: {interval: $3, timeout: $3, success_threshold: 1, failure_threshold: 3}"
      echo "targets:"
      for i in $(seq 0 $(($1 - 1))); do
        echo "  - {name: t$i, type: http, url: \"http://127.0.0.1:$4/health?t=$i\"}"
      done
    } >"$work/sched-$1.yaml"
  }
  # Starts probe serve on $work/sched-$1.yaml (listening on $2); sets serve_pid and serve_url.
  start_sched() {
    "$probe" serve --config "$work/sched-$1.yaml" 2>"$work/sched-$1.log" &
    serve_pid=$!
    pids+=("$serve_pid")
    serve_url=http://127.0.0.1:$2
    wait_http "$serve_url/healthz"
  }
  metric_sum() { # $1 = scrape URL, $2 = awk pattern of the sample lines
    curl -fs "$1/metrics" | awk -v re="$2" '$0 ~ re { sum += $NF } END { printf "%d", sum }'
  }

  slow_port=$(free_port 28800)
  "$standin" http --listen "127.0.0.1:$slow_port" --mode slow --delay 500ms --threads 600 \
    >"$work/standin-slow.log" 2>&1 &
  pids+=($!)
  wait_http "http://127.0.0.1:$slow_port/health"
  printf '\n## 5. scheduler: 200 http targets answering in 500 ms, each checked every 1 s for %s s\n\n' "$seconds"
  port=$(free_port 29700)
  sched_config 200 "$port" 1s "$slow_port"
  start_sched 200 "$port"
  sleep 3 # past the first runs
  k0=$(checks_done "$serve_url")
  s0=$(metric_sum "$serve_url" '^probe_checks_skipped_total[{].*reason="saturated"')
  f0=$(metric_sum "$serve_url" '^probe_checks_skipped_total[{].*reason="in_flight"')
  sleep "$seconds"
  k1=$(checks_done "$serve_url")
  s1=$(metric_sum "$serve_url" '^probe_checks_skipped_total[{].*reason="saturated"')
  f1=$(metric_sum "$serve_url" '^probe_checks_skipped_total[{].*reason="in_flight"')
  max_lag=$(curl -fs "$serve_url/metrics" | awk '/^probe_check_lag_seconds[{]/ { if ($NF > m) m = $NF } END { printf "%.1f ms", m * 1000 }')
  threads=$(threads_of "$serve_pid")
  stop_pid "$serve_pid"
  printf '| due checks | checks run | share | skipped: saturated / in_flight | largest lag (last runs) | probe threads |\n|---|---|---|---|---|---|\n'
  awk -v due="$((200 * seconds))" -v ran="$((k1 - k0))" -v s="$((s1 - s0))" -v f="$((f1 - f0))" \
    -v lag="$max_lag" -v t="$threads" 'BEGIN {
      printf "| %d | %d | %.1f %% | %d / %d | %s | %d |\n", due, ran, 100 * ran / due, s, f, lag, t }'

  printf '\n## 5b. memory per check in flight: N targets hanging for their whole 5 s timeout\n\n'
  hang_port=$(free_port 28850)
  "$standin" http --listen "127.0.0.1:$hang_port" --mode slow --delay 10s --threads 1100 \
    >"$work/standin-hang.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do grep -q "^listening on" "$work/standin-hang.log" && break; sleep 0.1; done
  printf '| N | probe RSS | of it anonymous | probe threads | RSS above N = 1, per check in flight |\n|---|---|---|---|---|\n'
  base_rss=
  for n in 1 64 256 512; do
    port=$(free_port 29750)
    sched_config "$n" "$port" 5s "$hang_port"
    start_sched "$n" "$port"
    sleep 3 # first runs are spread over 0.5 s; every check is then in flight until 5 s
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$serve_pid/status")
    anon=$(awk '/^RssAnon:/ { print $2 }' "/proc/$serve_pid/status")
    threads=$(threads_of "$serve_pid")
    stop_pid "$serve_pid"
    base_rss=${base_rss:-$rss}
    awk -v n="$n" -v r="$rss" -v a="$anon" -v t="$threads" -v b="$base_rss" 'BEGIN {
      inflight = (n > 256) ? 256 : n # the pool ceiling: the rest wait
      per = (n > 1) ? sprintf("%.1f KiB", (r - b) / (inflight - 1)) : "-"
      if (n > 256) per = per " (256 in flight, the ceiling; the rest wait)"
      printf "| %d | %.1f MiB | %.1f MiB | %d | %s |\n", n, r / 1024, a / 1024, t, per }'
  done
fi
