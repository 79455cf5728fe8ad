#!/usr/bin/env bash
# HEP's RTCP (payload type 5, as Asterisk's res_hep_rtcp, rtpengine and
# heplify send it: JSON, and raw RTCP) joined to its call: a capture of HEP
# packets (SIP of one call, then the endpoints' reports) goes through
# `sipman analyze`, and the same HEP packets are sent over UDP to a live
# `sipman run --hep-listen`; both must store the call's two RTCP-only
# streams with the figures the reports give, and a MOS equal to an
# independent G.107 calculation. Checks are in hep_rtcp_test.py.
set -euo pipefail
sipman=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
command -v python3 >/dev/null || { echo "FAIL: python3 missing (scripts/bootstrap installs it)"; exit 1; }
case "$sipman" in /*) ;; *) sipman=$PWD/$sipman;; esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$root/tests/integration/hep_rtcp_test.py" "$sipman" "$work"
