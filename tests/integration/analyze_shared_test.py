#!/usr/bin/env python3
"""sipman analyze on the shared generated captures, judged against their
.truth.json files (SIPp's counts) and tshark.

usage: analyze_shared_test.py SIPMAN WORKDIR CAPTURE...
"""
import collections
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import analyze_lib as lib  # noqa: E402


def check_detail(ck, label, calls, truth):
    """The truth's per-outcome detail, told apart by what the store says:
    final status for failures, the caller's media types for answered calls
    (the shared answering UAS always answers audio only)."""
    d = truth["detail"]
    answered = [c for c in calls if c["state"] == "answered"]
    got = {
        "answered_audio": sum(c["caller_media_types"] == "audio" for c in answered),
        "answered_audio_video": sum(c["caller_media_types"] == "audio,video" for c in answered),
        "busy_486": sum(c["state"] == "busy" and c["final_status"] == 486 for c in calls),
        "not_found_404": sum(c["state"] == "failed" and c["final_status"] == 404 for c in calls),
        "unavailable_503": sum(c["state"] == "failed" and c["final_status"] == 503 for c in calls),
        "cancelled_487": sum(c["state"] == "cancelled" and c["final_status"] == 487 for c in calls),
    }
    want = {k: d[k] for k in got}
    ck.check(f"{label}: calls per outcome (status, media types) equal the truth's detail", got == want,
             f"expected {want}, got {got}")
    callee = collections.Counter(c["callee_media_types"] for c in answered)
    ck.check(f"{label}: every answered call's callee answered audio", callee == {"audio": len(answered)},
             dict(callee))


def main():
    sipman, work, captures = sys.argv[1], sys.argv[2], sys.argv[3:]
    ck = lib.Checks()
    for pcap in captures:
        with open(pcap[:-len(".pcap")] + ".truth.json") as f:
            truth = json.load(f)
        label = os.path.basename(pcap)
        result = lib.analyze_capture(ck, label, sipman, pcap, truth, work)
        if result is not None:
            check_detail(ck, label, result[1], truth)
    return ck.finish()


if __name__ == "__main__":
    sys.exit(main())
