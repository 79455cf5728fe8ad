#!/usr/bin/env bash
# Memory stays bounded under 1,000,000 unanswered INVITEs (and a burst past
# the open-call cap), and every call reaches the store: see
# analyze_memory_test.py. Needs about 300 MB of disk for the capture (deleted
# as soon as sipman has read it) and 800 MB for the database.
set -euo pipefail
sipman=$1
command -v python3 >/dev/null || { echo "SKIP: python3 missing"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
free_mb=$(df -Pm "$work" | awk 'NR==2 {print $4}')
[ "$free_mb" -ge 1500 ] || { echo "SKIP: needs 1500 MB free in $work, has $free_mb MB"; exit 77; }
python3 "$(dirname "$0")/analyze_memory_test.py" "$sipman" "$work"
