# Sourced by `bench/load.sh production`: the demo server against the load
# cluster through each production connection, GET by primary key, with the
# plain-TCP server as the baseline of the ratio, alternated ROUNDS times.
# Uses load.sh's $pg_url, $pg_port, $root, CONNS, DURATION, POOL, ROUNDS.
. "$root/bench/servers.sh"
admin_url=${pg_url/authenticator@/postgres@}
db=${pg_url##*/}
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# TLS: a CA and a certificate for localhost, served by the running cluster.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=bench CA" \
  -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$work/server.key" \
  -out "$work/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$work/san.ext"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
  -CAcreateserial -days 2 -extfile "$work/san.ext" -out "$work/server.pem" 2>/dev/null
data=$(psql -X -At -d "$admin_url" -c 'SHOW data_directory')
cp "$work/server.pem" "$data/bench-server.crt"
cp "$work/server.key" "$data/bench-server.key"
chmod 600 "$data/bench-server.key"
[ "$(id -u)" = 0 ] && chown postgres "$data/bench-server.crt" "$data/bench-server.key"
for setting in "ssl_cert_file = 'bench-server.crt'" "ssl_key_file = 'bench-server.key'" "ssl = on"; do
  psql -X -q -d "$admin_url" -c "ALTER SYSTEM SET $setting"
done
psql -X -q -d "$admin_url" -c 'SELECT pg_reload_conf()' >/dev/null
sleep 1

# PgBouncer in transaction mode, POOL server connections.
bouncer_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf '"authenticator" ""\n' >"$work/users.txt"
cat >"$work/pgbouncer.ini" <<INI
[databases]
$db = host=127.0.0.1 port=$pg_port dbname=$db
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bouncer_port
unix_socket_dir =
auth_type = trust
auth_file = $work/users.txt
pool_mode = transaction
default_pool_size = $POOL
max_client_conn = 500
INI
[ "$(id -u)" = 0 ] && chown -R postgres "$work"
as_postgres pgbouncer "$work/pgbouncer.ini" >/dev/null 2>&1 &
bouncer=$!

# A streaming replica of the cluster.
replica_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
bindir=$(dirname "$(ls /usr/lib/postgresql/*/bin/pg_ctl | sort -V | tail -n 1)")
mkdir -p "$work/replica"
[ "$(id -u)" = 0 ] && chown -R postgres "$work"
as_postgres "$bindir/pg_basebackup" -D "$work/replica/data" -R -X stream -h 127.0.0.1 -p "$pg_port" -U postgres --no-sync
as_postgres "$bindir/pg_ctl" -D "$work/replica/data" -l "$work/replica/log" -w \
  -o "-p $replica_port -k $work/replica -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null \
  || { cat "$work/replica/log" >&2; exit 1; }

cleanups+=("kill $bouncer 2>/dev/null; pkill -f '$work/pgbouncer.ini' 2>/dev/null"
  "as_postgres '$bindir/pg_ctl' -D '$work/replica/data' -m immediate stop >/dev/null 2>&1")
plain_url="postgres://authenticator@127.0.0.1:$pg_port/$db?sslmode=disable"
start plain target/release/examples/server "$plain_url"
start tls target/release/examples/server "postgres://authenticator@localhost:$pg_port/$db?sslmode=verify-full&sslrootcert=$work/ca.pem"
start bouncer target/release/examples/server "postgres://authenticator@127.0.0.1:$bouncer_port/$db?sslmode=disable" \
  PGRST_DB_PREPARED_STATEMENTS=false PGRST_DB_CHANNEL_ENABLED=false
start replica target/release/examples/server "$plain_url" PGRST_DB_READ_URI="postgres://authenticator@127.0.0.1:$replica_port/$db?sslmode=disable"
echo "backends on TLS: $(psql -X -At -d "$admin_url" -c "SELECT count(*) FILTER (WHERE ssl) || ' of ' || count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE usename = 'authenticator'")"

printf '\n%-10s %-30s %12s %10s %10s %14s %14s\n' scenario driver "requests/s" p50 p99 "server µs/req" "postgres µs/req"
name=by_pk
declare -A ratios
for _ in $(seq 1 "$ROUNDS"); do
  drive "plain TCP (baseline)" "$BASE_plain" "/things?id=eq.42" "$PID_plain"
  plain=$RPS
  drive "TLS verify-full" "$BASE_tls" "/things?id=eq.42" "$PID_tls"
  ratios[tls]+="$(echo "$RPS / $plain" | bc -l) "
  drive "PgBouncer, unnamed statements" "$BASE_bouncer" "/things?id=eq.42" "$PID_bouncer"
  ratios[bouncer]+="$(echo "$RPS / $plain" | bc -l) "
  drive "replica as the read pool" "$BASE_replica" "/things?id=eq.42" "$PID_replica"
  ratios[replica]+="$(echo "$RPS / $plain" | bc -l) "
done
for which in tls bouncer replica; do
  median=$(median ${ratios[$which]})
  printf '  %s ratios to plain TCP: %s; median %.2f\n' "$which" "$(printf '%.2f ' ${ratios[$which]})" "$median"
done
echo "replica answered: $(curl -s -H "apikey: $key" -H 'x-read-from: replica' "$BASE_replica/rpc/thing_score?thing_id=42" | head -c 80)"
