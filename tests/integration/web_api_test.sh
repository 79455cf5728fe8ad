#!/usr/bin/env bash
# The web API against a running `sipman serve` on a real database: SIPp calls
# (fresh ones made by scripts/gen-calls-pcap in a network namespace when this
# runs as root with sipp and tcpdump; else the SIPp captures in
# ../shared/pcaps/generated) stored by `sipman analyze`; then
# web_api_test.py checks authentication, every endpoint, filters and
# pagination against direct sqlite3 reads, the rate limit, SQL injection
# strings in every filter, malformed and oversized requests over raw
# sockets, and each call's pcap read back by tshark.
set -euo pipefail
sipman=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
skip() { echo "SKIP: $*"; exit 77; }
for t in tshark python3; do
  command -v $t >/dev/null || skip "$t missing (scripts/bootstrap installs it)"
done
"$sipman" serve --help >/dev/null 2>&1 || skip "$sipman has no serve command"

work=$(mktemp -d)
ns=sipman-web-$$
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
pcaps=()
if [ "$(id -u)" = 0 ] && command -v sipp >/dev/null && command -v tcpdump >/dev/null &&
   command -v ip >/dev/null && ip netns add "$ns" 2>/dev/null; then
  ip netns exec "$ns" ip link set lo up
  for transport in udp tcp; do
    if ip netns exec "$ns" timeout 300 "$root/scripts/gen-calls-pcap" \
         --out "$work/sipp-$transport.pcap" --calls 12 --rate 20 --transport $transport \
         >"$work/gen-$transport.log" 2>&1; then
      pcaps+=("$work/sipp-$transport.pcap")
    else
      cat "$work/gen-$transport.log"; echo "FAIL: SIPp traffic over $transport did not complete"
      exit 1
    fi
  done
else
  for f in "$root/../shared/pcaps/generated/mixed-udp.pcap" "$root/../shared/pcaps/generated/mixed-tcp.pcap"; do
    [ -f "$f" ] && pcaps+=("$f")
  done
  [ ${#pcaps[@]} -gt 0 ] || skip "no SIPp capture: run as root with sipp and tcpdump, or provide ../shared/pcaps/generated"
fi
echo "captures: ${pcaps[*]}"
python3 "$root/tests/integration/web_api_test.py" "$sipman" "$work" "${pcaps[@]}"
