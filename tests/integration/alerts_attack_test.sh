#!/usr/bin/env bash
# A real attack, seen and stopped: SIPVicious (svmap, svwar, svcrack) against
# Kamailio while `sipman run` watches, in three network namespaces this test
# creates and joins with a bridge in the server's:
#
#   srv 10.77.0.1  Kamailio on :5060 (alerts_kamailio.cfg: OPTIONS 200,
#                  REGISTER 100-109 challenged, any other user 404, INVITEs
#                  to the SIPp UAS on :5070), nftables table inet sipman,
#                  `sipman run -i br0`
#   atk 10.77.0.2  the attacker: svmap, svwar, svcrack
#   cli 10.77.0.3  a legitimate SIPp caller, on sipman's allow list
#
# Phase 1, rules without actions: the sip-scanner, extension-scan and
# password-guessing rules each fire for 10.77.0.2 within 10 s of the start
# of the tool that trips them, while the SIPp calls all complete.
# Phase 2, the sip-scanner rule with action "block": svmap puts the attacker
# into the nftables set, its later packets are dropped (the rule's counter
# rises, and nothing answers them), the allow-listed caller trips the rule
# too but is not blocked, and its calls keep completing.
# Checks are in alerts_attack_test.py; it prints "N passed, M failed".
#
#   alerts_attack_test.sh SIPMAN    (exit 77: not root, a tool missing, no `sipman alerts`)
set -euo pipefail
sipman=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/tests/integration
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, nftables, live capture)"
for t in svmap svwar svcrack kamailio sipp nft ip python3; do
  command -v $t >/dev/null || skip "$t missing (scripts/bootstrap installs it)"
done
case "$sipman" in /*) ;; *) sipman=$PWD/$sipman;; esac
help=$("$sipman" --help 2>&1 || true)
grep -q 'sipman alerts' <<<"$help" || skip "$sipman has no 'alerts' command"
grep -q 'sipman run' <<<"$help" || skip "$sipman has no 'run' command"

ns_srv=sipman-srv-$$ ns_atk=sipman-atk-$$ ns_cli=sipman-cli-$$
work=$(mktemp -d)
chmod 755 "$work"
pids=()
# Running, and not yet a zombie waiting for `wait`.
alive() { [ -r "/proc/$1/stat" ] && ! grep -q '^[0-9]* (.*) Z ' "/proc/$1/stat" 2>/dev/null; }
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do alive "$p" || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  # Anything the helper left behind (it ends its own processes by PID).
  for ns in "$ns_srv" "$ns_atk" "$ns_cli"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
# For commands in the foreground only.
in_srv() { ip netns exec "$ns_srv" "$@"; }

# Three hosts on one switch: a bridge in srv, a veth pair to each of the
# others (created straight into the namespaces, so the names cannot clash).
for ns in "$ns_srv" "$ns_atk" "$ns_cli"; do
  ip netns add "$ns"
  ip -n "$ns" link set lo up
done
ip -n "$ns_srv" link add br0 type bridge
ip link add to-atk netns "$ns_srv" type veth peer name eth0 netns "$ns_atk"
ip link add to-cli netns "$ns_srv" type veth peer name eth0 netns "$ns_cli"
ip -n "$ns_srv" link set to-atk master br0
ip -n "$ns_srv" link set to-cli master br0
ip -n "$ns_srv" addr add 10.77.0.1/24 dev br0
ip -n "$ns_atk" addr add 10.77.0.2/24 dev eth0
ip -n "$ns_cli" addr add 10.77.0.3/24 dev eth0
for dev in br0 to-atk to-cli; do ip -n "$ns_srv" link set "$dev" up; done
ip -n "$ns_atk" link set eth0 up
ip -n "$ns_cli" link set eth0 up
links_up() {
  ip -n "$ns_srv" -br link show dev br0 | grep -q ' UP ' &&
  ip -n "$ns_atk" -br link show dev eth0 | grep -q ' UP ' &&
  ip -n "$ns_cli" -br link show dev eth0 | grep -q ' UP '
}
for _ in $(seq 50); do links_up && break; sleep 0.1; done
links_up || { echo "FAIL: the bridge and veth pairs did not come up"; exit 1; }

# The blocklist sipman fills (`nft add element inet sipman blocklist { ADDR
# timeout Ns }`) and the rule that drops and counts what comes from it.
cat >"$work/nft.conf" <<'EOF'
table inet sipman {
  set blocklist { type ipv4_addr; flags timeout; }
  chain input {
    type filter hook input priority 0; policy accept;
    ip saddr @blocklist counter drop
  }
}
EOF
in_srv nft -f "$work/nft.conf" || skip "nft cannot load a table (no nf_tables in this kernel?)"

# Kamailio in the foreground (-DD, logs to stderr with -E), one UDP worker,
# its runtime directory and PID file in $work. `ip netns exec` execs the
# command, so $! is Kamailio's main process (not so with in_srv and &: a
# function run in the background is a subshell).
mkdir -p "$work/kamailio"
ip netns exec "$ns_srv" kamailio -f "$here/alerts_kamailio.cfg" -DD -E -n 1 -Y "$work/kamailio" -w "$work/kamailio" \
  -P "$work/kamailio/kamailio.pid" >"$work/kamailio.log" 2>&1 &
pids+=($!)
# The callee of the legitimate calls, behind Kamailio.
ip netns exec "$ns_srv" sipp -sn uas -i 10.77.0.1 -p 5070 -nostdin -timeout 300s >"$work/uas.log" 2>&1 &
pids+=($!)

rc=0
timeout 300 python3 "$here/alerts_attack_test.py" --sipman "$sipman" --work "$work" \
  --srv "$ns_srv" --atk "$ns_atk" --cli "$ns_cli" --iface br0 || rc=$?
if [ $rc != 0 ]; then
  echo "     Kamailio log (last lines):"
  tail -n 15 "$work/kamailio.log" | sed 's/^/       /'
fi
exit $rc
