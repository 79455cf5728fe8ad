#!/usr/bin/env bash
# sipman analyze on damaged and awkward input, made frame by frame by
# analyze_bad_input_test.py: never a crash, everything counted, nothing lost.
set -euo pipefail
sipman=$1
command -v python3 >/dev/null || { echo "SKIP: python3 missing"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$(dirname "$0")/analyze_bad_input_test.py" "$sipman" "$work"
