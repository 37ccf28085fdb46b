#!/usr/bin/env bash
# One-shot cost: `probe check` over the demo stack's 4 healthy targets, timed by hyperfine.
# Prints hyperfine's table (figures, not a pass/fail). Usage: tests/bench/check_wall.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir=${PROBE_BUILD_DIR:-$root/build}
# shellcheck source=tests/lib/deps.sh
source "$root/tests/lib/deps.sh"
# shellcheck source=deploy/demo/stack.sh
source "$root/deploy/demo/stack.sh"
install_packages "${PROBE_BUILD_PACKAGES[@]}" postgresql hyperfine
build_probe "$root" "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

work=$(mktemp -d /tmp/probe-bench.XXXXXX)
chmod 755 "$work"
trap 'demo_stop; rm -rf "$work"' EXIT
demo_start "$work/stack" "$build_dir"
"$build_dir/probe" check --config "$root/deploy/demo/probe.yaml" >/dev/null
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(. /etc/os-release; echo "$PRETTY_NAME")"
hyperfine -N --warmup 10 --runs 200 --export-json "$work/check.json" \
  "$build_dir/probe check --config $root/deploy/demo/probe.yaml"
jq -r '.results[0] | "median \(.median * 1000 | . * 100 | round / 100) ms, mean \(.mean * 1000 | . * 100 | round / 100) ms, min \(.min * 1000 | . * 100 | round / 100) ms, max \(.max * 1000 | . * 100 | round / 100) ms"' "$work/check.json"
