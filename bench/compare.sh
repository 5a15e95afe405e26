# Sourced by `bench/load.sh compare OTHER`: GET by primary key with this
# checkout's release server and with OTHER (another build's
# target/release/examples/server), both on the load cluster, alternated
# ROUNDS times: a before/after ratio measured in one run.
other=$1
[ -x "$other" ] || { echo "usage: bench/load.sh compare path/to/other/server" >&2; exit 1; }
. "$root/bench/servers.sh"
start other "$other" "$pg_url"
start this target/release/examples/server "$pg_url"
printf '\n%-10s %-30s %12s %10s %10s %14s %14s\n' scenario driver "requests/s" p50 p99 "server µs/req" "postgres µs/req"
name=by_pk
ratios=()
for _ in $(seq 1 "$ROUNDS"); do
  drive "other build" "$BASE_other" "/things?id=eq.42" "$PID_other"
  before=$RPS
  drive "this build" "$BASE_this" "/things?id=eq.42" "$PID_this"
  ratios+=("$(echo "$RPS / $before" | bc -l)")
done
median=$(median "${ratios[@]}")
printf '  this/other ratios: %s; median %.2f\n' "$(printf '%.2f ' "${ratios[@]}")" "$median"
