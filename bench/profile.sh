# bench/profile.sh: where the server's CPU goes, sampled in the same run
# (issue 15). Sourced by bench/run.sh.
#
# After a size's read operations are measured, PROFILE_OPS (default the
# unsearched page and the fresh-terms page) run again under wrk for
# PROFILE_SECS + 2 s while `perf record -e cpu-clock -F 999` samples the
# server process (software clock: this machine's hypervisor offers no
# hardware counters). The samples are summarised by self time: per shared
# object, per symbol (top 15), and per component (the symbol's crate, or
# the allocator, memory copies, the kernel), into
# bench/out/<N>/profile-<op>.txt and .json; write_report puts them in
# BENCHMARKS.md. Skipped, and the report says so, when perf is missing or
# may not sample the server (PROFILE=0 skips it on purpose).
#
# What could flatter or distort it: sampling costs the server a little CPU
# (about 1,000 samples a second on two threads), so the profile's requests
# are not counted in the results; without call graphs (release builds have
# no frame pointers) a symbol's share is its own time only, and an async
# state machine's `poll` lands in the crate that owns it.

PROFILE=${PROFILE:-1}
PROFILE_SECS=${PROFILE_SECS:-8}
PROFILE_OPS=${PROFILE_OPS:-"clients_nosearch clients_search_fresh"}
PROFILE_SKIPPED=""

profile_ready() {
  [[ $PROFILE == 1 ]] || { PROFILE_SKIPPED="not sampled in this run (PROFILE=0)"; return 1; }
  command -v perf >/dev/null || { PROFILE_SKIPPED="not sampled: perf is not installed (Debian: linux-perf)"; return 1; }
  perf record -q -e cpu-clock -o /dev/null -- true >/dev/null 2>&1 ||
    { PROFILE_SKIPPED="not sampled: perf may not record here (kernel.perf_event_paranoid?)"; return 1; }
}

# profile_op op script args... : sample the server while wrk runs op.
profile_op() {
  local op=$1 script=$2
  shift 2
  local data="$SIZE_OUT/perf-$op.data" txt="$SIZE_OUT/profile-$op.txt"
  fresh_window "$script" "$THREADS"
  TOKEN=$TOKEN wrk -t "$THREADS" -c "$CONNECTIONS" -d "$((PROFILE_SECS + 2))s" --timeout 10s -s "$BENCH/$script" \
    "$URL/graphql" -- "$@" >"$SIZE_OUT/profile-wrk-$op.txt" 2>&1 &
  local wrk_pid=$!
  sleep 1
  perf record -q -e cpu-clock -F 999 -p "$SERVER_PID" -o "$data" -- sleep "$PROFILE_SECS" >/dev/null 2>&1 || true
  wait "$wrk_pid" || true
  [[ -s $data ]] || { log "  profile of $op: no samples"; return 0; }
  local syms dsos
  syms=$(perf report -i "$data" --no-children --sort sym --stdio --percent-limit 0 2>/dev/null | grep -v '^#' | grep -v '^$')
  dsos=$(perf report -i "$data" --no-children --sort dso --stdio 2>/dev/null | grep -v '^#' | grep -v '^$')
  {
    echo "# shared objects"; echo "$dsos"
    echo "# symbols"; echo "$syms"
  } >"$txt"
  # Components: the first rule a symbol matches, in this order.
  perl -e '
    my (@rules) = (
      ["the kernel (system calls, scheduling, loopback TCP)", qr/^\[k\]/],
      ["the allocator (jemalloc; glibc malloc/free)", qr/_rjem_|\bje_|\b(do_rallocx|tcache_bin\w*|_int_malloc|_int_free|malloc|cfree|free|realloc|calloc|unlink_chunk\S*|malloc_consolidate|__libc_\w*alloc)\b/],
      ["memory copies and compares (libc)", qr/__mem\w+|__str\w+/],
      ["ours (partner_clients)", qr/partner_clients::/],
      ["async-graphql (parse, validate, execute)", qr/async_graphql/],
      ["sqlx (PostgreSQL protocol)", qr/sqlx/],
      ["sea-orm / sea-query (query building, row decoding)", qr/sea_orm|sea_query/],
      ["tokio (runtime, timers, I/O)", qr/tokio/],
      ["hyper / axum / tower (HTTP)", qr/hyper|axum|tower|httparse|http::/],
      ["serde / serde_json", qr/serde/],
      ["tracing", qr/tracing/],
      ["hashing and maps (std, hashbrown, indexmap)", qr/hash|indexmap|sip::/],
    );
    my (%c, $total);
    while (<STDIN>) {
      next unless /^\s*([\d.]+)%\s+(.*)$/;
      my ($p, $s) = ($1, $2);
      $total += $p;
      my $k = "other";
      for my $r (@rules) { if ($s =~ $r->[1]) { $k = $r->[0]; last } }
      $c{$k} += $p;
    }
    my @k = sort { $c{$b} <=> $c{$a} } keys %c;
    print "{", join(",", map { sprintf("\"%s\":%.1f", $_, $c{$_}) } @k), "}\n";
  ' <<<"$syms" >"$SIZE_OUT/profile-$op.json"
  local samples
  samples=$(perf report -i "$data" --stdio --header-only 2>/dev/null | awk -F'of event' '/# Samples|# Total Lost/ { print }' | head -1)
  jq -n --arg op "$op" --arg size "$N" --argjson comp "$(cat "$SIZE_OUT/profile-$op.json")" \
    --arg top "$(head -15 <<<"$syms")" --arg dso "$(head -5 <<<"$dsos")" \
    --argjson wrk "$(sed -n 's/^BENCH_RESULT //p' "$SIZE_OUT/profile-wrk-$op.txt" | head -1 | grep . || echo null)" \
    '{size: ($size | tonumber), op: $op, components: $comp, top: $top, dso: $dso, wrk: $wrk}' >>"$OUT/profiles.jsonl"
  rm -f "$data"
  log "  profile of $op: $(jq -r 'to_entries | map("\(.key | split(" (")[0]) \(.value)%") | .[:5] | join(", ")' "$SIZE_OUT/profile-$op.json")"
}

# The report's section (stdout).
profile_report() {
  echo "## Where the server's CPU goes (perf, this run)"
  echo
  if [[ ! -s $OUT/profiles.jsonl ]]; then
    echo "${PROFILE_SKIPPED:-Not sampled in this run.}"
    return 0
  fi
  echo "\`perf record -e cpu-clock -F 999\` of the server process for ${PROFILE_SECS} s while wrk drives the"
  echo "operation (10 connections), right after the measurements above (bench/profile.sh). Self time"
  echo "by component: a symbol counts where its own code runs, with no call graph (release"
  echo "builds have no frame pointers), so a future's \`poll\` counts in the crate that owns it."
  echo
  local n op
  for n in $(jq -s -r 'map(.size) | unique | .[]' "$OUT/profiles.jsonl"); do
    for op in $(jq -s -r --argjson n "$n" 'map(select(.size == $n) | .op) | .[]' "$OUT/profiles.jsonl"); do
      echo "### $op, $(label_of "$n")"
      echo
      jq -s -r --argjson n "$n" --arg op "$op" '
        map(select(.size == $n and .op == $op)) | last |
        (if .wrk then "While sampled: \(.wrk.rps | round) req/s.\n" else "" end),
        "| component | share of the server'"'"'s samples |", "|---|---|",
        (.components | to_entries[] | "| \(.key) | \(.value) % |"),
        "", "Top self symbols:", "", "```", .top, "```", ""' "$OUT/profiles.jsonl"
    done
  done
}
