# shellcheck shell=bash
# A throw-away PostgreSQL server for tests and the demo: Debian's server binaries, a fresh
# cluster in a temp directory, listening on 127.0.0.1 only, on a free port. Sourced, not run.
#
#   pg_start DIR        starts it; sets PG_PORT, PG_PASSWORD, PG_DSN (superuser over TCP)
#   pg_psql SQL...      runs SQL as the superuser
#   pg_stop             stops it (safe to call twice, and when it never started)
#
# Starting and stopping wait up to 120 s (a loaded machine); a port taken between the search
# for a free one and the server's bind is retried with the next one.
#
# Run as root, the server runs as the `postgres` user that Debian's package creates (initdb
# refuses root); as anyone else, as that user.

pg_bindir() {
  local dir
  dir=$(printf '%s\n' /usr/lib/postgresql/*/bin | grep -v '\*' | sort -V | tail -n 1)
  [ -n "$dir" ] || { echo "pg.sh: no PostgreSQL server found under /usr/lib/postgresql" >&2; return 1; }
  echo "$dir"
}

# Runs a command as the server's owner.
pg_as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# Prints a TCP port on 127.0.0.1 that nothing listens on, starting the search at $1.
free_port() {
  local port=${1:-20000}
  while [ "$port" -lt 65000 ]; do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
    port=$((port + 1))
  done
  return 1
}

pg_start() {
  PG_DIR=$1
  local bindir
  bindir=$(pg_bindir) || return 1
  mkdir -p "$PG_DIR"
  PG_PASSWORD=probe-test-$RANDOM$RANDOM
  if [ "$(id -u)" = 0 ]; then
    chown postgres:postgres "$PG_DIR"
  fi
  printf '%s\n' "$PG_PASSWORD" > "$PG_DIR/pwfile"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$PG_DIR/pwfile"
  # Password auth over TCP, as in production; trust only on the private Unix socket.
  pg_as_owner "$bindir/initdb" -D "$PG_DIR/data" -U postgres --pwfile="$PG_DIR/pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 \
    || { cat "$PG_DIR/initdb.log" >&2; return 1; }
  cat >>"$PG_DIR/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PG_DIR'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
lc_messages = 'C'
CONF
  # Fresh every time: a server started by a caller (tests/run.sh) may already hold PG_PORT.
  # From a random start, so that tests running side by side do not all probe the same ports (one
  # that stops its server and starts it again on the same port must find it still free).
  local attempt first=${PG_FIRST_PORT:-$((25432 + RANDOM % 2000))}
  for attempt in 1 2 3 4 5; do
    PG_PORT=$(free_port "$first")
    echo "port = $PG_PORT" >>"$PG_DIR/data/postgresql.conf" # the last one counts
    if pg_as_owner "$bindir/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 120 start >/dev/null; then
      break
    fi
    if [ "$attempt" = 5 ] || ! grep -q "could not bind\|Address already in use" "$PG_DIR/server.log"; then
      cat "$PG_DIR/server.log" >&2
      return 1
    fi
    first=$((PG_PORT + 1))
  done
  PG_DSN="postgresql://postgres:$PG_PASSWORD@127.0.0.1:$PG_PORT/postgres"
  export PG_DIR PG_PORT PG_PASSWORD PG_DSN
}

pg_psql() {
  PGPASSWORD=$PG_PASSWORD psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres \
    -d "${PG_DATABASE:-postgres}" "$@"
}

pg_stop() {
  [ -n "${PG_DIR:-}" ] && [ -f "$PG_DIR/data/postmaster.pid" ] || return 0
  pg_as_owner "$(pg_bindir)/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 120 stop >/dev/null 2>&1 ||
    pg_as_owner "$(pg_bindir)/pg_ctl" -D "$PG_DIR/data" -m immediate -w -t 60 stop >/dev/null 2>&1 ||
    true
}
