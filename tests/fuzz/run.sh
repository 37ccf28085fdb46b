#!/usr/bin/env bash
# Builds probe's libFuzzer targets (tests/fuzz/*.cpp) with clang, ASan and UBSan in a build
# directory of their own, and runs each for SECONDS (default 60) on a scratch copy of its seed
# corpus, so that a run never grows the committed corpus. Prints, per target, the executions,
# exec/s and coverage from libFuzzer's final stats and "no finding" or where the crash input was
# saved; exits 1 when any target found something, 2 on a usage error.
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]
#
# PROBE_FUZZ_BUILD_DIR (default build-fuzz/) and PROBE_FUZZ_JOBS (default 2) tune the build.
# Findings are kept in $PROBE_FUZZ_BUILD_DIR/fuzz-findings/TARGET/; replay one with
#   $PROBE_FUZZ_BUILD_DIR/tests/fuzz/TARGET FILE
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${PROBE_FUZZ_BUILD_DIR:-$root/build-fuzz}
jobs=${PROBE_FUZZ_JOBS:-2}
all_targets=(fuzz_config_loader fuzz_duration fuzz_http_expect fuzz_journal_line fuzz_deploy_body
  fuzz_http_request)

seconds=${1:-60}
if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 [SECONDS] [TARGET...]   (targets: ${all_targets[*]})" >&2
  exit 2
fi
shift $(($# > 0 ? 1 : 0))
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=("${all_targets[@]}")
fi
for target in "${targets[@]}"; do
  if [[ ! -f $here/$target.cpp ]]; then
    echo "$0: no fuzz target $target (targets: ${all_targets[*]})" >&2
    exit 2
  fi
done

if ! command -v clang++ >/dev/null; then
  echo "$0: clang++ not found (Debian 12: apt-get install clang libclang-rt-14-dev)" >&2
  exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/probe-fuzz.XXXXXX")
# The journal targets fsync a file on every accepted event: on tmpfs that costs nothing, on a
# disk it takes the run from thousands of executions a second to a few hundred.
scratch_base=$work
if [[ -d /dev/shm && -w /dev/shm ]]; then
  scratch_base=/dev/shm
fi
scratch=$(mktemp -d "$scratch_base/probe-fuzz.XXXXXX")
trap 'rm -rf "$work" "$scratch"' EXIT

started=$(date +%s)
echo "== configure and build ($build, -j$jobs)"
# A new build dir gets the fuzz targets only; an existing one (tests/run.sh's ASan+UBSan build,
# which has them) keeps what else it builds.
configure_args=(-DPROBE_FUZZ=ON)
[ -f "$build/CMakeCache.txt" ] || configure_args+=(-DPROBE_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo)
CC=clang CXX=clang++ cmake -S "$root" -B "$build" "${configure_args[@]}" >"$work/configure.log" 2>&1 ||
  { cat "$work/configure.log" >&2; exit 1; }
cmake --build "$build" --target "${targets[@]}" -j "$jobs" >"$work/build.log" 2>&1 ||
  { tail -n 60 "$work/build.log" >&2; exit 1; }
built=$(date +%s)
echo "built in $((built - started)) s"

# The value after `key:` on libFuzzer's stat lines ("stat::average_exec_per_sec: 5571").
final_stat() {
  sed -n "s/^stat::$1: *//p" "$2" | tail -n 1
}

# "cov: 2248 ft: 8453" from the last status line (DONE, or the last one before a crash).
coverage() {
  grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$1" | tail -n 1 || true
}

findings=0
for target in "${targets[@]}"; do
  corpus=$work/$target/corpus
  artifacts=$build/fuzz-findings/$target
  log=$work/$target/fuzz.log
  mkdir -p "$corpus" "$scratch/$target"
  rm -rf "$artifacts"
  mkdir -p "$artifacts"
  cp -R "$here/corpus/$target/." "$corpus/"
  args=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
    -artifact_prefix="$artifacts/")
  if [[ -f $here/$target.dict ]]; then
    args+=(-dict="$here/$target.dict")
  fi

  echo "== $target (${seconds} s)"
  status=0
  # UBSan is built not to recover; the options only add stack traces. The journal targets keep
  # their files under $scratch. The outer timeout is a safety net only.
  (cd "$work/$target" &&
    PROBE_FUZZ_TMPDIR="$scratch/$target" \
      UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      timeout --kill-after=10 $((2 * seconds + 60)) \
      "$build/tests/fuzz/$target" "${args[@]}" "$corpus") >"$log" 2>&1 || status=$?

  runs=$(final_stat number_of_executed_units "$log")
  rate=$(final_stat average_exec_per_sec "$log")
  printf '%s: %s executions, %s exec/s, %s\n' "$target" "${runs:-?}" "${rate:-?}" \
    "$(coverage "$log")"
  mapfile -t crashes < <(find "$artifacts" -type f | sort)
  if ((status == 0 && ${#crashes[@]} == 0)); then
    echo "$target: no finding"
    continue
  fi
  findings=$((findings + 1))
  echo "$target: FINDING (libFuzzer exit $status)"
  for crash in "${crashes[@]}"; do
    echo "  saved: $crash"
  done
  # The sanitizer's or the property's report, without libFuzzer's progress lines.
  grep -Ev '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse|INITED|RELOAD)' "$log" | tail -n 40 | sed 's/^/  | /'
done

finished=$(date +%s)
echo "== ${#targets[@]} target(s), $findings with findings; build $((built - started)) s," \
  "fuzzing $((finished - built)) s, total $((finished - started)) s"
if ((findings > 0)); then
  exit 1
fi
