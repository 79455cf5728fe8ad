#!/usr/bin/env bash
# sipman run --pcap as an operator uses it: a SIGTERM after the end of a
# replay stores every call; timers run after a full-speed replay while HEP
# keeps sipman up; the web GUI keeps serving a finished replay until Ctrl-C.
# Checks are in run_replay_test.py; it prints "N passed, M failed".
set -euo pipefail
sipman=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
case "$sipman" in /*) ;; *) sipman=$PWD/$sipman;; esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
timeout 900 python3 "$root/tests/integration/run_replay_test.py" "$sipman" "$work"
