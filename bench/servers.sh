# Sourced by the modes of bench/load.sh that run more demo servers on the
# load cluster (compare, ops, production): a key they all accept, and
# `start NAME BINARY URL [VAR=VALUE…]`, which starts a server and sets
# BASE_<NAME> and PID_<NAME>. Servers and $work are removed on exit.
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
cleanups=()
stop_servers() {
  local pid cleanup
  for pid in "${servers[@]}"; do kill -INT "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; done
  for cleanup in "${cleanups[@]}"; do eval "$cleanup"; done
  rm -rf "$work"
}
trap 'stop_servers; kill -INT $server 2>/dev/null; wait $server 2>/dev/null; rm -f "$log"' EXIT

start() {
  local name=$1 bin=$2 url=$3 out=$work/$1.log
  shift 3
  env -u PGRST_DB_URI DATABASE_URL="$url" PGRST_JWT_SECRET="$secret" PGRST_DB_ANON_ROLE=anon \
    PGRST_SERVER_PORT=0 PGRST_DB_POOL="$POOL" RUST_LOG=warn "$@" "$bin" >"$out" 2>&1 &
  servers+=($!)
  eval "PID_$name=$!"
  for _ in $(seq 1 300); do grep -q '^Serving the REST API at ' "$out" && break; sleep 0.1; done
  grep -q '^Serving the REST API at ' "$out" || { cat "$out" >&2; exit 1; }
  eval "BASE_$name=$(sed -n 's/^Serving the REST API at //p' "$out")"
}

# median RATIO…: the median of the arguments.
median() {
  printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'
}
