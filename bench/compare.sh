# Sourced by `bench/load.sh compare OTHER`: GET by primary key with this
# checkout's release server and with OTHER (another build's
# target/release/examples/server), both on the load cluster, alternated
# ROUNDS times: a before/after ratio measured in one run.
other=$1
[ -x "$other" ] || { echo "usage: bench/load.sh compare path/to/other/server" >&2; exit 1; }
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
  local name=$1 bin=$2 out=$work/$1.log
  env -u PGRST_DB_URI DATABASE_URL="$pg_url" PGRST_JWT_SECRET="$secret" PGRST_DB_ANON_ROLE=anon \
    PGRST_SERVER_PORT=0 PGRST_DB_POOL="$POOL" RUST_LOG=warn "$bin" >"$out" 2>&1 &
  servers+=($!)
  eval "PID_$name=$!"
  for _ in $(seq 1 300); do grep -q '^Serving the REST API at ' "$out" && break; sleep 0.1; done
  eval "BASE_$name=$(sed -n 's/^Serving the REST API at //p' "$out")"
}
start other "$other"
start this target/release/examples/server
printf '\n%-10s %-30s %12s %10s %10s %14s %14s\n' scenario driver "requests/s" p50 p99 "server µs/req" "postgres µs/req"
name=by_pk
ratios=()
for _ in $(seq 1 "$ROUNDS"); do
  drive "other build" "$BASE_other" "/things?id=eq.42" "$PID_other"
  before=$RPS
  drive "this build" "$BASE_this" "/things?id=eq.42" "$PID_this"
  ratios+=("$(echo "$RPS / $before" | bc -l)")
done
median=$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
printf '  this/other ratios: %s; median %.2f\n' "$(printf '%.2f ' "${ratios[@]}")" "$median"
