# shellcheck shell=bash
# The processes a test or script starts in the background, stopped when it ends: append each
# one's pid (`pids+=($!)`) and call stop_started from the EXIT trap; it kills and reaps them
# all. Sourced, not run.
pids=()

stop_started() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
