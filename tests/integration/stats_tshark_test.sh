#!/usr/bin/env bash
# Traffic counters against tshark: sipman analyze's stats_second rows equal,
# exactly, the per-second frame counts, frame bytes, SIP messages, methods and
# response classes that tshark finds in the same captures; the minute and
# hour rows are their sums; average and peak follow (stats_tshark_test.py).
set -euo pipefail
sipman=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(cd "$root/.." && pwd)/shared/pcaps/generated
fixtures=$root/tests/fixtures/pcaps
skip() { echo "SKIP: $*"; exit 77; }
[ -f "$dir/mixed-udp.pcap" ] && [ -f "$dir/mixed-tcp.pcap" ] ||
  skip "$dir/mixed-{udp,tcp}.pcap not found (CI lays ../shared beside the checkout)"
for t in tshark python3; do command -v $t >/dev/null || skip "$t missing (scripts/bootstrap installs it)"; done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Public captures with SIP in them (many seconds, IPv6 fragments), when present.
public=()
for f in sngrep__aaa.pcap sngrep__ipv6frag.pcap; do
  [ -f "$dir/../public/$f" ] && public+=("$dir/../public/$f")
done
python3 "$root/tests/integration/stats_tshark_test.py" "$sipman" "$work" \
  "$dir/mixed-udp.pcap" "$dir/mixed-tcp.pcap" "${public[@]}" \
  "$fixtures/tcp-segmentation.pcap" "$fixtures/tcp-out-of-order.pcap" \
  "$fixtures/ipv4-fragments.pcap" "$fixtures/ipv6-fragments.pcap" "$fixtures/websocket.pcap" \
  "$fixtures/sll.pcap" "$fixtures/pcapng-multi-if.pcapng"
