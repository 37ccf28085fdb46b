# shellcheck shell=bash
# Helpers shared by deploy.sh, rollback.sh and deploy-check.sh. Sourced, not run. The scripts
# run on production servers, so every command they run goes through `run`: one place that
# shows it (quoted, so the line can be pasted back into a shell) and that --dry-run stops.
# Inputs are never pasted into a shell string: commands are arrays, values are argv elements.
#
#   log MSG...                  one line on stderr, prefixed with the script's name
#   die [CODE] MSG...           log MSG, exit CODE (default 1)
#   run [NAME=VALUE...] CMD...  print "+ NAME=VALUE CMD ARG..." (each word printf %q-quoted) and
#                               run CMD with the assignments in its environment; with DRY_RUN=1
#                               only print. The trace goes to stderr (like `set -x`), under
#                               --dry-run to stdout, where it is the script's output;
#                               RUN_TRACE=0 turns it off outside --dry-run.
#   trace_cd DIR                cd DIR, traced like `run` (also under --dry-run)
#   valid_ref VALUE             true when VALUE is a git SHA or an image tag (probe's rule)
#   require_ref WHAT VALUE      exit 2 unless valid_ref VALUE
#   env_file_get FILE NAME      print NAME's value from a Compose .env file; false when absent
#   probe_setup DIR             probe_cmd/probe_url: probe on the host or in the sidecar
#   run_to FILE CMD...          run CMD with stdout to FILE (--dry-run: shown, not written)
#   run_from FILE CMD...        run CMD with stdin from FILE
#   private_dir DIR             true when only this user (or root) can write DIR
#   check_probe_lock_file       PROBE_LOCK_FILE checked by probe's rules (exit 2 when unsafe)
#   acquire_deploy_lock DIR     one deploy.sh/rollback.sh at a time per DIR (exit 5 when held)

# Never taken from the environment: only a script's --dry-run flag turns it on.
DRY_RUN=0
RUN_TRACE=1
SCRIPT_NAME=${0##*/}
# The production stack: the base file plus the production overlay that points every service
# at ghcr.io/${GHCR_OWNER}/homeguru-*:${IMAGE_TAG}.
# shellcheck disable=SC2034 # used by the scripts that source this file
COMPOSE=(docker compose -f docker-compose.yml -f docker-compose.prod.yml)
# The descriptor that holds the deploy lock; `run` closes it in every child, so no container,
# daemon or background process started by a command can keep the lock after the script ends.
DEPLOY_LOCK_FD=9

log() {
  printf '%s: %s\n' "$SCRIPT_NAME" "$*" >&2
}

die() {
  local code=1
  if [ $# -gt 1 ] && [[ $1 =~ ^[0-9]+$ ]]; then
    code=$1
    shift
  fi
  log "$*"
  exit "$code"
}

# Prints the trace line for a command: "+ " and the words, each quoted with printf %q.
trace() {
  local line
  printf -v line '%q ' "$@"
  if [ "$DRY_RUN" = 1 ]; then
    printf '+ %s\n' "${line% }"
  elif [ "$RUN_TRACE" = 1 ]; then
    printf '+ %s\n' "${line% }" >&2
  fi
}

run() {
  local assignments=()
  while [ $# -gt 0 ] && [[ $1 =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; do
    assignments+=("$1")
    shift
  done
  [ $# -gt 0 ] || die 2 "run: no command given"
  trace "${assignments[@]}" "$@"
  [ "$DRY_RUN" = 1 ] && return 0
  if [ ${#assignments[@]} -gt 0 ]; then
    env "${assignments[@]}" "$@" 9>&-
  else
    "$@" 9>&-
  fi
}

trace_cd() {
  trace cd "$1"
  cd "$1" || die 2 "cannot enter $1"
}

# probe's rule (README, "Deploys"): a git SHA, 7-40 lower-case hex, or an image tag. The
# classes are spelled out so that no locale can widen them.
valid_ref() {
  local hex=0123456789abcdef
  local word=ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_
  [[ $1 =~ ^[$hex]{7,40}$ ]] || [[ $1 =~ ^[$word][$word.-]{0,127}$ ]]
}

require_ref() {
  # The value is not echoed: it may be anything, terminal escapes included.
  valid_ref "$2" || die 2 "$1: not a git SHA (7-40 lower-case hex) or an image tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})"
}

# Reads NAME=value from a Compose-style .env file without sourcing it (it is not shell): the
# last assignment wins, surrounding single or double quotes are removed, `export ` is allowed.
env_file_get() {
  local file=$1 name=$2 line value found=false
  [ -r "$file" ] || return 1
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%$'\r'}
    if [[ $line =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] \
      && [ "${BASH_REMATCH[2]}" = "$name" ]; then
      value=${BASH_REMATCH[3]}
      found=true
    fi
  done <"$file"
  $found || return 1
  if [[ $value =~ ^\"(.*)\"$ ]] || [[ $value =~ ^\'(.*)\'$ ]]; then
    value=${BASH_REMATCH[1]}
  fi
  printf '%s' "$value"
}

# Where probe runs and where the sidecar is, for deploy.sh and rollback.sh. Sets probe_cmd (the
# command that runs probe) and probe_url, probe_where (host or container), and exports
# PROBE_TOKEN on the host. PROBE_FROM chooses:
#   host       PROBE_BIN, default `probe` on PATH; the token from the environment or $1/.env
#   container  `docker compose ... exec -T probe probe`: the probe in the running sidecar, so a
#              server needs no probe binary; it reaches the sidecar at PROBE_CONTAINER_URL
#              (default http://127.0.0.1:9464, its own listener) with the token Compose gave it
#   auto       (default) host when PROBE_BIN is set or probe is on PATH, else container
# Returns 1, with `probe_problem` set, when probe or the token is missing.
# shellcheck disable=SC2034 # probe_url, probe_where and probe_problem are read by the callers
probe_setup() {
  local from=${PROBE_FROM:-auto}
  probe_problem=
  case $from in
    auto) if [ -n "${PROBE_BIN:-}" ] || command -v probe >/dev/null; then from=host; else from=container; fi ;;
    host | container) ;;
    *) probe_problem="PROBE_FROM must be host, container or auto"; return 1 ;;
  esac
  probe_where=$from
  if [ "$from" = container ]; then
    probe_cmd=("${COMPOSE[@]}" exec -T probe probe)
    probe_url=${PROBE_CONTAINER_URL:-http://127.0.0.1:9464}
    return 0
  fi
  local probe_bin=${PROBE_BIN:-probe}
  probe_cmd=("$probe_bin")
  probe_url=${PROBE_URL:-http://127.0.0.1:9464}
  if ! command -v "$probe_bin" >/dev/null; then
    probe_problem="probe not found (PROBE_BIN=$probe_bin); unset PROBE_BIN to use the probe in the sidecar's container (PROBE_FROM=container)"
    return 1
  fi
  if [ -z "${PROBE_TOKEN:-}" ] && [ -f "$1/.env" ]; then
    PROBE_TOKEN=$(env_file_get "$1/.env" PROBE_TOKEN) || PROBE_TOKEN=
  fi
  if [ -z "${PROBE_TOKEN:-}" ]; then
    probe_problem="PROBE_TOKEN is not set and $1/.env has none (the sidecar's deploy.token)"
    return 1
  fi
  export PROBE_TOKEN
}

# `run CMD > FILE`, but under --dry-run the trace shows the redirection and nothing is written.
run_to() {
  local file=$1
  shift
  if [ "$DRY_RUN" = 1 ]; then
    trace "$@"
    printf '  > %q\n' "$file"
    return 0
  fi
  run "$@" >"$file"
}

# `run CMD < FILE`, traced the same way.
run_from() {
  local file=$1
  shift
  if [ "$DRY_RUN" = 1 ]; then
    trace "$@"
    printf '  < %q\n' "$file"
    return 0
  fi
  run "$@" <"$file"
}

# True when DIR is a directory only this user (or root) can write: owned by this user or root,
# not writable by its group or others, not a symbolic link. The rule probe applies to its own
# lock (README, "Deploys"): anyone else who can write there can replace the lock file with a
# symbolic link, or hold a lock on it that blocks every deploy.
private_dir() {
  local dir=$1 owner mode
  [ -d "$dir" ] && [ ! -L "$dir" ] || return 1
  read -r owner mode < <(stat -c '%u %a' -- "$dir") || return 1
  [ "$owner" = "$(id -u)" ] || [ "$owner" = 0 ] || return 1
  (((8#$mode & 8#022) == 0))
}

# probe's host lock (`--lock-file`) is taken by `probe deploy verify` only after `up -d`: a lock
# probe would refuse (exit 2) would fail the deploy half-way, so PROBE_LOCK_FILE is checked
# before anything changes, by probe's rules. Unset, probe uses its default in a directory private
# to this user (/run/probe as root, else $XDG_RUNTIME_DIR/probe or ~/.local/state/probe), which
# it creates itself. Dies with exit 2 naming the file.
check_probe_lock_file() {
  local file=${PROBE_LOCK_FILE:-} dir
  [ -n "$file" ] || return 0
  dir=$(dirname -- "$file")
  if [ -L "$file" ]; then
    die 2 "probe's lock file $file is a symbolic link; refused: PROBE_LOCK_FILE must name a regular file"
  fi
  if [ -e "$file" ]; then
    [ -f "$file" ] || die 2 "probe's lock file $file is not a regular file; refused"
    [ -w "$file" ] || die 2 "probe's lock file $file is not writable by $(id -un) (left by another user?): remove it or set PROBE_LOCK_FILE"
  fi
  if [ -e "$dir" ]; then
    private_dir "$dir" || die 2 "probe's lock file $file is in $dir, which another user can write (or which is not $(id -un)'s or root's); refused: set PROBE_LOCK_FILE to a file in a directory only $(id -un) can write, or unset it"
    [ -e "$file" ] || [ -w "$dir" ] || die 2 "probe's lock file $file cannot be created: set PROBE_LOCK_FILE"
  fi
}

# deploy.sh holds the lock for its whole run and exports DEPLOY_LOCK_HELD=1, so rollback.sh
# started by probe as deploy.sh's rollback hook does not wait for its own grandparent. The lock
# file is DIR/.deploy.lock; DIR must be private to this user (private_dir), the file must not be
# a symbolic link or anything but a regular file, and it is opened for appending: `>` would
# follow a planted link and truncate what it points to.
acquire_deploy_lock() {
  local file=$1/.deploy.lock
  [ "${DEPLOY_LOCK_HELD:-}" = 1 ] && return 0
  command -v flock >/dev/null || die 2 "flock not found (Debian/Ubuntu: apt-get install util-linux)"
  private_dir "$1" || die 2 "the deploy directory $1 can be written by another user (or is not $(id -un)'s or root's); refused: its lock would not be safe (chmod go-w, and run the scripts as its owner)"
  if [ -L "$file" ] || { [ -e "$file" ] && [ ! -f "$file" ]; }; then
    die 2 "the lock file $file is a symbolic link or not a regular file; refused (remove it)"
  fi
  exec 9>>"$file" || die 2 "cannot open the lock file $file"
  flock -n "$DEPLOY_LOCK_FD" || die 5 "another deploy.sh or rollback.sh holds $file; try again when it is done"
  DEPLOY_LOCK_HELD=1
  export DEPLOY_LOCK_HELD
}

# The command line both deploy.sh and rollback.sh take: [--dry-run] SHA. Sets `sha` (validated)
# and DRY_RUN; calls the script's own `usage` for --help and on bad usage.
parse_sha_args() {
  sha=
  local positional=0
  while [ $# -gt 0 ]; do
    case $1 in
      -h | --help) usage; exit 0 ;;
      -n | --dry-run) DRY_RUN=1 ;;
      --) shift; positional=$((positional + $#)); sha=${1-}; break ;;
      -*) usage >&2; die 2 "unknown option (see --help)" ;;
      *) positional=$((positional + 1)); sha=$1 ;;
    esac
    shift
  done
  [ "$positional" = 1 ] || { usage >&2; die 2 "expected exactly one SHA"; }
  require_ref SHA "$sha"
}

# The rollback probe's hook would have made, made by the deploy script itself from the plan
# `probe deploy verify --no-rollback` printed (PROBE_PREVIOUS_SHA=..., PROBE_FAILED_SHA=...,
# PROBE_DB_REVISION=... lines) when probe ran where the rollback cannot (the sidecar's container
# or pod): ROLLBACK_SCRIPT as if run by hand, which records rollback_started and _succeeded or
# _failed through the sidecar and gates on its /ready. Returns verify's own codes: 3 rolled
# back and healthy, 4 the rollback failed (or the plan names an invalid SHA); VERIFY_STATUS
# when it is not 1, and 1 when there is nothing to roll back to.
roll_back_from_plan() { # VERIFY_STATUS PLAN ROLLBACK_SCRIPT DEPLOYED_SHA
  local verify_status=$1 plan=$2 rollback=$3 deployed=$4 line name value previous='' failed=''
  local revision=''
  [ "$verify_status" = 1 ] || return "$verify_status"
  while IFS= read -r line; do
    [[ $line =~ ^(PROBE_PREVIOUS_SHA|PROBE_FAILED_SHA|PROBE_DB_REVISION)=(.*)$ ]] || continue
    name=${BASH_REMATCH[1]} value=${BASH_REMATCH[2]}
    if [ -n "$value" ] && ! valid_ref "$value"; then
      log "probe printed an invalid $name; not rolling back"
      return 4
    fi
    case $name in
      PROBE_PREVIOUS_SHA) previous=$value ;;
      PROBE_FAILED_SHA) failed=$value ;;
      PROBE_DB_REVISION) revision=$value ;;
    esac
  done <<<"$plan"
  [ -n "$previous" ] || return 1 # nothing to roll back to
  log "the gate failed: rolling back to $previous on this host"
  if env -u PROBE_PREVIOUS_SHA PROBE_FAILED_SHA="${failed:-$deployed}" PROBE_DB_REVISION="$revision" \
    "$rollback" "$previous"; then
    return 3
  fi
  return 4
}

# rollback.sh's (both stacks') audit log when it runs by hand (recording=1; as probe's hook it
# records nothing: probe does). Records rollback event $1 (with JSON details $2) for `sha`, the
# way back from `failed`, through the sidecar at probe_url with probe_cmd; a failure to record
# is logged and does not stop the rollback.
record() {
  [ "${recording:-0}" = 1 ] || return 0
  local command=("${probe_cmd[@]}" deploy record --event "$1" --sha "$sha" --url "$probe_url")
  [ -n "$failed" ] && command+=(--previous "$failed")
  [ -n "${PROBE_ACTOR:-}" ] && command+=(--actor "$PROBE_ACTOR")
  [ -n "${2:-}" ] && command+=(--details "$2")
  if [ "$DRY_RUN" = 1 ]; then
    run "${command[@]}"
  else
    run "${command[@]}" >/dev/null || log "could not record $1 through $probe_url"
  fi
}

# A step of a rollback failed: recorded as rollback_failed, then exit 1 with message $1.
step_failed() {
  record rollback_failed "{\"error\":\"rollback.sh: $1\"}"
  die 1 "$1"
}

# rollback.sh's (both stacks') inputs from probe's hook environment: `revision` (the Alembic
# revision to downgrade to first, PROBE_DB_REVISION) and `failed` (the tag that runs now,
# PROBE_FAILED_SHA, whose image's migrations know the way down). Exits 2 on a bad value.
parse_rollback_env() {
  revision=${PROBE_DB_REVISION:-}
  failed=${PROBE_FAILED_SHA:-}
  if [ -n "$revision" ]; then
    # Alembic revision ids are words (hex by default); the tag rule also keeps out a leading "-".
    valid_ref "$revision" || die 2 "PROBE_DB_REVISION: not an Alembic revision id ([A-Za-z0-9_][A-Za-z0-9_.-]*)"
    [ -n "$failed" ] || die 2 "PROBE_DB_REVISION is set but PROBE_FAILED_SHA is not: the downgrade needs the image that runs now"
  fi
  [ -z "$failed" ] || require_ref PROBE_FAILED_SHA "$failed"
}
