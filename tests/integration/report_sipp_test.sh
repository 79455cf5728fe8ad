#!/usr/bin/env bash
# sipman report against SIPp's own counts and tshark's timestamps: SIPp calls
# with known outcomes (scripts/gen-calls-pcap: answered, 486, 404, 503,
# CANCEL, 401/407 challenges, REGISTER) captured in a network namespace of
# this test, stored by sipman analyze; then every RFC 6076 ratio and delay,
# ASR/NER/ACD, the per-user and per-period counts and the duration histogram
# of `sipman report --json` are checked by report_sipp_test.py, over UDP and
# over TCP.
set -euo pipefail
sipman=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespace, tcpdump)"
for t in sipp tcpdump tshark ip python3; do
  command -v $t >/dev/null || skip "$t missing (scripts/bootstrap installs it)"
done

work=$(mktemp -d)
ns=sipman-report-$$
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
# Over UDP and over TCP: each in its own directory and database.
for transport in udp tcp; do
  mkdir "$work/$transport"
  ip netns exec "$ns" timeout 300 "$root/scripts/gen-calls-pcap" --out "$work/$transport/sipp.pcap" \
    --calls 10 --rate 20 --transport $transport >"$work/$transport/gen.log" 2>&1 ||
    { cat "$work/$transport/gen.log"; echo "FAIL: SIPp traffic over $transport did not complete"; exit 1; }
  echo "== $transport"
  python3 "$root/tests/integration/report_sipp_test.py" "$sipman" "$work/$transport"
done
