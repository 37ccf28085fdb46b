# render-config.awk: fills a config file's ${NAME} placeholders from the environment, for
# programs that read no environment variables themselves (Alertmanager). The one copy of this
# program: the alertmanager service in deploy/docker-compose.yml runs it at every start
# (BusyBox awk in the prom/alertmanager image), and the tests run it with Debian's awk.
#
#   awk -f render-config.awk alertmanager.yml > rendered.yml
#
# - ${NAME} becomes the value of the environment variable NAME. A placeholder whose variable
#   is empty or unset is an error: the line would not be valid config. Comment lines (first
#   non-blank character #) are copied as they are.
# - Lines between "#@ if-set NAME..." and "#@ end" are left out unless every NAME is set and
#   not empty (blocks nest). That is how a notification channel whose secrets are not set is
#   left out instead of failing the whole config. Each block left out is reported on stderr;
#   the marker lines stay in the output as comments.
# - A value containing a double quote, a backslash or a newline is an error: it could end a
#   quoted YAML string early and inject config. No value is ever printed to stderr.
# Exit status 0, or 1 with a message naming FILE:LINE on stderr.

function fail(message) {
  printf "render-config: %s:%d: %s\n", FILENAME, FNR, message > "/dev/stderr"
  failed = 1
  exit 1
}

function warn(message) {
  printf "render-config: %s:%d: %s\n", FILENAME, FNR, message > "/dev/stderr"
}

# The line with every placeholder replaced.
function substitute(line,    out, name, value) {
  out = ""
  while (match(line, /[$][{][A-Za-z_][A-Za-z0-9_]*[}]/)) {
    name = substr(line, RSTART + 2, RLENGTH - 3)
    value = ENVIRON[name]
    if (value == "") {
      fail(name " is empty or unset (put the line in a \"#@ if-set " name "\" block if it is optional)")
    }
    if (index(value, "\"") || index(value, "\\") || index(value, "\n")) {
      fail(name " contains a double quote, backslash or newline, which this file cannot hold")
    }
    out = out substr(line, 1, RSTART - 1) value
    line = substr(line, RSTART + RLENGTH)
  }
  return out line
}

$1 == "#@" && $2 == "if-set" {
  if (NF < 3) {
    fail("#@ if-set names no variable")
  }
  depth++
  missing = ""
  for (i = 3; i <= NF; i++) {
    if ($i !~ /^[A-Za-z_][A-Za-z0-9_]*$/) {
      fail("#@ if-set: \"" $i "\" is not a variable name")
    }
    if (ENVIRON[$i] == "") {
      missing = missing (missing == "" ? "" : ", ") $i
    }
  }
  # Inside a block already left out, the reason has been reported once.
  if (!skip_depth && missing != "") {
    skip_depth = depth
    warn("not set: " missing "; block left out")
  }
  print
  next
}

$1 == "#@" && $2 == "end" {
  if (depth == 0) {
    fail("#@ end without #@ if-set")
  }
  if (skip_depth == depth) {
    skip_depth = 0
  }
  depth--
  print
  next
}

$1 == "#@" {
  fail("unknown directive \"" $2 "\" (#@ if-set NAME... or #@ end)")
}

skip_depth {
  next
}

/^[ \t]*#/ {
  print
  next
}

{
  print substitute($0)
}

END {
  if (!failed && depth > 0) {
    printf "render-config: %s: %d #@ if-set block(s) without #@ end\n", FILENAME, depth > "/dev/stderr"
    exit 1
  }
}
