#!/usr/bin/env bash
# Where the demo server's CPU goes on GET by primary key with a JWT: the CPU
# time per request (user + system, from /proc/<pid>/stat, over RUNS wrk runs
# of DURATION seconds at CONNS connections; the median is printed), then a
# `perf record -g` of one more run, grouped by where the time is spent: the
# kernel, the allocator (malloc/free/realloc), copies (memmove/memcpy), other
# libc, and each Rust crate by the first path segment of its symbols.
#
# Usage: bench/profile.sh                (RUNS=5 DURATION=10 CONNS=32 POOL=10)
#        SERVER=path/to/server bench/profile.sh   another build's server
#        PERF=0 bench/profile.sh                  the CPU per request only, no profile
# Needs: wrk, perf (Debian: linux-perf), the PostgreSQL server binaries.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
RUNS=${RUNS:-5}
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
POOL=${POOL:-10}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
command -v perf >/dev/null || { echo "perf is needed: apt-get install linux-perf" >&2; exit 1; }

if [ -z "${SERVER:-}" ]; then
  cargo build --release --quiet --example server
  SERVER=target/release/examples/server
fi
log=$(mktemp)
data=$(mktemp)
env -u DATABASE_URL -u PGRST_DB_URI PGRST_SERVER_PORT=0 PGRST_DB_POOL="$POOL" \
  PGRST_DEMO_EXTRA_SQL="$root/bench/fixture.sql" RUST_LOG=warn "$SERVER" >"$log" 2>&1 &
server=$!
trap 'kill -INT $server 2>/dev/null; wait $server 2>/dev/null; rm -f "$log" "$data" "$data.old"' EXIT
for _ in $(seq 1 1200); do grep -q '^service_role key: ' "$log" && break; sleep 0.1; done
base=$(sed -n 's/^Serving the REST API at //p' "$log")
key=$(sed -n 's/^anon key: //p' "$log")
[ -n "$base" ] || { cat "$log" >&2; exit 1; }
tck=$(getconf CLK_TCK)
# user and system clock ticks of the server so far
ticks() { set -- $(sed 's/^.*) //' "/proc/$server/stat"); echo "${12} ${13}"; }
load() {
  wrk -t1 -c"$CONNS" -d"$1s" -H "apikey: $key" -H "Authorization: Bearer $key" "$base/things?id=eq.42"
}

load 2 >/dev/null # warm: connections, prepared statements, the JWT cache
per_request=()
for run in $(seq 1 "$RUNS"); do
  read -r u0 s0 < <(ticks)
  out=$(load "$DURATION")
  read -r u1 s1 < <(ticks)
  n=$(echo "$out" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p')
  us=$(echo "($u1 - $u0 + $s1 - $s0) * 1000000 / $tck / $n" | bc -l)
  user=$(echo "($u1 - $u0) * 1000000 / $tck / $n" | bc -l)
  per_request+=("$us")
  printf 'run %d: %d requests, %.1f µs of server CPU per request (%.1f in user space, %.1f in the kernel)\n' \
    "$run" "$n" "$us" "$user" "$(echo "$us - $user" | bc -l)"
done
median=$(printf '%s\n' "${per_request[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
printf 'server CPU per GET by primary key: median %.1f µs over %d runs\n\n' "$median" "$RUNS"
[ "${PERF:-1}" = 0 ] && exit 0

perf record -q -g -o "$data" -p "$server" -- sleep "$DURATION" >/dev/null 2>&1 &
recorder=$!
load "$DURATION" >/dev/null
wait "$recorder" || true
perf report -i "$data" --no-children --sort dso,sym --stdio -g none --percent-limit 0 2>/dev/null |
  python3 "$root/bench/profile_groups.py"
