#!/usr/bin/env bash
# Real softphones: two calls between Debian's baresip (G.711, audio from a
# WAV file through its aufile module, real RTCP) on the loopback of a
# network namespace this test creates, while sipman run captures live and
# tcpdump writes a pcap for tshark, the oracle. A clean call must score
# MOS >= 4.3 with tshark's packet counts and no loss; a call through the
# test's own lossy relay must show exactly the relay's drops as lost, G.107's
# MOS for that loss, and the phone's RTCP reporting it. The checks are in
# media_baresip_test.py.
set -euo pipefail
sipman=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespace, live capture, raw socket)"
for t in baresip tshark tcpdump ip python3; do
  command -v $t >/dev/null || skip "$t missing (scripts/bootstrap installs it)"
done
modules=
for d in /usr/lib/baresip/modules /usr/lib/*/baresip/modules /usr/local/lib/baresip/modules; do
  [ -f "$d/g711.so" ] && { modules=$d; break; }
done
[ -n "$modules" ] || skip "baresip's modules (g711.so) not found"
for m in g711 aufile account menu ctrl_tcp stun; do
  [ -f "$modules/$m.so" ] || skip "baresip module $m.so missing in $modules"
done
case "$sipman" in /*) ;; *) sipman=$PWD/$sipman;; esac

work=$(mktemp -d)
ns=sipman-baresip-$$
cleanup() { ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
            ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ip netns add "$ns" 2>/dev/null || skip "cannot create a network namespace (ip netns add)"
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" timeout 110 python3 "$root/tests/integration/media_baresip_test.py" "$sipman" "$work" "$modules"
