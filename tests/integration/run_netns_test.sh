#!/usr/bin/env bash
# sipman run between two hosts: two network namespaces this test creates,
# joined by a veth pair (UAS host 10.200.0.1, UAC host 10.200.0.2). SIPp
# answers in the UAS namespace and calls from the UAC namespace with known
# outcomes (tests/scenarios: answered audio and audio+video, 486, 404, 503,
# CANCEL, 407 and 401 challenges, REGISTER), over UDP and then over TCP,
# while `sipman run -i <veth of the UAS host>` captures inside the UAS
# namespace. Then a few answered calls are left in flight, sipman is stopped
# with SIGTERM (by PID) and run_netns_test.py checks the database: calls per
# state equal SIPp's counts, the two hosts' addresses, the calls in flight.
#
#   run_netns_test.sh SIPMAN        (exit 77: not root, a tool missing, no `sipman run`)
set -euo pipefail
sipman=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
sc=$root/tests/scenarios
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, live capture)"
for t in sipp ip python3; do
  command -v $t >/dev/null || skip "$t missing (scripts/bootstrap installs it)"
done
help=$("$sipman" --help 2>&1 || true)
grep -q 'sipman run' <<<"$help" || skip "$sipman has no 'run' command"

calls=10 rate=20 long_calls=3
uas_ip=10.200.0.1 uac_ip=10.200.0.2
ns_uas=sipman-uas-$$ ns_uac=sipman-uac-$$
veth_uas=smu$$ veth_uac=smc$$
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  ip netns del "$ns_uas" 2>/dev/null || true
  ip netns del "$ns_uac" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# For commands in the foreground only: a function run with & would be a
# subshell, and $! its PID rather than the command's.
in_uas() { ip netns exec "$ns_uas" "$@"; }
in_uac() { ip netns exec "$ns_uac" "$@"; }

# Two hosts and a cable.
ip netns add "$ns_uas"
ip netns add "$ns_uac"
ip link add "$veth_uas" netns "$ns_uas" type veth peer name "$veth_uac" netns "$ns_uac"
in_uas ip link set lo up
in_uac ip link set lo up
in_uas ip addr add $uas_ip/24 dev "$veth_uas"
in_uac ip addr add $uac_ip/24 dev "$veth_uac"
in_uas ip link set "$veth_uas" up
in_uac ip link set "$veth_uac" up
link_up() { in_uas ip -br link show dev "$veth_uas" | grep -q ' UP ' &&
            in_uac ip -br link show dev "$veth_uac" | grep -q ' UP '; }
for _ in $(seq 50); do link_up && break; sleep 0.1; done
link_up || { echo "FAIL: the veth pair $veth_uas-$veth_uac did not come up"; exit 1; }

# SIPMan on the UAS host's interface. `ip netns exec` execs the command, so $!
# is sipman's own PID.
db=$work/live.db sensor=netns-test
ip netns exec "$ns_uas" "$sipman" run --no-web -i "$veth_uas" --db "$db" --sensor "$sensor" >"$work/sipman.out" 2>"$work/sipman.err" &
sipman_pid=$!; pids+=($sipman_pid)
# Ready once it has logged its first line (it logs a status line every
# second); bounded.
for _ in $(seq 100); do
  [ -s "$work/sipman.err" ] && break
  kill -0 $sipman_pid 2>/dev/null || break
  sleep 0.1
done
sleep 0.5
if ! kill -0 $sipman_pid 2>/dev/null; then
  wait $sipman_pid; rc=$?
  cat "$work/sipman.err"; echo "FAIL: sipman run exited $rc before any traffic"; exit 1
fi

# outcome  uas-scenario  uas-port  uac-scenario  uac-port (TCP adds 100 to both)
plan="answered_audio uas-answer-audio 5071 uac-answer-audio 5081
answered_video uas-answer-video 5073 uac-answer-video 5082
busy uas-reject-486 5074 uac-reject-486 5083
not_found uas-reject-404 5075 uac-reject-404 5084
unavailable uas-reject-503 5076 uac-reject-503 5085
cancelled uas-cancel 5077 uac-cancel 5086
auth407 uas-auth407-answer 5078 uac-auth407-answer 5087
auth401 uas-auth401-answer 5079 uac-auth401-answer 5088
registered uas-registrar 5080 uac-register 5089"

# Runs every outcome over one transport; appends "transport outcome successful
# uas-port" lines to $work/truth.txt.
run_batch() {
  local transport=$1 tflag offset uas_pids=() uacs=()
  case $transport in udp) tflag=u1 offset=0;; tcp) tflag=tn offset=100;; esac
  while read -r name uas port uac lport; do
    ip netns exec "$ns_uas" sipp -sf "$sc/$uas.xml" -i $uas_ip -p $((port + offset)) -t $tflag -max_socket 1000 \
      -nostdin -timeout 120s >"$work/$transport-$name.uas.log" 2>&1 &
    uas_pids+=($!); pids+=($!)
  done <<<"$plan"
  sleep 1
  while read -r name uas port uac lport; do
    ip netns exec "$ns_uac" sipp $uas_ip:$((port + offset)) -sf "$sc/$uac.xml" -i $uac_ip -p $((lport + offset)) \
      -t $tflag -max_socket 1000 -m $calls -r $rate -nostdin -timeout 120s -au user -ap secret \
      -trace_stat -stf "$work/$transport-$name.stat.csv" -fd 1 >"$work/$transport-$name.uac.log" 2>&1 &
    uacs+=("$!:$name:$((port + offset))"); pids+=($!)
  done <<<"$plan"
  local entry pid name port rc succ
  for entry in "${uacs[@]}"; do
    IFS=: read -r pid name port <<<"$entry"
    rc=0; wait "$pid" || rc=$?
    succ=$(awk -F';' 'NR==1{for(i=1;i<=NF;i++) if($i=="SuccessfulCall(C)") c=i} END{print $c+0}' \
           "$work/$transport-$name.stat.csv" 2>/dev/null || echo 0)
    [ "$rc" = 0 ] || echo "note: SIPp $transport $name exited $rc: $(tail -n 3 "$work/$transport-$name.uac.log" | tr '\n' ' ')"
    echo "$transport $name ${succ:-0} $port" >>"$work/truth.txt"
  done
  for pid in "${uas_pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
}
: >"$work/truth.txt"
run_batch udp
run_batch tcp

# Calls in flight at the stop: answered, then the caller waits a minute
# before its BYE. Made from the answered-audio scenario, with callers named
# long-N.
sed -e 's/audio-\[call_number\]/long-[call_number]/g' -e 's/"audio \[call_number\]"/"long [call_number]"/g' \
    -e 's/pause milliseconds="200"/pause milliseconds="60000"/' "$sc/uac-answer-audio.xml" >"$work/uac-long.xml"
ip netns exec "$ns_uas" sipp -sf "$sc/uas-answer-audio.xml" -i $uas_ip -p 5090 -t u1 -nostdin -timeout 120s \
  >"$work/long.uas.log" 2>&1 &
pids+=($!)
sleep 1
ip netns exec "$ns_uac" sipp $uas_ip:5090 -sf "$work/uac-long.xml" -i $uac_ip -p 5091 -t u1 -m $long_calls -r 10 \
  -nostdin -timeout 120s >"$work/long.uac.log" 2>&1 &
pids+=($!)
# Started at 10 calls/s, answered at once: all are between ACK and BYE after 3 s.
sleep 3

# Stop sipman by PID and wait for it (bounded); it must flush everything.
kill -TERM $sipman_pid
rc=timeout
for _ in $(seq 600); do
  if ! kill -0 $sipman_pid 2>/dev/null; then rc=0; wait $sipman_pid || rc=$?; break; fi
  sleep 0.1
done
[ "$rc" = timeout ] && kill -KILL $sipman_pid 2>/dev/null
echo "     sipman run log (standard error, last lines) and summary (standard output):"
tail -n 4 "$work/sipman.err" | sed 's/^/       /'
sed 's/^/       /' "$work/sipman.out"

python3 "$root/tests/integration/run_netns_test.py" --db "$db" --truth "$work/truth.txt" \
  --sipman-rc "$rc" --sipman-err "$work/sipman.err" --sipman-out "$work/sipman.out" --sensor "$sensor" \
  --uas-ip $uas_ip --uac-ip $uac_ip --calls $calls --long-calls $long_calls --long-port 5090
