#!/usr/bin/env bash
# sipman run --pcap interrupted and run again ends with the database a clean
# run writes: real SIPp traffic (calls with mixed outcomes, registrations)
# captured by tcpdump on the loopback of a network namespace this test
# creates, then replayed and stopped by SIGTERM (before, during and after the
# end of file) or killed by SIGKILL mid-write at random moments, each time
# replayed again to the end; every table must equal the clean run's, row by
# row, with no duplicates. Checks are in reliability_test.py; it prints
# "N passed, M failed".
#
# RELIABILITY_SEED=N replays the same moments; RELIABILITY_PCAP=FILE uses a
# capture kept from a failed run (its .truth.json beside it) instead of
# making one, and then needs neither root nor SIPp.
set -euo pipefail
sipman=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
skip() { echo "SKIP: $*"; exit 77; }
case "$sipman" in /*) ;; *) sipman=$PWD/$sipman;; esac
command -v python3 >/dev/null || skip "python3 missing (scripts/bootstrap installs it)"

work=$(mktemp -d)
ns=sipman-reliability-$$
cleanup() { ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
            ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

pcap=${RELIABILITY_PCAP:-}
if [ -z "$pcap" ]; then
  [ "$(id -u)" = 0 ] || skip "needs root (network namespace, tcpdump)"
  for t in sipp tcpdump ip; do
    command -v $t >/dev/null || skip "$t missing (scripts/bootstrap installs it)"
  done
  ip netns add "$ns"
  ip netns exec "$ns" ip link set lo up
  # 9 SIPp caller/callee pairs (scripts/gen-calls-pcap): 40 calls each at 4
  # calls/s, 320 calls and 40 registrations over about 10 s of capture.
  pcap=$work/sipp-udp.pcap
  ip netns exec "$ns" timeout 300 "$root/scripts/gen-calls-pcap" --out "$pcap" \
    --calls 40 --rate 4 --transport udp >"$work/gen.log" 2>&1 ||
    { cat "$work/gen.log"; echo "FAIL: SIPp traffic did not complete"; exit 1; }
fi

# The seed of the random moments, chosen here so that a failure can name it.
RELIABILITY_SEED=${RELIABILITY_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
export RELIABILITY_SEED
status=0
timeout 600 python3 "$root/tests/integration/reliability_test.py" "$sipman" "$work" "$pcap" ||
  status=$?
if [ "$status" != 0 ] && [ -z "${RELIABILITY_PCAP:-}" ]; then
  artifacts=${TMPDIR:-/tmp}/sipman-test-artifacts/reliability-$$
  mkdir -p "$artifacts"
  cp "$pcap" "${pcap%.pcap}.truth.json" "$artifacts/" 2>/dev/null || true
  echo "the capture is kept; to replay this run: RELIABILITY_SEED=$RELIABILITY_SEED" \
       "RELIABILITY_PCAP=$artifacts/$(basename "$pcap") bash $0 $sipman"
fi
exit "$status"
