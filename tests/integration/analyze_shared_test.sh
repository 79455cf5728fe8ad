#!/usr/bin/env bash
# sipman analyze on the shared SIPp captures (../shared/pcaps/generated/):
# calls per state and registrations equal their .truth.json files, and the
# durations, media and messages agree with tshark (analyze_shared_test.py).
set -euo pipefail
sipman=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(cd "$root/.." && pwd)/shared/pcaps/generated
skip() { echo "SKIP: $*"; exit 77; }
[ -f "$dir/mixed-udp.pcap" ] && [ -f "$dir/mixed-tcp.pcap" ] ||
  skip "$dir/mixed-{udp,tcp}.pcap not found (CI lays ../shared beside the checkout)"
for t in tshark python3; do command -v $t >/dev/null || skip "$t missing (scripts/bootstrap installs it)"; done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$root/tests/integration/analyze_shared_test.py" "$sipman" "$work" "$dir/mixed-udp.pcap" "$dir/mixed-tcp.pcap"
