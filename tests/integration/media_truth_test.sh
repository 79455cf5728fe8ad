#!/usr/bin/env bash
# sipman media against calls with exactly known impairments: scripts/
# gen-media-pcap writes them and the figures each RTP stream must have
# (loss, bursts, jitter, reordering, duplicates, late packets, wrap-around,
# SSRC change, one-way, hold, RTCP, DTMF, G.729); media_truth_test.py checks
# every figure, the counters and the E-model MOS. Seed 1 always, and one
# from $RANDOM, printed so that a failure can be replayed (MEDIA_TRUTH_SEED).
set -euo pipefail
sipman=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
skip() { echo "SKIP: $*"; exit 77; }
command -v python3 >/dev/null || skip "python3 missing (scripts/bootstrap installs it)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
seed=${MEDIA_TRUTH_SEED:-$RANDOM}
echo "seeds: 1 and $seed (replay: MEDIA_TRUTH_SEED=$seed bash $0 SIPMAN)"
python3 "$root/tests/integration/media_truth_test.py" "$sipman" "$root/scripts/gen-media-pcap" "$work" 1 "$seed"
