#!/usr/bin/env bash
# HEPv3 that sipman sends is read correctly by an independent receiver:
# `sipman run --pcap FILE --hep-send 127.0.0.1:PORT` forwards every SIP
# message to sngrep's HEP listener, which writes them to a capture; tshark
# must find in it the same SIP messages (Call-ID, method or status, CSeq),
# addresses, ports and timestamps (to the microsecond) as in the original.
# Checks are in hep_sngrep_test.py; it prints "N passed, M failed".
set -euo pipefail
sipman=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(cd "$root/.." && pwd)/shared/pcaps/generated
fixtures=$root/tests/fixtures/pcaps
skip() { echo "SKIP: $*"; exit 77; }
for t in sngrep tshark python3; do
  command -v $t >/dev/null || skip "$t missing (scripts/bootstrap installs it)"
done
captures=("$fixtures/ipv6-fragments.pcap" "$fixtures/tcp-segmentation.pcap")
for f in mixed-udp.pcap mixed-tcp.pcap; do
  [ -f "$dir/$f" ] && captures+=("$dir/$f")
done
case "$sipman" in /*) ;; *) sipman=$PWD/$sipman;; esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
timeout 600 python3 "$root/tests/integration/hep_sngrep_test.py" "$sipman" "$work" "${captures[@]}"
