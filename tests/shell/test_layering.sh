#!/usr/bin/env bash
# The folder order (README, Development) holds, and its check can fail: cmake/check_layering.cmake
# passes on the tree as it is, and on a copy of the tree with one include run the wrong way
# (config including deploy, util including cli) it fails naming the file, the include and the
# two folders, so the build it guards stops.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
layers=util,config,checks,engine,deploy,exporters,serve,cli
work=$(mktemp -d /tmp/probe-layering.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

check() { # $1 = source tree; output in $work/out
  cmake -DSOURCE_DIR="$1" -DLAYERS=$layers -DSTAMP="$work/stamp" \
    -P "$root/cmake/check_layering.cmake" >"$work/out" 2>&1
}

check "$root" || { cat "$work/out" >&2; fail "the tree breaks its own folder order"; }
echo "ok: the tree follows util <- config <- checks <- engine <- deploy <- exporters <- serve <- cli"

mkdir -p "$work/tree"
cp -r "$root/probe" "$root/exporters" "$work/tree/"
printf '#include "probe/deploy/event.hpp"\n' >>"$work/tree/probe/config/config.cpp"
printf '#include "probe/cli/cli.hpp"\n' >>"$work/tree/probe/util/strings.hpp"
if check "$work/tree"; then
  fail "an include against the order passed"
fi
grep -qF 'probe/config/config.cpp: includes probe/deploy/event.hpp (config may not depend on deploy)' \
  "$work/out" || { cat "$work/out" >&2; fail "the config -> deploy include is not named"; }
grep -qF 'probe/util/strings.hpp: includes probe/cli/cli.hpp (util may not depend on cli)' \
  "$work/out" || { cat "$work/out" >&2; fail "the util -> cli include is not named"; }
echo "ok: an include against the order fails the check, naming file, include and folders"
