#!/usr/bin/env bash
# End-to-end test of the web UI: tests/e2e/ui_e2e.mjs drives Debian's
# Chromium (playwright-core from ui/node_modules) and Firefox ESR
# (puppeteer-core over WebDriver BiDi, also from ui/node_modules).
#  1. Stored: against `sipman serve` on a database filled by `sipman analyze`,
#     in Chromium, then the same checks again in Firefox (that part alone is
#     skipped, with a message, without /usr/bin/firefox-esr).
#  2. Live (root, SIPp): in a network namespace this test creates, `sipman
#     run -i lo` captures SIPp calls and registrations on the namespace's
#     loopback and serves the GUI there; node and Chromium run in the same
#     namespace (ip netns exec) with SIPMAN_E2E_EXPECT_LIVE=1, so the
#     dashboard must update from the live stream while the calls flow, and
#     the usual checks (search, ladder, pcap, statistics) run on what the
#     daemon stored.
# Screenshots of every page go to e2e-artifacts/ (phase 1, Chromium),
# e2e-artifacts/firefox/ (phase 1, Firefox) and e2e-artifacts/live/ (phase 2)
# beside the binary, with the server logs.
# Usage: web_e2e_test.sh path/to/sipman. Exit 77 (skipped) when node,
# Chromium or the npm packages are missing; the live phase alone is skipped
# (with a message) without root or SIPp.
set -u
bin=${1:?usage: web_e2e_test.sh path/to/sipman}
root=$(cd "$(dirname "$0")/../.." && pwd)
chromium=${CHROMIUM:-/usr/bin/chromium}
firefox=${FIREFOX:-/usr/bin/firefox-esr}
case "$bin" in /*) ;; *) bin=$PWD/$bin;; esac

skip() { echo "SKIP: $*"; exit 77; }
command -v node >/dev/null || skip "node is not installed (scripts/bootstrap installs it)"
[ -x "$chromium" ] || skip "Chromium not found at $chromium (scripts/bootstrap installs the chromium package)"
[ -d "$root/ui/node_modules/playwright-core" ] ||
  skip "ui/node_modules is missing: run scripts/bootstrap (npm ci in ui/)"
"$bin" serve --help >/dev/null 2>&1 || "$bin" --help 2>&1 | grep -q 'sipman serve' ||
  skip "$bin has no 'serve' command yet"

pcap="$root/../shared/pcaps/generated/mixed-udp.pcap"
[ -f "$pcap" ] || pcap="$root/tests/fixtures/pcaps/websocket.pcap"
artifacts=${SIPMAN_E2E_ARTIFACTS:-$(cd "$(dirname "$bin")" && pwd)/e2e-artifacts}
mkdir -p "$artifacts"
echo "== phase 1: sipman serve over a database filled by sipman analyze"
echo "capture: $pcap"
echo "artifacts (screenshots, server log, downloaded pcap): $artifacts"
timeout 600 node "$root/tests/e2e/ui_e2e.mjs" --sipman "$bin" --pcap "$pcap" \
  --artifacts "$artifacts" --chromium "$chromium"
stored_rc=$?

echo "== phase 1 again in Firefox: the same checks on a fresh server and database"
firefox_rc=0
if [ ! -x "$firefox" ]; then
  echo "SKIP Firefox part of phase 1: no Firefox at $firefox (scripts/bootstrap installs firefox-esr; FIREFOX=PATH for another)"
elif [ ! -d "$root/ui/node_modules/puppeteer-core" ]; then
  echo "SKIP Firefox part of phase 1: ui/node_modules/puppeteer-core is missing: run scripts/bootstrap (npm ci in ui/)"
else
  rm -rf "$artifacts/firefox"
  mkdir -p "$artifacts/firefox"
  echo "firefox artifacts: $artifacts/firefox"
  timeout 600 node "$root/tests/e2e/ui_e2e.mjs" --browser firefox --firefox "$firefox" \
    --sipman "$bin" --pcap "$pcap" --artifacts "$artifacts/firefox"
  firefox_rc=$?
fi
[ $firefox_rc = 0 ] || stored_rc=1

echo "== phase 2: sipman run capturing SIPp traffic live, GUI in the same network namespace"
live_skip=""
[ "$(id -u)" = 0 ] || live_skip="needs root (network namespace, live capture)"
for t in sipp ip curl; do
  command -v $t >/dev/null || live_skip="$t missing (scripts/bootstrap installs it)"
done
if [ -n "$live_skip" ]; then
  echo "SKIP live phase: $live_skip"
  exit $stored_rc
fi

live_artifacts="$artifacts/live"
rm -rf "$live_artifacts"
mkdir -p "$live_artifacts"
work=$(mktemp -d)
ns=sipman-web-$$
port=18080
url="http://127.0.0.1:$port"
password=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')
daemon=""
pids=()
# Foreground commands in the namespace. Background ones are started with
# `ip netns exec` itself, which execs the command: $! is then its PID.
nsx() { ip netns exec "$ns" "$@"; }
# Ends what this test started, by PID: SIPp first, then the daemon (SIGTERM,
# then SIGKILL after 30 s).
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  pids=()
  if [ -n "$daemon" ]; then
    kill -TERM "$daemon" 2>/dev/null
    for _ in $(seq 300); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$daemon" 2>/dev/null
    wait "$daemon" 2>/dev/null
    daemon=""
  fi
  ip netns del "$ns" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns" || { echo "FAIL cannot create network namespace $ns"; exit 1; }
nsx ip link set lo up

# The daemon, with the GUI on the namespace's loopback. A first start: the
# admin password comes from the environment, so nothing random is printed.
ip netns exec "$ns" env SIPMAN_ADMIN_PASSWORD="$password" "$bin" run -i lo --listen "127.0.0.1:$port" \
  --db "$work/live.db" --stats-interval 5 >"$live_artifacts/run.out" 2>"$live_artifacts/run.log" &
daemon=$!
up=0
for _ in $(seq 100); do
  kill -0 "$daemon" 2>/dev/null || break
  if nsx curl -sf -o /dev/null --max-time 2 "$url/healthz"; then up=1; break; fi
  sleep 0.2
done
if [ $up != 1 ]; then
  echo "FAIL sipman run did not serve $url/healthz within 20 s; its log:"
  cat "$live_artifacts/run.log"
  exit 1
fi
if ! tr '\0' ' ' <"/proc/$daemon/cmdline" | grep -q "sipman run "; then
  echo "FAIL pid $daemon is not sipman run"; exit 1
fi
echo "ok   sipman run (pid $daemon) captures on lo and serves $url"
grep -q "web GUI on http://127.0.0.1:$port/" "$live_artifacts/run.log" &&
  echo "ok   its log names the URL" || { echo "FAIL its log does not name the URL"; stored_rc=1; }
if grep -q "password" "$live_artifacts/run.out"; then
  echo "FAIL a password was printed although SIPMAN_ADMIN_PASSWORD was set"; stored_rc=1
fi

# Traffic for about 25 s (the browser may start late on a loaded machine):
# answered calls of 3 s (so that some are up at
# any time), busy calls and registrations.
sc="$root/tests/scenarios"
sed 's/<pause milliseconds="200"\/>/<pause milliseconds="3000"\/>/' "$sc/uac-answer-audio.xml" \
  >"$work/uac-answer-3s.xml"
answered=100 busy=10 regs=5
sipp_log="$live_artifacts/sipp.log"
sipp_uas() { ip netns exec "$ns" sipp -sf "$sc/$1.xml" -i 127.0.0.1 -p "$2" -t u1 -nostdin -timeout 120s \
  >>"$sipp_log" 2>&1 & pids+=($!); }
sipp_uac() { ip netns exec "$ns" sipp "127.0.0.1:$1" -sf "$2" -i 127.0.0.1 -p "$3" -t u1 -m "$4" -r "$5" -nostdin \
  -timeout 120s -au user -ap secret >>"$sipp_log" 2>&1 & pids+=($!); }
sipp_uas uas-answer-audio 5060
sipp_uas uas-reject-486 5062
sipp_uas uas-registrar 5064
sleep 0.5
sipp_uac 5060 "$work/uac-answer-3s.xml" 5070 $answered 4
sipp_uac 5062 "$sc/uac-reject-486.xml" 5072 $busy 1
sipp_uac 5064 "$sc/uac-register.xml" 5074 $regs 1
sleep 2

echo "SIPp sends $answered answered calls, $busy busy calls and $regs registrations for ~25 s"
SIPMAN_E2E_EXPECT_LIVE=1 nsx timeout 400 node "$root/tests/e2e/ui_e2e.mjs" --url "$url" \
  --user admin --password "$password" --expect-calls $((answered + busy)) \
  --artifacts "$live_artifacts" --chromium "$chromium"
live_rc=$?

# /metrics shows the running counters (Bearer tokens are for scripts; a
# session cookie from a login works as well).
cookie="$work/cookie"
if nsx curl -sf -o /dev/null -c "$cookie" -H 'Content-Type: application/json' \
     -d "{\"username\":\"admin\",\"password\":\"$password\"}" "$url/api/v1/login" &&
   nsx curl -sf -b "$cookie" "$url/metrics" >"$live_artifacts/metrics.txt"; then
  invites=$(awk '/^sipman_sip_messages_total\{method="INVITE"\}/ {print $2}' "$live_artifacts/metrics.txt")
  if [ "${invites:-0}" -ge $((answered + busy)) ] 2>/dev/null &&
     grep -q '^sipman_calls_total{state="answered"} ' "$live_artifacts/metrics.txt" &&
     grep -q '^sipman_concurrent_calls ' "$live_artifacts/metrics.txt"; then
    echo "ok   /metrics shows the running counters ($invites INVITEs)"
  else
    echo "FAIL /metrics lacks the running counters (INVITEs: ${invites:-none}); see $live_artifacts/metrics.txt"
    live_rc=1
  fi
else
  echo "FAIL cannot log in and read /metrics"
  live_rc=1
fi

# A clean stop: SIGTERM, bounded wait, exit status 0.
for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
pids=()
kill -TERM "$daemon"
stopped=0
for _ in $(seq 300); do kill -0 "$daemon" 2>/dev/null || { stopped=1; break; }; sleep 0.1; done
if [ $stopped = 1 ]; then
  wait "$daemon"; rc=$?
  daemon=""
  [ $rc = 0 ] && echo "ok   sipman run stops cleanly on SIGTERM" ||
    { echo "FAIL sipman run exited $rc on SIGTERM; log in $live_artifacts/run.log"; live_rc=1; }
else
  echo "FAIL sipman run did not stop within 30 s of SIGTERM"
  live_rc=1
fi
echo "live artifacts: $live_artifacts"
[ $stored_rc = 0 ] && [ $live_rc = 0 ] && echo "web e2e: both phases passed" && exit 0
echo "web e2e: phase 1 (stored; Firefox rc=$firefox_rc) rc=$stored_rc, phase 2 (live) rc=$live_rc"
exit 1
