#!/usr/bin/env bash
# The attacks of the safety issue, each against a fresh demo server (its
# throwaway database, no anonymous role): the status, the wall time, and the
# server's peak memory (VmHWM) grown during the attack.
#
# Usage: bench/attacks.sh                      the release build of this checkout
#        SERVER=path/to/server bench/attacks.sh  another build (e.g. an older commit's)
# Needs: curl, python3, the PostgreSQL server binaries.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ -z "${SERVER:-}" ]; then
  cargo build --release --quiet --example server
  SERVER=target/release/examples/server
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$work" <<'EOF'
import sys
work = sys.argv[1]
# 100,000 distinct keys (1.3 MB).
with open(f"{work}/keys.json", "w") as f:
    f.write("{" + ",".join(f'"k{i}":0' for i in range(100_000)) + "}")
# A header of 200 names of 1,000 characters, then 2,000 rows of commas (600 KB).
with open(f"{work}/wide.csv", "w") as f:
    f.write(",".join(f"{i:04}" + "c" * 996 for i in range(200)) + "\n")
    f.write(("," * 199 + "\n") * 2000)
# 400 sibling embeds (7.5 KB of query string).
with open(f"{work}/embeds.txt", "w") as f:
    f.write("select=id," + ",".join(f"a{i}:authors(name)" for i in range(400)))
EOF

hwm_kb() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"; }

# attack NAME -- CURL ARGS...: a fresh server, one request.
attack() {
  local name=$1; shift 2
  local log pid base anon service before out after
  log=$work/server.log
  env -u DATABASE_URL -u PGRST_DB_URI -u PGRST_DB_ANON_ROLE -u PGRST_JWT_SECRET \
    PGRST_SERVER_PORT=0 RUST_LOG=error "$SERVER" >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 1200); do grep -q '^service_role key: ' "$log" && break; sleep 0.1; done
  base=$(sed -n 's/^Serving the REST API at //p' "$log")
  anon=$(sed -n 's/^anon key: //p' "$log")
  service=$(sed -n 's/^service_role key: //p' "$log")
  before=$(hwm_kb "$pid")
  local args=()
  for a in "$@"; do
    a=${a//@BASE@/$base}; a=${a//@ANON@/$anon}; a=${a//@SERVICE@/$service}
    args+=("$a")
  done
  out=$(curl -s -o "$work/body" -w '%{http_code} %{size_download} %{time_total}' --max-time 600 "${args[@]}" || echo "000 0 -")
  after=$(hwm_kb "$pid" 2>/dev/null || echo "$before")
  set -- $out
  printf '| %s | %s (%s B) | %s s | +%s MB |\n' "$name" "$1" "$2" "$3" "$(( (after - before) / 1024 ))"
  kill -INT "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

json=(-H 'Content-Type: application/json' --data-binary "@$work/keys.json")
csv=(-H 'Content-Type: text/csv' --data-binary "@$work/wide.csv")
echo "| attack | status (body) | time | server peak memory |"
echo "|---|---|---|---|"
attack "100,000 JSON keys (1.3 MB), no key, unknown table" -- "${json[@]}" "@BASE@/nope"
attack "100,000 JSON keys (1.3 MB), anon key, unknown table" -- "${json[@]}" -H "apikey: @ANON@" "@BASE@/nope"
attack "100,000 JSON keys (1.3 MB), service key, a real table" -- "${json[@]}" -H "apikey: @SERVICE@" "@BASE@/books"
attack "wide CSV (600 KB), anon key, unknown table" -- "${csv[@]}" -H "apikey: @ANON@" "@BASE@/nope"
attack "wide CSV (600 KB), service key, a real table" -- "${csv[@]}" -H "apikey: @SERVICE@" "@BASE@/books"
attack "400 sibling embeds (7.5 KB query), anon key" -- -G --data "@$work/embeds.txt" -H "apikey: @ANON@" "@BASE@/books"
attack "Range: 0-9223372036854775807, anon key" -- -H "apikey: @ANON@" -H 'Range: 0-9223372036854775807' "@BASE@/books?select=id"
