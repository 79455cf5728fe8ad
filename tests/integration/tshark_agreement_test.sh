#!/usr/bin/env bash
# Every capture under ../shared/pcaps and tests/fixtures/pcaps: sipman
# messages must list the same SIP messages as the capture's oracle (tshark,
# tshark with a decode-as, tshark on decapsulated HEP, ...; the public
# captures' oracles are in ../shared/pcaps/MANIFEST.md). compare_with_tshark.py
# says which oracle judges which file, and prints every file it skips and why.
set -euo pipefail
sipman=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
shared=$(cd "$root/.." && pwd)/shared
files=()
manifest=()
if [ -d "$shared/pcaps" ]; then
  [ -f "$shared/pcaps/MANIFEST.md" ] || { echo "FAIL $shared/pcaps/MANIFEST.md not found"; exit 1; }
  manifest=(--manifest "$shared/pcaps/MANIFEST.md")
  while IFS= read -r f; do files+=("$f"); done < <(find "$shared/pcaps" \( -name '*.pcap' -o -name '*.pcapng' \) | sort)
else
  echo "SKIP shared captures: $shared/pcaps not found (CI lays ../shared beside the checkout)"
fi
while IFS= read -r f; do files+=("$f"); done < <(find "$root/tests/fixtures/pcaps" \( -name '*.pcap' -o -name '*.pcapng' \) | sort)
exec python3 "$root/tests/integration/compare_with_tshark.py" "${manifest[@]}" "$sipman" "${files[@]}"
