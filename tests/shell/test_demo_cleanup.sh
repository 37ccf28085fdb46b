#!/usr/bin/env bash
# deploy/demo/run.sh stops everything it started and removes its temporary directory however it
# is stopped:
#   1. Ctrl-C (SIGINT to its process group, as a terminal sends it) while it serves: exit 130
#   2. SIGTERM to run.sh alone while it serves: exit 143
#   3. Ctrl-C while PostgreSQL is starting: exit 130
# After each: no process of its process group is left (the api, the frontend, the bot, probe
# serve, their children), PostgreSQL is stopped (its postmaster, whose pid the test read from
# the data directory, is gone, and no process runs with this run's directory on its command
# line), and no probe-demo.* directory is left in the TMPDIR the run was given. The processes
# are found by pid and process group, never by name: other runs on the machine use the same
# binaries.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir=${PROBE_BUILD_DIR:-$root/build}
# shellcheck source=tests/lib/procs.sh
source "$root/tests/lib/procs.sh"

work=$(mktemp -d /tmp/probe-demo-cleanup.XXXXXX)
chmod 755 "$work" # PostgreSQL runs as the postgres user, under $work/tmp-N
demo_pid=
postmasters=() # every postmaster pid seen, to stop if a case fails
cleanup() {
  local pid
  if [ -n "$demo_pid" ]; then kill -KILL -- "-$demo_pid" 2>/dev/null || true; fi
  for pid in "${postmasters[@]}"; do kill -QUIT "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() {
  echo "FAIL: $*" >&2
  echo "---- run.sh's stderr:" >&2
  tail -n 20 "$work/err.log" >&2 || true
  exit 1
}
pass() { echo "ok: $*"; }

# The demo's temporary directory, once run.sh has said where it is.
demo_dir() { sed -n 's/^demo: working in //p' "$work/err.log" | head -n 1; }
# The port of its /ready, once run.sh has printed the URLs.
ready_port() { sed -nE 's|^  ready +http://127\.0\.0\.1:([0-9]+)/ready$|\1|p' "$work/err.log" | head -n 1; }
serving() {
  local port
  port=$(ready_port)
  [ -n "$port" ] && curl -s -o /dev/null --max-time 5 "http://127.0.0.1:$port/ready"
}
has_pg_log() { local dir; dir=$(demo_dir); [ -n "$dir" ] && [ -e "$dir/pg/server.log" ]; }
# Waits up to SECONDS for CONDITION while run.sh runs; fails at once if it exits.
wait_while_running() { # SECONDS WHAT CONDITION
  local seconds=$1 what=$2 condition=$3
  # shellcheck disable=SC2317 # called through wait_until
  met_or_gone() { "$condition" || ! alive "$demo_pid"; }
  wait_until "$seconds" met_or_gone || fail "$what: not within $seconds s"
  alive "$demo_pid" || fail "$what: run.sh exited first"
}
# The members of run.sh's process group that still run.
group_left() {
  local pid left=()
  for pid in $(pgrep -g "$demo_pid" || true); do
    if alive "$pid"; then left+=("$pid"); fi
  done
  echo "${left[*]}"
}
group_empty() { [ -z "$(group_left)" ]; }
# The pids of processes whose command line names directory $1 (PostgreSQL's: -D $1/pg/data).
# The pattern comes from a file, so that grep's own command line does not match it.
naming() {
  grep -laF -f <(printf '%s/\n' "$1") /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3 | tr '\n' ' '
}
none_naming() { [ -z "$(naming "$1")" ]; }

# Starts run.sh in a process group of its own (job control), so that a signal to the group is
# what Ctrl-C in a terminal sends, and a non-interactive shell does not set it to ignore SIGINT.
start_demo() { # CASE
  tmp=$work/tmp-$1
  mkdir -p "$tmp"
  chmod 755 "$tmp"
  : >"$work/err.log"
  set -m
  # Ports away from the demo's defaults, so that a demo someone runs by hand is not in the way,
  # and below the kernel's ephemeral range (32768-60999): a port there can be taken, after
  # free_port() found it free, as the source port of any test's outgoing connection.
  TMPDIR=$tmp PROBE_BUILD_DIR=$build_dir PG_FIRST_PORT=31200 PROBE_PORT=31464 \
    DEMO_API_PORT=31180 DEMO_FRONTEND_PORT=31130 DEMO_TELEGRAM_PORT=31181 \
    "$root/deploy/demo/run.sh" >"$work/out.log" 2>"$work/err.log" &
  demo_pid=$!
  set +m
  [ "$(ps -o pgid= -p "$demo_pid" | tr -d ' ')" = "$demo_pid" ] || fail "run.sh is not a process group leader"
}

# Records what run.sh started, from its directory: the pid files and PostgreSQL's postmaster.pid.
record_started() {
  local dir=$1 file pid
  started=()
  for file in "$dir"/*.pid "$dir/pg/data/postmaster.pid"; do
    pid=$(head -n 1 "$file" 2>/dev/null) || continue
    if [ -n "$pid" ]; then started+=("$pid"); fi
  done
  pid=$(head -n 1 "$dir/pg/data/postmaster.pid" 2>/dev/null) || pid=
  if [ -n "$pid" ]; then postmasters+=("$pid"); fi
}

# Sends signal $2 to $1 (a pid, or -pgid), waits for run.sh to exit and checks its status $3
# and that nothing of it is left.
stop_and_check() { # TARGET SIGNAL WANT_STATUS WHAT
  local target=$1 signal=$2 want=$3 what=$4 dir status=0 pid
  dir=$(demo_dir)
  [ -n "$dir" ] || fail "$what: run.sh did not say where it works"
  kill "-$signal" -- "$target"
  wait_gone 120 "$demo_pid" || fail "$what: run.sh still running 120 s after SIG$signal"
  wait "$demo_pid" || status=$?
  [ "$status" = "$want" ] || fail "$what: run.sh exited $status, want $want"
  # Orphans of a killed process can take a moment to go; none may stay.
  wait_until 60 group_empty || fail "$what: left running in its process group: $(group_left)"
  # PostgreSQL's postmaster removes postmaster.pid (what pg_ctl -w waits for) just before it
  # exits, so on a loaded machine it may still be there for a moment: wait, bounded.
  for pid in "${started[@]}"; do
    wait_gone 60 "$pid" || fail "$what: pid $pid (from its pid files) still runs 60 s after run.sh exited"
  done
  wait_until 60 none_naming "$dir" ||
    fail "$what: still running with $dir on the command line: $(naming "$dir")"
  [ ! -e "$dir" ] || fail "$what: $dir left behind"
  [ -z "$(find "$tmp" -mindepth 1 -maxdepth 1 -name 'probe-demo.*')" ] ||
    fail "$what: left in TMPDIR: $(ls "$tmp")"
  demo_pid=
}

# 1. Ctrl-C while serving.
start_demo 1
wait_while_running 240 "serving" serving
record_started "$(demo_dir)"
[ "${#started[@]}" -ge 5 ] || fail "expected the pids of api, frontend, bot, serve and postgres: ${started[*]}"
stop_and_check "-$demo_pid" INT 130 "Ctrl-C while serving"
pass "Ctrl-C while serving: exit 130, ${#started[@]} processes and PostgreSQL stopped, temp dir removed"

# 2. SIGTERM to run.sh alone while serving.
start_demo 2
wait_while_running 240 "serving" serving
record_started "$(demo_dir)"
stop_and_check "$demo_pid" TERM 143 "SIGTERM while serving"
pass "SIGTERM while serving: exit 143, ${#started[@]} processes and PostgreSQL stopped, temp dir removed"

# 3. Ctrl-C while PostgreSQL starts (pg_ctl has opened its log, the server is coming up).
start_demo 3
wait_while_running 240 "starting PostgreSQL" has_pg_log
record_started "$(demo_dir)"
stop_and_check "-$demo_pid" INT 130 "Ctrl-C while PostgreSQL starts"
pass "Ctrl-C while PostgreSQL starts: exit 130, nothing left running, temp dir removed"
echo "demo cleanup: ok"
