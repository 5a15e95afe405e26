#!/usr/bin/env bash
# Starts the demo server on a free port with the client fixture (fixture.sql)
# and runs the supabase client suites against it: @supabase/postgrest-js with
# node's test runner, and the `postgrest` Python package with pytest.
#
# Usage: tests/clients/run.sh [js|python|all]   (default: all)
# Each suite runs twice: with the demo's JWT keys (anon, service_role), and
# with its opaque API keys (sb_publishable_…, sb_secret_…) as ANON_KEY and
# SERVICE_KEY. CLIENT_KEYS=jwt or CLIENT_KEYS=opaque runs one pass only.
# Installs the pinned client packages on first use (npm ci; a venv under target/).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
what=${1:-all}

server=${SERVER_BIN:-$root/target/debug/examples/server}
if [ ! -x "$server" ]; then
  (cd "$root" && cargo build --quiet --example server)
fi
# Installed packages are reused only while they match the lockfile and requirements.
stamp() { sha256sum "$1" | cut -d' ' -f1; }
lock=$(stamp "$here/js/package-lock.json")
if [ "$what" != python ] && [ "$(cat "$here/js/node_modules/.lock-stamp" 2>/dev/null)" != "$lock" ]; then
  (cd "$here/js" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock" >"$here/js/node_modules/.lock-stamp"
fi
venv=$root/target/clients-venv
reqs=$(stamp "$here/python/requirements.txt")
if [ "$what" != js ] && { [ ! -x "$venv/bin/pytest" ] || [ "$(cat "$venv/.requirements-stamp" 2>/dev/null)" != "$reqs" ]; }; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/python/requirements.txt"
  echo "$reqs" >"$venv/.requirements-stamp"
fi

# A secret of this run's own, for the server and for minting user tokens.
JWT_SECRET=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
export JWT_SECRET

log=$(mktemp)
env -u DATABASE_URL -u PGRST_DB_URI -u PGRST_DB_ANON_ROLE \
  PGRST_SERVER_PORT=0 PGRST_DEMO_EXTRA_SQL="$here/fixture.sql" RUST_LOG=warn \
  PGRST_JWT_SECRET="$JWT_SECRET" PGRST_DB_TX_END=commit-allow-override PGRST_DB_AGGREGATES_ENABLED=true PGRST_DB_PLAN_ENABLED=true \
  "$server" >"$log" 2>&1 &
pid=$!
cleanup() {
  kill -INT "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT
for _ in $(seq 1 1200); do
  grep -q '^service_role key: ' "$log" && break
  kill -0 "$pid" 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.1
done
POSTGREST_URL=$(sed -n 's/^Serving the REST API at //p' "$log")
ANON_KEY=$(sed -n 's/^anon key: //p' "$log")
SERVICE_KEY=$(sed -n 's/^service_role key: //p' "$log")
PUBLISHABLE_KEY=$(sed -n 's/^publishable key (anon): //p' "$log")
SECRET_KEY=$(sed -n 's/^secret key (service_role): //p' "$log")
if [ -z "$SERVICE_KEY" ] || [ -z "$SECRET_KEY" ]; then cat "$log"; exit 1; fi
export POSTGREST_URL

status=0
for keys in ${CLIENT_KEYS:-jwt opaque}; do
  case $keys in
    jwt) export ANON_KEY SERVICE_KEY KEY_KIND=jwt ;;
    opaque) export ANON_KEY="$PUBLISHABLE_KEY" SERVICE_KEY="$SECRET_KEY" KEY_KIND=opaque ;;
    *) echo "CLIENT_KEYS: jwt or opaque, not $keys" >&2; exit 2 ;;
  esac
  echo "== keys: $keys"
  if [ "$what" != python ]; then
    (cd "$here/js" && node --test --test-reporter=spec) || status=1
  fi
  if [ "$what" != js ]; then
    "$venv/bin/python" -m pytest -q -p no:cacheprovider "$here/python" || status=1
  fi
done
exit "$status"
