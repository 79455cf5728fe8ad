#!/usr/bin/env bash
# A failing trunk, seen by an alert rule and told to a real Alertmanager and
# a webhook receiver; the same rules over a capture of the same traffic; and
# notifications that cannot be delivered never holding up capture. All in a
# network namespace of its own (its loopback: 127.0.0.1 the caller and
# sipman's receivers, 127.0.0.2 the trunk, 127.0.1.x the scanners):
#
# Phase 1: `sipman run -i lo --config` with rule trunk-asr (asr by dst_ip,
#   window 20 s, fire <= 50 %, resolve >= 80 %) while a SIPp caller makes 5
#   calls a second to 127.0.0.2:5090, where a SIPp UAS answers 503 for 25 s
#   and is then replaced by one that answers 200. The rule fires once for
#   127.0.0.2 and resolves after the recovery, with 503 calls as evidence.
#   sipman's webhook (a receiver in the test) gets exactly the fire and the
#   resolve POST; prometheus-alertmanager (started here, cluster off) shows
#   the alert active and sends its own webhook notifications, firing and
#   resolved, to the receiver.
# Phase 2: tcpdump captured the same traffic; `sipman analyze --config` over
#   it stores the same alerts as the live run.
# Phase 3: a second run with a webhook that accepts connections and never
#   answers, an Alertmanager port that refuses them and a notification queue
#   of 2: 200 OPTIONS of a "friendly-scanner" from 50 addresses are all
#   stored, the 50 sip-scanner alerts too, and the summary counts dropped
#   notifications.
# About 105 s.
# Checks are in alerts_trunk_test.py; it prints "N passed, M failed".
#
#   alerts_trunk_test.sh SIPMAN    (exit 77: not root, a tool missing, no `sipman alerts`)
set -euo pipefail
sipman=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/tests/integration
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespace, live capture)"
for t in sipp tcpdump prometheus-alertmanager ip python3; do
  command -v $t >/dev/null || skip "$t missing (scripts/bootstrap installs it)"
done
case "$sipman" in /*) ;; *) sipman=$PWD/$sipman;; esac
help=$("$sipman" --help 2>&1 || true)
grep -q 'sipman alerts' <<<"$help" || skip "$sipman has no 'alerts' command"
grep -q 'sipman run' <<<"$help" || skip "$sipman has no 'run' command"

ns=sipman-trunk-$$
work=$(mktemp -d)
chmod 755 "$work"
# Running, and not yet a zombie waiting for `wait`.
alive() { [ -r "/proc/$1/stat" ] && ! grep -q '^[0-9]* (.*) Z ' "/proc/$1/stat" 2>/dev/null; }
cleanup() {
  # The Python driver ends its own processes by PID; anything left in the
  # namespace (it was killed, say) is ended here, by PID too.
  for p in $(ip netns pids "$ns" 2>/dev/null); do kill -TERM "$p" 2>/dev/null || true; done
  for p in $(ip netns pids "$ns" 2>/dev/null); do
    for _ in $(seq 50); do alive "$p" || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up

rc=0
ip netns exec "$ns" timeout 280 python3 "$here/alerts_trunk_test.py" --sipman "$sipman" --work "$work" \
  --scenarios "$root/tests/scenarios" --here "$here" || rc=$?
exit $rc
