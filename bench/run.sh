#!/usr/bin/env bash
# bench/run.sh: the reproducible benchmark of issue 7 ("the clients page").
#
# For each size N it creates a fresh PostgreSQL database, seeds it with
# `partner-clients seed-bench --clients N` (timed), starts the release server,
# gets an administrator token for the big partner (half of all clients), warms
# up, and drives each operation with wrk at CONNECTIONS connections for
# DURATION:
#
#   clients_search          clients(filter: {search: "dent", status: [ACTIVE, ONBOARDING]}, first: 20)
#   clients_search_next     the same, after: the first page's endCursor
#   clients_nosearch        clients(filter: {status: [ACTIVE, ONBOARDING]}, first: 20)
#   clients_nosearch_next   the same, after: the first page's endCursor
#   clients_search_fresh    the list page's own operation: clients(filter: {search: <term>,
#                           status: [ACTIVE, ONBOARDING]}, first: 20) with count(limit: 1000..1999)
#                           instead of totalCount, a different term or limit on every request
#                           (the 336 four-letter substrings of seed-bench's vocabulary, rotating;
#                           bench/fresh.lua): no count comes from the server's count cache
#   client                  client(clientId:) of a real client (the client panel)
#   provision               provisionClient, a new unique clientId on every request
#   assign_unassign         assignPartnerUsers / unassignPartnerUser of an eligible,
#                           unassigned user on one client, alternating (one user per connection)
#
# The clients-page queries select totalCount, pageInfo and per client clientId,
# businessName, webDomain, status and assignments { supportContact user { displayName } }
# (bench/queries/). Every response is checked (bench/*.lua): a non-2xx status
# or a body with "errors" counts as an error, and the report says so.
# Per operation it records req/s, p50, p99 (wrk --latency), errors, the
# server's peak RSS (VmRSS sampled every 100 ms), the CPU used by the server,
# PostgreSQL, wrk, anything else, and the hypervisor's steal time, and SQL
# statements per request (from /metrics). The read operations run first; the
# mutations run last, after the pgbench comparison, because they add rows.
#
# The pgbench comparison: it restarts the server with log_statement='all'
# (and auto_explain) on the database, sends each read operation, reads the exact
# statements it ran from the PostgreSQL log (bench/pglog.pl substitutes the bind
# parameters as literals), runs them as a pgbench custom script (-M prepared) at
# CONNECTIONS clients for DURATION, and reports the service's rate as a % of
# pgbench's. It records EXPLAIN (ANALYZE, BUFFERS) of every captured statement
# and the plans the service's own prepared statements got (auto_explain) under
# bench/out/<N>/, and writes BENCHMARKS.md. The server is stopped and the
# databases dropped on exit (KEEP_DB=1 keeps them).
#
# The peer (issue 15; bench/peer/): PostGraphile 5.1.5 with
# postgraphile-plugin-connection-filter 4.0.1 on Node 22 (all three from
# bench/peer/package-lock.json, `npm ci` there), serving the same database.
# It runs beside the service during the read operations: each read operation
# is measured on the service, then the same page on the peer
# (bench/queries/peer_*.graphql, the same wrk settings and scripts, the same
# checks), so the two alternate in one run. The peer connects as PGURL's
# superuser: no row-level security, and no tenant scoping but the explicit
# partnerId filter in its queries. Before measuring, run.sh checks that the
# peer's pages hold the same clients, in the same order, with the same
# totalCount as the service's. clients_search_fresh on the peer counts with
# totalCount: it has no bounded count.
#
# The SQLite pass (issue 18; bench/sqlite.sh): for each size in SQLITE_SIZES,
# seed-bench into a SQLite file and the same read operations (fresh terms
# included) against the server on it; with BASELINE_BIN, before and after the
# SQLite search index on the same data. Reported in its own section of
# BENCHMARKS.md; a run with BACKENDS=sqlite rewrites only that section.
#
# Usage:   bench/run.sh                    # all sizes: about 35 minutes on 2 cores (10 per size with
#                                          # the peer, plus 3 minutes of seeding at 1M), longer when
#                                          # measurements repeat
#          SIZES="10000 100000" DURATION=30s bench/run.sh
#          REPORT_ONLY=1 bench/run.sh      # rewrite BENCHMARKS.md from bench/out
#          PEER=0 bench/run.sh             # without the PostGraphile peer
#          BACKENDS=sqlite SQLITE_SIZES=100000 BASELINE_BIN=/tmp/base/partner-clients bench/run.sh
#
# Environment (defaults in brackets):
#   BIN          server binary [target/release/partner-clients; built with
#                `cargo build --release` when missing]
#   SIZES        client counts [10000 100000 1000000]
#   BACKENDS     the passes to run: postgres, sqlite or both [postgres sqlite]
#   SQLITE_SIZES client counts of the SQLite pass [100000]
#   BASELINE_BIN a server binary without the SQLite search index (built from the
#                commit before issue 18): the SQLite pass seeds with it, measures
#                ("before"), migrates the file with BIN and measures again ("after")
#   DURATION     per operation, wrk syntax: 30s, 2m [30s]
#   CONNECTIONS  wrk connections and pgbench clients [10]
#   THREADS      wrk and pgbench threads [2]
#   WARMUP       warm-up per read operation [5s]
#   PGURL        PostgreSQL base URL, a superuser (needed for pg_read_file and
#                ALTER DATABASE ... SET log_statement) [postgres://postgres@127.0.0.1:5432]
#   PG_LOG       the server's log file [found via pg_current_logfile(), else
#                /var/log/postgresql/postgresql-<major>-main.log]; without it the
#                pgbench comparison and EXPLAIN are skipped, and the report says so
#   PORT         server port [18080]
#   PEER         1: measure the peer (fail if bench/peer cannot be installed);
#                0: do not; unset: measure it when bench/peer/node_modules is
#                there or `npm ci` there succeeds, else skip it and say why in
#                the report
#   PEER_PORT    the peer's port [18081]
#   SEED_TIMEOUT give up seeding a size after this many seconds [3600]
#   DB_PREFIX    database names are <prefix><label>, e.g. bench_10k [bench_]
#   OUT          raw output directory [bench/out]
#   REPORT       the report [BENCHMARKS.md]
#   KEEP_DB      1: keep the databases
#   QUIET_WAIT   before each measurement, wait up to this many seconds for the
#                machine to be idle (at most QUIET_CORES [0.25] cores busy) [0]
#   NOISY_CORES, RETRIES  a measurement during which other processes (CPU not
#                taken by the server, PostgreSQL or the load tool) plus the
#                hypervisor's steal time exceeded NOISY_CORES [0.3] cores is
#                repeated, up to RETRIES [2] more times; the least disturbed
#                attempt is reported (all attempts stay in bench/out/<N>/)
#   DB_APP_ROLE  the service's PostgreSQL role, which pgbench also runs as
#                [partner_clients_app]
#   PROFILE, PROFILE_SECS, PROFILE_OPS  the in-run profile (bench/profile.sh)
#   REV          the commit BIN was built from, for the report [git HEAD of this checkout]
#
# BENCHMARKS.md is written anew by each run, except the text between a line
# `<!-- kept: begin -->` and a line `<!-- kept: end -->` (markers included):
# every such block of the previous REPORT is appended, verbatim, to the new one.
#
# Needs: wrk, curl, jq, perl, awk; pgbench and psql for the PostgreSQL pass;
# npm for the peer (it installs its own Node 22);
# sqlite3 for the SQLite pass (and strings, if present, to name the SQLite
# version inside the server). Load generator, database and
# server share the machine; the report records its CPU and memory.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"
BIN=${BIN:-$ROOT/target/release/partner-clients}
SIZES=${SIZES:-"10000 100000 1000000"}
BACKENDS=${BACKENDS:-"postgres sqlite"}
SQLITE_SIZES=${SQLITE_SIZES:-100000}
BASELINE_BIN=${BASELINE_BIN:-}
DURATION=${DURATION:-30s}
CONNECTIONS=${CONNECTIONS:-10}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-5s}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432}
PGURL=${PGURL%/}
PG_LOG=${PG_LOG:-}
PORT=${PORT:-18080}
SEED_TIMEOUT=${SEED_TIMEOUT:-3600}
DB_PREFIX=${DB_PREFIX:-bench_}
OUT=${OUT:-$BENCH/out}
REPORT=${REPORT:-$ROOT/BENCHMARKS.md}
KEEP_DB=${KEEP_DB:-0}
REPORT_ONLY=${REPORT_ONLY:-0}
QUIET_WAIT=${QUIET_WAIT:-0}
QUIET_CORES=${QUIET_CORES:-0.25}
NOISY_CORES=${NOISY_CORES:-0.3}
RETRIES=${RETRIES:-2}
URL="http://127.0.0.1:$PORT"
PEER=${PEER:-}
PEER_PORT=${PEER_PORT:-18081}
PEER_DIR="$BENCH/peer"
PEER_URL="http://127.0.0.1:$PEER_PORT"
PEER_NODE="$PEER_DIR/node_modules/node/bin/node"
APP_ROLE=${DB_APP_ROLE:-partner_clients_app}
JWT_SECRET=${JWT_SECRET:-$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=')}
export JWT_SECRET

READ_OPS="clients_search clients_search_next clients_nosearch clients_nosearch_next client"
ALL_OPS="$READ_OPS clients_search_fresh provision assign_unassign"
TERMS="$OUT/terms.txt"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

secs_of() { # wrk duration -> seconds
  local d=$1
  case $d in
    *s) echo "${d%s}" ;; *m) echo $(( ${d%m} * 60 )) ;; *h) echo $(( ${d%h} * 3600 )) ;;
    *[0-9]) echo "$d" ;; *) die "cannot read duration '$d'" ;;
  esac
}
label_of() { # 10000 -> 10k, 1000000 -> 1m
  local n=$1
  if (( n % 1000000 == 0 )); then echo "$((n / 1000000))m"
  elif (( n % 1000 == 0 )); then echo "$((n / 1000))k"
  else echo "$n"; fi
}
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", b - a }'; }
psql_admin() { PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 "$PGURL/postgres" "$@"; }

SERVER_PID=""
SAMPLER_PID=""
DATABASES=()

stop_server() {
  if [[ -n $SERVER_PID ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}
cleanup() {
  local rc=$?
  if [[ -n $SAMPLER_PID ]]; then kill "$SAMPLER_PID" 2>/dev/null || true; fi
  stop_server
  stop_peer
  if [[ $KEEP_DB != 1 ]]; then
    for db in "${DATABASES[@]}"; do
      psql_admin -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" 2>/dev/null || log "could not drop $db"
    done
  fi
  exit "$rc"
}

# --- the server ---------------------------------------------------------------

start_server() { # dburl logfile [extra env...]
  local dburl=$1 logfile=$2
  shift 2
  env DATABASE_URL="$dburl" BIND="127.0.0.1:$PORT" \
    LIMIT_REQUESTS_PER_MINUTE=100000000 LIMIT_MUTATIONS_PER_MINUTE=100000000 \
    RUST_LOG=${SERVER_RUST_LOG:-warn} "$@" "${SERVER_BIN:-$BIN}" serve >"$logfile" 2>&1 &
  SERVER_PID=$!
  local i
  for i in $(seq 1 300); do
    if curl -fsS -o /dev/null "$URL/readyz" 2>/dev/null; then return 0; fi
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$logfile" >&2; die "the server exited"; }
    sleep 0.1
  done
  die "the server did not become ready in 30 s"
}

gql() { # body-file -> response on stdout
  curl -fsS "$URL/graphql" -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $TOKEN" --data-binary @"$1"
}

body() { # query-file variables-json -> JSON request body
  jq -n --rawfile q "$1" --argjson v "$2" '{query: $q, variables: $v}'
}

# The clients_search_fresh body: bench/fresh.lua puts a term and a limit in.
fresh_body() {
  body "$BENCH/queries/clients-page-count.graphql" \
    '{"filter":{"search":"__TERM__","status":["ACTIVE","ONBOARDING"]},"first":20,"limit":999999}'
}

# --- the peer: PostGraphile (issue 15) -----------------------------------------

PEER_PID=""
PEER_ON=0        # 1: measure the peer in this run
PEER_SKIPPED=""  # why not, for the report

# Is bench/peer installed (Node 22, postgraphile, the filter plugin)?
peer_installed() {
  [[ -x $PEER_NODE ]] && "$PEER_NODE" -e 'process.exit(+process.versions.node.split(".")[0] >= 22 ? 0 : 1)' 2>/dev/null &&
    [[ -f $PEER_DIR/node_modules/postgraphile/package.json && -f $PEER_DIR/node_modules/postgraphile-plugin-connection-filter/package.json ]]
}

# Decide whether this run measures the peer (PEER), installing it with
# `npm ci` when needed; records the versions in $OUT/peer.json.
peer_setup() {
  rm -f "$OUT/peer.json"
  if [[ $PEER == 0 ]]; then
    PEER_SKIPPED="not measured in this run (PEER=0)"
  elif ! peer_installed; then
    log "installing the peer: npm ci in $PEER_DIR"
    if ! command -v npm >/dev/null; then
      PEER_SKIPPED="not measured: npm is not installed, so bench/peer could not be installed"
    elif ! (cd "$PEER_DIR" && npm ci --no-audit --no-fund --loglevel=error) >"$OUT/peer-install.txt" 2>&1 || ! peer_installed; then
      PEER_SKIPPED="not measured: \`npm ci\` in bench/peer failed: $(grep -m2 . "$OUT/peer-install.txt" | tr '\n' ' ' | cut -c1-240)(all of it in $OUT/peer-install.txt)"
    fi
  fi
  if [[ -n $PEER_SKIPPED ]]; then
    [[ $PEER == 1 ]] && die "PEER=1 but the peer is $PEER_SKIPPED"
    log "PostGraphile peer $PEER_SKIPPED"
    jq -n --arg why "$PEER_SKIPPED" '{skipped: $why}' >"$OUT/peer.json"
    return 0
  fi
  PEER_ON=1
  jq -n --arg node "$("$PEER_NODE" --version)" --arg pgl "$(peer_pkg_version postgraphile)" \
    --arg filter "$(peer_pkg_version postgraphile-plugin-connection-filter)" \
    --arg graphql "$(peer_pkg_version graphql)" --arg pg "$(peer_pkg_version pg)" \
    '{node: $node, postgraphile: $pgl, connection_filter: $filter, graphql: $graphql, pg: $pg}' >"$OUT/peer.json"
  log "PostGraphile peer: $(jq -r '"postgraphile \(.postgraphile), connection-filter \(.connection_filter), node \(.node)"' "$OUT/peer.json")"
}

peer_pkg_version() { jq -r .version "$PEER_DIR/node_modules/$1/package.json"; }

start_peer() { # dburl logfile
  env PEER_DATABASE_URL="$1" PEER_PORT="$PEER_PORT" PEER_POOL_MAX=10 NODE_ENV=production \
    "$PEER_NODE" "$PEER_DIR/server.mjs" >"$2" 2>&1 &
  PEER_PID=$!
  local i
  for i in $(seq 1 600); do
    if grep -q 'listening' "$2" 2>/dev/null; then return 0; fi
    kill -0 "$PEER_PID" 2>/dev/null || { cat "$2" >&2; PEER_PID=""; die "the peer exited"; }
    sleep 0.1
  done
  die "the peer did not start in 60 s"
}
stop_peer() {
  if [[ -n $PEER_PID ]]; then
    kill "$PEER_PID" 2>/dev/null || true
    wait "$PEER_PID" 2>/dev/null || true
    PEER_PID=""
  fi
}
peer_gql() { # body-file -> response on stdout (the same headers as the service gets)
  curl -sS "$PEER_URL/graphql" -H 'Content-Type: application/json' -H 'Accept: application/json' \
    -H "Authorization: Bearer $TOKEN" --data-binary @"$1"
}
# peer_wrk op duration record script [args]: run_wrk against the peer, its
# process measured as "the server", results to $OUT/peer.jsonl as op.
peer_wrk() {
  local op=$1
  shift
  MEASURED_PID=$PEER_PID TARGET_URL="$PEER_URL/graphql" NO_METRICS=1 RESULTS="$OUT/peer.jsonl" \
    RESULT_TAGS=$(jq -cn --arg op "$op" '{op: $op, server: "postgraphile"}') run_wrk "peer_$op" "$@"
}
# The peer's variables: the big partner, the statuses, the term (in both
# search columns: an administrator's search, as the service's token has).
peer_vars() { # partner-id term|"" [after]
  jq -cn --arg p "$1" --arg t "$2" --arg a "${3:-}" '
    {filter: ({partnerId: {equalTo: $p}, status: {in: ["ACTIVE", "ONBOARDING"]}} +
      (if $t == "" then {} else {or: [{searchPublic: {includes: $t}}, {searchContact: {includes: $t}}]} end)),
     first: 20} + (if $a == "" then {} else {after: $a} end)'
}

# Start the peer on the size's database, write its request bodies and check
# that it answers what the service answers: the same clients in the same
# order and the same totalCount, for each page and a few fresh terms.
# Writes $SIZE_OUT/peer-meta.json.
peer_prepare() { # dburl slug
  local dburl=$1 slug=$2 partner
  partner=$(psql -X -At "$dburl" -c "SELECT id FROM partners WHERE slug = '$slug'")
  [[ -n $partner ]] || die "no partner $slug"
  start_peer "$dburl" "$SIZE_OUT/peer.log"
  local rss_idle
  rss_idle=$(awk '/^VmRSS/ { print $2 }' "/proc/$PEER_PID/status")
  local q="$BENCH/queries/peer_clients_page.graphql" ours theirs cursor checks="[]" ok=1
  check_pair() { # op our-response peer-response
    local o=$2 t=$3 e
    if ! jq -e --arg op "$1" '.errors == null and .data.allClients != null and
        ((.data.allClients.nodes | length) > 0 or ($op | startswith("clients_search_fresh")))' >/dev/null <<<"$t"; then
      die "the peer answers errors for $1: $(head -c 500 <<<"$t")"
    fi
    e=$(jq -cn --arg op "$1" --argjson o "$o" --argjson t "$t" '
      ($o.data.clients // null) as $oc | ($t.data.allClients // null) as $tc |
      if $oc != null then
        {op: $op, ours_total: $oc.totalCount, peer_total: $tc.totalCount,
         ours_ids: [$oc.nodes[].clientId], peer_ids: [$tc.nodes[].clientId],
         ours_assignments: [$oc.nodes[].assignments | length], peer_assignments: [$tc.nodes[].clientAssignmentsByClientUuid.nodes | length]}
        | . + {same: (.ours_total == .peer_total and .ours_ids == .peer_ids and .ours_assignments == .peer_assignments and
            ((.peer_ids | length) > 0 or ($op | startswith("clients_search_fresh"))))}
        | del(.ours_ids, .peer_ids, .ours_assignments, .peer_assignments) + {nodes: ($tc.nodes | length)}
      else
        ($t.data.allClients.nodes[0] // {}) as $c |
        {op: $op, ours_client: $o.data.client.clientId, peer_client: $c.clientId,
         ours_assignments: ($o.data.client.assignments | length), peer_assignments: ($c.clientAssignmentsByClientUuid.nodes | length)}
        | . + {same: (.ours_client == .peer_client and .ours_assignments == .peer_assignments)}
      end')
    checks=$(jq -c --argjson e "$e" '. + [$e]' <<<"$checks")
    jq -e .same >/dev/null <<<"$e" || { ok=0; log "  peer: $1 differs from the service: $e"; }
  }
  body "$q" "$(peer_vars "$partner" dent)" >"$SIZE_OUT/body-peer_clients_search.json"
  ours=$(gql "$SIZE_OUT/body-clients_search.json"); theirs=$(peer_gql "$SIZE_OUT/body-peer_clients_search.json")
  printf '%s\n' "$theirs" >"$SIZE_OUT/response-peer_clients_search.json"
  check_pair clients_search "$ours" "$theirs"
  cursor=$(jq -r .data.allClients.pageInfo.endCursor <<<"$theirs")
  body "$q" "$(peer_vars "$partner" dent "$cursor")" >"$SIZE_OUT/body-peer_clients_search_next.json"
  body "$q" "$(peer_vars "$partner" "")" >"$SIZE_OUT/body-peer_clients_nosearch.json"
  ours=$(gql "$SIZE_OUT/body-clients_nosearch.json"); theirs=$(peer_gql "$SIZE_OUT/body-peer_clients_nosearch.json")
  check_pair clients_nosearch "$ours" "$theirs"
  cursor=$(jq -r .data.allClients.pageInfo.endCursor <<<"$theirs")
  body "$q" "$(peer_vars "$partner" "" "$cursor")" >"$SIZE_OUT/body-peer_clients_nosearch_next.json"
  local op
  for op in clients_search_next clients_nosearch_next; do
    ours=$(gql "$SIZE_OUT/body-$op.json"); theirs=$(peer_gql "$SIZE_OUT/body-peer_$op.json")
    check_pair "$op" "$ours" "$theirs"
  done
  local client_id
  client_id=$(jq -r .variables.clientId "$SIZE_OUT/body-client.json")
  body "$BENCH/queries/peer_client.graphql" "$(jq -cn --arg p "$partner" --arg c "$client_id" '{partnerId: $p, clientId: $c}')" \
    >"$SIZE_OUT/body-peer_client.json"
  ours=$(gql "$SIZE_OUT/body-client.json"); theirs=$(peer_gql "$SIZE_OUT/body-peer_client.json")
  printf '%s\n' "$theirs" >"$SIZE_OUT/response-peer_client.json"
  check_pair client "$ours" "$theirs"
  # The fresh terms: bench/fresh.lua puts the term in (both places).
  body "$q" "$(peer_vars "$partner" __TERM__)" >"$SIZE_OUT/body-peer_clients_search_fresh.json"
  ! grep -q 999999 "$SIZE_OUT/body-peer_clients_search_fresh.json" || die "the peer's fresh body holds 999999 (fresh.lua's limit placeholder)"
  local t
  for t in $(awk 'NR % 67 == 1' "$TERMS"); do
    ours=$(gql <(body "$BENCH/queries/clients-page.graphql" "$(jq -cn --arg t "$t" '{filter: {search: $t, status: ["ACTIVE", "ONBOARDING"]}, first: 20}')"))
    theirs=$(peer_gql <(body "$q" "$(peer_vars "$partner" "$t")"))
    check_pair "clients_search_fresh ($t)" "$ours" "$theirs"
  done
  log "  peer: $(jq -r 'map(select(.same)) | length' <<<"$checks")/$(jq -r length <<<"$checks") pages the same as the service's"
  jq -n --arg partner "$partner" --argjson checks "$checks" --argjson ok "$ok" --argjson rss_idle "${rss_idle:-0}" \
    '{partner_id: $partner, checks: $checks, same: ($ok == 1), rss_idle_kib: $rss_idle}' >"$SIZE_OUT/peer-meta.json"
}

# The fresh terms (bench/terms.pl).
make_terms() {
  perl "$BENCH/terms.pl" "$ROOT/src/ops/synthetic.rs" >"$TERMS"
  [[ -s $TERMS ]] || die "no fresh terms"
}

metric() { # name -> value (sum over label sets); 0 while measuring the peer
  if [[ ${NO_METRICS:-0} == 1 ]]; then echo 0; return; fi
  curl -fsS "$URL/metrics" | awk -v m="$1" '$1 == m || index($1, m "{") == 1 { s += $NF } END { printf "%d\n", s }'
}

cpu_ticks() { # -> "busy steal server postgres" in clock ticks (busy: user+nice+system+irq+softirq)
  local busy server pg
  busy=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $9 }' /proc/stat)
  server=0
  local pid=${MEASURED_PID:-$SERVER_PID}
  if [[ -n $pid ]]; then server=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0); fi
  # utime + stime of every postgres process, plus the reaped children's time
  # the postmaster has accumulated (backends that exited: pgbench's connections)
  pg=$(cat /proc/[0-9]*/stat 2>/dev/null | awk '$2 == "(postgres)" { s += $14 + $15 + $16 + $17 } END { print s + 0 }')
  echo "$busy $server $pg"
}

busy_cores() { # CPU busy over 2 s, in cores
  local a b
  a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
  sleep 2
  b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
  awk -v a="$a" -v b="$b" -v n="$(nproc)" 'BEGIN { split(a, x, " "); split(b, y, " ");
    t = (y[1] - x[1]) + (y[2] - x[2]); printf "%.2f\n", (t > 0 ? n * (y[1] - x[1]) / t : 0) }'
}
wait_quiet() { # wait up to QUIET_WAIT seconds for the machine to be idle
  (( QUIET_WAIT > 0 )) || return 0
  local waited=0 b
  while :; do
    b=$(busy_cores)
    awk -v b="$b" -v l="$QUIET_CORES" 'BEGIN { exit !(b <= l) }' && return 0
    if (( waited >= QUIET_WAIT )); then log "  the machine is still busy ($b cores): measuring anyway"; return 0; fi
    (( waited == 0 )) && log "  waiting for the machine to be quiet ($b cores busy)"
    sleep 3
    waited=$((waited + 5))
  done
}

rss_sampler() { # pid -> VmRSS in kB, one line every 100 ms, until killed
  while kill -0 "$1" 2>/dev/null; do
    awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null || true
    sleep 0.1
  done
}

# run_wrk op duration record(0|1) script [wrk args after --...]
# A measurement during which other processes took more than NOISY_CORES is
# repeated (up to RETRIES times), after waiting for the machine to be quiet.
run_wrk() {
  local op=$1 attempt best="" d bestd=999
  if [[ $3 != 1 ]]; then wrk_once "$@"; return 0; fi
  for attempt in $(seq 1 $((RETRIES + 1))); do
    wait_quiet
    wrk_once "$@"
    cp "$SIZE_OUT/wrk-$op.txt" "$SIZE_OUT/wrk-$op.attempt$attempt.txt"
    d=$(jq -r '.cpu_other + .cpu_steal' <<<"$LAST_RESULT")
    if awk -v d="$d" -v b="$bestd" 'BEGIN { exit !(d < b) }'; then
      best=$(jq -c --argjson a "$attempt" '. + {attempt: $a}' <<<"$LAST_RESULT"); bestd=$d
    fi
    awk -v d="$d" -v l="$NOISY_CORES" 'BEGIN { exit !(d <= l) }' && break
    (( attempt <= RETRIES )) && log "  $op: disturbed (other processes $(jq -r '.cpu_other | . * 100 | round / 100' <<<"$LAST_RESULT"), steal $(jq -r '.cpu_steal | . * 100 | round / 100' <<<"$LAST_RESULT") cores): measuring again"
  done
  local results=${RESULTS:-$OUT/results.jsonl} tags=${RESULT_TAGS:-'{}'}
  jq -c --argjson n "$attempt" --argjson tags "$tags" '. + {attempts: $n} + $tags' <<<"$best" >>"$results"
  cp "$SIZE_OUT/wrk-$op.attempt$(jq -r .attempt <<<"$best").txt" "$SIZE_OUT/wrk-$op.txt"
  log "  $op: $(tail -1 "$results" | jq -r '"\(.rps | round) req/s, p50 \(.p50_ms) ms, p99 \(.p99_ms) ms, errors \(.errors), peak RSS \(.rss_kib / 1024 | floor) MiB, \(.stmts_per_req | . * 10 | round / 10) statements/request, CPU server \(.cpu_server | . * 100 | round / 100) postgres \(.cpu_postgres | . * 100 | round / 100) wrk \(.cpu_wrk | . * 100 | round / 100) other \(.cpu_other | . * 100 | round / 100) steal \(.cpu_steal | . * 100 | round / 100) (attempt \(.attempt)/\(.attempts))"')"
  if grep -q '^BENCH_SAMPLE_ERROR' "$SIZE_OUT/wrk-$op.txt"; then
    log "  $op had errors: $(grep '^BENCH_SAMPLE_ERROR' "$SIZE_OUT/wrk-$op.txt" | cut -c1-300)"
  fi
}

# fresh.lua: each run gets its own window of 25 passes over the terms
# (FRESH_SALT), so that no run's (term, limit) pairs repeat an earlier run's
# against the same server, whose count cache would answer them.
FRESH_NEXT=0
fresh_window() { # script threads
  [[ $1 == fresh.lua ]] || return 0
  export FRESH_SALT=$FRESH_NEXT FRESH_THREADS=$2
  FRESH_NEXT=$((FRESH_NEXT + 25))
}

LAST_RESULT=""
wrk_once() {
  local op=$1 dur=$2 record=$3 script=$4
  shift 4
  local threads=$THREADS
  [[ $op == assign_unassign ]] && threads=$CONNECTIONS
  local raw="$SIZE_OUT/wrk-$op.txt" rssf="$SIZE_OUT/rss-$op.txt"
  [[ $record == 1 ]] || raw="$SIZE_OUT/warmup-$op.txt"
  local stmts0 cpu0 cpu1 t0 t1 load0 wrk_cpu TIMEFORMAT='%U %S'
  fresh_window "$script" "$threads"
  stmts0=$(metric partner_clients_db_statements_total)
  load0=$(cut -d' ' -f1 /proc/loadavg)
  cpu0=$(cpu_ticks)
  t0=$(date +%s.%N)
  rss_sampler "${MEASURED_PID:-$SERVER_PID}" >"$rssf" &
  SAMPLER_PID=$!
  # `time` gives wrk's own CPU time, so that the rest can be told apart.
  if ! { time wrk -t "$threads" -c "$CONNECTIONS" -d "$dur" --latency --timeout 10s -s "$BENCH/$script" \
      "${TARGET_URL:-$URL/graphql}" -- "$@" >"$raw" 2>&1; } 2>"$SIZE_OUT/time-$op.txt"; then
    kill "$SAMPLER_PID" 2>/dev/null || true; SAMPLER_PID=""; cat "$raw" >&2; die "wrk failed ($op)"
  fi
  t1=$(date +%s.%N)
  cpu1=$(cpu_ticks)
  wrk_cpu=$(awk '{ print $1 + $2 }' "$SIZE_OUT/time-$op.txt")
  kill "$SAMPLER_PID" 2>/dev/null || true
  wait "$SAMPLER_PID" 2>/dev/null || true
  SAMPLER_PID=""
  [[ $record == 1 ]] || return 0
  local res stmts1 rss hz
  res=$(sed -n 's/^BENCH_RESULT //p' "$raw")
  [[ -n $res ]] || { cat "$raw" >&2; die "no result from wrk ($op)"; }
  stmts1=$(metric partner_clients_db_statements_total)
  rss=$(sort -n "$rssf" | tail -1)
  hz=$(getconf CLK_TCK)
  LAST_RESULT=$(jq -c -n --argjson r "$res" --arg op "$op" --arg size "$N" \
    --argjson stmts "$((stmts1 - stmts0))" --argjson rss "${rss:-0}" \
    --arg cpu0 "$cpu0" --arg cpu1 "$cpu1" --argjson wall "$(elapsed "$t0" "$t1")" --argjson hz "$hz" \
    --argjson wrk_cpu "$wrk_cpu" --argjson load0 "$load0" '
    ($cpu0 | split(" ") | map(tonumber)) as $a | ($cpu1 | split(" ") | map(tonumber)) as $b |
    $r + {size: ($size | tonumber), op: $op, rss_kib: $rss, loadavg_before: $load0,
      errors: ($r.non2xx + $r.gql_errors + $r.socket_errors),
      stmts_per_req: (if $r.requests > 0 then ($stmts / $r.requests) else 0 end),
      cpu_total: (($b[0] - $a[0]) / $hz / $wall), cpu_steal: (($b[1] - $a[1]) / $hz / $wall),
      cpu_server: (($b[2] - $a[2]) / $hz / $wall), cpu_postgres: (($b[3] - $a[3]) / $hz / $wall),
      cpu_wrk: ($wrk_cpu / $wall)} |
      . + {cpu_other: ([.cpu_total - .cpu_server - .cpu_postgres - .cpu_wrk, 0] | max)}')
}

# pgbench_once op secs -> sets LAST_PGBENCH (JSON)
LAST_PGBENCH=""
pgbench_once() { # op secs dburl [role: run as it, as the service does (PGOPTIONS -c role=)]
  local op=$1 secs=$2 dburl=$3 role=${4:-} TIMEFORMAT='%U %S' cpu0 cpu1 t0 t1 hz
  cpu0=$(cpu_ticks)
  t0=$(date +%s.%N)
  local as_role=()
  [[ -z $role ]] || as_role=(PGOPTIONS="-c role=$role")
  if ! { time env "${as_role[@]}" pgbench -n -M prepared -c "$CONNECTIONS" -j "$THREADS" -T "$secs" \
      -f "$SIZE_OUT/pgbench-$op.sql" "$dburl" >"$SIZE_OUT/pgbench-$op.txt" 2>&1; } 2>"$SIZE_OUT/time-pgbench-$op.txt"; then
    cat "$SIZE_OUT/pgbench-$op.txt" >&2; die "pgbench failed ($op)"
  fi
  t1=$(date +%s.%N)
  cpu1=$(cpu_ticks)
  hz=$(getconf CLK_TCK)
  local tps lat failed
  tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$SIZE_OUT/pgbench-$op.txt" | tail -1)
  lat=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "$SIZE_OUT/pgbench-$op.txt")
  failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$SIZE_OUT/pgbench-$op.txt")
  LAST_PGBENCH=$(jq -c -n --arg size "$N" --arg op "$op" --arg role "$role" --argjson tps "${tps:-0}" --argjson lat "${lat:-null}" \
    --argjson failed "${failed:-0}" --argjson n "$(grep -c '^;$' "$SIZE_OUT/pgbench-$op.sql")" \
    --arg cpu0 "$cpu0" --arg cpu1 "$cpu1" --argjson wall "$(elapsed "$t0" "$t1")" --argjson hz "$hz" \
    --argjson pgb_cpu "$(awk '{ print $1 + $2 }' "$SIZE_OUT/time-pgbench-$op.txt")" '
    ($cpu0 | split(" ") | map(tonumber)) as $a | ($cpu1 | split(" ") | map(tonumber)) as $b |
    {size: ($size | tonumber), op: $op, role: $role, tps: $tps, latency_ms: $lat, failed: $failed, statements: $n,
     cpu_postgres: (($b[3] - $a[3]) / $hz / $wall), cpu_pgbench: ($pgb_cpu / $wall),
     cpu_total: (($b[0] - $a[0]) / $hz / $wall), cpu_steal: (($b[1] - $a[1]) / $hz / $wall)} |
    . + {cpu_other: ([.cpu_total - .cpu_postgres - .cpu_pgbench, 0] | max)}')
}

# --- the PostgreSQL log ---------------------------------------------------------

find_pg_log() {
  [[ -n $PG_LOG ]] && { echo "$PG_LOG"; return; }
  local f major
  f=$(psql_admin -Atc "SELECT CASE WHEN current_setting('logging_collector') = 'on'
        THEN current_setting('data_directory') || '/' || pg_current_logfile() END" 2>/dev/null || true)
  if [[ -z $f ]]; then
    major=$(psql_admin -Atc "SHOW server_version_num" | cut -c1-2)
    f=/var/log/postgresql/postgresql-$major-main.log
  fi
  if psql_admin -Atc "SELECT size FROM pg_stat_file('$f')" >/dev/null 2>&1; then echo "$f"; fi
}
log_size() { psql_admin -Atc "SELECT size FROM pg_stat_file('$PG_LOG')"; }
log_since() { # offset -> the log text written since
  psql_admin -Atc "SELECT pg_read_file('$PG_LOG', $1, size - $1) FROM pg_stat_file('$PG_LOG')"
}

# --- one size -------------------------------------------------------------------

bench_size() {
  N=$1
  local label db dburl
  label=$(label_of "$N")
  db="$DB_PREFIX$label"
  dburl="$PGURL/$db"
  SIZE_OUT="$OUT/$N"
  rm -rf "$SIZE_OUT"
  mkdir -p "$SIZE_OUT"
  log "== $N clients (database $db)"

  psql_admin -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"
  psql_admin -c "CREATE DATABASE \"$db\""
  DATABASES+=("$db")

  local t0 t1 seed_rc=0
  t0=$(date +%s.%N)
  DATABASE_URL=$dburl timeout "$SEED_TIMEOUT" "$BIN" seed-bench --clients "$N" >"$SIZE_OUT/seed.txt" 2>"$SIZE_OUT/seed.err" || seed_rc=$?
  t1=$(date +%s.%N)
  local seed_s
  seed_s=$(elapsed "$t0" "$t1")
  if [[ $seed_rc != 0 ]]; then
    local why="seed-bench failed (exit $seed_rc): $(head -c 300 "$SIZE_OUT/seed.err")"
    [[ $seed_rc == 124 ]] && why="seed-bench did not finish within SEED_TIMEOUT=${SEED_TIMEOUT}s"
    log "  $why; skipping $N"
    jq -n --arg size "$N" --arg why "$why" --argjson s "$seed_s" '{size: ($size | tonumber), skipped: $why, seed_s: $s}' >"$SIZE_OUT/meta.json"
    return 0
  fi
  local slug email
  slug=$(sed -n 1p "$SIZE_OUT/seed.txt")
  email=$(sed -n 2p "$SIZE_OUT/seed.txt")
  log "  seeded in ${seed_s%.*} s: partner $slug, admin $email"
  # Plans should not depend on when autovacuum wakes up after the bulk load.
  t0=$(date +%s.%N)
  psql -X -q "$dburl" -c "VACUUM (ANALYZE)"
  t1=$(date +%s.%N)
  local vacuum_s
  vacuum_s=$(elapsed "$t0" "$t1")
  local counts
  counts=$(psql -X -At "$dburl" -c "SELECT json_build_object(
      'clients', (SELECT count(*) FROM clients),
      'big_partner_clients', (SELECT count(*) FROM clients c JOIN partners p ON p.id = c.partner_id WHERE p.slug = '$slug'),
      'assignments', (SELECT count(*) FROM client_assignments),
      'users', (SELECT count(*) FROM users),
      'db_size', pg_size_pretty(pg_database_size(current_database())))")

  TOKEN=$(DATABASE_URL=$dburl "$BIN" token --email "$email" --ttl 2h 2>"$SIZE_OUT/token.err")
  export TOKEN

  # Request bodies.
  local search_vars nosearch_vars
  search_vars='{"filter":{"search":"dent","status":["ACTIVE","ONBOARDING"]},"first":20}'
  nosearch_vars='{"filter":{"status":["ACTIVE","ONBOARDING"]},"first":20}'
  body "$BENCH/queries/clients-page.graphql" "$search_vars" >"$SIZE_OUT/body-clients_search.json"
  body "$BENCH/queries/clients-page.graphql" "$nosearch_vars" >"$SIZE_OUT/body-clients_nosearch.json"
  fresh_body >"$SIZE_OUT/body-clients_search_fresh.json"

  start_server "$dburl" "$SIZE_OUT/server.log"
  local rss_idle
  rss_idle=$(awk '/^VmRSS/ { print $2 }' "/proc/$SERVER_PID/status")
  local page1 cursor client_id total_search total_nosearch
  page1=$(gql "$SIZE_OUT/body-clients_search.json")
  jq -e '.errors == null' >/dev/null <<<"$page1" || die "the clients page answers errors: $page1"
  cursor=$(jq -r '.data.clients.pageInfo.endCursor' <<<"$page1")
  client_id=$(jq -r '.data.clients.nodes[0].clientId' <<<"$page1")
  total_search=$(jq -r '.data.clients.totalCount' <<<"$page1")
  body "$BENCH/queries/clients-page.graphql" "$(jq -c --arg c "$cursor" '. + {after: $c}' <<<"$search_vars")" >"$SIZE_OUT/body-clients_search_next.json"
  local p
  p=$(gql "$SIZE_OUT/body-clients_nosearch.json")
  total_nosearch=$(jq -r '.data.clients.totalCount' <<<"$p")
  cursor=$(jq -r '.data.clients.pageInfo.endCursor' <<<"$p")
  body "$BENCH/queries/clients-page.graphql" "$(jq -c --arg c "$cursor" '. + {after: $c}' <<<"$nosearch_vars")" >"$SIZE_OUT/body-clients_nosearch_next.json"
  body "$BENCH/queries/client.graphql" "$(jq -cn --arg c "$client_id" '{clientId: $c}')" >"$SIZE_OUT/body-client.json"
  for op in clients_search_next clients_nosearch_next client; do
    p=$(gql "$SIZE_OUT/body-$op.json")
    jq -e '.errors == null' >/dev/null <<<"$p" || die "$op answers errors: $p"
  done
  # Assign/unassign targets: users eligible for the client and not assigned to it.
  local setup users n_users
  setup=$(gql <(body "$BENCH/queries/setup.graphql" "$(jq -cn --arg c "$client_id" '{clientId: $c}')"))
  users=$(jq -r '[.data.client.assignments[].user.id] as $a | [.data.client.eligibleUsers.nodes[].id | select(. as $i | $a | index($i) | not)] | .[]' <<<"$setup")
  n_users=$(wc -w <<<"$users")
  (( n_users > 0 )) || die "no eligible, unassigned user for $client_id: $setup"
  (( n_users >= CONNECTIONS )) || log "  only $n_users eligible users for $CONNECTIONS connections: some share a user, expect NOT_ASSIGNED errors"
  # shellcheck disable=SC2086
  users=$(head -n "$CONNECTIONS" <<<"$users" | tr '\n' ' ')

  # The PostGraphile peer runs beside the service for the read operations:
  # each is measured on the service, then on the peer.
  if [[ $PEER_ON == 1 ]]; then peer_prepare "$dburl" "$slug"; fi

  log "  warm-up ($WARMUP per read operation)"
  for op in $READ_OPS; do
    run_wrk "$op" "$WARMUP" 0 query.lua "$SIZE_OUT/body-$op.json"
    if [[ $PEER_ON == 1 ]]; then peer_wrk "$op" "$WARMUP" 0 query.lua "$SIZE_OUT/body-peer_$op.json"; fi
  done
  run_wrk clients_search_fresh "$WARMUP" 0 fresh.lua "$SIZE_OUT/body-clients_search_fresh.json" "$TERMS"
  if [[ $PEER_ON == 1 ]]; then
    peer_wrk clients_search_fresh "$WARMUP" 0 fresh.lua "$SIZE_OUT/body-peer_clients_search_fresh.json" "$TERMS"
    jq --argjson k "$(awk '/^VmRSS/ { print $2 }' "/proc/$PEER_PID/status")" '. + {rss_warm_kib: $k}' \
      "$SIZE_OUT/peer-meta.json" >"$SIZE_OUT/peer-meta.json.tmp" && mv "$SIZE_OUT/peer-meta.json.tmp" "$SIZE_OUT/peer-meta.json"
  fi
  local rss_warm
  rss_warm=$(awk '/^VmRSS/ { print $2 }' "/proc/$SERVER_PID/status")

  log "  measuring: $CONNECTIONS connections, $DURATION per operation$([[ $PEER_ON == 1 ]] && echo ", the service then the PostGraphile peer")"
  for op in $READ_OPS; do
    run_wrk "$op" "$DURATION" 1 query.lua "$SIZE_OUT/body-$op.json"
    if [[ $PEER_ON == 1 ]]; then peer_wrk "$op" "$DURATION" 1 query.lua "$SIZE_OUT/body-peer_$op.json"; fi
  done
  # Not in the pgbench comparison: its statements change on every request.
  run_wrk clients_search_fresh "$DURATION" 1 fresh.lua "$SIZE_OUT/body-clients_search_fresh.json" "$TERMS"
  if [[ $PEER_ON == 1 ]]; then
    peer_wrk clients_search_fresh "$DURATION" 1 fresh.lua "$SIZE_OUT/body-peer_clients_search_fresh.json" "$TERMS"
  fi
  stop_peer
  if profile_ready; then
    for op in $PROFILE_OPS; do
      case $op in
        clients_search_fresh) profile_op "$op" fresh.lua "$SIZE_OUT/body-$op.json" "$TERMS" ;;
        *) profile_op "$op" query.lua "$SIZE_OUT/body-$op.json" ;;
      esac
    done
  fi
  stop_server

  # pgbench and EXPLAIN before the mutations, which add rows and change the
  # data the read statements see.
  capture_and_pgbench "$db" "$dburl"

  start_server "$dburl" "$SIZE_OUT/server-mutations.log"
  run_wrk provision "$DURATION" 1 provision.lua b
  # shellcheck disable=SC2086
  run_wrk assign_unassign "$DURATION" 1 assign.lua "$client_id" $users
  stop_server

  jq -n --arg size "$N" --arg slug "$slug" --arg email "$email" --argjson seed "$seed_s" --argjson vac "$vacuum_s" \
    --argjson counts "$counts" --arg client "$client_id" --argjson ts "$total_search" --argjson tn "$total_nosearch" \
    --argjson rss_idle "${rss_idle:-0}" --argjson rss_warm "${rss_warm:-0}" '
    {size: ($size | tonumber), partner: $slug, admin: $email, seed_s: $seed, vacuum_s: $vac, counts: $counts,
     client: $client, total_search: $ts, total_nosearch: $tn, rss_idle_kib: $rss_idle, rss_warm_kib: $rss_warm}' \
    >"$SIZE_OUT/meta.json"
}

# Restart the server with every statement logged, send each read operation,
# turn what it ran into pgbench scripts, run them, EXPLAIN them.
capture_and_pgbench() {
  local db=$1 dburl=$2
  if [[ -z $PG_LOG ]]; then
    log "  no readable PostgreSQL log (set PG_LOG): skipping the pgbench comparison"
    return 0
  fi
  log "  capturing the statements of each read operation"
  psql_admin -c "ALTER DATABASE \"$db\" SET log_statement = 'all'"
  local explain_service=0
  if psql_admin -c "LOAD 'auto_explain'" 2>/dev/null; then
    explain_service=1
    psql_admin -c "ALTER DATABASE \"$db\" SET session_preload_libraries = 'auto_explain'" \
      -c "ALTER DATABASE \"$db\" SET auto_explain.log_min_duration = 0" \
      -c "ALTER DATABASE \"$db\" SET auto_explain.log_analyze = on" \
      -c "ALTER DATABASE \"$db\" SET auto_explain.log_buffers = on" \
      -c "ALTER DATABASE \"$db\" SET auto_explain.log_timing = on"
  fi
  # One pooled connection, so that its prepared statements run often enough
  # (PostgreSQL may switch a prepared statement to a generic plan after five
  # executions): the 8th identical request shows the steady state, the one
  # wrk measures. The 1st request of each operation is kept too: it may run
  # statements that later requests skip (a cached count).
  start_server "$dburl" "$SIZE_OUT/server-capture.log" DB_MAX_CONNECTIONS=1
  local op off i
  for op in $READ_OPS; do
    for i in 1 2 3 4 5 6 7 8; do
      if [[ $i == 1 || $i == 8 ]]; then off=$(log_size); fi
      gql "$SIZE_OUT/body-$op.json" >"$SIZE_OUT/response-$op.json"
      if [[ $i == 1 || $i == 8 ]]; then
        sleep 0.3
        local suffix=""
        [[ $i == 1 ]] && suffix="-first"
        log_since "$off" >"$SIZE_OUT/capture-$op$suffix.log"
        perl "$BENCH/pglog.pl" "$db" <"$SIZE_OUT/capture-$op$suffix.log" >"$SIZE_OUT/pgbench-$op$suffix.sql"
        [[ -s $SIZE_OUT/pgbench-$op$suffix.sql ]] ||
          die "no statements captured for $op (is log_line_prefix '%m [%p] %q%u@%d '?)"
      fi
    done
  done
  stop_server
  psql_admin -c "ALTER DATABASE \"$db\" RESET ALL"

  local secs
  secs=$(secs_of "$DURATION")
  for op in $READ_OPS; do
    local attempt best d bestd
    best="" bestd=999
    for attempt in $(seq 1 $((RETRIES + 1))); do
      wait_quiet
      pgbench_once "$op" "$secs" "$dburl"
      cp "$SIZE_OUT/pgbench-$op.txt" "$SIZE_OUT/pgbench-$op.attempt$attempt.txt"
      d=$(jq -r '.cpu_other + .cpu_steal' <<<"$LAST_PGBENCH")
      if awk -v d="$d" -v b="$bestd" 'BEGIN { exit !(d < b) }'; then
        best=$(jq -c --argjson a "$attempt" '. + {attempt: $a}' <<<"$LAST_PGBENCH"); bestd=$d
      fi
      awk -v d="$d" -v l="$NOISY_CORES" 'BEGIN { exit !(d <= l) }' && break
      (( attempt <= RETRIES )) && log "  pgbench $op: disturbed (other $(jq -r '.cpu_other | . * 100 | round / 100' <<<"$LAST_PGBENCH"), steal $(jq -r '.cpu_steal | . * 100 | round / 100' <<<"$LAST_PGBENCH") cores): measuring again"
    done
    jq -c --argjson n "$attempt" '. + {attempts: $n}' <<<"$best" >>"$OUT/pgbench.jsonl"
    cp "$SIZE_OUT/pgbench-$op.attempt$(jq -r .attempt <<<"$best").txt" "$SIZE_OUT/pgbench-$op.txt"
    log "  pgbench $op: $(tail -1 "$OUT/pgbench.jsonl" | jq -r '"\(.statements) statements, \(.tps | round) tps, CPU postgres \(.cpu_postgres | . * 100 | round / 100) pgbench \(.cpu_pgbench | . * 100 | round / 100) other \(.cpu_other | . * 100 | round / 100) steal \(.cpu_steal | . * 100 | round / 100) (attempt \(.attempt)/\(.attempts))"')"
    # The same statements as the service's own role (issue 15): under its
    # row-level security, as the service runs them. The run above is PGURL's
    # superuser, which bypasses the policies.
    wait_quiet
    pgbench_once "$op" "$secs" "$dburl" "$APP_ROLE"
    cp "$SIZE_OUT/pgbench-$op.txt" "$SIZE_OUT/pgbench-$op.as-role.txt"
    jq -c '. + {attempt: 1, attempts: 1}' <<<"$LAST_PGBENCH" >>"$OUT/pgbench-role.jsonl"
    log "  pgbench $op as $APP_ROLE: $(jq -r '"\(.tps | round) tps, CPU postgres \(.cpu_postgres | . * 100 | round / 100) pgbench \(.cpu_pgbench | . * 100 | round / 100)"' <<<"$LAST_PGBENCH")"
  done

  log "  EXPLAIN (ANALYZE, BUFFERS) of the captured statements"
  for op in $READ_OPS; do
    # Every distinct statement of the 1st and the 8th request, in order.
    cat "$SIZE_OUT/pgbench-$op-first.sql" "$SIZE_OUT/pgbench-$op.sql" | perl -e '
      local $/ = "\n;\n";
      my %seen;
      while (my $s = <STDIN>) {
        $s =~ s/\n;\n$//;
        next if $s =~ /^\s*(BEGIN|START|COMMIT|ROLLBACK|END)\b/i;
        # the same statement with other literals (an IN list in another order) once
        (my $k = $s) =~ s/E?\x27(?:[^\x27]|\x27\x27)*\x27/?/g;
        $k =~ s/\?(?:, \?)+/?/g;
        next if $seen{$k}++;
        print "\\echo\n\\echo ---- statement\n";
        print "EXPLAIN (ANALYZE, BUFFERS) $s;\n";
      }' >"$SIZE_OUT/explain-$op.psql"
    psql -X -q -e -v ON_ERROR_STOP=1 "$dburl" -f "$SIZE_OUT/explain-$op.psql" >"$SIZE_OUT/explain-$op.txt" 2>&1 ||
      log "  EXPLAIN failed for $op: see $SIZE_OUT/explain-$op.txt"
    if [[ $explain_service == 1 ]]; then
      # The plans the service's own prepared statements got (auto_explain).
      local suffix
      for suffix in "" -first; do
        perl -ne 'if (/^\S+ \S+ \S+ \[\d+\] \S+ LOG:  duration: .* plan:/) { $p = 1; print "\n$_"; next }
                  if (/^\d{4}-/) { $p = 0 } print if $p' "$SIZE_OUT/capture-$op$suffix.log" >"$SIZE_OUT/service-plans-$op$suffix.txt"
      done
    fi
  done
}

# --- the report -----------------------------------------------------------------

fmt_rss() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }

write_report() {
  local results="$OUT/results.jsonl" pgb="$OUT/pgbench.jsonl" peerf="$OUT/peer.jsonl"
  [[ -f $results ]] || touch "$results"
  [[ -f $pgb ]] || touch "$pgb"
  [[ -f $peerf ]] || touch "$peerf"
  [[ -f $OUT/pgbench-role.jsonl ]] || touch "$OUT/pgbench-role.jsonl"
  # Hand-written blocks of the previous report, markers included, kept verbatim.
  local kept=""
  if [[ -f $REPORT ]]; then
    kept=$(perl -ne 'if (/^<!-- kept: begin -->$/) { $in = 1 } print if $in; $in = 0 if $in && /^<!-- kept: end -->$/' "$REPORT")
  fi
  local cpu mem pgver kernel
  cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
  mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
  pgver=$(psql_admin -Atc "SELECT version()" 2>/dev/null | sed 's/ on .*//' || echo unknown)
  kernel=$(uname -r)
  local rev=${REV:-}
  if [[ -z $rev ]]; then
    rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
    if ! git -C "$ROOT" diff --quiet HEAD -- src Cargo.toml migration entity 2>/dev/null; then rev="$rev (with uncommitted changes)"; fi
  fi
  local sizes_done
  sizes_done=$(jq -s -r 'map(.size) | unique | map(tostring) | join(" ")' "$results")

  {
    echo "# Benchmarks"
    echo
    echo "Written by \`bench/run.sh\` on $(date -u +%Y-%m-%d) from commit $rev. The workload, targets and"
    echo "method are those of issue 7: \"the clients page\" for the big partner, who"
    echo "holds half of all clients."
    echo
    echo "## Machine"
    echo
    echo "| | |"
    echo "|---|---|"
    echo "| CPU | $(nproc) cores, $cpu |"
    echo "| memory | $mem |"
    echo "| kernel | $kernel |"
    echo "| database | $pgver, local (127.0.0.1), default configuration (shared_buffers $(psql_admin -Atc 'SHOW shared_buffers' 2>/dev/null || echo '?')) |"
    echo "| load | wrk $(wrk --version 2>&1 | awk 'NR == 1 { print $2 }'), $CONNECTIONS connections, $THREADS threads ($CONNECTIONS for assign/unassign), $DURATION per operation after a $WARMUP warm-up per read operation |"
    echo "| server | release build, PostgreSQL pool of 10 (\`DB_MAX_CONNECTIONS\` default), rate limits lifted, \`RUST_LOG=warn\` |"
    if [[ -f $OUT/peer.json ]]; then
      jq -r 'if .skipped then "| peer | PostGraphile \(.skipped) |"
        else "| peer | PostGraphile \(.postgraphile) (Amber preset) with postgraphile-plugin-connection-filter \(.connection_filter), graphql \(.graphql), pg \(.pg), on Node \(.node) (`NODE_ENV=production`), pg pool of 10, schema introspected once at start (no watch mode, no GraphiQL), connected as the PostgreSQL superuser: **no row-level security**, no tenant scoping but the `partnerId` filter in its queries (`bench/peer/`) |" end' "$OUT/peer.json"
    fi
    echo
    echo "Load generator, database and server **share the $(nproc) cores**: every number below"
    echo "is for the whole stack on one small machine, not for the server alone. The"
    echo "CPU columns say where the cores went during each run (1.00 = one core busy for"
    echo "the whole run): the server process, all PostgreSQL processes, wrk, *other*"
    echo "(whatever else was busy: the kernel's network work not charged to a process,"
    echo "the RSS sampler, other processes) and *steal* (time the hypervisor gave to"
    echo "other virtual machines while this one wanted to run). A measurement with more"
    echo "than $NOISY_CORES cores of other + steal was repeated (up to $RETRIES times) and the least"
    echo "disturbed attempt is reported (*attempt*); large *other* or *steal* values mean"
    echo "the numbers are lower than an undisturbed machine would give."
    echo
    echo "## Reproduce"
    echo
    echo '```sh'
    echo 'apt-get install -y wrk postgresql-client jq curl sqlite3   # pgbench comes with postgresql-client / postgresql-contrib'
    echo 'cargo build --release'
    echo '# the PostGraphile peer: run.sh runs `npm ci` in bench/peer when needed (Node 22 comes from npm there); PEER=0 skips it'
    echo 'SIZES="10000 100000 1000000" DURATION=30s bench/run.sh   # PGURL=postgres://postgres@127.0.0.1:5432 (a superuser)'
    echo '```'
    echo
    if [[ -f $OUT/run.json ]]; then
      jq -r '"This run (SIZES=\"\(.sizes)\" DURATION=\(.duration)" + (if .quiet_wait then " QUIET_WAIT=\(.quiet_wait) NOISY_CORES=\(.noisy_cores) RETRIES=\(.retries)" else "" end) + ") took \(.seconds / 60 | floor) min \(.seconds % 60) s, seeding included."' "$OUT/run.json"
      echo
    fi
    echo "\`bench/run.sh\` documents its parameters at the top. Raw output (wrk and pgbench"
    echo "output, captured statements, full plans, server logs) goes to \`bench/out/<N>/\`."
    echo
    echo "Operations (queries in \`bench/queries/\`, wrk scripts in \`bench/*.lua\`):"
    echo
    echo "- **clients_search**: \`clients(filter: {search: \"dent\", status: [ACTIVE, ONBOARDING]}, first: 20)\`, by businessName, with \`totalCount\`, \`pageInfo\` and per client \`clientId businessName webDomain status assignments { supportContact user { displayName } }\`"
    echo "- **clients_search_next**: the same with \`after:\` the first page's \`endCursor\`"
    echo "- **clients_nosearch**, **clients_nosearch_next**: the same without \`search\`"
    echo "- **clients_search_fresh**: the list page's own operation, \`count(limit:)\` instead of \`totalCount\`, searching each time for another of the 336 four-letter runs of letters in seed-bench's names (\`maple\`, \`tulsa\`, \`dent\`...) with \`status: [ACTIVE, ONBOARDING]\`; the term or the limit (1000-1999) changes on every request, and no (term, limit) pair repeats one of an earlier run against the same server (the warm-up's, a retry's, the profile's: \`FRESH_SALT\`), so no count comes from the count cache (\`bench/fresh.lua\`). Not in the pgbench comparison"
    echo "- **client**: \`client(clientId:)\` of a real client (the first of the search page), the client panel's fields"
    echo "- **provision**: \`provisionClient\`, a new unique \`clientId\` every request"
    echo "- **assign_unassign**: \`assignPartnerUsers\` then \`unassignPartnerUser\` of one eligible, unassigned user, alternating, on one client; each connection has its own user"
    echo
    if [[ -s $peerf ]]; then
      echo "The read operations also ran on **PostGraphile** (the peer, issue 15; see Machine),"
      echo "on the same database and data, each right after the service's run of the same"
      echo "operation, with the same wrk settings, scripts and checks, with"
      echo "\`bench/queries/peer_clients_page.graphql\` (\`allClients(filter: {partnerId: {equalTo: <the big partner>},"
      echo "status: {in: [ACTIVE, ONBOARDING]}, or: [{searchPublic: {includes: \"dent\"}}, {searchContact: {includes: \"dent\"}}]},"
      echo "orderBy: [SORT_NAME_ASC, ROW_ID_ASC], first: 20)\` with the same fields, the assignments through"
      echo "\`clientAssignmentsByClientUuid\`) and \`peer_client.graphql\` (\`allClients(condition: {partnerId:, clientId:})\`:"
      echo "the unique (partner_id, client_id) is an index, not a constraint, so PostGraphile has no lookup field for it). Its fresh-terms run counts with"
      echo "\`totalCount\`: PostGraphile has no bounded count. Before measuring, run.sh checks that the"
      echo "peer's pages hold the same clients in the same order, with the same \`totalCount\` and"
      echo "assignments, as the service's (the search and unsearched pages, their next pages, the"
      echo "client panel, and a few fresh terms)."
      echo
    fi
    echo "An error is a non-2xx response, a body with \`errors\`, a socket error, or for"
    echo "the mutations a non-empty \`userErrors\` (or \`created: false\`). RSS is the"
    echo "server's VmRSS sampled every 100 ms during the operation; *peak RSS* is the"
    echo "largest sample. *stmts/req* is \`partner_clients_db_statements_total\` from"
    echo "\`/metrics\` divided by the requests served."
    echo

    local n
    for n in $sizes_done; do
      local meta="$OUT/$n/meta.json"
      echo "## $(label_of "$n" | sed 's/k$/ thousand/; s/m$/ million/') clients ($n)"
      echo
      if [[ -f $meta ]] && jq -e '.skipped' "$meta" >/dev/null 2>&1; then
        echo "Not measured: $(jq -r .skipped "$meta")."
        echo
        continue
      fi
      if [[ -f $meta ]]; then
        jq -r '"Data: \(.counts.clients) clients (the big partner `\(.partner)`: \(.counts.big_partner_clients)), \(.counts.assignments) assignments, \(.counts.users) users; database \(.counts.db_size). " +
          "`seed-bench` took **\(.seed_s | floor) s** (then `VACUUM (ANALYZE)` \(.vacuum_s | . * 10 | round / 10) s). " +
          "The search page has totalCount \(.total_search), the unsearched one \(.total_nosearch). " +
          "Server RSS: \(.rss_idle_kib / 1024 | . * 10 | round / 10) MiB idle, \(.rss_warm_kib / 1024 | . * 10 | round / 10) MiB after warm-up."' "$meta"
        echo
      fi
      echo "| operation | req/s | p50 | p99 | max | errors | peak RSS | stmts/req | CPU server | CPU postgres | CPU wrk | CPU other | steal | attempt |"
      echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
      jq -r --argjson n "$n" 'select(.size == $n) |
        "| \(.op) | \(.rps | round) | \(.p50_ms | . * 100 | round / 100) ms | \(.p99_ms | . * 100 | round / 100) ms | \(.max_ms | round) ms | " +
        (if .errors == 0 then "0" else "**\(.errors)** (\(.non2xx) non-2xx, \(.gql_errors) errors/userErrors, \(.socket_errors) socket)" end) +
        " | \(.rss_kib / 1024 | . * 10 | round / 10) MiB | \(.stmts_per_req | . * 100 | round / 100) | \(.cpu_server | . * 100 | round / 100) | \(.cpu_postgres | . * 100 | round / 100) | \(.cpu_wrk | . * 100 | round / 100) | \(.cpu_other | . * 100 | round / 100) | \(.cpu_steal // 0 | . * 100 | round / 100) | \(.attempt // 1)/\(.attempts // 1) |"' "$results"
      echo
      if [[ -n $(jq -c --argjson n "$n" 'select(.size == $n)' "$peerf") ]]; then
        echo "Against PostGraphile (the peer), the same page on the same database; each operation ran on the"
        echo "service, then on the peer. *ratio*: the service's req/s over the peer's. The peer's CPU,"
        echo "RSS and errors are its own (the node process); *CPU postgres* is PostgreSQL's during the peer's run."
        echo "clients_search_fresh: the service counts with \`count(limit:)\`, the peer with \`totalCount\`."
        echo
        if [[ -f $OUT/$n/peer-meta.json ]]; then
          jq -r '"PostGraphile RSS: \(.rss_idle_kib / 1024 | . * 10 | round / 10) MiB idle, \(.rss_warm_kib // 0 | . / 1024 | . * 10 | round / 10) MiB after warm-up. " +
            "Its answers: \(.checks | map(select(.same)) | length) of \(.checks | length) checked pages the same as the service'"'"'s" +
            (if .same then "." else "; **differing**: " + (.checks | map(select(.same | not) | tostring) | join("; ")) + "." end)' "$OUT/$n/peer-meta.json"
          echo
        fi
        echo "| operation | partner-clients | PostGraphile | ratio | PostGraphile p50 | PostGraphile errors | PostGraphile peak RSS | CPU PostGraphile | CPU postgres | CPU wrk | CPU other | steal | attempt |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        jq -r -s --argjson n "$n" --slurpfile pr "$peerf" '
          def ms: . * 100 | round / 100;
          def c: . // 0 | . * 100 | round / 100;
          map(select(.size == $n)) as $r |
          $pr | map(select(.size == $n))[] | . as $p | ($r | map(select(.op == $p.op)) | first) as $s |
          "| \($p.op) | " + (if $s then "\($s.rps | round) req/s, p99 \($s.p99_ms | ms) ms" else "—" end) +
          " | \($p.rps | round) req/s, p99 \($p.p99_ms | ms) ms | " +
          (if $s and $p.rps > 0 then "\($s.rps / $p.rps | . * 100 | round / 100) ×" else "—" end) +
          " | \($p.p50_ms | ms) ms | " +
          (if $p.errors == 0 then "0" else "**\($p.errors)** (\($p.non2xx) non-2xx, \($p.gql_errors) errors, \($p.socket_errors) socket)" end) +
          " | \($p.rss_kib / 1024 | . * 10 | round / 10) MiB | \($p.cpu_server | c) | \($p.cpu_postgres | c) | \($p.cpu_wrk | c) | \($p.cpu_other | c) | \($p.cpu_steal | c) | \($p.attempt // 1)/\($p.attempts // 1) |"' "$results"
        echo
      fi
      if [[ -n $(jq -c --argjson n "$n" 'select(.size == $n)' "$pgb") ]]; then
        echo "Against pgbench running the same statements (captured from the PostgreSQL log with their"
        echo "parameters as literals, \`pgbench -M prepared -c $CONNECTIONS -j $THREADS\`, one transaction = one request's statements, server stopped)."
        echo "With literal values PostgreSQL plans each statement for those values; the service's"
        echo "prepared statements with bind parameters may run generic plans instead (see Plans):"
        echo "where the two differ, so does the work per request."
        echo
        echo "pgbench runs as PGURL's superuser, which bypasses row-level security (the policies never"
        echo "run), and again as the service's own role \`$APP_ROLE\` (\`PGOPTIONS='-c role=…'\`, the startup"
        echo "parameter the service's pool uses): the same statements under the same policies (issue 15)."
        echo
        echo "| operation | statements | pgbench tps | pgbench latency | CPU postgres | CPU pgbench | CPU other | steal | service req/s | service / pgbench | pgbench as $APP_ROLE | service / that |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        jq -r -s --argjson n "$n" --slurpfile pg "$pgb" --slurpfile pgr "$OUT/pgbench-role.jsonl" '
          map(select(.size == $n)) as $r |
          $pg | map(select(.size == $n))[] | . as $p | ($r | map(select(.op == $p.op)) | first) as $s |
          ($pgr | map(select(.size == $n and .op == $p.op)) | first) as $q |
          "| \($p.op) | \($p.statements) | \($p.tps | round) | \($p.latency_ms) ms | \($p.cpu_postgres // 0 | . * 100 | round / 100) | \($p.cpu_pgbench // 0 | . * 100 | round / 100) | \($p.cpu_other // 0 | . * 100 | round / 100) | \($p.cpu_steal // 0 | . * 100 | round / 100) | \($s.rps // 0 | round) | \(if $p.tps > 0 then ($s.rps // 0) / $p.tps * 100 | round else 0 end) % | \(if $q then "\($q.tps | round) tps" else "—" end) | \(if $q and $q.tps > 0 then "\(($s.rps // 0) / $q.tps * 100 | round) %" else "—" end) |"' "$results"
        echo
      fi
    done

    profile_report
    echo
    echo "## Targets (issue 7)"
    echo
    echo "| target | measured | |"
    echo "|---|---|---|"
    target_row() { # description size op field cmp limit unit
      local desc=$1 size=$2 op=$3 field=$4 cmp=$5 limit=$6 unit=$7 v
      v=$(jq -r --argjson n "$size" --arg op "$op" --arg f "$field" 'select(.size == $n and .op == $op) | .[$f]' "$results" | head -1)
      if [[ -z $v ]]; then echo "| $desc | not measured | — |"; return; fi
      local ok
      ok=$(awk -v v="$v" -v l="$limit" -v c="$cmp" 'BEGIN { print ((c == "ge" && v >= l) || (c == "le" && v <= l)) ? "met" : "**missed**" }')
      printf '| %s | %s %s | %s |\n' "$desc" "$(awk -v v="$v" 'BEGIN { printf (v >= 100 ? "%.0f" : "%.1f"), v }')" "$unit" "$ok"
    }
    local seed1m
    seed1m=$(jq -r 'select(.skipped == null) | .seed_s' "$OUT/1000000/meta.json" 2>/dev/null || true)
    if [[ -n $seed1m ]]; then
      printf '| seed-bench, 1M clients in under 2 minutes | %s s | %s |\n' "$(awk -v s="$seed1m" 'BEGIN { printf "%d", s }')" \
        "$(awk -v s="$seed1m" 'BEGIN { print (s < 120) ? "met" : "**missed**" }')"
    elif [[ -f $OUT/1000000/meta.json ]]; then
      echo "| seed-bench, 1M clients in under 2 minutes | $(jq -r .skipped "$OUT/1000000/meta.json") | **missed** |"
    else
      echo "| seed-bench, 1M clients in under 2 minutes | not measured | — |"
    fi
    target_row "clients page with search, 100k: ≥ 400 req/s" 100000 clients_search rps ge 400 "req/s"
    target_row "clients page with search, 100k: p99 ≤ 50 ms" 100000 clients_search p99_ms le 50 "ms"
    target_row "clients page without search, 100k: ≥ 800 req/s" 100000 clients_nosearch rps ge 800 "req/s"
    target_row "clients page with search, 1M: ≥ 150 req/s" 1000000 clients_search rps ge 150 "req/s"
    target_row "clients page without search, 1M: ≥ 400 req/s" 1000000 clients_nosearch rps ge 400 "req/s"
    local maxrss
    maxrss=$(jq -s -r 'if length == 0 then "" else (max_by(.rss_kib) | "\(.rss_kib) \(.size) \(.op)") end' "$results")
    if [[ -n $maxrss ]]; then
      read -r k s o <<<"$maxrss"
      printf '| server RSS ≤ 64 MiB under load | peak %s (%s, %s) | %s |\n' "$(fmt_rss "$k")" "$(label_of "$s")" "$o" \
        "$(awk -v k="$k" 'BEGIN { print (k <= 65536) ? "met" : "**missed**" }')"
    else
      echo "| server RSS ≤ 64 MiB under load | not measured | — |"
    fi
    jq -r -s --slurpfile pg "$pgb" '
      . as $r | $pg | map(. as $p | ($r | map(select(.size == $p.size and .op == $p.op)) | first) as $s |
        select($s != null and $p.tps > 0) | {size: .size, op: .op, pct: ($s.rps / $p.tps * 100)}) |
      if length == 0 then "| service ≥ 70 % of pgbench on its own statements | not measured | — |"
      else group_by(.size)[] |
        "| service ≥ 70 % of pgbench on its own statements, \(.[0].size) clients | " +
        (map("\(.op) \(.pct | round) %") | join(", ")) + " | " +
        (if all(.pct >= 70) then "met" elif any(.pct >= 70) then "**missed** for " + (map(select(.pct < 70) | .op) | join(", ")) else "**missed**" end) + " |" end' "$results"
    local errs
    errs=$(cat "$results" "$peerf" | jq -r -s 'map(select(.errors > 0) | "\(if .server then "PostGraphile " else "" end)\(.op) at \(.size): \(.errors)") | join("; ")')
    echo
    if [[ -n $errs ]]; then
      echo "**Runs with errors** (see the tables above and \`bench/out/<N>/wrk-<operation>.txt\`): $errs."
    else
      echo "No run had an error: every response was 2xx without \`errors\` (and without \`userErrors\` for the mutations)$([[ -s $peerf ]] && echo ", the PostGraphile peer's included")."
    fi
    echo

    echo "## Plans"
    echo
    echo "Each statement the service ran for one request, captured from the PostgreSQL log"
    echo "(\`log_statement = 'all'\`). Left: \`EXPLAIN (ANALYZE, BUFFERS)\` with the parameters"
    echo "as literal values, after the read benchmarks (warm cache). Right: the plan the"
    echo "service's own prepared statement got (auto_explain), on the 8th identical request over"
    echo "one pooled connection, i.e. after PostgreSQL's plan cache had the chance to switch"
    echo "to a generic plan (marked). *rows removed* counts rows read and thrown away by a"
    echo "filter or recheck. Full output: \`bench/out/<N>/explain-<operation>.txt\` and"
    echo "\`service-plans-<operation>.txt\`; the pgbench scripts are \`pgbench-<operation>.sql\`."
    echo
    for n in $sizes_done; do
      for op in $READ_OPS; do
        local f="$OUT/$n/explain-$op.txt"
        [[ -f $f ]] || continue
        echo "### $op, $(label_of "$n")"
        echo
        local only=--table-only
        [[ $op == clients_search || $op == clients_nosearch ]] && only=""
        perl "$BENCH/plans.pl" $only "$f" "$OUT/$n/pgbench-$op.sql" "$OUT/$n/service-plans-$op.txt" "$OUT/$n/service-plans-$op-first.txt"
      done
    done
    if [[ -n $kept ]]; then
      echo
      printf '%s\n' "$kept"
    fi
  } >"$REPORT"
  log "wrote $REPORT"
}

# --- main -------------------------------------------------------------------------

# shellcheck source=bench/sqlite.sh
source "$BENCH/sqlite.sh"
# shellcheck source=bench/profile.sh
source "$BENCH/profile.sh"

has_backend() { [[ " $BACKENDS " == *" $1 "* ]]; }

mkdir -p "$OUT"
if [[ $REPORT_ONLY == 1 ]]; then
  # Each part from its own results: a part without results keeps its text.
  if [[ -s $OUT/results.jsonl ]]; then write_report; fi
  write_sqlite_section
  exit 0
fi

tools="wrk curl jq perl awk"
has_backend postgres && tools="$tools pgbench psql"
has_backend sqlite && tools="$tools sqlite3"
for tool in $tools; do
  command -v "$tool" >/dev/null || die "$tool is not installed"
done
if [[ ! -x $BIN ]]; then
  log "building $BIN"
  (cd "$ROOT" && cargo build --release)
fi
[[ -x $BIN ]] || die "no binary at $BIN"
[[ -z $BASELINE_BIN || -x $BASELINE_BIN ]] || die "no binary at BASELINE_BIN=$BASELINE_BIN"
if has_backend postgres; then
  psql_admin -c "SELECT 1" >/dev/null || die "cannot connect to $PGURL/postgres"
  PG_LOG=$(find_pg_log)
  [[ -n $PG_LOG ]] && log "PostgreSQL log: $PG_LOG" || log "PostgreSQL log not readable: the pgbench comparison will be skipped"
fi

trap cleanup EXIT
trap 'exit 130' INT TERM
make_terms
START=$(date +%s)
if has_backend postgres; then
  rm -f "$OUT/results.jsonl" "$OUT/pgbench.jsonl" "$OUT/run.json" "$OUT/peer.jsonl" "$OUT/profiles.jsonl" "$OUT/pgbench-role.jsonl"
  peer_setup
  for N in $SIZES; do
    bench_size "$N"
    if [[ $KEEP_DB != 1 ]]; then
      psql_admin -c "DROP DATABASE IF EXISTS \"$DB_PREFIX$(label_of "$N")\" WITH (FORCE)"
    fi
  done
  log "measured in $(( $(date +%s) - START )) s"
  jq -n --argjson s "$(( $(date +%s) - START ))" --arg sizes "$SIZES" --arg d "$DURATION" --argjson q "$QUIET_WAIT" \
    --argjson n "$NOISY_CORES" --argjson r "$RETRIES" \
    '{seconds: $s, sizes: $sizes, duration: $d, quiet_wait: $q, noisy_cores: $n, retries: $r}' >"$OUT/run.json"
  write_report
fi
if has_backend sqlite; then
  sqlite_pass
  log "SQLite pass done, $(( $(date +%s) - START )) s since the start"
  write_sqlite_section
fi
