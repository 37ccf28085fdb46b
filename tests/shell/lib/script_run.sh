# shellcheck shell=bash
# Running the deploy kit's scripts in a test and comparing what they did (sourced by the
# test_deploy_* and test_k8s_deploy shell tests; `work` is the test's scratch directory).
#   script CMD...        runs CMD; its exit code lands in $status, stdout in $work/out, stderr in
#                        $work/err (set -e is off for it only)
#   same WHAT GOT WANT   fails naming WHAT with a diff when GOT is not WANT (needs `fail`)

# `work` is the caller's and `status` is for the caller to read.
# shellcheck disable=SC2154,SC2034
script() {
  set +e
  "$@" >"$work/out" 2>"$work/err"
  status=$?
  set -e
}

same() {
  [ "$2" = "$3" ] || fail "$1 differs:$(diff <(printf '%s\n' "$3") <(printf '%s\n' "$2") | sed 's/^/  /')"
}

# Each SHA, hostile or malformed, makes deploy.sh and rollback.sh in directory $1 exit 2 before
# they print (or run) any command.
refuses_shas() { # DIR SHA...
  local dir=$1 sha name
  shift
  for sha in "$@"; do
    for name in deploy.sh rollback.sh; do
      script "$dir/$name" "$sha"
      [ "$status" = 2 ] || fail "$name '$sha' exited $status, want 2"
      [ ! -s "$work/out" ] || fail "$name '$sha' printed a command: $(cat "$work/out")"
    done
  done
}
