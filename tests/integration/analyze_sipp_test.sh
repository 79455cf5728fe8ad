#!/usr/bin/env bash
# sipman analyze against SIPp's own counts: SIPp calls with known outcomes
# (answered audio and audio+video, 486, 404, 503, CANCEL, 401 and 407
# challenges, REGISTER with a 401 challenge) over UDP and over TCP, captured
# by tcpdump on the loopback of a network namespace this test creates; then
# calls per state, durations against tshark, media, messages and
# deduplication are checked by analyze_sipp_test.py.
set -euo pipefail
sipman=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespace, tcpdump)"
for t in sipp tcpdump tshark ip python3; do
  command -v $t >/dev/null || skip "$t missing (scripts/bootstrap installs it)"
done

work=$(mktemp -d)
ns=sipman-analyze-$$
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up

# Fresh traffic is random in its ports and timing. Once (of many runs) tshark
# 4.0 saw none of the messages of one TCP connection that sipman stored, in
# a run where sipman's counts equalled SIPp's: when a run fails, its captures
# are kept under $artifacts for a look, and the test runs once more on fresh
# traffic; a second failure fails the test.
artifacts=${TMPDIR:-/tmp}/sipman-test-artifacts/analyze_sipp-$$
for attempt in 1 2; do
  dir=$work/$attempt
  mkdir -p "$dir"
  for transport in udp tcp; do
    ip netns exec "$ns" timeout 300 "$root/scripts/gen-calls-pcap" --out "$dir/sipp-$transport.pcap" \
      --calls 10 --rate 20 --transport "$transport" >"$dir/gen-$transport.log" 2>&1 ||
      { cat "$dir/gen-$transport.log"; echo "FAIL: SIPp traffic over $transport did not complete"; exit 1; }
  done
  python3 "$root/tests/integration/analyze_sipp_test.py" "$sipman" "$dir" && exit 0
  mkdir -p "$artifacts"
  cp "$dir"/sipp-*.pcap "$dir"/*.truth.json "$artifacts/" 2>/dev/null || true
  echo "attempt $attempt failed; its captures are in $artifacts/"
done
exit 1
