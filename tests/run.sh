#!/usr/bin/env bash
# The test command: installs what it needs from Debian, builds with warnings as errors, starts a
# throw-away PostgreSQL on a free loopback port, runs every test through CTest (unit,
# integration against real servers, shell-level tests), and stops what it started.
# Safe to run again; leaves no process behind. Usage: tests/run.sh [ctest args...]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib/deps.sh
source "$root/tests/lib/deps.sh"
# shellcheck source=tests/lib/pg.sh
source "$root/tests/lib/pg.sh"

install_packages "${PROBE_BUILD_PACKAGES[@]}" "${PROBE_TEST_PACKAGES[@]}"
install_npm

build_dir=${PROBE_BUILD_DIR:-$root/build}
read -r -a cmake_args <<<"${PROBE_CMAKE_ARGS:-}" # e.g. "-DPROBE_SANITIZE=address,undefined"
build_probe "$root" "$build_dir" "${cmake_args[@]}"

work=$(mktemp -d /tmp/probe-tests.XXXXXX)
chmod 755 "$work"
cleanup() {
  pg_stop
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pg_start "$work/pg"
export PROBE_TEST_PG_DSN=$PG_DSN PROBE_TEST_REQUIRE_PG=1 PROBE_TEST_REQUIRE_PROMETHEUS=1
export PROBE_TEST_WORK=$work

ctest --test-dir "$build_dir" --output-on-failure -j"$(nproc)" "$@"
