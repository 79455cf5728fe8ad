#!/usr/bin/env bash
# Every capture under ../shared/pcaps and tests/fixtures/pcaps: sipman
# messages must list the same SIP messages as tshark.
set -euo pipefail
sipman=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
shared=$(cd "$root/.." && pwd)/shared
files=()
if [ -d "$shared/pcaps" ]; then
  while IFS= read -r f; do files+=("$f"); done < <(find "$shared/pcaps" -name '*.pcap' -o -name '*.pcapng' | sort)
else
  echo "SKIP shared captures: $shared/pcaps not found (CI lays ../shared beside the checkout)"
fi
# Our own fixtures; the damaged ones have their own test.
while IFS= read -r f; do files+=("$f"); done < <(find "$root/tests/fixtures/pcaps" \( -name '*.pcap' -o -name '*.pcapng' \) \
  ! -name 'not-a-capture*' ! -name 'truncated*' | sort)
exec python3 "$root/tests/integration/compare_with_tshark.py" "$sipman" "${files[@]}"
