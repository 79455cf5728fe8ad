#!/usr/bin/env bash
# PostgreSQL stopped for 30 s while `sipman run` captures SIPp calls: every
# call ends up stored exactly once (checks in pg_outage_test.py). Runs in a
# network namespace this test creates; PostgreSQL runs there too.
set -euo pipefail
sipman=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespace, live capture)"
for t in sipp ip python3 psql; do
  command -v $t >/dev/null || skip "$t missing (scripts/bootstrap installs it)"
done
case "$sipman" in /*) ;; *) sipman=$PWD/$sipman;; esac
. "$root/tests/integration/pg_lib.sh"
pg_find_bin

work=$(mktemp -d)
ns=sipman-pgout-$$
cleanup() {
  pg_stop
  ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
pg_start "$work" ip netns exec "$ns"
echo "PostgreSQL in namespace $ns: $PG_URL"
PSQL=$(command -v psql) ip netns exec "$ns" timeout 900 python3 \
  "$root/tests/integration/pg_outage_test.py" "$sipman" "$work" "$PG_URL" "$root"
