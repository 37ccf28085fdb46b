# shellcheck shell=bash
# The processes a test or script starts, and waiting for things to happen. Sourced, not run.
#
#   pids+=($!); stop_started     the background processes started: stop_started (from the EXIT
#                                trap) kills and reaps them all, by pid, and nothing else
#   alive PID                    whether PID runs (a zombie, exited but not reaped, does not)
#   wait_gone SECONDS PID...     waits until none of the PIDs runs; 1 if one still does
#   wait_until SECONDS CMD...    runs CMD every 0.1 s until it succeeds; 1 after SECONDS
#
# A test never stops a process by matching its name or command line: on a shared machine
# the name may be another run's. Time limits here only tell "it happened" from "it never will": they are
# generous (a loaded two-core machine runs seven builds beside the tests) and cost nothing when
# the thing happens at once.
pids=()

stop_started() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}

alive() {
  [ -n "${1:-}" ] && [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

wait_gone() {
  local seconds=$1 pid
  shift
  local until=$((SECONDS + seconds))
  for pid in "$@"; do
    while alive "$pid"; do
      [ "$SECONDS" -lt "$until" ] || return 1
      sleep 0.1
    done
  done
}

wait_until() {
  local seconds=$1
  shift
  local until=$((SECONDS + seconds))
  until "$@"; do
    [ "$SECONDS" -lt "$until" ] || return 1
    sleep 0.1
  done
}
