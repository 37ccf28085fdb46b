# shellcheck shell=bash
# The Debian packages probe needs to build, test and demo, installed with apt-get when any is
# missing (apt-get update first, as a fresh machine has no package lists). Sourced, not run.
# shellcheck disable=SC2034 # the package lists are read by the scripts that source this

PROBE_BUILD_PACKAGES=(
  g++ make cmake pkg-config git
  libyaml-cpp-dev nlohmann-json3-dev libspdlog-dev libcli11-dev
  prometheus-cpp-dev libcpp-httplib-dev libpqxx-dev libpq-dev libgtest-dev zlib1g-dev
  libcurl4-openssl-dev libssl-dev
)
PROBE_TEST_PACKAGES=(postgresql postgresql-client prometheus prometheus-alertmanager shellcheck
  jq curl openssl yamllint docker-compose wrk caddy busybox chromium)
# The reference apps in deploy/apps/ (tests/shell/test_reference_apps.sh): Debian's Python
# packages of what their pyproject.toml files name, run with /usr/bin/python3; and psql and
# pg_dump for the schema checks and backups.
PROBE_APP_PACKAGES=(python3-fastapi python3-uvicorn python3-sqlalchemy python3-alembic
  python3-psycopg2 python3-python-telegram-bot postgresql-client)
# The ASan+UBSan and TSan runs of the suite and the libFuzzer targets: clang 14, its sanitizer
# and libFuzzer runtimes, and llvm-symbolizer for readable reports.
PROBE_SANITIZER_PACKAGES=(clang libclang-rt-14-dev llvm-14)

# How many jobs builds run (and tests/run.sh's suites, per core): the cores there are, but at
# least two, as a one-core machine still gains from a second compile or test while one waits.
PROBE_JOBS=${PROBE_JOBS:-$(n=$(nproc) && echo $((n < 2 ? 2 : n)))}

# Installs every package named in the arguments that is not installed yet.
install_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$pkg")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]} (apt-get; this can take a few minutes)" >&2
  local sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

# npm (for the workflow and Dockerfile linters) from Debian, unless a Node.js install already
# brings one: Debian's npm package conflicts with NodeSource's nodejs.
install_npm() {
  command -v npm >/dev/null && return 0
  install_packages npm
}

# Configures and builds probe from source tree $1 in $2 (warnings are errors, as in CI); the
# rest of the arguments go to cmake's configure step.
build_probe() {
  local root=$1 build_dir=$2
  shift 2
  cmake -S "$root" -B "$build_dir" -DPROBE_WERROR=ON "$@" >/dev/null || return 1
  cmake --build "$build_dir" -j"$PROBE_JOBS"
}

# Like build_probe, but builds only the targets named after $1 and $2 (e.g. probe
# probe-standin: the demo needs no test binaries), printing cmake's progress on stdout.
build_probe_targets() {
  local root=$1 build_dir=$2
  shift 2
  cmake -S "$root" -B "$build_dir" -DPROBE_WERROR=ON >/dev/null || return 1
  cmake --build "$build_dir" -j"$PROBE_JOBS" --target "$@"
}

# The Kubernetes manifests' test (tests/shell/test_k8s.sh): promtool (prometheus), the linters,
# node and npm for the offline schema validation (tests/shell/k8s/package.json).
PROBE_K8S_TEST_PACKAGES=(prometheus yamllint shellcheck nodejs python3-yaml)

# extract_deb PACKAGE DIR: PACKAGE's files under DIR/root without installing it (apt-get
# download, dpkg-deb -x), for a tool whose package would conflict with one installed (Debian's
# kubectl 1.20 in kubernetes-client beside another kubectl). Kept while DIR/root exists.
extract_deb() {
  local pkg=$1 dir=$2 deb
  [ -d "$dir/root" ] && return 0
  mkdir -p "$dir"
  rm -f "$dir"/*.deb
  if ! (cd "$dir" && apt-get download -q "$pkg" >"$dir/download.log" 2>&1); then
    # A fresh machine has no package lists yet.
    local sudo=()
    [ "$(id -u)" = 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    (cd "$dir" && apt-get download -q "$pkg" >"$dir/download.log" 2>&1) || { cat "$dir/download.log" >&2; return 1; }
  fi
  deb=$(find "$dir" -maxdepth 1 -name "${pkg}_*.deb" | head -n 1)
  [ -n "$deb" ] || { echo "extract_deb: apt-get download $pkg left no .deb in $dir" >&2; return 1; }
  rm -rf "$dir/root.partial"
  dpkg-deb -x "$deb" "$dir/root.partial" && mv "$dir/root.partial" "$dir/root"
}
