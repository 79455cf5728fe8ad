#!/usr/bin/env bash
# Many sensors, one store: a live sensor and a HEP-fed sensor write into one
# PostgreSQL server, and `sipman serve` on it shows both (checks in
# multi_sensor_pg_test.py). Everything runs in a network namespace this test
# creates: its loopback carries the SIP, the HEP and PostgreSQL.
set -euo pipefail
sipman=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespace, live capture)"
for t in sipp ip python3; do
  command -v $t >/dev/null || skip "$t missing (scripts/bootstrap installs it)"
done
case "$sipman" in /*) ;; *) sipman=$PWD/$sipman;; esac
"$sipman" serve --help 2>&1 | grep -q -- --users-db || skip "$sipman serve cannot read PostgreSQL"
. "$root/tests/integration/pg_lib.sh"
pg_find_bin

work=$(mktemp -d)
ns=sipman-ms-$$
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
ip netns exec "$ns" timeout 900 python3 "$root/tests/integration/multi_sensor_pg_test.py" \
  "$sipman" "$work" "$PG_URL" "$root"
