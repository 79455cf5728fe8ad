#!/usr/bin/env bash
# `sipman serve` over the central PostgreSQL store: two captures analysed
# into one PostgreSQL database as sensors A and B (and, as the oracle, into
# one SQLite file the same way); web_api_pg_test.py then checks that
# /api/v1/calls per sensor counts what each analyze stored, without a sensor
# their sum, and that calls, registrations and every statistic answer the
# same from a serve on PostgreSQL as from a serve on SQLite (and `sipman
# report` from either database).
# A throwaway PostgreSQL server runs on a free loopback port (initdb into a
# temporary directory; as root, as the postgres user); it is stopped by
# pg_ctl and every server process started here is killed by its PID.
set -euo pipefail
sipman=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
skip() { echo "SKIP: $*"; exit 77; }
command -v python3 >/dev/null || skip "python3 missing (scripts/bootstrap installs it)"
"$sipman" serve --help 2>/dev/null | grep -q -- --users-db || skip "$sipman serve has no --users-db"
. "$root/tests/integration/pg_lib.sh"
pg_find_bin
pcaps=()
for f in "$root/../shared/pcaps/generated/mixed-udp.pcap" "$root/../shared/pcaps/generated/mixed-tcp.pcap"; do
  [ -f "$f" ] && pcaps+=("$f")
done
[ ${#pcaps[@]} -eq 2 ] || skip "needs ../shared/pcaps/generated/mixed-{udp,tcp}.pcap"

work=$(mktemp -d)
cleanup() { pg_stop; rm -rf "$work"; }
trap cleanup EXIT
pg_start "$work"
cd "$work"  # serve keeps its web users in ./sipman-web-users.db
python3 "$root/tests/integration/web_api_pg_test.py" "$sipman" "$work" "$PG_URL" "${pcaps[@]}"
