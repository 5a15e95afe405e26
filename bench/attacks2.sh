#!/usr/bin/env bash
# The attacks of the bounds issue (round 2), each against a fresh demo server
# (its throwaway database, pool of 10, plus a 300,000-row table of ~37 MB as
# JSON): the status, how long it took, the server's peak memory growth, how
# many connections sat in a transaction afterwards, and whether another
# request was served meanwhile.
#
# Usage: bench/attacks2.sh                        the release build of this checkout
#        SERVER=path/to/server bench/attacks2.sh  another build (e.g. an older commit's)
# Needs: curl, python3, the PostgreSQL server binaries.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ -z "${SERVER:-}" ]; then
  cargo build --release --quiet --example server
  SERVER=target/release/examples/server
fi
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

cat >"$work/big.sql" <<'SQL'
CREATE TABLE public.big (id int PRIMARY KEY, name text NOT NULL, note text);
INSERT INTO public.big SELECT i, 'name ' || i, repeat('n', 80) FROM generate_series(1, 300000) AS i;
GRANT SELECT ON public.big TO anon, authenticated, service_role;
ANALYZE public.big;
SQL

hwm_kb() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"; }

# start ENV...: a fresh server with ENV set; sets pid, base, anon, service, pg.
start() {
  log=$work/server.log
  env -u DATABASE_URL -u PGRST_DB_URI -u PGRST_JWT_SECRET PGRST_SERVER_PORT=0 RUST_LOG=error \
    PGRST_DB_POOL=10 PGRST_DEMO_EXTRA_SQL="$work/big.sql" "$@" "$SERVER" >"$log" 2>&1 &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 1 1800); do grep -q '^service_role key: ' "$log" && break; sleep 0.1; done
  base=$(sed -n 's/^Serving the REST API at //p' "$log")
  anon=$(sed -n 's/^anon key: //p' "$log")
  service=$(sed -n 's/^service_role key: //p' "$log")
  pg=$(sed -n 's/^PostgreSQL is running: //p' "$log")
  before=$(hwm_kb "$pid")
}
stop() { kill -INT "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
# Connections of the server in a transaction.
in_tx() {
  psql -qtA "$pg" -c "SELECT count(*) FROM pg_stat_activity WHERE usename = 'authenticator' AND state IN ('idle in transaction', 'active') AND pid <> pg_backend_pid()" 2>/dev/null || echo "?"
}
# Another request meanwhile: its status and time.
other() { curl -s -o /dev/null -w '%{http_code} in %{time_total} s' --max-time 30 -H "apikey: $anon" "$base/books?select=id&limit=1" || echo "none in 30 s"; }
row() { printf '| %s | %s | %s | +%s MB | %s | %s |\n' "$1" "$2" "$3" "$(( ($(hwm_kb "$pid" 2>/dev/null || echo "$before") - before) / 1024 ))" "$4" "$5"; }

echo "| attack | status | time | server peak memory | connections in a transaction after | another request meanwhile |"
echo "|---|---|---|---|---|---|"

# 1. One anonymous batch of 100 reads of the large table.
start
python3 -c 'import json; print(json.dumps([{"method": "GET", "path": "/big"}] * 100))' >"$work/batch.json"
out=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 60 -H "apikey: $anon" \
  -H 'Content-Type: application/json' --data-binary "@$work/batch.json" "$base/" || echo "000 60+")
set -- $out
row "a batch of 100 reads of a 37 MB table, anon" "$1" "$2 s" "$(in_tx)" "$(other)"
stop

# 2. A batch of 30 one-second calls, with a 10 s statement timeout.
start PGRST_DB_STATEMENT_TIMEOUT=10000
python3 -c 'import json; print(json.dumps([{"method": "POST", "path": "/rpc/nap_one", "body": {}}] * 30))' >"$work/naps.json"
psql -qtA "$pg" -c "CREATE FUNCTION public.nap_one() RETURNS int LANGUAGE sql AS 'SELECT 1 FROM pg_sleep(1)'; GRANT EXECUTE ON FUNCTION public.nap_one() TO anon; NOTIFY pgrst" >/dev/null
sleep 2
out=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 60 -H "apikey: $service" \
  -H 'Content-Type: application/json' --data-binary "@$work/naps.json" "$base/" || echo "000 60+")
set -- $out
row "a batch of 30 one-second calls, 10 s statement timeout" "$1" "$2 s" "$(in_tx)" "$(other)"
stop

# 3. Ten clients that ask for an NDJSON stream of the large table and never read.
start PGRST_SERVER_SEND_TIMEOUT=10
python3 - "$base" "$anon" <<'PY' &
import socket, sys, time
from urllib.parse import urlparse
base, key = sys.argv[1], sys.argv[2]
u = urlparse(base)
socks = []
for _ in range(10):
    s = socket.create_connection((u.hostname, u.port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(f"GET {u.path}/big HTTP/1.1\r\nHost: x\r\napikey: {key}\r\nAccept: application/x-ndjson\r\n\r\n".encode())
    socks.append(s)
time.sleep(60)
PY
readers=$!
sleep 25
row "10 NDJSON streams of the large table never read (after 25 s)" "200" "-" "$(in_tx)" "$(other)"
kill "$readers" 2>/dev/null || true
stop

# 4. A cross-site text/plain batch carrying the cookie token (PGRST_JWT_COOKIE).
start PGRST_JWT_COOKIE=sb-access-token
out=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -H "Cookie: sb-access-token=$service" \
  -H 'Content-Type: text/plain' -H 'Origin: https://evil.example' \
  --data-binary '[{"method": "DELETE", "path": "/reviews?id=gt.0"}]' "$base/" || echo "000 -")
set -- $out
left=$(psql -qtA "$pg" -c "SELECT count(*) FROM public.reviews")
row "cross-site text/plain batch with the cookie token (reviews left: $left)" "$1" "$2 s" "$(in_tx)" "$(other)"
stop

# 5. 200 connections that never finish their headers, then one that sends nothing.
start PGRST_SERVER_HEADER_TIMEOUT=5
python3 - "$base" <<'PY' >"$work/half"
import socket, sys, time
from urllib.parse import urlparse
u = urlparse(sys.argv[1])
socks = []
for i in range(200):
    s = socket.create_connection((u.hostname, u.port))
    if i % 2 == 0:
        s.sendall(b"GET /rest/v1/books HTTP/1.1\r\nHost: x\r\n")
    s.settimeout(0.01)
    socks.append(s)
time.sleep(15)
open_ = 0
for s in socks:
    try:
        open_ += 0 if s.recv(1) == b"" else 1
    except socket.timeout:
        open_ += 1
    except OSError:
        pass
print(open_)
PY
row "200 half-open connections, open after 15 s: $(cat "$work/half")" "-" "15 s" "$(in_tx)" "$(other)"
stop

# 6. A JSON path of 5,000 steps.
start
path=$(python3 -c 'print("v:details" + "->a" * 5000)')
out=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -G -H "apikey: $anon" --data-urlencode "select=$path" "$base/books" || echo "000 -")
set -- $out
row "a JSON path of 5,000 steps" "$1" "$2 s" "$(in_tx)" "$(other)"
stop

# 7. A read replica that is down: ten reads in a row.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start PGRST_DB_READ_URI="postgres://authenticator@127.0.0.1:$port/postgres" PGRST_DB_POOL_ACQUISITION_TIMEOUT=1
t0=$(date +%s.%N)
for _ in $(seq 1 10); do curl -s -o /dev/null -H "apikey: $anon" "$base/books?select=id&limit=1"; done
t1=$(date +%s.%N)
row "10 reads with the read replica down" "200" "$(echo "$t1 - $t0" | bc) s" "$(in_tx)" "$(other)"
stop
