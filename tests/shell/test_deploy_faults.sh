#!/usr/bin/env bash
# Deploy events under faults, against a PostgreSQL of this test's own (it is stopped and started
# again, so not the suite's): the contract says no event is lost — with PostgreSQL down an event
# is appended and fsync'd to the journal before the command reports it recorded, and replayed
# once, by event_id, when the database is back — and that a journal that cannot take an event
# fails the command non-zero with nothing claimed.
#   1. PostgreSQL restarted under `probe serve`: its checks go DOWN and come back UP, probe keeps
#      answering, two events POSTed meanwhile are journaled (201, pending 2) and replayed once.
#   2. `probe deploy record` killed with SIGKILL at random points, 200 times with PostgreSQL
#      down, then 60 times with it up and each run replaying that journal first: the journal
#      always parses, `deploy list` replays it, every event claimed (exit 0, or its id printed)
#      is stored exactly once, none twice.
#   3. The journal's disk full (RLIMIT_FSIZE): exit 1, the journal named on stderr, nothing on
#      stdout, the journal byte for byte as it was.
# Waits are for events, bounded generously (60 s; 90 s for the replay, which is retried every
# 10 s): how long they took is printed, not asserted.
set -euo pipefail
export LC_ALL=C # sort and comm agree on the order of event ids
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir=${PROBE_BUILD_DIR:-$root/build}
probe=$build_dir/probe
# shellcheck source=tests/lib/pg.sh
source "$root/tests/lib/pg.sh"
# shellcheck source=tests/lib/procs.sh
source "$root/tests/lib/procs.sh"

work=$(mktemp -d /tmp/probe-deploy-faults.XXXXXX)
chmod 755 "$work" # the PostgreSQL server runs as the postgres user
cleanup() {
  stop_started
  pg_stop
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
pass() { echo "ok: $*"; }

# A sleep with sub-millisecond resolution and no process to start: read(1) timing out on a pipe
# nobody writes to.
exec {snooze_fd}<> <(:)
snooze() { read -r -t "$1" -u "$snooze_fd" _ || true; }
now_us() { echo "${EPOCHREALTIME/./}"; }
wait_for() { # SECONDS WHAT COMMAND...: polls COMMAND every 100 ms; fails naming WHAT
  local limit=$1 what=$2
  shift 2
  local deadline=$(($(now_us) + limit * 1000000))
  until "$@"; do
    [ "$(now_us)" -lt "$deadline" ] || fail "no $what within ${limit}s${on_timeout:+; $($on_timeout)}"
    snooze 0.1
  done
}
pg_down() { pg_stop; }
pg_up() { # the same data directory, so the same port
  pg_as_owner "$(pg_bindir)/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 start >/dev/null \
    || fail "PostgreSQL did not start again: $(tail -n 5 "$PG_DIR/server.log")"
}
uuid() { cat /proc/sys/kernel/random/uuid; }
stored() { # EVENT_ID -> how many rows carry it
  pg_psql -Atc "SELECT count(*) FROM probe_deploy_events WHERE event_id = '$1'"
}

pg_start "$work/pg"
pg_psql -c "CREATE TABLE beats (seen_at timestamptz); INSERT INTO beats VALUES (now())"

# ---- 1. PostgreSQL restarted under `probe serve` --------------------------------------------
port=$(free_port 29700)
base=http://127.0.0.1:$port
cat >"$work/serve.yaml" <<YAML
listen: "127.0.0.1:$port"
defaults: {interval: 500ms, timeout: 500ms, failure_threshold: 2}
targets:
  - {name: db, type: postgres, dsn: "$PG_DSN"}
  - {name: beat, type: heartbeat, source: postgres, dsn: "$PG_DSN",
     query: "SELECT max(seen_at) FROM beats", max_age: 1h}
deploy: {dsn: "$PG_DSN", journal: "$work/serve/journal.jsonl", token: tok-faults}
YAML
"$probe" serve --config "$work/serve.yaml" 2>"$work/serve.log" &
serve_pid=$!
pids+=("$serve_pid")
metric() { # NAME{LABELS} as /metrics prints it -> its value, empty when absent or no answer
  curl -sf --max-time 10 "$base/metrics" | awk -v name="$1" '$1 == name { print $2 }'
}
serve_log() { echo "probe serve's log ends:"; tail -n 15 "$work/serve.log"; }
on_timeout=serve_log
alive() { kill -0 "$serve_pid" 2>/dev/null || fail "probe serve died: $(tail -n 20 "$work/serve.log")"; }
checks_are() { # 1 (UP) or 0 (DOWN) for both db and beat
  alive
  [ "$(metric 'probe_target_up{target="db",type="postgres"}')" = "$1" ] &&
    [ "$(metric 'probe_target_up{target="beat",type="heartbeat"}')" = "$1" ]
}
pending_is() { alive && [ "$(metric probe_events_pending)" = "$1" ]; }
journal_lines() { # FILE -> how many journal records it holds (0 when missing)
  grep -c '^J1 ' "$1" 2>/dev/null || true
}
wait_for 60 "db and beat UP" checks_are 1

pg_down
wait_for 60 "db and beat DOWN with PostgreSQL stopped" checks_are 0
ids=("$(uuid)" "$(uuid)")
for i in 0 1; do
  body="{\"event_id\": \"${ids[$i]}\", \"kind\": \"deploy_started\", \"sha\": \"abcdef$i\", \"actor\": \"faults\"}"
  code=$(curl -s --max-time 60 -o "$work/post.out" -w '%{http_code}' -H 'Authorization: Bearer tok-faults' \
    -H 'Content-Type: application/json' -d "$body" "$base/deploys") || true
  [ "$code" = 201 ] || fail "POST /deploys with PostgreSQL down answered $code: $(cat "$work/post.out")"
  jq -e '.recorded == true' "$work/post.out" >/dev/null || fail "POST /deploys said $(cat "$work/post.out")"
done
wait_for 60 "probe_events_pending 2 with PostgreSQL down" pending_is 2
[ "$(journal_lines "$work/serve/journal.jsonl")" = 2 ] || fail "the journal does not hold the 2 events"
checks_are 0 || fail "db or beat not DOWN any more with PostgreSQL stopped"
pass "PostgreSQL down under serve: db and beat DOWN, /metrics answers, 2 events journaled (201, pending 2)"

pg_up
restarted=$(now_us) # serve retries every 10 s: the replay is due within 10 s of this (the
# limit below leaves room for a loaded machine; the figure printed is what it took)
wait_for 90 "probe_events_pending 0 after PostgreSQL came back" pending_is 0
replay_ms=$((($(now_us) - restarted) / 1000))
wait_for 60 "db and beat UP again" checks_are 1
for id in "${ids[@]}"; do
  [ "$(stored "$id")" = 1 ] || fail "event $id stored $(stored "$id") times, want 1"
done
[ "$(journal_lines "$work/serve/journal.jsonl")" = 0 ] || fail "the journal was not drained"
kill "$serve_pid"
wait "$serve_pid" || fail "probe serve exited $? on SIGTERM"
pids=()
pass "PostgreSQL back: db and beat UP, journal replayed ${replay_ms} ms after PostgreSQL was ready again, each event stored once"

# ---- 2. `probe deploy record` killed at random points -------------------------------------
on_timeout=
journal=$work/record/journal.jsonl
cat >"$work/record.yaml" <<YAML
targets:
  - {name: db, type: postgres, dsn: "$PG_DSN"}
deploy: {dsn: "$PG_DSN", journal: "$journal"}
YAML
# The same with a journal of its own, to time runs without touching the one under test.
sed "s|$journal|$work/timing/journal.jsonl|" "$work/record.yaml" >"$work/timing.yaml"
config=$work/record.yaml
record() { # EVENT_ID SHA [ARGS...]: probe deploy record, stdout/stderr in $work/rec.{out,err}
  local id=$1 sha=$2
  shift 2
  "$probe" deploy record --config "$config" --event deploy_started --sha "$sha" \
    --event-id "$id" --actor faults "$@" >"$work/rec.out" 2>"$work/rec.err"
}
median_us() { # [SEED]: the median wall time of 5 records on the timing journal (a copy of SEED)
  local times=() start
  for n in 1 2 3 4 5; do
    if [ -n "${1:-}" ]; then cp "$1" "$work/timing/journal.jsonl"; fi
    start=$(now_us)
    config=$work/timing.yaml record "$(uuid)" "000000$n" || fail "record: $(cat "$work/rec.err")"
    times+=($(($(now_us) - start)))
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n 3p
}
in_journal() { grep -qF "\"event_id\":\"$1\"" "$journal" 2>/dev/null; }
in_database() { [ "$(stored "$1")" = 1 ]; }
acked=() # event ids whose record exited 0 having printed the id: acknowledged
kept=()  # event ids that reached the journal or the database, acknowledged or not
# Runs `record` COUNT times, each SIGKILLed after a random delay of 0 to SPAN microseconds;
# KEPT is the test that tells whether a run's event was kept. Counts into ack, before, after;
# then calls the function named in $after_run, if any, with the exit status.
kill_runs() { # COUNT SPAN SHA_PREFIX KEPT
  local count=$1 span=$2 prefix=$3 kept_test=$4 n id delay pid status
  ack=0 before=0 after=0
  for ((n = 0; n < count; n++)); do
    id=$(uuid)
    delay=$(((RANDOM * 32768 + RANDOM) % (span + 1)))
    # Emptied here: a run killed before its redirections would leave the last run's output.
    : >"$work/rec.out"
    # Started directly, not through record(): $! must be probe itself, not a subshell.
    "$probe" deploy record --config "$config" --event deploy_started --event-id "$id" \
      --sha "$(printf '%s%04d' "$prefix" "$n")" --actor faults >"$work/rec.out" 2>"$work/rec.err" &
    pid=$!
    snooze "$(printf '%d.%06d' $((delay / 1000000)) $((delay % 1000000)))"
    kill -KILL "$pid" 2>/dev/null || true
    status=0
    wait "$pid" 2>/dev/null || status=$? # quiet: bash would report each "Killed"
    if "$kept_test" "$id"; then kept+=("$id"); fi
    # Printing the id claims the event recorded, even if the kill then beats the exit.
    if [ -s "$work/rec.out" ]; then
      [ "$(cat "$work/rec.out")" = "$id" ] || fail "record printed $(cat "$work/rec.out"), not its event id"
      "$kept_test" "$id" || fail "record claimed $id (exit $status), which is not kept ($kept_test)"
    fi
    if [ "$status" = 0 ]; then
      [ -s "$work/rec.out" ] || fail "record exited 0 without printing its event id"
      acked+=("$id")
      ack=$((ack + 1))
    elif [ "$status" = 137 ]; then
      if "$kept_test" "$id"; then after=$((after + 1)); else before=$((before + 1)); fi
    else
      fail "record $prefix$n exited $status: $(cat "$work/rec.err")"
    fi
    "${after_run:-true}" "$status"
  done
}
# With PostgreSQL down `deploy list` only reads the journal: probe itself shows that it parses,
# every complete line is an event and at most a torn last line is skipped (with a warning).
journal_parses() { # WHAT
  local lines skipped
  "$probe" deploy list --config "$work/record.yaml" --limit 1000 --format json \
    >"$work/list.json" 2>"$work/list.err" || fail "$1: deploy list failed: $(cat "$work/list.err")"
  lines=$(wc -l <"$journal")
  skipped=$(grep -c 'line skipped' "$work/list.err" || true)
  if [ "$skipped" != 0 ] && { [ "$skipped" != 1 ] ||
    ! grep -q "journal $journal:$((lines + 1)): torn last line" "$work/list.err"; }; then
    fail "$1: journal lines skipped other than a torn last one: $(grep 'line skipped' "$work/list.err")"
  fi
  [ "$(jq '.events | length' "$work/list.json")" = "$lines" ] ||
    fail "$1: probe reads $(jq '.events | length' "$work/list.json") events from $lines journal lines"
}

pg_down
span=$(median_us)
span=$((span * 3 / 2))
started=$(now_us)
kill_runs 200 "$span" aaa in_journal
down_ms=$((($(now_us) - started) / 1000))
down_figures="$ack acknowledged, $after killed after the append, $before killed before it"
journal_parses "after 200 kills with PostgreSQL down"
[ "${#kept[@]}" = "$(journal_lines "$journal")" ] ||
  fail "the journal holds $(journal_lines "$journal") events, the runs left ${#kept[@]}"
pass "200 kills with PostgreSQL down in ${down_ms} ms (delays 0-${span} us): $down_figures; the journal parses and holds every acknowledged event"

cp "$journal" "$work/journal.down"

# With PostgreSQL up, each run starts with the journal above put back, so it first replays
# those events (stored by the first run that gets through, offered again after that): kills
# land before, during and after the replay and its atomic rewrite too.
pg_up
pending_before=${#kept[@]}
[ "$pending_before" -gt 0 ] || fail "nothing journaled to replay"
span_up=$(median_us "$work/journal.down")
span_up=$((span_up * 3 / 2))
mid_replay=0
restore_journal() { # STATUS: put the journal back for the next run, counting kills before its rewrite
  if [ "$1" = 137 ] && cmp -s "$journal" "$work/journal.down"; then mid_replay=$((mid_replay + 1)); fi
  cp "$work/journal.down" "$journal"
}
cp "$work/journal.down" "$journal"
after_run=restore_journal kill_runs 60 "$span_up" bbb in_database
up_figures="$ack acknowledged, $after killed after storing, $before killed before ($mid_replay killed with the journal not yet rewritten)"
pass "60 kills with PostgreSQL up, each run replaying the $pending_before journaled events first (delays 0-${span_up} us): $up_figures"

# Any deploy command replays the journal, and replaying once more stores nothing twice: with the
# journal of the runs with PostgreSQL down put back (its events already stored), `deploy list`
# must replay it without a warning. Then every event that was acknowledged or reached the
# journal or the database is stored exactly once.
"$probe" deploy list --config "$work/record.yaml" --limit 10 >/dev/null 2>"$work/list.err" ||
  fail "deploy list after the kills failed: $(cat "$work/list.err")"
if grep -qiE 'warning|error' "$work/list.err"; then fail "deploy list warned: $(cat "$work/list.err")"; fi
[ "$(journal_lines "$journal")" = 0 ] || fail "deploy list left $(journal_lines "$journal") events in the journal"
printf '%s\n' "${acked[@]}" "${kept[@]}" | sort -u >"$work/expected.txt"
pg_psql -Atc "SELECT event_id FROM probe_deploy_events WHERE sha ~ '^(aaa|bbb)'" | sort >"$work/stored.txt"
twice=$(pg_psql -Atc "SELECT string_agg(sha, ' ') FROM (SELECT sha FROM probe_deploy_events WHERE sha ~ '^(aaa|bbb)' GROUP BY sha HAVING count(*) > 1) s")
[ -z "$twice" ] || fail "stored more than once: $twice"
missing=$(comm -23 "$work/expected.txt" "$work/stored.txt")
[ -z "$missing" ] || fail "acknowledged or journaled events not stored: $missing"
extra=$(comm -13 "$work/expected.txt" "$work/stored.txt")
[ -z "$extra" ] || fail "stored events that no run left anywhere: $extra"
pass "then deploy list replays the journal once more: $(wc -l <"$work/stored.txt") events stored, each once, every acknowledged and every journaled one among them"

# ---- 3. The journal's disk full (RLIMIT_FSIZE) ----------------------------------------------
pg_down
# `ulimit -f 1` is 1024 bytes. probe ignores SIGXFSZ, so the write fails with EFBIG instead of
# killing it.
limited_record() { # EVENT_ID SHA [ARGS...] -> exit status in $status
  local id=$1 sha=$2
  shift 2
  status=0
  # shellcheck disable=SC2016 # $@ is the inner shell's
  bash -c 'ulimit -f 1 && exec "$@"' limited "$probe" deploy record --config "$work/record.yaml" \
    --event deploy_started --sha "$sha" --event-id "$id" --actor faults "$@" \
    >"$work/rec.out" 2>"$work/rec.err" || status=$?
}
nothing_claimed() { # WHAT: the last limited_record failed cleanly
  [ "$status" = 1 ] || fail "$1: exit $status, want 1 (stderr: $(cat "$work/rec.err"))"
  [ ! -s "$work/rec.out" ] || fail "$1: claimed on stdout: $(cat "$work/rec.out")"
  grep -qF "journal $journal: cannot append: File too large" "$work/rec.err" ||
    fail "$1: stderr does not name the journal and the problem: $(cat "$work/rec.err")"
  cmp -s "$journal" "$work/journal.before" || fail "$1: the journal changed"
}
big="{\"pad\": \"$(printf '%01100d' 0)\"}" # makes one line longer than the limit by itself

# a) A line over the limit into an empty journal.
: >"$journal"
cp "$journal" "$work/journal.before"
limited_record "$(uuid)" ccc0000 --details "$big"
nothing_claimed "a line over the limit into an empty journal"
# b) A line crossing the limit after one that fits: the part written is cut off again.
record "$(uuid)" ccc0001 || fail "record: $(cat "$work/rec.err")"
cp "$journal" "$work/journal.before"
limited_record "$(uuid)" ccc0002 --details "$big"
nothing_claimed "a line crossing the limit"
# c) A journal already over the limit: not a byte more.
for n in 3 4 5 6; do record "$(uuid)" "ccc000$n" || fail "record: $(cat "$work/rec.err")"; done
[ "$(stat -c %s "$journal")" -gt 1024 ] || fail "the journal is not over 1 KiB"
cp "$journal" "$work/journal.before"
limited_record "$(uuid)" ccc0007
nothing_claimed "a journal over the limit"
record "$(uuid)" ccc0008 || fail "record after the disk-full errors: $(cat "$work/rec.err")"
journal_parses "after the disk-full errors"
pg_up
"$probe" deploy list --config "$work/record.yaml" >/dev/null 2>"$work/list.err" || fail "deploy list: $(cat "$work/list.err")"
if grep -qiE 'warning|error' "$work/list.err"; then fail "deploy list warned: $(cat "$work/list.err")"; fi
ccc=$(pg_psql -Atc "SELECT string_agg(sha, ' ' ORDER BY sha) FROM probe_deploy_events WHERE sha LIKE 'ccc%'")
[ "$ccc" = "ccc0001 ccc0003 ccc0004 ccc0005 ccc0006 ccc0008" ] || fail "stored after disk full: $ccc"
pass "journal disk full (ulimit -f 1): exit 1, \"journal PATH: cannot append: File too large\", nothing on stdout, the journal unchanged; the events around it replayed"

echo "deploy faults: ok"
