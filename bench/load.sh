#!/usr/bin/env bash
# Load test: the demo server (release build) on bench/fixture.sql, driven by
# wrk at CONNS connections for DURATION seconds per scenario, beside two raw
# tokio-postgres baselines running the same transactions (examples/raw_load.rs)
# in the same run:
#   - "raw over HTTP": the transaction served by axum on a pool of POOL
#     connections, driven by the same wrk command: the baseline of the ratio,
#     since everything but the crate's own work (JWT, parsing, planning,
#     rendering, pool, response) is the same on both sides;
#   - "raw client": POOL tasks running the transaction with no HTTP at all
#     (no wrk competing for the CPU either): an upper bound.
# Prints requests/s, p50/p99 latency, and the server's and PostgreSQL's CPU
# time per request (from /proc). GET by primary key alternates the server and
# the HTTP baseline ROUNDS times and prints the median ratio.
#
# Usage: bench/load.sh            (DURATION=10 CONNS=32 POOL=10 ROUNDS=3 by default)
#        bench/load.sh rss        the server's RSS after 10k and after 1M GETs by
#                                 primary key (RSS_REQUESTS=1000000 by default)
#        bench/load.sh production GET by primary key through the connections
#                                 production uses, against plain TCP to the same
#                                 cluster: TLS (verify-full), PgBouncer in
#                                 transaction mode (prepared statements off), and
#                                 a streaming replica as the read pool
#                                 (also needs Debian's pgbouncer and openssl)
#        bench/load.sh compare OTHER  GET by primary key, this build against another
#                                 build's server binary, alternated (before/after)
#        bench/load.sh ops        GET by primary key with Server-Timing, request ids
#                                 and metrics on, against the same server with them off
# Needs: wrk (Debian package `wrk`), the PostgreSQL server binaries.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
POOL=${POOL:-10}
ROUNDS=${ROUNDS:-3}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }

cargo build --release --quiet --example server --example raw_load
log=$(mktemp)
env -u DATABASE_URL -u PGRST_DB_URI PGRST_SERVER_PORT=0 PGRST_DB_POOL="$POOL" \
  PGRST_DEMO_EXTRA_SQL="$root/bench/fixture.sql" RUST_LOG=warn \
  target/release/examples/server >"$log" 2>&1 &
server=$!
trap 'kill -INT $server 2>/dev/null; wait $server 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 1 1200); do grep -q '^service_role key: ' "$log" && break; sleep 0.1; done
base=$(sed -n 's/^Serving the REST API at //p' "$log")
key=$(sed -n 's/^anon key: //p' "$log")
pg_url=$(sed -n 's/^PostgreSQL is running: //p' "$log" | sed 's#postgres://postgres@#postgres://authenticator@#')
pg_port=$(echo "$pg_url" | sed -E 's#.*:([0-9]+)/.*#\1#')
tck=$(getconf CLK_TCK)

# CPU ticks (user + system) of the given pids.
ticks() {
  local total=0 pid
  for pid in "$@"; do
    [ -r "/proc/$pid/stat" ] || continue
    set -- $(sed 's/^.*) //' "/proc/$pid/stat")
    total=$((total + ${12} + ${13}))
  done
  echo "$total"
}
# PostgreSQL's CPU ticks: the postmaster's own and its reaped children's
# (backends that have exited), plus the live children's.
pg_ticks() {
  local master total=0
  master=$(pgrep -o -f -- "-p $pg_port ")
  set -- $(sed 's/^.*) //' "/proc/$master/stat")
  total=$((${12} + ${13} + ${14} + ${15}))
  echo $((total + $(ticks $(pgrep -P "$master"))))
}

rss_kb() { awk '/VmRSS/{print $2}' "/proc/$server/status"; }
# Runs GET-by-PK for at least $1 more requests; prints how many were made.
get_by_pk_for() {
  local want=$1 done=0 out n errors
  while [ "$done" -lt "$want" ]; do
    out=$(wrk -t1 -c"$CONNS" -d"$(( (want - done) / 9000 > 0 ? (want - done) / 9000 : 1 ))s" -H "apikey: $key" -H "Authorization: Bearer $key" "$base/things?id=eq.42")
    n=$(echo "$out" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p')
    errors=$(echo "$out" | sed -n 's/.*Non-2xx or 3xx responses: *\([0-9]*\)/\1/p')
    [ -z "$errors" ] || echo "  !! $errors non-2xx responses" >&2
    done=$((done + n))
  done
  echo "$done"
}
if [ "${1:-}" = rss ]; then
  total=$(get_by_pk_for 10000)
  early=$(rss_kb)
  echo "RSS after $total requests: $early kB"
  total=$((total + $(get_by_pk_for $(( ${RSS_REQUESTS:-1000000} - total )))))
  late=$(rss_kb)
  echo "RSS after $total requests: $late kB ($(echo "scale=1; ($late - $early) * 100 / $early" | bc -l) % change)"
  exit 0
fi

printf '\n%-10s %-30s %12s %10s %10s %14s %14s\n' scenario driver "requests/s" p50 p99 "server µs/req" "postgres µs/req"
lua=$(mktemp)
cat >"$lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"kind": "load"}'
wrk.headers["Content-Type"] = "application/json"
LUA

# wrk against $2$3 as driver $1, CPU of pid $4 (none: "-"); method $5.
# Sets RPS to the requests/s.
drive() {
  local label=$1 base=$2 path=$3 pid=$4 method=${5:-GET}
  local s0=0 s1=0 p0 p1 out requests p50 p99 errors server_us="-"
  [ "$pid" = - ] || s0=$(ticks "$pid")
  p0=$(pg_ticks)
  if [ "$method" = POST ]; then
    out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency -s "$lua" -H "apikey: $key" -H "Authorization: Bearer $key" "$base$path")
  else
    out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency -H "apikey: $key" -H "Authorization: Bearer $key" "$base$path")
  fi
  [ "$pid" = - ] || s1=$(ticks "$pid")
  p1=$(pg_ticks)
  requests=$(echo "$out" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p')
  RPS=$(echo "$out" | sed -n 's/^Requests\/sec: *\([0-9.]*\)/\1/p')
  p50=$(echo "$out" | awk '$1=="50%"{print $2}')
  p99=$(echo "$out" | awk '$1=="99%"{print $2}')
  errors=$(echo "$out" | sed -n 's/.*Non-2xx or 3xx responses: *\([0-9]*\)/\1/p')
  [ "$pid" = - ] || server_us=$(printf '%.0f' "$(echo "($s1-$s0)*1000000/$tck/$requests" | bc -l)")
  printf '%-10s %-30s %12.0f %10s %10s %14s %14.0f\n' "$name" "$label" "$RPS" "$p50" "$p99" "$server_us" \
    "$(echo "($p1-$p0)*1000000/$tck/$requests" | bc -l)"
  [ -z "$errors" ] || echo "  !! $errors non-2xx responses"
}

# The raw transaction for $1?$2 served over HTTP; sets RAW_PID and RAW_BASE.
raw_http_start() {
  local out
  out=$(mktemp)
  target/release/examples/raw_load --http "$pg_url" "$POOL" "$1" "$2" >"$out" 2>&1 &
  RAW_PID=$!
  for _ in $(seq 1 100); do grep -q '^Serving' "$out" && break; sleep 0.1; done
  RAW_BASE=$(sed -n 's/^Serving raw tokio-postgres at //p' "$out")
  rm -f "$out"
}
raw_http_stop() { kill "$RAW_PID" 2>/dev/null; wait "$RAW_PID" 2>/dev/null || true; }

# The raw transaction from POOL tasks with no HTTP.
raw_client() {
  local path=$1 query=$2 p0 p1 out rps p50 p99 requests
  p0=$(pg_ticks)
  out=$(target/release/examples/raw_load "$pg_url" "$POOL" "$DURATION" "$path" "$query")
  sleep 0.5 # let the postmaster reap the backends
  p1=$(pg_ticks)
  rps=$(echo "$out" | sed -n 's/.*: \([0-9]*\) requests\/s.*/\1/p')
  p50=$(echo "$out" | sed -n 's/.*p50 \([^,]*\),.*/\1/p')
  p99=$(echo "$out" | sed -n 's/.*p99 \(.*\)$/\1/p')
  requests=$((rps * DURATION))
  printf '%-10s %-30s %12.0f %10s %10s %14s %14.0f\n' "$name" "raw client, no HTTP" "$rps" "$p50" "$p99" "-" \
    "$(echo "($p1-$p0)*1000000/$tck/$requests" | bc -l)"
}

# A read: the server, the raw transaction over HTTP, the raw client.
scenario() {
  name=$1
  local path=$2 query=$3
  drive "tower-postgrest HTTP+JWT" "$base" "$path?$query" "$server"
  raw_http_start "$path" "$query"
  drive "raw over HTTP" "$RAW_BASE" "$path?$query" "$RAW_PID"
  raw_http_stop
  raw_client "$path" "$query"
}

if [ "${1:-}" = compare ]; then
  . "$root/bench/compare.sh" "${2:-}"
  exit 0
fi
if [ "${1:-}" = ops ]; then
  . "$root/bench/ops.sh"
  exit 0
fi
if [ "${1:-}" = production ]; then
  . "$root/bench/production.sh"
  exit 0
fi

# GET by primary key, alternating the server and the HTTP baseline.
name=by_pk
raw_http_start /things "id=eq.42"
ratios=()
for _ in $(seq 1 "$ROUNDS"); do
  drive "tower-postgrest HTTP+JWT" "$base" "/things?id=eq.42" "$server"
  ours=$RPS
  drive "raw over HTTP" "$RAW_BASE" "/things?id=eq.42" "$RAW_PID"
  ratios+=("$(echo "$ours / $RPS" | bc -l)")
done
raw_http_stop
raw_client /things "id=eq.42"
median=$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
printf '  by_pk ratios to raw over HTTP: %s; median %.2f\n' "$(printf '%.2f ' "${ratios[@]}")" "$median"

scenario list_20 /things "select=id,name,score&score=gt.500&order=id&limit=20"
scenario embed_2 /authors "select=name,things(name,thing_tags(tag))&id=eq.1&things.limit=5&things.order=id"
name=insert
drive "tower-postgrest HTTP+JWT" "$base" "/events" "$server" POST
scenario rpc /rpc/thing_score "thing_id=42"
echo
echo "server RSS: $(awk '/VmRSS/{print $2, $3}' /proc/$server/status)"
