#!/usr/bin/env bash
# The frontend-facing checks, run by CI with the built server binary:
#   codegen    docs/operations/*.graphql validate against schema.graphql and
#              generate TypeScript types (codegen/)
#   typecheck  the generated types compile under tsc --strict
#   schema-lint  graphql-eslint's schema-recommended and Relay rules (pinned in
#              codegen/package.json; exceptions justified in
#              codegen/eslint.config.mjs) pass on schema.graphql
#   e2e        GraphiQL, served by the demo server from the files embedded in
#              the binary, in Chromium with no network but the server: the
#              page says what to paste, loads the schema once the admin token
#              is pasted into its Headers editor (docs explorer, completion),
#              and runs the Viewer query
#   graphql-http  graphql-http's GraphQL-over-HTTP server audits (pinned in
#              e2e/package.json) against the demo server with the admin
#              token: 0 errors and 0 warnings
# Usage: bash .ci/ecosystem.sh PATH/TO/partner-clients   (from the repo root)
# Ends with "ecosystem: N passed, M failed" and exits non-zero on any failure.
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 PATH/TO/partner-clients" >&2
  exit 2
fi
binary=$(realpath "$1")
[[ -x $binary ]] || { echo "ecosystem: $1 is not an executable" >&2; exit 2; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

passed=0
failed=0
failures=()
server_pid=
tmp=$(mktemp -d)

cleanup() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

log() { echo "ecosystem: $*"; }

# check NAME COMMAND...: run one counted check, record the result, go on.
check() {
  local name=$1 start=$SECONDS
  shift
  log "--- $name"
  if "$@"; then
    passed=$((passed + 1))
    log "PASS $name ($((SECONDS - start)) s)"
  else
    failed=$((failed + 1))
    failures+=("$name")
    log "FAIL $name ($((SECONDS - start)) s)"
  fi
}

# --- setup (not counted; a failure here fails the checks that need it) ---

if [[ ! -x /usr/bin/chromium ]]; then
  log "installing chromium (Debian package)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
log "$(/usr/bin/chromium --version 2>/dev/null || echo 'chromium: not installed')"
log "node $(node --version), npm $(npm --version)"

deps_ok=true
start=$SECONDS
if ! (cd codegen && npm ci --no-audit --no-fund --loglevel=error); then
  log "npm ci in codegen/ failed"
  deps_ok=false
fi
audit_deps_ok=true
if ! (cd e2e && npm ci --no-audit --no-fund --loglevel=error); then
  log "npm ci in e2e/ failed"
  audit_deps_ok=false
fi
log "npm ci: $((SECONDS - start)) s"

# The demo server (temp SQLite db, GraphiQL from the binary: no
# --graphiql-assets) on a free port, started once for the checks that need
# it; sets $port and $token (the Northwind admin's, from its banner).
port=
token=
server_ok=
start_server() {
  [[ -n $server_ok ]] && { $server_ok; return; }
  server_ok=false
  port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
  DATABASE_URL="sqlite://$tmp/ecosystem.db?mode=rwc" \
    "$binary" serve --demo --bind "127.0.0.1:$port" >"$tmp/server.out" 2>"$tmp/server.err" &
  server_pid=$!

  for _ in $(seq 1 60); do
    if ! kill -0 "$server_pid" 2>/dev/null; then
      log "the server exited early:"; tail -n 20 "$tmp/server.err" >&2; return 1
    fi
    curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && break
    sleep 0.5
  done
  if ! curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz"; then
    log "the server did not answer /healthz within 30 s:"; tail -n 20 "$tmp/server.err" >&2; return 1
  fi
  # The banner: "# Northwind admin (partner_admin) <ada@...>", then
  # {"Authorization": "Bearer <token>"} on the next line.
  token=$(awk '/partner_admin\) <ada@northwind.example>/ { getline; print; exit }' "$tmp/server.out" |
    sed -nE 's/.*"Bearer ([^"]+)".*/\1/p')
  if [[ -z $token ]]; then
    log "no admin token in the demo banner:"; cat "$tmp/server.out" >&2; return 1
  fi
  server_ok=true
}
server_log() { log "server log (last 20 lines):"; tail -n 20 "$tmp/server.err" >&2; }

# --- checks ---

# The committed manifest must be what codegen emits from the committed
# operations: sync-manifest rewrites a stale copy, and this step then fails.
run_codegen() {
  $deps_ok && rm -rf codegen/generated && (cd codegen && npm run --silent codegen) || return 1
  if git rev-parse --git-dir >/dev/null 2>&1 && ! git diff --quiet -- docs/operations/persisted-documents.json; then
    log "docs/operations/persisted-documents.json was stale (codegen rewrote it): commit the regenerated manifest"
    return 1
  fi
}
run_schema_lint() { $deps_ok && (cd codegen && npm run --silent lint:schema); }
run_typecheck() {
  $deps_ok || return 1
  [[ -f codegen/generated/graphql.ts ]] || { log "no generated types to check (codegen failed)"; return 1; }
  (cd codegen && npm run --silent typecheck)
}

# GraphiQL from the binary: the embedded files answer compressed and
# cacheable, then the browser test (e2e/graphiql.mjs).
run_e2e() {
  $deps_ok || return 1
  start_server || return 1
  local asset="http://127.0.0.1:$port/graphiql/vendor/graphiql@3.8.3/graphiql.min.js" head
  head=$(curl -fsS -o /dev/null -D - -H 'Accept-Encoding: gzip' "$asset" | tr -d '\r') || return 1
  if ! grep -qi '^content-encoding: gzip$' <<<"$head" ||
    ! grep -qi '^cache-control: public, max-age=31536000, immutable$' <<<"$head" ||
    ! grep -qi '^etag: "sha384-' <<<"$head"; then
    log "the embedded graphiql.min.js is not served gzip-compressed and cacheable:"; echo "$head" >&2; return 1
  fi
  local status=0
  GRAPHIQL_URL="http://127.0.0.1:$port/graphql" E2E_TOKEN=$token \
    E2E_SCREENSHOT=${E2E_SCREENSHOT:-$root/.ci/artifacts/graphiql.png} \
    node e2e/graphiql.mjs || status=$?
  ((status == 0)) || server_log
  return "$status"
}

run_audit() {
  $audit_deps_ok || return 1
  start_server || return 1
  local status=0
  (cd e2e && GRAPHQL_URL="http://127.0.0.1:$port/graphql" AUDIT_TOKEN=$token node graphql-http-audit.mjs) ||
    status=$?
  ((status == 0)) || server_log
  return "$status"
}

total_start=$SECONDS
check codegen run_codegen
check typecheck run_typecheck
check schema-lint run_schema_lint
check e2e run_e2e
check graphql-http run_audit

log "total $((SECONDS - total_start)) s after npm ci"
if ((failed > 0)); then
  log "failed: ${failures[*]}"
fi
echo "ecosystem: $passed passed, $failed failed"
((failed == 0))
