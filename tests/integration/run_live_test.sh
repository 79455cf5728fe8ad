#!/usr/bin/env bash
# sipman run as a live daemon: it captures SIPp calls with known outcomes on
# the loopback of a network namespace this test creates, stores each call
# when it ends (by its timers, while still running), and on SIGTERM stores
# the calls still in flight as in_progress; then a burst replayed at full
# speed through a tiny packet queue spills to disk and is stored completely.
# Checks are in run_live_test.py; it prints "N passed, M failed".
set -euo pipefail
sipman=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespace, live capture)"
for t in sipp tcpdump ip python3; do
  command -v $t >/dev/null || skip "$t missing (scripts/bootstrap installs it)"
done
case "$sipman" in /*) ;; *) sipman=$PWD/$sipman;; esac

work=$(mktemp -d)
ns=sipman-run-$$
cleanup() { ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
            ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" timeout 900 python3 "$root/tests/integration/run_live_test.py" "$sipman" "$work" "$root"
