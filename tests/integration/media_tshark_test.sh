#!/usr/bin/env bash
# sipman media against tshark -z rtp,streams (media_tshark_test.py): every
# public capture with RTP, plus generated calls with loss, jitter (hence
# reordering) and one-way audio from ../shared/tools/gen-rtp-pcap, three
# seeds (sequence numbers and timestamps start at random, so some wrap).
#
# tshark runs with its STUN dissector off: STUN consent checks on a media
# 5-tuple make tshark hand that whole 5-tuple to STUN, and it stops
# decoding the stream's RTP (ISA__real_call.pcap: 3 of its 188 packets).
# SIPMan measures the RTP between the STUN packets; without STUN, tshark
# counts the same packets.
set -euo pipefail
sipman=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
shared=$(cd "$root/.." && pwd)/shared
skip() { echo "SKIP: $*"; exit 77; }
for t in tshark python3; do command -v $t >/dev/null || skip "$t missing (scripts/bootstrap installs it)"; done
[ -d "$shared/pcaps/public" ] || skip "$shared/pcaps/public not found (CI lays ../shared beside the checkout)"
[ -x "$shared/tools/gen-rtp-pcap" ] || skip "$shared/tools/gen-rtp-pcap not found"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
captures=()
for f in "$shared"/pcaps/public/*.pcap "$shared"/pcaps/public/*.pcapng "$shared"/pcaps/generated/*.pcap; do
  [ -f "$f" ] && captures+=("$f")
done
for seed in 1 2 3; do
  "$shared/tools/gen-rtp-pcap" "$work/rtp-$seed.pcap" --calls 100 --seconds 10 --concurrent 40 --seed $seed >/dev/null
  captures+=("$work/rtp-$seed.pcap")
done
python3 "$root/tests/integration/media_tshark_test.py" "$sipman" "${captures[@]}"
