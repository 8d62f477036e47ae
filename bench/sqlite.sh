# bench/sqlite.sh: the SQLite pass of bench/run.sh (issue 18); sourced by
# run.sh, which documents the parameters (BACKENDS, SQLITE_SIZES, BASELINE_BIN).
#
# For each size in SQLITE_SIZES: seed-bench into a fresh SQLite file under
# $OUT/sqlite/<N>/, start the release server on it (the default pool and
# pragmas: WAL, synchronous=NORMAL; no ANALYZE, as a deployment would run it),
# and drive the read operations of the PostgreSQL pass plus
# clients_search_fresh with wrk, as that pass does. With BASELINE_BIN (a
# server built without the SQLite search index, e.g. from the commit before
# issue 18), the file is seeded by the baseline, measured with it ("before"),
# then migrated by BIN (the index is built from the existing rows, timed)
# and measured again ("after"): the same data, the same run. Results go to
# $OUT/sqlite/results.jsonl; the report section is spliced into REPORT
# between <!-- sqlite:begin --> and <!-- sqlite:end -->, so that a
# BACKENDS=sqlite run leaves the PostgreSQL sections as they are.

SQLITE_OPS="clients_search clients_search_next clients_search_fresh clients_nosearch clients_nosearch_next client"

sqlite_pass() {
  mkdir -p "$OUT/sqlite"
  rm -f "$OUT/sqlite/results.jsonl" "$OUT/sqlite/one.jsonl"
  local n
  for n in $SQLITE_SIZES; do sqlite_size "$n"; done
}

sqlite_size() {
  N=$1
  SIZE_OUT="$OUT/sqlite/$N"
  rm -rf "$SIZE_OUT"
  mkdir -p "$SIZE_OUT"
  local file="$SIZE_OUT/bench.db"
  local url="sqlite://$file?mode=rwc" seeder=${BASELINE_BIN:-$BIN}
  log "== SQLite, $N clients ($file)"
  local t0 t1 seed_s migrate_s=null size_seeded
  t0=$(date +%s.%N)
  DATABASE_URL=$url timeout "$SEED_TIMEOUT" "$seeder" seed-bench --clients "$N" >"$SIZE_OUT/seed.txt" 2>"$SIZE_OUT/seed.err" ||
    die "seed-bench failed on SQLite: $(tail -c 300 "$SIZE_OUT/seed.err")"
  t1=$(date +%s.%N)
  seed_s=$(elapsed "$t0" "$t1")
  sqlite3 "$file" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
  size_seeded=$(stat -c %s "$file")
  local slug email
  slug=$(sed -n 1p "$SIZE_OUT/seed.txt")
  email=$(sed -n 2p "$SIZE_OUT/seed.txt")
  log "  seeded in ${seed_s%.*} s by $(basename "$seeder"): partner $slug, admin $email"

  if [[ -n $BASELINE_BIN ]]; then
    sqlite_measure before "$BASELINE_BIN" "$url" "$email"
    t0=$(date +%s.%N)
    DATABASE_URL=$url "$BIN" migrate >"$SIZE_OUT/migrate.txt" 2>&1 || die "migrate failed: $(tail -c 300 "$SIZE_OUT/migrate.txt")"
    t1=$(date +%s.%N)
    migrate_s=$(elapsed "$t0" "$t1")
    log "  migrated by $(basename "$BIN") in $migrate_s s (the search index built from $N rows)"
  fi
  sqlite_measure after "$BIN" "$url" "$email"

  sqlite3 "$file" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
  local counts
  counts=$(sqlite3 "$file" "SELECT json_object(
      'clients', (SELECT count(*) FROM clients),
      'big_partner_clients', (SELECT count(*) FROM clients c JOIN partners p ON p.id = c.partner_id WHERE p.slug = '$slug'),
      'assignments', (SELECT count(*) FROM client_assignments),
      'users', (SELECT count(*) FROM users))")
  jq -n --arg size "$N" --arg slug "$slug" --argjson seed "$seed_s" --argjson mig "$migrate_s" --argjson counts "$counts" \
    --argjson seeded "$size_seeded" --argjson final "$(stat -c %s "$file")" --arg version "$(sqlite_version)" \
    --arg baseline "${BASELINE_BIN:-}" '
    {size: ($size | tonumber), partner: $slug, seed_s: $seed, migrate_s: $mig, counts: $counts,
     bytes_seeded: $seeded, bytes_final: $final, sqlite_version: $version, baseline: $baseline}' >"$SIZE_OUT/meta.json"
  [[ $KEEP_DB == 1 ]] || rm -f "$file" "$file-wal" "$file-shm"
}

# The SQLite library inside the server binary (sqlx bundles its own).
sqlite_version() {
  local v
  v=$(strings "$BIN" 2>/dev/null | grep -oE '^3\.[0-9]+\.[0-9]+$' | head -1 || true)
  echo "${v:-unknown}"
}

# sqlite_measure variant server-binary url admin-email
sqlite_measure() {
  local variant=$1 bin=$2 url=$3 email=$4
  RESULTS="$OUT/sqlite/results.jsonl"
  RESULT_TAGS=$(jq -cn --arg v "$variant" '{backend: "sqlite", variant: $v}')
  TOKEN=$(DATABASE_URL=$url "$bin" token --email "$email" --ttl 2h 2>"$SIZE_OUT/token-$variant.err")
  export TOKEN
  local search_vars nosearch_vars
  search_vars='{"filter":{"search":"dent","status":["ACTIVE","ONBOARDING"]},"first":20}'
  nosearch_vars='{"filter":{"status":["ACTIVE","ONBOARDING"]},"first":20}'
  body "$BENCH/queries/clients-page.graphql" "$search_vars" >"$SIZE_OUT/body-clients_search.json"
  body "$BENCH/queries/clients-page.graphql" "$nosearch_vars" >"$SIZE_OUT/body-clients_nosearch.json"
  fresh_body >"$SIZE_OUT/body-clients_search_fresh.json"
  SERVER_BIN=$bin start_server "$url" "$SIZE_OUT/server-$variant.log"
  local page1 p cursor client_id
  page1=$(gql "$SIZE_OUT/body-clients_search.json")
  jq -e '.errors == null' >/dev/null <<<"$page1" || die "the clients page answers errors: $page1"
  cursor=$(jq -r '.data.clients.pageInfo.endCursor' <<<"$page1")
  client_id=$(jq -r '.data.clients.nodes[0].clientId' <<<"$page1")
  jq -r '.data.clients.totalCount' <<<"$page1" >"$SIZE_OUT/total-search-$variant.txt"
  body "$BENCH/queries/clients-page.graphql" "$(jq -c --arg c "$cursor" '. + {after: $c}' <<<"$search_vars")" >"$SIZE_OUT/body-clients_search_next.json"
  p=$(gql "$SIZE_OUT/body-clients_nosearch.json")
  jq -r '.data.clients.totalCount' <<<"$p" >"$SIZE_OUT/total-nosearch-$variant.txt"
  cursor=$(jq -r '.data.clients.pageInfo.endCursor' <<<"$p")
  body "$BENCH/queries/clients-page.graphql" "$(jq -c --arg c "$cursor" '. + {after: $c}' <<<"$nosearch_vars")" >"$SIZE_OUT/body-clients_nosearch_next.json"
  body "$BENCH/queries/client.graphql" "$(jq -cn --arg c "$client_id" '{clientId: $c}')" >"$SIZE_OUT/body-client.json"
  local op
  for op in clients_search_next clients_nosearch_next client; do
    p=$(gql "$SIZE_OUT/body-$op.json")
    jq -e '.errors == null' >/dev/null <<<"$p" || die "$op answers errors: $p"
  done
  log "  $variant: warm-up ($WARMUP per operation)"
  for op in $SQLITE_OPS; do sqlite_wrk "$op" "$WARMUP" 0; done
  log "  $variant: measuring, $CONNECTIONS connections, $DURATION per operation"
  for op in $SQLITE_OPS; do sqlite_wrk "$op" "$DURATION" 1; done
  sqlite_one_at_a_time "$variant"
  stop_server
  RESULTS="" RESULT_TAGS=""
}

sqlite_wrk() { # op duration record
  if [[ $1 == clients_search_fresh ]]; then
    run_wrk "$1" "$2" "$3" fresh.lua "$SIZE_OUT/body-$1.json" "$TERMS"
  else
    run_wrk "$1" "$2" "$3" query.lua "$SIZE_OUT/body-$1.json"
  fi
}

# One request at a time, each fresh term once (limit 2001, 2002, ...: never
# cached), then the unsearched page as many times: every search's own latency,
# less at the mercy of other processes than a saturated run.
sqlite_one_at_a_time() {
  local variant=$1 i=0 t kind f u
  log "  $variant: one request at a time, $(wc -l <"$TERMS") fresh terms and as many unsearched pages"
  for kind in fresh unsearched; do
    : >"$SIZE_OUT/one-$kind-$variant.txt"
  done
  while read -r t; do
    i=$((i + 1))
    jq -c --arg t "$t" --argjson l $((2000 + i)) '.variables.filter.search = $t | .variables.limit = $l' \
      "$SIZE_OUT/body-clients_search_fresh.json" >"$SIZE_OUT/body-one.json"
    f=$(latency_of "$SIZE_OUT/body-one.json") || die "fresh term $t failed"
    u=$(latency_of "$SIZE_OUT/body-clients_nosearch.json") || die "the unsearched page failed"
    printf '%s %s\n' "$f" "$t" >>"$SIZE_OUT/one-fresh-$variant.txt"
    printf '%s\n' "$u" >>"$SIZE_OUT/one-unsearched-$variant.txt"
  done <"$TERMS"
  for kind in fresh unsearched; do
    sort -n "$SIZE_OUT/one-$kind-$variant.txt" | awk -v v="$variant" -v n="$N" -v k="$kind" '
      { a[NR] = $1 * 1000; s += $1 * 1000 }
      END { printf "{\"size\":%d,\"variant\":\"%s\",\"kind\":\"%s\",\"requests\":%d,\"mean_ms\":%.2f,\"p50_ms\":%.2f,\"p90_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f}\n",
        n, v, k, NR, s / NR, a[int(NR * 0.5) + 1], a[int(NR * 0.9) + 1], a[int(NR * 0.99) + 1], a[NR] }' >>"$OUT/sqlite/one.jsonl"
  done
  log "  $variant: $(tail -2 "$OUT/sqlite/one.jsonl" | jq -r '"\(.kind) mean \(.mean_ms) ms p50 \(.p50_ms) p99 \(.p99_ms)"' | paste -sd ';' -)"
}

latency_of() { # body-file -> seconds (fails on an error response)
  local r
  r=$(curl -sS -w '\n%{time_total}' "$URL/graphql" -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $TOKEN" --data-binary @"$1")
  if grep -q '"errors"' <<<"$r"; then log "error response: $(head -c 300 <<<"$r")"; return 1; fi
  tail -1 <<<"$r"
}

# --- the report section -------------------------------------------------------

write_sqlite_section() {
  local results="$OUT/sqlite/results.jsonl" section="$OUT/sqlite/section.md"
  [[ -s $results ]] || { log "no SQLite results: $REPORT keeps its SQLite section"; return 0; }
  {
    echo "<!-- sqlite:begin -->"
    echo "## SQLite"
    echo
    local rev
    rev=${REV:-$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)}
    echo "Measured on $(date +%F) from commit $rev (\`BACKENDS=sqlite SQLITE_SIZES=\"$SQLITE_SIZES\" DURATION=$DURATION\`)."
    echo
    echo "The embedded default (issue 18), on the same machine: \`seed-bench\` into a SQLite file,"
    echo "the release server on it (WAL, the default pool, no \`ANALYZE\`), the read operations"
    echo "above plus **clients_search_fresh**, $CONNECTIONS connections, $DURATION each after a $WARMUP warm-up."
    echo "No pgbench comparison (there is no server to compare with). *before*: the server"
    echo "without the SQLite search index (\`BASELINE_BIN\`); *after*: the same file migrated"
    echo "by this commit's server, which builds the trigram index from the existing rows."
    echo
    local m
    for m in "$OUT"/sqlite/*/meta.json; do
      [[ -f $m ]] || continue
      jq -r '"**\(.size) clients** (the big partner `\(.partner)`: \(.counts.big_partner_clients)), \(.counts.assignments) assignments; SQLite \(.sqlite_version). " +
        "`seed-bench` took \(.seed_s | floor) s; the file was \(.bytes_seeded / 1048576 | floor) MiB" +
        (if .migrate_s then ", \(.bytes_final / 1048576 | floor) MiB after the migration, which built the index in \(.migrate_s | . * 10 | round / 10) s." else " (\(.bytes_final / 1048576 | floor) MiB at the end)." end)' "$m"
      echo
    done
    echo "| size | variant | operation | req/s | p50 | p99 | max | errors | peak RSS | stmts/req | CPU server | CPU wrk | CPU other | steal | attempt |"
    echo "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    jq -r '"| \(.size) | \(.variant) | \(.op) | \(.rps | round) | \(.p50_ms | . * 100 | round / 100) ms | \(.p99_ms | . * 100 | round / 100) ms | \(.max_ms | round) ms | " +
      (if .errors == 0 then "0" else "**\(.errors)**" end) +
      " | \(.rss_kib / 1024 | . * 10 | round / 10) MiB | \(.stmts_per_req | . * 100 | round / 100) | \(.cpu_server | . * 100 | round / 100) | \(.cpu_wrk | . * 100 | round / 100) | \(.cpu_other | . * 100 | round / 100) | \(.cpu_steal // 0 | . * 100 | round / 100) | \(.attempt // 1)/\(.attempts // 1) |"' "$results"
    echo
    if [[ -s $OUT/sqlite/one.jsonl ]]; then
      echo "One request at a time (no concurrency): each of the $(wc -l <"$TERMS" 2>/dev/null || echo 336) fresh terms once, and the"
      echo "unsearched page as many times, in turn; latency as curl saw it (HTTP included)."
      echo
      echo "| size | variant | requests | fresh mean | fresh p50 | fresh p90 | fresh p99 | fresh max | unsearched mean | unsearched p99 | fresh / unsearched mean |"
      echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
      jq -r -s 'group_by([.size, .variant])[] | (map(select(.kind == "fresh")) | first) as $f | (map(select(.kind == "unsearched")) | first) as $u |
        "| \($f.size) | \($f.variant) | \($f.requests) | \($f.mean_ms) ms | \($f.p50_ms) ms | \($f.p90_ms) ms | \($f.p99_ms) ms | \($f.max_ms) ms | \($u.mean_ms) ms | \($u.p99_ms) ms | \($f.mean_ms / $u.mean_ms * 10 | round / 10) × |"' "$OUT/sqlite/one.jsonl"
      echo
    fi
    echo "### Targets (issue 18)"
    echo
    echo "At each size, *after*: the fresh-terms search page (with the bounded count) at 30 % or more"
    echo "of the unsearched page's rate, with a p99 at most 3 times the unsearched p99."
    echo
    echo "| size | variant | fresh / unsearched rate | fresh p99 / unsearched p99 | |"
    echo "|---:|---|---:|---:|---|"
    jq -r -s 'group_by([.size, .variant])[] |
      (map(select(.op == "clients_search_fresh")) | first) as $f | (map(select(.op == "clients_nosearch")) | first) as $u |
      select($f != null and $u != null) |
      ($f.rps / $u.rps) as $r | ($f.p99_ms / $u.p99_ms) as $q |
      "| \($f.size) | \($f.variant) | \($r * 100 | round) % (\($f.rps | round) / \($u.rps | round) req/s) | \($q * 10 | round / 10) × (\($f.p99_ms | round) / \($u.p99_ms | round) ms) | " +
      (if $r >= 0.3 and $q <= 3 then "met" else "**missed**" end) + " |"' "$results"
    echo
    echo "<!-- sqlite:end -->"
  } >"$section"
  touch "$REPORT"
  # Replace the previous section, or insert before "## Plans" (or append).
  perl -0777 -i -e '
    open my $fh, "<", $ARGV[0] or die; local $/; my $new = <$fh>; close $fh; shift @ARGV;
    my $doc = <>;
    if ($doc =~ s/<!-- sqlite:begin -->.*?<!-- sqlite:end -->\n?/$new/s) { }
    elsif ($doc =~ s/^## Plans$/$new\n## Plans/m) { }
    else { $doc .= "\n$new" }
    print $doc;' "$section" "$REPORT"
  log "wrote the SQLite section of $REPORT"
}
