#!/usr/bin/env bash
# The test command: installs what it needs from Debian and npm, starts a throw-away PostgreSQL on
# a free loopback port, and runs every test through CTest (unit, integration against real
# servers, shell-level tests) built plain with warnings as errors (build/). With --full (what CI
# runs, .ci/run), the same suite again with ASan+UBSan (build-asan/, clang) and with TSan
# (build-tsan/, clang), then each libFuzzer target for 60 s (tests/fuzz/run.sh, on the ASan
# build). Any sanitizer report from any process fails the run. Stops what it started; safe to
# run again.
#
#   tests/run.sh [--full | --only plain,asan,tsan,fuzz] [--fuzz-seconds N] [ctest args...]
#
# The builds are the long part on two cores, so each sanitizer build (and the fuzzing) runs at
# nice 19 in the background while the previous suite runs: the tests mostly wait on sockets and
# timers, and nice 19 takes only the CPU they leave. The sanitizer runs leave out the tests that
# run none of probe's code (label `static`: linters, rules, dashboards, workflows).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib/deps.sh
source "$root/tests/lib/deps.sh"
# shellcheck source=tests/lib/pg.sh
source "$root/tests/lib/pg.sh"

only=plain
fuzz_seconds=60
while [ $# -gt 0 ]; do
  case $1 in
    --full) only=plain,asan,tsan,fuzz; shift ;;
    --only) only=$2; shift 2 ;;
    --fuzz-seconds) fuzz_seconds=$2; shift 2 ;;
    -h | --help) sed -n '2,15p' "$0"; exit 0 ;;
    *) break ;; # the rest goes to ctest
  esac
done
if ! [[ $only =~ ^(plain|asan|tsan|fuzz)(,(plain|asan|tsan|fuzz))*$ ]]; then
  echo "run.sh: --only takes a comma-separated list of plain, asan, tsan, fuzz (got '$only')" >&2
  exit 2
fi
if ! [[ $fuzz_seconds =~ ^[1-9][0-9]*$ ]]; then
  echo "run.sh: --fuzz-seconds must be a positive number (got '$fuzz_seconds')" >&2
  exit 2
fi
wants() { [[ ,$only, == *,$1,* ]]; }

packages=("${PROBE_BUILD_PACKAGES[@]}" "${PROBE_TEST_PACKAGES[@]}" "${PROBE_APP_PACKAGES[@]}"
  "${PROBE_K8S_TEST_PACKAGES[@]}")
if wants asan || wants tsan || wants fuzz; then
  packages+=("${PROBE_SANITIZER_PACKAGES[@]}")
fi
install_packages "${packages[@]}"
install_npm

declare -A build_dirs=(
  [plain]=${PROBE_BUILD_DIR:-$root/build} [asan]=$root/build-asan [tsan]=$root/build-tsan)
# The fuzz targets come from the ASan+UBSan build (PROBE_FUZZ=ON): one build serves both.
declare -A cmake_args=(
  [plain]="" [asan]="-DPROBE_SANITIZE=address,undefined -DPROBE_FUZZ=ON"
  [tsan]="-DPROBE_SANITIZE=thread")
suites=()
for variant in plain asan tsan; do
  if wants "$variant" || { [ "$variant" = asan ] && wants fuzz; }; then
    suites+=("$variant")
  fi
done

work=$(mktemp -d /tmp/probe-tests.XXXXXX)
chmod 755 "$work"
background=() # pids of background builds and fuzzing, stopped on the way out
cleanup() {
  local pid
  for pid in "${background[@]}"; do kill -- -"$pid" 2>/dev/null || true; done
  pg_stop
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Builds variant $1 into its directory; prints the time it took. Sanitizer builds use clang
# (libFuzzer is clang's); warnings are errors in the plain one.
build_variant() {
  local variant=$1 dir=${build_dirs[$1]} args started=$SECONDS
  read -r -a args <<<"${cmake_args[$variant]}"
  # `|| return`: called as `build_variant ... || exit 1`, where set -e does not stop a failed build.
  if [ "$variant" = plain ]; then
    build_probe "$root" "$dir" "${args[@]}" || return 1
  else
    CC=clang CXX=clang++ build_probe "$root" "$dir" "${args[@]}" || return 1
  fi
  echo "== $variant build: $((SECONDS - started)) s"
}

# Starts build_variant $1 at nice 19 in the background, its output in $work/build-$1.log.
declare -A build_pids=()
build_in_background() {
  set -m # its own process group, so that cleanup can stop the whole build
  (renice -n 19 "$BASHPID" >/dev/null && build_variant "$1") >"$work/build-$1.log" 2>&1 &
  set +m
  build_pids[$1]=$!
  background+=($!)
}

# Waits for the background build of $1; on failure prints the end of its log and returns 1.
await_build() {
  if wait "${build_pids[$1]}"; then
    tail -n 1 "$work/build-$1.log"
    timings+=("$(tail -n 1 "$work/build-$1.log")")
    return 0
  fi
  echo "== $1 build FAILED; the end of its log:" >&2
  tail -n 40 "$work/build-$1.log" >&2
  return 1
}

# Runs the suite of build $1 with its sanitizer's reports written to files, then fails if any
# process (probe, a stand-in, a test binary) wrote one: a report in a background `probe serve`
# would not otherwise fail the test that started it.
run_suite() {
  local variant=$1 dir=${build_dirs[$1]} reports=$work/reports-$1 status=0 started=$SECONDS
  shift
  local filter=()
  [ "$variant" = plain ] || filter=(-LE static)
  # Most tests wait on sockets, processes and gates, not the CPU: the plain suite runs two per
  # core. The sanitizer builds are CPU-bound (TSan slows every memory access): one per core,
  # but never fewer than two at once, as a one-core machine would otherwise wait out every
  # test's sleeps one after another (a one-core CI run took over 90 minutes that way).
  local jobs=$((PROBE_JOBS * 2))
  [ "$variant" = plain ] || jobs=$PROBE_JOBS
  jobs=${PROBE_TEST_JOBS:-$jobs}
  mkdir -p "$reports"
  echo "== $variant suite"
  ASAN_OPTIONS="log_path=$reports/report:detect_leaks=1:check_initialization_order=1:strict_init_order=1" \
    LSAN_OPTIONS="suppressions=$root/tests/sanitizers/lsan.supp:print_suppressions=0" \
    UBSAN_OPTIONS="log_path=$reports/report:print_stacktrace=1:halt_on_error=1" \
    TSAN_OPTIONS="log_path=$reports/report:second_deadlock_stack=1:suppressions=$root/tests/sanitizers/tsan.supp" \
    ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer \
    ctest --test-dir "$dir" --output-on-failure -j"$jobs" "${filter[@]}" "$@" || status=$?
  local report
  for report in "$reports"/*; do
    [ -e "$report" ] || continue
    # A finding says so in the sanitizers' own words. Anything else is the runtime's chatter,
    # e.g. LeakSanitizer's "Unable to get registers from thread N" when a process dies during
    # its exit-time leak check (the fault tests kill -9 probe 260 times): shown, not failed on.
    if grep -qE '(ERROR|WARNING|FATAL): [A-Za-z]*Sanitizer|Sanitizer: CHECK failed|runtime error:' \
      "$report"; then
      echo "== $variant: sanitizer report $(basename "$report"):" >&2
      status=1
    else
      echo "== $variant: sanitizer runtime message (not a finding) $(basename "$report"):" >&2
    fi
    head -n 60 "$report" >&2
  done
  timings+=("== $variant suite: $((SECONDS - started)) s, $([ $status = 0 ] && echo passed || echo FAILED)")
  echo "${timings[-1]}"
  return $status
}

# What each phase took, printed again at the end: CI shows only the end of the output.
timings=("== machine: nproc $(nproc), $(getconf _NPROCESSORS_ONLN) online, $PROBE_JOBS jobs")
echo "${timings[0]}"

failed=()
pg_start "$work/pg"
export PROBE_TEST_PG_DSN=$PG_DSN PROBE_TEST_REQUIRE_PG=1 PROBE_TEST_REQUIRE_PROMETHEUS=1
export PROBE_TEST_WORK=$work

# The first build in the foreground; each next one in the background during a suite.
build_variant "${suites[0]}" || exit 1
timings+=("== ${suites[0]} build: $SECONDS s since the start (packages included)")
for i in "${!suites[@]}"; do
  variant=${suites[$i]}
  next=${suites[$((i + 1))]:-}
  built=yes
  if [ "$i" -gt 0 ]; then
    await_build "$variant" || { failed+=("$variant build"); built=no; }
  fi
  [ -z "$next" ] || build_in_background "$next"
  # Fuzzing needs the ASan build; it runs alongside the last suite.
  if wants fuzz && [ -z "$next" ] && [ -z "${fuzz_pid:-}" ]; then
    set -m
    PROBE_FUZZ_BUILD_DIR=${build_dirs[asan]} PROBE_FUZZ_JOBS=$PROBE_JOBS \
      nice -n 19 "$root/tests/fuzz/run.sh" "$fuzz_seconds" >"$work/fuzz.log" 2>&1 &
    set +m
    fuzz_pid=$!
    background+=("$fuzz_pid")
  fi
  if [ "$built" = yes ] && wants "$variant"; then
    run_suite "$variant" "$@" || failed+=("$variant suite")
  fi
done
if [ -n "${fuzz_pid:-}" ]; then
  wait "$fuzz_pid" || failed+=(fuzzing)
  cat "$work/fuzz.log"
fi

printf '%s\n' "${timings[@]}" "== whole run: $SECONDS s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "== FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "== all passed: ${suites[*]}$(wants fuzz && echo " fuzz")"
