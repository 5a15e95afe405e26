# Sourced by `bench/load.sh ops`: what Server-Timing, request ids and metrics
# cost (request ids are always on in the demo). Two demo servers on the load cluster, one with PGRST_SERVER_TIMING_ENABLED
# and PGRST_ADMIN_SERVER_PORT (metrics on), one without; GET by primary key,
# alternated ROUNDS times. Uses load.sh's $pg_url, $root, CONNS, DURATION, POOL, ROUNDS.
work=$(mktemp -d)
secret=bench-secret-bench-secret-bench-secret-0123456789
key=$(python3 - "$secret" <<'PY'
import base64, hashlib, hmac, json, sys, time
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
body = b64(json.dumps({"role": "anon", "exp": int(time.time()) + 3600}).encode())
sig = b64(hmac.new(sys.argv[1].encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
print(f"{head}.{body}.{sig}")
PY
)
servers=()
trap 'for p in "${servers[@]}"; do kill -INT "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done; rm -rf "$work"; kill -INT $server 2>/dev/null; wait $server 2>/dev/null; rm -f "$log"' EXIT
start() {
  local name=$1 out=$work/$1.log; shift
  env -u PGRST_DB_URI DATABASE_URL="$pg_url" PGRST_JWT_SECRET="$secret" PGRST_DB_ANON_ROLE=anon \
    PGRST_SERVER_PORT=0 PGRST_DB_POOL="$POOL" RUST_LOG=warn "$@" \
    target/release/examples/server >"$out" 2>&1 &
  servers+=($!)
  eval "PID_$name=$!"
  for _ in $(seq 1 300); do grep -q '^Serving the REST API at ' "$out" && break; sleep 0.1; done
  eval "BASE_$name=$(sed -n 's/^Serving the REST API at //p' "$out")"
}
start off
start on PGRST_SERVER_TIMING_ENABLED=true PGRST_ADMIN_SERVER_PORT=0
printf '\n%-10s %-30s %12s %10s %10s %14s %14s\n' scenario driver "requests/s" p50 p99 "server µs/req" "postgres µs/req"
name=by_pk
ratios=()
for _ in $(seq 1 "$ROUNDS"); do
  drive "operations off" "$BASE_off" "/things?id=eq.42" "$PID_off"
  off=$RPS
  drive "Server-Timing and metrics on" "$BASE_on" "/things?id=eq.42" "$PID_on"
  ratios+=("$(echo "$RPS / $off" | bc -l)")
done
median=$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
printf '  on/off ratios: %s; median %.2f\n' "$(printf '%.2f ' "${ratios[@]}")" "$median"
