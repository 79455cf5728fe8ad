#!/usr/bin/env bash
# Real media endpoints: SIPp calls on the loopback of a network namespace
# this test creates, both sides playing SIPp's own G.711 A-law capture
# (play_pcap_audio, /usr/share/sip-tester/g711a.pcap: 236 RTP packets)
# while sipman run captures live; each call's record must hold both
# directions' packets, no loss, PCMA and a MOS of at least 4.3. The checks
# are in media_sipp_test.py.
set -euo pipefail
sipman=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespace, live capture)"
for t in sipp ip python3; do
  command -v $t >/dev/null || skip "$t missing (scripts/bootstrap installs it)"
done
[ -f /usr/share/sip-tester/g711a.pcap ] || skip "/usr/share/sip-tester/g711a.pcap missing (Debian sip-tester)"
case "$sipman" in /*) ;; *) sipman=$PWD/$sipman;; esac

work=$(mktemp -d)
ns=sipman-media-$$
cleanup() { ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
            ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" timeout 300 python3 "$root/tests/integration/media_sipp_test.py" "$sipman" "$work"
