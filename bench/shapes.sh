#!/usr/bin/env bash
# What PostgreSQL spends on one request of a given shape: the demo server on
# its throwaway database (demo data, pool of one connection, no listener), and
# for each shape a fresh backend whose peak memory (VmHWM, minus its peak after
# a warm-up request) and CPU time (utime + stime) are read from /proc around
# the one request. With LIMITS=off the shape limits are raised out of the way
# (what any request cost before they existed), and the statement timeout is
# off, so every shape runs to its end (curl gives up after 120 s).
#
# Usage: bench/shapes.sh              the largest shapes the default limits allow
#        LIMITS=off bench/shapes.sh   the same, and the wide attacks, unlimited
#        JIT=off bench/shapes.sh      with PostgreSQL's JIT compilation off
# Needs: curl, the PostgreSQL server binaries (psql).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --quiet --example server
server=target/debug/examples/server

limits=()
if [ "${LIMITS:-on}" = off ]; then
  limits=(PGRST_DB_MAX_EMBEDS=100000 PGRST_DB_MAX_EMBEDS_PER_LEVEL=100000
    PGRST_DB_MAX_EMBED_DEPTH=32 PGRST_DB_MAX_SELECT_ITEMS=100000
    PGRST_DB_MAX_FILTERS=100000 PGRST_DB_STATEMENT_TIMEOUT=0)
fi
log=$(mktemp)
env -u DATABASE_URL -u PGRST_DB_URI PGRST_SERVER_PORT=0 PGRST_DB_POOL=1 \
  PGRST_DB_CHANNEL_ENABLED=false RUST_LOG=warn "${limits[@]}" \
  "$server" >"$log" 2>&1 &
pid=$!
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 1 1200); do grep -q '^service_role key: ' "$log" && break; sleep 0.1; done
base=$(sed -n 's/^Serving the REST API at //p' "$log")
key=$(sed -n 's/^service_role key: //p' "$log")
admin=$(sed -n 's/^PostgreSQL is running: //p' "$log")

if [ "${JIT:-on}" = off ]; then
  psql "$admin" -qc "ALTER DATABASE demo SET jit = off"
fi

backend() {
  psql "$admin" -Atc "SELECT pid FROM pg_stat_activity WHERE usename = 'authenticator' AND backend_type = 'client backend'"
}
hwm_kb() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"; }
ticks() { set -- $(sed 's/^.*) //' "/proc/$1/stat"); echo $((${12} + ${13})); }
get() {
  curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 120 \
    -H "apikey: $key" "$base/$1"
}
tck=$(getconf CLK_TCK)

# A comma-separated list of `n` copies of `item` (with `{}` replaced by the index).
copies() {
  local n=$1 item=$2 i out=""
  for ((i = 0; i < n; i++)); do out+="${out:+,}${item//\{\}/$i}"; done
  echo "$out"
}
# `depth` nested embeds, alternating books' author and the author's books.
chain() {
  local depth=$1 inner="" i
  for ((i = depth; i > 0; i--)); do
    if ((i % 2)); then inner="a$i:authors(name${inner:+,$inner})"; else inner="b$i:books(id${inner:+,$inner})"; fi
  done
  echo "id,$inner"
}
# `n` sibling embeds of authors' books, each with `k` children (the book's author).
fanout() {
  local n=$1 k=$2 i j out=""
  for ((i = 0; i < n; i++)); do
    local kids=""
    for ((j = 0; j < k; j++)); do kids+=",a$j:authors(name)"; done
    out+="${out:+,}b$i:books(id$kids)"
  done
  echo "id,$out"
}

measure() {
  local name=$1 path=$2
  # A fresh backend for each shape: VmHWM only grows.
  psql "$admin" -qAtc "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'authenticator'" >/dev/null
  for _ in 1 2 3 4 5; do [ "$(get 'books?select=id&limit=1' | cut -d' ' -f1)" = 200 ] && break; sleep 0.2; done
  local b hwm0 t0 out hwm1 t1
  b=$(backend)
  hwm0=$(hwm_kb "$b"); t0=$(ticks "$b")
  out=$(get "$path")
  if [ -r "/proc/$b/status" ]; then hwm1=$(hwm_kb "$b"); t1=$(ticks "$b"); else hwm1=$hwm0; t1=$t0; fi
  printf '| %s | %s | %s B | %s s | %s MB | %s ms |\n' "$name" "${out%% *}" "${#path}" \
    "${out##* }" "$(( (hwm1 - hwm0) / 1024 ))" "$(( (t1 - t0) * 1000 / tck ))"
}

echo "| shape | status | query | wall | PG peak memory | PG CPU |"
echo "|---|---|---|---|---|---|"
measure "1 embed, to-many" "authors?select=id,books(id)"
measure "4 sibling embeds, to-many" "authors?select=id,$(copies 4 'b{}:books(id)')"
measure "16 sibling embeds, to-one" "books?select=id,$(copies 16 'a{}:authors(name)')"
measure "16 sibling embeds, to-many" "authors?select=id,$(copies 16 'b{}:books(id)')"
for shape in "16 1" "8 3" "4 7" "2 15"; do
  set -- $shape
  measure "$1 siblings × $2 children ($(( $1 * ($2 + 1) )) embeds)" "authors?select=$(fanout "$1" "$2")"
done
measure "depth 8 chain" "books?select=$(chain 8)"
measure "200 select items" "books?select=$(copies 200 'id')"
measure "200 filters in a logic tree" "books?select=id&or=($(copies 200 'id.eq.{}'))"
measure "400 sibling embeds, to-one (the attack)" "books?select=id,$(copies 400 'a{}:authors(name)')"
if [ "${LIMITS:-on}" = off ]; then
  for n in 40 80 160; do
    measure "$n sibling embeds, to-one" "books?select=id,$(copies "$n" 'a{}:authors(name)')"
  done
  for n in 40 80; do
    measure "$n sibling embeds, to-many" "authors?select=id,$(copies "$n" 'b{}:books(id)')"
  done
  measure "depth 16 chain" "books?select=$(chain 16)"
  measure "2000 filters" "books?select=id&or=($(copies 2000 'id.eq.{}'))"
fi
