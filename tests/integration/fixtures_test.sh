#!/usr/bin/env bash
# The committed fixtures are exactly what scripts/make-test-pcaps writes, so
# they can be changed only through the script.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
python3 "$root/scripts/make-test-pcaps" "$out" >/dev/null
passed=0 failed=0
for f in "$root"/tests/fixtures/pcaps/*.pcap*; do
  name=${f##*/}
  if cmp -s "$f" "$out/$name"; then passed=$((passed + 1)); else
    echo "FAIL $name differs from what scripts/make-test-pcaps writes"; failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
