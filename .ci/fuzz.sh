#!/usr/bin/env bash
# Property-based fuzzing of the GraphQL API from schema.graphql (issue 6).
#
#   .ci/fuzz.sh PATH/TO/partner-clients
#
# Run from anywhere inside a clone. Installs fuzz/requirements.txt into a
# virtualenv in a temporary directory (nothing lands in the repo), starts
# `partner-clients serve --demo` on a free port with a temporary SQLite
# database and raised rate limits, takes the Northwind admin and user tokens
# from its banner, runs fuzz/fuzz_graphql.py (operations generated from the
# schema, then the hostile inputs of DESIGN.md §7), and stops the server.
#
# At the end it reads the server's peak resident set size (VmHWM in
# /proc/PID/status), prints `fuzz: server peak RSS N MiB`, and counts it as one
# more property (`server:peak-rss`), failed above FUZZ_MAX_RSS_MIB.
#
# The last line is `fuzz: N passed, M failed` (N, M count properties); the exit
# status is non-zero when any property failed or the run could not start.
#
# Knobs (environment): FUZZ_EXAMPLES (per property, default 25), FUZZ_BUDGET_S
# (default 120), FUZZ_TIMEOUT_S (hard stop for the fuzzer, default 170),
# FUZZ_ARGS (extra fuzzer flags, e.g. "--seed 7" or "--random -k provision"),
# PYTHON (default python3), FUZZ_ARTIFACTS (report and server log; default
# .ci/artifacts, which git ignores), FUZZ_MAX_RSS_MIB (the server's peak RSS
# allowed, default 64).
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 PATH/TO/partner-clients" >&2
  exit 2
fi

fail_early() {
  echo "fuzz: $*" >&2
  echo "fuzz: 0 passed, 1 failed"
  exit 1
}

BIN=$1
[ -f "$BIN" ] && [ -x "$BIN" ] || fail_early "$BIN is not an executable file"
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-python3}
EXAMPLES=${FUZZ_EXAMPLES:-25}
BUDGET_S=${FUZZ_BUDGET_S:-120}
TIMEOUT_S=${FUZZ_TIMEOUT_S:-170}
ARTIFACTS=${FUZZ_ARTIFACTS:-$REPO/.ci/artifacts}
MAX_RSS_MIB=${FUZZ_MAX_RSS_MIB:-64}
case $MAX_RSS_MIB in '' | *[!0-9]*) fail_early "FUZZ_MAX_RSS_MIB must be a whole number of MiB, not '$MAX_RSS_MIB'" ;; esac

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pc-fuzz.XXXXXX")
SERVER_PID=
stop_server() {
  # SIGTERM, then SIGKILL after 5 s: a server stuck on a hostile document may
  # never finish draining, and the run must not hang on it.
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=
}
cleanup() {
  stop_server
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

started=$(date +%s)

# --- Python dependencies, outside the repo -------------------------------------------
echo "fuzz: installing fuzz/requirements.txt into $WORK/venv"
if "$PYTHON" -m venv "$WORK/venv" >"$WORK/venv.log" 2>&1; then
  PY=$WORK/venv/bin/python
  "$PY" -m pip install --disable-pip-version-check -q -r "$REPO/fuzz/requirements.txt" >>"$WORK/venv.log" 2>&1 \
    || { cat "$WORK/venv.log" >&2; fail_early "pip install failed"; }
else
  # No venv module (e.g. Debian without python3-venv): install into a target dir instead.
  PY=$PYTHON
  "$PY" -m pip install --disable-pip-version-check -q --target "$WORK/site" -r "$REPO/fuzz/requirements.txt" \
    >>"$WORK/venv.log" 2>&1 || { cat "$WORK/venv.log" >&2; fail_early "pip install failed"; }
  export PYTHONPATH="$WORK/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONDONTWRITEBYTECODE=1

# --- Demo server on a free port ------------------------------------------------------
free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

token_after() { # the Bearer token on the line after the first banner line containing $1
  grep -A1 -F -- "$1" "$WORK/server.out" | sed -n 's/.*"Bearer \([^"]*\)".*/\1/p' | head -n 1
}

start_server() {
  PORT=$(free_port)
  rm -f "$WORK"/fuzz.db*
  : >"$WORK/server.out"
  DATABASE_URL="sqlite://$WORK/fuzz.db?mode=rwc" \
  BIND="127.0.0.1:$PORT" \
  LIMIT_REQUESTS_PER_MINUTE=1000000 \
  LIMIT_MUTATIONS_PER_MINUTE=1000000 \
  LOG_FORMAT=text \
    "$BIN" serve --demo >"$WORK/server.out" 2>"$WORK/server.err" </dev/null &
  SERVER_PID=$!
  for _ in $(seq 1 150); do # up to 30 s
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      wait "$SERVER_PID" 2>/dev/null || true
      SERVER_PID=
      return 1
    fi
    ADMIN_TOKEN=$(token_after '(partner_admin)')
    USER_TOKEN=$(token_after '(partner_user)')
    if [ -n "$ADMIN_TOKEN" ] && [ -n "$USER_TOKEN" ] \
      && "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
        "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.2
  done
  return 1
}

ok=
for attempt in 1 2 3; do # a free port can be taken between probing and binding
  if start_server; then ok=1; break; fi
  echo "fuzz: server start attempt $attempt failed:" >&2
  tail -n 20 "$WORK/server.err" >&2 || true
  stop_server
done
[ -n "$ok" ] || fail_early "could not start the demo server ($BIN serve --demo)"
echo "fuzz: demo server pid $SERVER_PID on 127.0.0.1:$PORT (setup took $(( $(date +%s) - started ))s)"

# --- Fuzz ----------------------------------------------------------------------------
mkdir -p "$ARTIFACTS"
rc=0
# shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
FUZZ_ADMIN_TOKEN=$ADMIN_TOKEN FUZZ_USER_TOKEN=$USER_TOKEN \
  timeout --kill-after=10 "$TIMEOUT_S" "$PY" "$REPO/fuzz/fuzz_graphql.py" \
    --url "http://127.0.0.1:$PORT/graphql" \
    --schema "$REPO/schema.graphql" \
    --examples "$EXAMPLES" \
    --budget-s "$BUDGET_S" \
    --report "$ARTIFACTS/fuzz-report.json" \
    ${FUZZ_ARGS:-} 2>&1 | tee "$WORK/fuzz.log" || rc=$?
cp "$WORK/server.err" "$ARTIFACTS/fuzz-server.log" 2>/dev/null || true

summary=$(grep -E '^fuzz: [0-9]+ passed, [0-9]+ failed$' "$WORK/fuzz.log" | tail -n 1 || true)
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] || [ -z "$summary" ]; then
  passed=$(grep -c '^ok ' "$WORK/fuzz.log" || true)
  echo "fuzz: the fuzzer did not finish (exit $rc, limit ${TIMEOUT_S}s)" >&2
  summary="fuzz: ${passed:-0} passed, 1 failed"
  [ "$rc" -ne 0 ] || rc=1
fi
passed=$(echo "$summary" | sed -E 's/^fuzz: ([0-9]+) passed, ([0-9]+) failed$/\1/')
failed=$(echo "$summary" | sed -E 's/^fuzz: ([0-9]+) passed, ([0-9]+) failed$/\2/')

# --- Peak RSS: VmHWM is the high-water mark of the resident set, so one read at the
# end sees the peak of the whole run. --------------------------------------------------
hwm_kb=
if [ -n "$SERVER_PID" ] && [ -r "/proc/$SERVER_PID/status" ]; then
  hwm_kb=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$SERVER_PID/status" 2>/dev/null || true)
fi
if [ -z "$hwm_kb" ]; then
  echo "fuzz: FAIL server:peak-rss: could not read VmHWM of the server (pid ${SERVER_PID:-none}; no longer running?)"
  failed=$((failed + 1)); [ "$rc" -ne 0 ] || rc=1
else
  rss_mib=$(( (hwm_kb + 1023) / 1024 ))
  # The split at the end tells heap growth (anonymous) from the binary's own pages (file).
  split=$(awk '$1 == "RssAnon:" { a = $2 } $1 == "RssFile:" { f = $2 }
    END { if (a != "") printf "; at the end %d MiB anonymous, %d MiB file-backed", a / 1024, f / 1024 }' \
    "/proc/$SERVER_PID/status" 2>/dev/null || true)
  echo "fuzz: server peak RSS $rss_mib MiB (limit $MAX_RSS_MIB MiB$split)"
  if [ "$hwm_kb" -gt $((MAX_RSS_MIB * 1024)) ]; then
    echo "fuzz: FAIL server:peak-rss: $rss_mib MiB is above FUZZ_MAX_RSS_MIB=$MAX_RSS_MIB"
    failed=$((failed + 1)); [ "$rc" -ne 0 ] || rc=1
  else
    passed=$((passed + 1))
  fi
fi
summary="fuzz: $passed passed, $failed failed"

if [ "$rc" -ne 0 ]; then
  echo "fuzz: server log lines with errors (full log: $ARTIFACTS/fuzz-server.log):"
  grep -E 'ERROR|WARN|panick' "$WORK/server.err" | tail -n 40 || true
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "fuzz: the server is no longer running"
  fi
  echo "fuzz: took $(( $(date +%s) - started ))s"
  echo "$summary"
  exit "$rc"
fi
echo "fuzz: took $(( $(date +%s) - started ))s"
echo "$summary"
