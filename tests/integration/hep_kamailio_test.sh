#!/usr/bin/env bash
# A real HEP peer: Kamailio proxies SIPp calls (UAC -> 127.0.0.1:5060 ->
# UAS 127.0.0.1:5071) and its siptrace module mirrors every SIP message of
# both legs as HEPv3 to `sipman run --hep-listen 127.0.0.1:9060`, while
# `sipman run -i lo` captures the same traffic with libpcap. The calls stored
# from HEP, per state, must equal SIPp's counts and what the live capture
# stored. Runs in a network namespace of its own (fixed ports, loopback
# only). Then again with SIP from the callers over TCP and Kamailio's HEP to
# sipman over TCP. Checks are in hep_kamailio_test.py; it prints "N passed,
# M failed".
set -euo pipefail
sipman=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
tools=$(cd "$root/.." && pwd)/shared/tools
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespace, live capture)"
for t in kamailio sipp ip python3 sqlite3; do
  command -v $t >/dev/null || skip "$t missing (scripts/bootstrap installs it)"
done
[ -f "$tools/kamailio/kamailio.cfg" ] || skip "$tools/kamailio/kamailio.cfg not found"
case "$sipman" in /*) ;; *) sipman=$PWD/$sipman;; esac
work=$(mktemp -d)
ns=sipman-hep-$$
cleanup() { ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
            ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
# Exit 3: SIPp failed one of its own calls, so its counts are no oracle for
# that run; try once more in fresh directories, then fail.
run() {  # TRANSPORT
  local attempt rc
  for attempt in 1 2; do
    mkdir -p "$work/$1-$attempt"
    rc=0
    ip netns exec "$ns" timeout 600 python3 "$root/tests/integration/hep_kamailio_test.py" \
      "$sipman" "$work/$1-$attempt" "$tools" "$1" || rc=$?
    [ $rc = 3 ] || return $rc
    echo "SIPp failed one of its own calls (attempt $attempt); see its logs above"
    ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
    sleep 1
  done
  return 1
}
run udp
run tcp
