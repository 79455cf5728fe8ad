#!/usr/bin/env bash
# Real SIP traffic from SIPp, captured by tcpdump, decoded by sipman and by
# tshark: both must list the same messages. The traffic runs inside a network
# namespace that this test creates, whose loopback has a small MTU (600) so
# that the kernel splits TCP messages over several segments and fragments
# large UDP datagrams: reassembly is exercised on real kernel output.
set -euo pipefail
sipman=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
gen=$(cd "$root/.." && pwd)/shared/tools/gen-sip-pcap
skip() { echo "SKIP: $*"; exit 77; }
[ -x "$gen" ] || skip "$gen not found (CI lays ../shared beside the checkout)"
[ "$(id -u)" = 0 ] || skip "needs root (network namespace, tcpdump)"
command -v sipp >/dev/null || skip "sipp missing (scripts/bootstrap installs sip-tester)"

work=$(mktemp -d)
ns=sipman-test-$$
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ip netns add "$ns"
ip netns exec "$ns" ip link set lo mtu 600 up
# Without this the kernel hands tcpdump unsegmented super-packets (TSO/GSO).
ip netns exec "$ns" ethtool -K lo tso off gso off gro off >/dev/null 2>&1 || true

for transport in udp tcp; do
  ip netns exec "$ns" timeout 300 "$gen" --out "$work/sipp-$transport.pcap" --calls 5 --rate 20 \
    --transport "$transport" >"$work/gen-$transport.log" 2>&1 ||
    { cat "$work/gen-$transport.log"; echo "FAIL: SIPp traffic over $transport did not complete"; exit 1; }
done

# The captures must really contain what this test is about.
reassembled=$(tshark -r "$work/sipp-tcp.pcap" -d tcp.port==5060-5099,sip -Y 'sip && tcp.reassembled.length' -T fields -e frame.number 2>/dev/null | wc -l)
frags=$(tshark -r "$work/sipp-udp.pcap" -Y 'ip.flags.mf == 1' -T fields -e frame.number 2>/dev/null | wc -l)
echo "tcp: $reassembled SIP messages reassembled from several segments; udp: $frags SIP datagrams rebuilt from IP fragments"
[ "$reassembled" -gt 0 ] || { echo "FAIL: no TCP message spanned segments; the MTU trick did not work"; exit 1; }
[ "$frags" -gt 0 ] || { echo "FAIL: no UDP datagram was fragmented; the MTU trick did not work"; exit 1; }
# Several messages in one segment do not happen here (SIPp sends each
# message at once with Nagle off); tests/fixtures/pcaps/tcp-segmentation.pcap
# and the unit tests cover that case.

python3 "$root/tests/integration/compare_with_tshark.py" "$sipman" "$work/sipp-udp.pcap" "$work/sipp-tcp.pcap"
