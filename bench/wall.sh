#!/usr/bin/env bash
# bench/wall.sh: the tenant wall's cost (issue 13 item 5), in one run.
#
# Two release binaries of the service: WALL_BIN (this checkout: the
# least-privilege role, forced row-level security, tenant settings in every
# request's transaction) and NOWALL_BIN (built from commit 727f646, the last
# before the wall, without mimalloc like the current build). Each seeds its
# own PostgreSQL database with `seed-bench --clients N` (the same generator:
# the same rows; the script checks the totals agree), VACUUM ANALYZE, then
# the read operations of bench/run.sh run against one server at a time,
# alternating wall / no wall, ROUNDS times, wrk at CONNECTIONS for DURATION:
#
#   nosearch  clients page (totalCount, pageInfo, assignments), status filter
#   search    the same, search "dent" repeated (its count comes from the
#             count cache after the first request, on both sides)
#   fresh     the list page with count(limit:), a different four-letter term
#             or limit on every request (bench/fresh.lua): no cache helps
#   client    the client panel of one client
#
# What could flatter either side: "search" repeats one term (cached count,
# warm pages); "fresh" is the workload that defeats the cache. Both servers
# share the machine with PostgreSQL and wrk (2 cores); run it on a quiet
# machine. Prints a markdown table on stdout; raw wrk output in OUT.
#
# Usage: WALL_BIN=target/release/partner-clients NOWALL_BIN=/tmp/nowall-target/release/partner-clients bench/wall.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"
WALL_BIN=${WALL_BIN:-$ROOT/target/release/partner-clients}
NOWALL_BIN=${NOWALL_BIN:?NOWALL_BIN: a release build of commit 727f646}
N=${N:-100000}
DURATION=${DURATION:-12s}
WARMUP=${WARMUP:-3s}
ROUNDS=${ROUNDS:-2}
CONNECTIONS=${CONNECTIONS:-10}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432}
PORT=${PORT:-18090}
OUT=${OUT:-$BENCH/out/wall}
OPS=${OPS:-"nosearch search fresh client"}
URL="http://127.0.0.1:$PORT"
JWT_SECRET=${JWT_SECRET:-$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=')}
export JWT_SECRET
mkdir -p "$OUT"
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
SERVER_PID=""
cleanup() {
  [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  for side in wall nowall; do psql -X -q "$PGURL/postgres" -c "DROP DATABASE IF EXISTS bench_wall_$side WITH (FORCE)" 2>/dev/null; done
  return 0
}
trap cleanup EXIT

bin_of() { if [[ $1 == wall ]]; then echo "$WALL_BIN"; else echo "$NOWALL_BIN"; fi; }
body() { jq -n --rawfile q "$1" --argjson v "$2" '{query: $q, variables: $v}'; }

# The fresh terms, as bench/run.sh makes them.
perl "$BENCH/terms.pl" "$ROOT/src/ops/synthetic.rs" >"$OUT/terms.txt"

declare -A EMAIL
for side in wall nowall; do
  db=bench_wall_$side
  psql -X -q "$PGURL/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
  log "seeding $db with $(bin_of $side)"
  DATABASE_URL="$PGURL/$db" "$(bin_of $side)" seed-bench --clients "$N" >"$OUT/seed-$side.txt" 2>"$OUT/seed-$side.err"
  psql -X -q "$PGURL/$db" -c "VACUUM (ANALYZE)"
  EMAIL[$side]=$(sed -n 2p "$OUT/seed-$side.txt")
done

start() { # side
  local side=$1
  env DATABASE_URL="$PGURL/bench_wall_$side" BIND="127.0.0.1:$PORT" SKIP_MIGRATIONS=true \
    LIMIT_REQUESTS_PER_MINUTE=100000000 LIMIT_MUTATIONS_PER_MINUTE=100000000 RUST_LOG=warn \
    "$(bin_of "$side")" serve >"$OUT/server-$side.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 300); do curl -fsS -o /dev/null "$URL/readyz" 2>/dev/null && return 0; sleep 0.1; done
  cat "$OUT/server-$side.log" >&2
  exit 1
}
stop() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; }
gql() { curl -fsS "$URL/graphql" -H 'Content-Type: application/json' -H "Authorization: Bearer $TOKEN" --data-binary @"$1"; }

run() { # side op round
  local side=$1 op=$2 round=$3 script=query.lua extra=()
  local f="$OUT/body-$side-$op.json"
  [[ $op == fresh ]] && { script=fresh.lua; extra=("$OUT/terms.txt"); }
  wrk -t 2 -c "$WARMUP_C" -d "$WARMUP" -s "$BENCH/$script" "$URL/graphql" -- "$f" "${extra[@]}" >/dev/null
  wrk -t 2 -c "$CONNECTIONS" -d "$DURATION" --latency --timeout 10s -s "$BENCH/$script" "$URL/graphql" -- "$f" "${extra[@]}" \
    >"$OUT/wrk-$side-$op-$round.txt"
  local res
  res=$(sed -n 's/^BENCH_RESULT //p' "$OUT/wrk-$side-$op-$round.txt")
  echo "$side $op $round $(jq -r '"\(.rps | round) \(.p99_ms) \(.non2xx + .gql_errors + .socket_errors)"' <<<"$res")" >>"$OUT/results.txt"
  log "  $side $op round $round: $(jq -r '"\(.rps | round) req/s, p99 \(.p99_ms) ms, errors \(.non2xx + .gql_errors + .socket_errors)"' <<<"$res")"
}
WARMUP_C=$CONNECTIONS

: >"$OUT/results.txt"
for round in $(seq 1 "$ROUNDS"); do
  for side in nowall wall; do
    start "$side"
    TOKEN=$(DATABASE_URL="$PGURL/bench_wall_$side" "$(bin_of "$side")" token --email "${EMAIL[$side]}" --ttl 2h 2>/dev/null)
    export TOKEN
    sv='{"filter":{"search":"dent","status":["ACTIVE","ONBOARDING"]},"first":20}'
    nv='{"filter":{"status":["ACTIVE","ONBOARDING"]},"first":20}'
    body "$BENCH/queries/clients-page.graphql" "$sv" >"$OUT/body-$side-search.json"
    body "$BENCH/queries/clients-page.graphql" "$nv" >"$OUT/body-$side-nosearch.json"
    body "$BENCH/queries/clients-page-count.graphql" \
      '{"filter":{"search":"__TERM__","status":["ACTIVE","ONBOARDING"]},"first":20,"limit":999999}' >"$OUT/body-$side-fresh.json"
    page=$(gql "$OUT/body-$side-search.json")
    echo "$side: search total $(jq -r .data.clients.totalCount <<<"$page"), first $(jq -r .data.clients.nodes[0].clientId <<<"$page")" >>"$OUT/totals.txt"
    body "$BENCH/queries/client.graphql" "$(jq -c '{clientId: .data.clients.nodes[0].clientId}' <<<"$page")" >"$OUT/body-$side-client.json"
    for op in $OPS; do run "$side" "$op" "$round"; done
    stop
  done
done

echo "| operation | no wall req/s (p99 ms) | wall req/s (p99 ms) | wall / no wall |"
echo "|---|---|---|---|"
for op in $OPS; do
  awk -v op="$op" '$2 == op { r[$1] = r[$1] (r[$1] ? ", " : "") $4; p[$1] = p[$1] (p[$1] ? ", " : "") $5; s[$1] += $4; n[$1]++ }
    END { printf "| %s | %s (%s) | %s (%s) | %.2f |\n", op, r["nowall"], p["nowall"], r["wall"], p["wall"], (s["wall"] / n["wall"]) / (s["nowall"] / n["nowall"]) }' \
    "$OUT/results.txt"
done
cat "$OUT/totals.txt" >&2
