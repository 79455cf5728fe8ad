#!/usr/bin/env python3
"""sipman analyze on captures of SIPp calls made by scripts/gen-calls-pcap
(analyze_sipp_test.sh makes them): every check of analyze_lib against tshark
and SIPp's truth file, plus what each scenario (tests/scenarios/) sent:
state, final status, challenges, and the exact SDP of both sides.

usage: analyze_sipp_test.py SIPMAN WORKDIR   (WORKDIR holds sipp-udp.pcap, sipp-tcp.pcap
                                              and their .truth.json files)
"""
import collections
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import analyze_lib as lib  # noqa: E402

CALLER_AUDIO = "PCMU/8000,PCMA/8000,telephone-event/8000"

# caller user prefix -> what the scenario pair sends. The caller's SDP
# address is 192.0.2.<its call number>, the callee's is fixed per UAS.
SCENARIOS = {
    "audio": dict(detail="answered_audio", state="answered", status=200, challenges=0,
                  caller=[("audio", 30000, CALLER_AUDIO)],
                  callee=("198.51.100.1", [("audio", 40000, "PCMU/8000")])),
    "video": dict(detail="answered_audio_video", state="answered", status=200, challenges=0,
                  caller=[("audio", 30000, CALLER_AUDIO), ("video", 30002, "H264/90000")],
                  callee=("198.51.100.2", [("audio", 40000, "PCMU/8000"), ("video", 40002, "H264/90000")])),
    "auth407": dict(detail="answered_after_407", state="answered", status=200, challenges=1,
                    caller=[("audio", 30000, CALLER_AUDIO)],
                    callee=("198.51.100.3", [("audio", 40000, "PCMU/8000")])),
    "auth401": dict(detail="answered_after_401", state="answered", status=200, challenges=1,
                    caller=[("audio", 30000, CALLER_AUDIO)],
                    callee=("198.51.100.4", [("audio", 40000, "PCMU/8000")])),
    "reject486": dict(detail="busy_486", state="busy", status=486, challenges=0),
    "reject404": dict(detail="not_found_404", state="failed", status=404, challenges=0),
    "reject503": dict(detail="unavailable_503", state="failed", status=503, challenges=0),
    "cancel": dict(detail="cancelled_487", state="cancelled", status=487, challenges=0),
}


def check_scenarios(ck, label, calls, truth, transport):
    per_scenario = collections.Counter()
    wrong = collections.defaultdict(list)
    for c in calls:
        m = re.fullmatch(r"([a-z0-9]+)-(\d+)", c["caller_user"])
        sc = SCENARIOS.get(m.group(1)) if m else None
        if sc is None:
            wrong["unknown caller"].append((c["call_id"], c["caller_user"]))
            continue
        name, number = m.group(1), int(m.group(2))
        per_scenario[name] += 1
        if (c["state"], c["final_status"]) != (sc["state"], sc["status"]):
            wrong["state/final_status"].append(
                (c["call_id"], name, f"expected {sc['state']}/{sc['status']}, got {c['state']}/{c['final_status']}"))
        if c["auth_challenges"] != sc["challenges"]:
            wrong["auth_challenges"].append(
                (c["call_id"], name, f"expected {sc['challenges']}, got {c['auth_challenges']}"))
        if c["transport"] != transport:
            wrong["transport"].append((c["call_id"], f"expected {transport}, got {c['transport']}"))
        if sc["state"] == "answered" and c["hangup_by"] != "caller":
            wrong["hangup_by"].append((c["call_id"], f"expected caller, got {c['hangup_by']!r}"))
        caller = json.loads(c["caller_media"])
        if "caller" in sc:
            want = [(t, f"192.0.2.{number}", p, codecs) for t, p, codecs in sc["caller"]]
            got = [(s["type"], s["address"], s["port"], s["codecs"]) for s in caller]
            if got != want:
                wrong["caller media"].append((c["call_id"], f"expected {want}, got {got}"))
            addr, streams = sc["callee"]
            want = [(t, addr, p, codecs) for t, p, codecs in streams]
            got = [(s["type"], s["address"], s["port"], s["codecs"]) for s in json.loads(c["callee_media"])]
            if got != want:
                wrong["callee media"].append((c["call_id"], f"expected {want}, got {got}"))
            want_types = (",".join(t for t, _, _ in sc["caller"]), ",".join(t for t, _, _ in streams))
        else:
            # Rejected and cancelled calls: an audio offer, no answer.
            want_types = ("audio", "")
            if [s["type"] for s in caller] != ["audio"] or caller[0]["port"] == 0:
                wrong["caller media"].append((c["call_id"], f"expected one audio stream, got {caller}"))
        got_types = (c["caller_media_types"], c["callee_media_types"])
        if got_types != want_types:
            wrong["media types"].append((c["call_id"], name, f"expected {want_types}, got {got_types}"))
    want_counts = {name: truth["detail"][sc["detail"]] for name, sc in SCENARIOS.items()}
    got_counts = {name: per_scenario.get(name, 0) for name in SCENARIOS}
    ck.check(f"{label}: calls per scenario equal SIPp's successful calls per scenario",
             got_counts == want_counts and not wrong["unknown caller"],
             f"expected {want_counts}, got {got_counts}; unknown callers {wrong['unknown caller'][:5]}")
    for what in ("state/final_status", "auth_challenges", "transport", "hangup_by", "caller media",
                 "callee media", "media types"):
        ck.check(f"{label}: {what} of every call is what its scenario sent", not wrong[what], wrong[what][:10])


def main():
    sipman, work = sys.argv[1], sys.argv[2]
    ck = lib.Checks()
    for transport in ("udp", "tcp"):
        pcap = os.path.join(work, f"sipp-{transport}.pcap")
        with open(pcap[:-len(".pcap")] + ".truth.json") as f:
            truth = json.load(f)
        label = f"sipp-{transport}"
        print(f"     {label} truth: {json.dumps(truth['calls'])} detail {json.dumps(truth['detail'])} "
              f"registrations {truth['registrations_successful']}")
        requested = truth["calls_per_outcome_requested"]
        ck.check(f"{label}: SIPp completed every requested call and registration",
                 all(v == requested for v in truth["detail"].values())
                 and truth["registrations_successful"] == requested, truth)
        result = lib.analyze_capture(ck, label, sipman, pcap, truth, work)
        if result is None:
            continue
        summary, calls, tcalls = result
        check_scenarios(ck, label, calls, truth, transport)
        challenged = [c for c in calls if c["auth_challenges"] > 0]
        want = truth["detail"]["answered_after_407"] + truth["detail"]["answered_after_401"]
        ck.check(f"{label}: each challenged call is one answered call with auth_challenges = 1 ({want})",
                 len(challenged) == want and all(c["state"] == "answered" and c["auth_challenges"] == 1
                                                 for c in challenged),
                 [(c["call_id"], c["state"], c["auth_challenges"]) for c in challenged][:10])
        ck.check(f"{label}: no malformed messages, no orphans in SIPp traffic",
                 summary["malformed"] == 0 and summary["orphans"] == 0,
                 f"malformed {summary['malformed']}, orphans {summary['orphans']}")
    return ck.finish()


if __name__ == "__main__":
    sys.exit(main())
