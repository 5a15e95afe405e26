# Sourced by `bench/load.sh ops`: what Server-Timing, request ids and metrics
# cost (request ids are always on in the demo). Two demo servers on the load cluster, one with PGRST_SERVER_TIMING_ENABLED
# and PGRST_ADMIN_SERVER_PORT (metrics on), one without; GET by primary key,
# alternated ROUNDS times. Uses load.sh's $pg_url, $root, CONNS, DURATION, POOL, ROUNDS.
. "$root/bench/servers.sh"
start off target/release/examples/server "$pg_url"
start on target/release/examples/server "$pg_url" PGRST_SERVER_TIMING_ENABLED=true PGRST_ADMIN_SERVER_PORT=0
printf '\n%-10s %-30s %12s %10s %10s %14s %14s\n' scenario driver "requests/s" p50 p99 "server µs/req" "postgres µs/req"
name=by_pk
ratios=()
for _ in $(seq 1 "$ROUNDS"); do
  drive "operations off" "$BASE_off" "/things?id=eq.42" "$PID_off"
  off=$RPS
  drive "Server-Timing and metrics on" "$BASE_on" "/things?id=eq.42" "$PID_on"
  ratios+=("$(echo "$RPS / $off" | bc -l)")
done
median=$(median "${ratios[@]}")
printf '  on/off ratios: %s; median %.2f\n' "$(printf '%.2f ' "${ratios[@]}")" "$median"
