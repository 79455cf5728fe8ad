#!/usr/bin/env python3
"""Checks the database that `sipman run` wrote in run_netns_test.sh against
what SIPp did between the two namespaces: calls per state and per scenario
equal SIPp's successful calls (per transport), every call and registration
went from the UAC host to the UAS host, the calls left in flight at SIGTERM
are stored, and sipman stopped cleanly.

usage: run_netns_test.py --db DB --truth TRUTH.txt --sipman-rc RC --sipman-err LOG
                         --sipman-out SUMMARY --sensor NAME --uas-ip IP --uac-ip IP --calls N
                         --long-calls N --long-port PORT
TRUTH.txt lines: transport outcome successful-calls uas-port
"""
import argparse
import collections
import os
import re
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import analyze_lib as lib  # noqa: E402

# outcome (run_netns_test.sh's plan) -> caller user prefix, state
OUTCOMES = {
    "answered_audio": ("audio", "answered"),
    "answered_video": ("video", "answered"),
    "busy": ("reject486", "busy"),
    "not_found": ("reject404", "failed"),
    "unavailable": ("reject503", "failed"),
    "cancelled": ("cancel", "cancelled"),
    "auth407": ("auth407", "answered"),
    "auth401": ("auth401", "answered"),
}
STATES = ("answered", "busy", "cancelled", "no_answer", "failed", "in_progress", "timed_out")


def read_truth(path):
    truth = collections.defaultdict(dict)
    for line in open(path):
        transport, outcome, succ, port = line.split()
        truth[transport][outcome] = (int(succ), int(port))
    return truth


def main():
    ap = argparse.ArgumentParser()
    for name in ("db", "truth", "sipman-rc", "sipman-err", "sipman-out", "sensor", "uas-ip", "uac-ip"):
        ap.add_argument("--" + name, required=True)
    for name in ("calls", "long-calls", "long-port"):
        ap.add_argument("--" + name, type=int, required=True)
    a = ap.parse_args()
    ck = lib.Checks()
    truth = read_truth(a.truth)
    err = open(a.sipman_err, errors="replace").read()

    ck.check("sipman run stopped on SIGTERM with exit status 0", a.sipman_rc == "0",
             f"exit status {a.sipman_rc}; stderr tail: {err[-1500:]}")
    summary = open(a.sipman_out, errors="replace").read()
    # The summary on standard output: "packets: N  bytes: N  kernel drops: N  interface drops: N".
    m = re.search(r"kernel drops: (\d+)\s+interface drops: (\d+)", summary)
    ck.check("sipman run printed its summary with zero kernel and interface drops",
             m is not None and m.group(1) == "0" and m.group(2) == "0", summary[-1500:] or err[-1500:])
    status_drops = [int(n) for n in re.findall(r"kernel drops (\d+)", err)]
    ck.check("every status line on standard error says kernel drops 0",
             status_drops and max(status_drops) == 0, f"{len(status_drops)} status lines: {status_drops[-5:]}")
    for transport in ("udp", "tcp"):
        got = {k: v[0] for k, v in truth[transport].items()}
        ck.check(f"{transport}: SIPp completed every requested call and registration",
                 all(n == a.calls for n in got.values()) and len(got) == len(OUTCOMES) + 1, got)

    if not os.path.exists(a.db):
        ck.check("the database exists", False, a.db)
        return ck.finish()
    con = sqlite3.connect(a.db)
    con.row_factory = sqlite3.Row
    calls = [dict(r) for r in con.execute("SELECT * FROM calls ORDER BY id")]
    regs = [dict(r) for r in con.execute("SELECT * FROM registrations ORDER BY id")]
    msgs = [dict(r) for r in con.execute(
        "SELECT src_ip, dst_ip, transport, sensor, COUNT(*) AS n FROM messages "
        "GROUP BY src_ip, dst_ip, transport, sensor")]
    con.close()

    def prefix(c):
        m = re.fullmatch(r"([a-z0-9]+)-\d+", c["caller_user"] or "")
        return m.group(1) if m else None

    long_calls = [c for c in calls if prefix(c) == "long"]
    short_calls = [c for c in calls if prefix(c) != "long"]
    for transport in ("udp", "tcp"):
        mine = [c for c in short_calls if c["transport"] == transport]
        want_states = dict.fromkeys(STATES, 0)
        for outcome, (_, state) in OUTCOMES.items():
            want_states[state] += truth[transport][outcome][0]
        got_states = dict.fromkeys(STATES, 0)
        for c in mine:
            got_states[c["state"]] = got_states.get(c["state"], 0) + 1
        print(f"     {transport}: SIPp per state {want_states}")
        ck.check(f"{transport}: stored calls per state equal SIPp's counts", got_states == want_states,
                 f"expected {want_states}, got {got_states}")
        want_sc = {OUTCOMES[o][0]: truth[transport][o][0] for o in OUTCOMES}
        got_sc = collections.Counter(prefix(c) for c in mine)
        ck.check(f"{transport}: stored calls per scenario equal SIPp's counts", dict(got_sc) == want_sc,
                 f"expected {want_sc}, got {dict(got_sc)}")
        ports = {OUTCOMES[o][0]: truth[transport][o][1] for o in OUTCOMES}
        wrong = [(c["call_id"], c["src_ip"], c["dst_ip"], c["dst_port"]) for c in mine
                 if (c["src_ip"], c["dst_ip"]) != (a.uac_ip, a.uas_ip)
                 or c["dst_port"] != ports.get(prefix(c))]
        ck.check(f"{transport}: every call went {a.uac_ip} -> {a.uas_ip}:<its UAS port>", mine and not wrong,
                 wrong[:10])
    # Registrations carry no transport column: count both transports together.
    want_regs = sum(truth[t]["registered"][0] for t in ("udp", "tcp"))
    ok_regs = [r for r in regs if r["result"] == "success" and r["challenges"] == 1]
    ck.check(f"registrations: {want_regs} successful, each after one challenge",
             len(regs) == want_regs and len(ok_regs) == want_regs,
             f"{len(regs)} stored, {len(ok_regs)} successful with one challenge")
    ck.check(f"registrations: every REGISTER came from {a.uac_ip}",
             regs and all(r["src_ip"] == a.uac_ip for r in regs),
             sorted({r["src_ip"] for r in regs}))

    # Calls in flight when sipman stopped.
    states = collections.Counter(c["state"] for c in long_calls)
    ck.check(f"all {a.long_calls} calls in flight at SIGTERM are stored",
             len(long_calls) == a.long_calls, f"{len(long_calls)} stored: {dict(states)}")
    bad = [(c["call_id"], c["state"], c["answer_ts"], c["dst_port"]) for c in long_calls
           if c["state"] not in ("in_progress", "timed_out") or not c["answer_ts"]
           or c["dst_port"] != a.long_port]
    ck.check("calls in flight are stored answered (answer_ts set) and open (in_progress or timed_out)",
             long_calls and not bad, bad[:10])

    # Messages: only between the two hosts, every row from this sensor.
    hosts = {a.uas_ip, a.uac_ip}
    stray = [m for m in msgs if {m["src_ip"], m["dst_ip"]} != hosts]
    ck.check("stored messages all travel between the two hosts", msgs and not stray, stray[:10])
    per_dir = collections.Counter()
    for m in msgs:
        per_dir[(m["src_ip"], m["dst_ip"], m["transport"])] += m["n"]
    print(f"     messages per direction and transport: {dict(per_dir)}")
    ck.check("messages were captured in both directions over udp and tcp",
             all(per_dir[(s, d, t)] > 0 for s, d in ((a.uac_ip, a.uas_ip), (a.uas_ip, a.uac_ip))
                 for t in ("udp", "tcp")), dict(per_dir))
    m = re.search(r"stored in .*: (\d+) calls, (\d+) registrations, (\d+) messages", summary)
    n_msgs = sum(x["n"] for x in msgs)
    ck.check("the summary's stored counts equal the database's",
             m is not None and tuple(map(int, m.groups())) == (len(calls), len(regs), n_msgs),
             f"summary {m.groups() if m else None}, database {(len(calls), len(regs), n_msgs)}")
    sensors = {r["sensor"] for r in calls + regs + msgs}
    ck.check(f"every row carries sensor {a.sensor!r}", sensors == {a.sensor}, sensors)
    return ck.finish()


if __name__ == "__main__":
    sys.exit(main())
