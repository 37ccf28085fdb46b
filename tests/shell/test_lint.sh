#!/usr/bin/env bash
# Every shell script in the repo passes shellcheck (sourced libraries followed), and every C++
# file is clang-formatted when clang-format is installed: the kit's scripts are run by people
# on production servers, and a lint finding there is a bug found late.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
mapfile -t scripts < <(git ls-files '*.sh' .ci/run 2>/dev/null || find . -name '*.sh' -not -path './build*')
[ ${#scripts[@]} -gt 0 ] || { echo "FAIL: no scripts found" >&2; exit 1; }
shellcheck -x "${scripts[@]}"
echo "shellcheck: ${#scripts[@]} scripts clean"
if command -v clang-format >/dev/null; then
  mapfile -t sources < <(git ls-files '*.cpp' '*.hpp')
  clang-format --dry-run -Werror "${sources[@]}"
  echo "clang-format: ${#sources[@]} files clean"
fi
