#!/usr/bin/env bash
# A stand-in for `docker compose up -d` of one image tag: (re)starts the stand-in api on
# $STACK_PORT with version $1; the version "bad" answers /health with 500. Used as the
# deploy/rollback hook in the deploy tests. Needs STACK_DIR, STACK_PORT, PROBE_STANDIN.
set -euo pipefail
version=${1:?usage: switch_version.sh VERSION}
pid_file=$STACK_DIR/api.pid
if [ -f "$pid_file" ]; then
  pid=$(cat "$pid_file")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.02
  done
fi
echo "$version" >>"$STACK_DIR/hook.log"
nohup "$PROBE_STANDIN" http --listen "127.0.0.1:$STACK_PORT" --version "$version" \
  --pid-file "$pid_file" >>"$STACK_DIR/api.log" 2>&1 &
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$STACK_PORT") 2>/dev/null && exit 0
  sleep 0.02
done
echo "switch_version.sh: api did not start" >&2
exit 1
