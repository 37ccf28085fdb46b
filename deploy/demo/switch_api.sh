#!/usr/bin/env bash
# The demo's stand-in for `docker compose up -d` of one api image tag: (re)starts the stand-in
# api on $DEMO_API_PORT with version $1; the version "bad" answers /health with 500. It is the
# demo's deploy step and its rollback hook (deploy.rollback.command), and the deploy tests use
# it the same way. Needs DEMO_WORK, DEMO_API_PORT, DEMO_STANDIN (deploy/demo/stack.sh exports them).
set -euo pipefail
version=${1:?usage: switch_api.sh VERSION}
pid_file=$DEMO_WORK/api.pid
if [ -f "$pid_file" ]; then
  pid=$(cat "$pid_file")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.02
  done
fi
echo "$version" >>"$DEMO_WORK/hook.log"
nohup "$DEMO_STANDIN" http --listen "127.0.0.1:$DEMO_API_PORT" --version "$version" \
  --pid-file "$pid_file" </dev/null >>"$DEMO_WORK/api.log" 2>&1 &
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$DEMO_API_PORT") 2>/dev/null && exit 0
  sleep 0.02
done
echo "switch_api.sh: the api did not start on $DEMO_API_PORT" >&2
exit 1
