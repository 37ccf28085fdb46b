#!/usr/bin/env bash
# A rollback hook for the tests of probe's own hook handling (tests/shell/test_deploy_rollback.sh):
# (re)starts the stand-in api (probe-standin http) on $DEMO_API_PORT with version $1; the version
# "bad" answers /health with 500. The demo and the deploy-script tests run the real reference
# apps instead (deploy/demo/release.sh). Needs DEMO_WORK, DEMO_API_PORT, DEMO_STANDIN.
# Waits (at most 60 s each, for a loaded machine) for the old api to stop and the new one to
# listen.
set -euo pipefail
version=${1:?usage: standin_api.sh VERSION}
pid_file=$DEMO_WORK/api.pid
# shellcheck source=tests/lib/procs.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)/tests/lib/procs.sh"
old=$(cat "$pid_file" 2>/dev/null) || old=
if [ -n "$old" ]; then
  kill "$old" 2>/dev/null || true
  if ! wait_gone 60 "$old"; then
    echo "standin_api.sh: the old api (pid $old) did not stop within 60 s" >&2
    exit 1
  fi
fi
echo "$version" >>"$DEMO_WORK/hook.log"
nohup "$DEMO_STANDIN" http --listen "127.0.0.1:$DEMO_API_PORT" --version "$version" \
  --pid-file "$pid_file" </dev/null >>"$DEMO_WORK/api.log" 2>&1 &
started=$!
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$DEMO_API_PORT") 2>/dev/null; }
# shellcheck disable=SC2317 # called through wait_until
up_or_gone() { port_open || ! alive "$started"; }
wait_until 60 up_or_gone || true
if port_open && alive "$started"; then
  exit 0
fi
echo "standin_api.sh: the api did not start on $DEMO_API_PORT: $(tail -n 3 "$DEMO_WORK/api.log")" >&2
exit 1
