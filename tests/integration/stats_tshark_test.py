#!/usr/bin/env python3
"""Traffic counters (stats_second, stats_minute, stats_hour) against tshark.

For each capture: `sipman analyze` into a fresh database; tshark -Y sip
lists the frames carrying SIP with their time, length, request methods and
status codes (frames where it finds no request or status line are not SIP
traffic; out-of-order TCP segments are reassembled, as sipman does) (several per frame when one TCP segment completes several
messages); grouped by integer capture second, they must equal the
stats_second rows exactly. Both sides count a frame once, in the second of
its own time, for every SIP message it completes (docs/METRICS.md).

usage: stats_tshark_test.py SIPMAN WORKDIR CAPTURE...
"""
import collections
import json
import os
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import analyze_lib as lib  # noqa: E402

METHODS = ["INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "PRACK", "SUBSCRIBE",
           "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE", "OTHER"]
FIELDS = ["packets", "frame_bytes", "messages", "requests", "responses"] + \
    ["m_" + m.lower() for m in METHODS] + ["r%dxx" % i for i in range(1, 7)]


def empty_row():
    return {f: 0 for f in FIELDS}


def tshark_seconds(pcap):
    out = subprocess.run(
        ["tshark", "-r", pcap, "-o", "tcp.reassemble_out_of_order:TRUE", "-Y", "sip",
         "-T", "fields", "-E", "occurrence=a",
         "-E", "aggregator=,", "-e", "frame.time_epoch", "-e", "frame.len", "-e", "sip.Method",
         "-e", "sip.Status-Code"],
        check=True, capture_output=True, text=True).stdout
    seconds = collections.defaultdict(empty_row)
    codes = collections.defaultdict(collections.Counter)
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) < 4 or not (parts[2] or parts[3]):
            continue  # no SIP start line (HTTP on the SIP port, a continuation): not SIP traffic
        second = int(parts[0].split(".")[0])  # the integer part: no float rounding
        row = seconds[second]
        row["packets"] += 1
        row["frame_bytes"] += int(parts[1])
        for m in filter(None, parts[2].split(",")):
            row["messages"] += 1
            row["requests"] += 1
            row["m_" + (m.lower() if m in METHODS else "other")] += 1
        for c in filter(None, parts[3].split(",")):
            c = int(c)
            row["messages"] += 1
            row["responses"] += 1
            if 1 <= c // 100 <= 6:
                row["r%dxx" % (c // 100)] += 1
            codes[second][str(c)] += 1
    return dict(seconds), codes


def db_table(db, table):
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    rows = {r["ts"]: r for r in con.execute(f"SELECT * FROM {table} ORDER BY ts")}
    result = {}
    for ts, r in rows.items():
        d = {f: r[f] for f in FIELDS}
        d["sip_bytes"] = r["sip_bytes"]
        d["codes"] = collections.Counter({k: v for k, v in json.loads(r["codes"]).items()})
        result[ts] = d
    con.close()
    return result


def summed(rows, period):
    sums = {}
    for ts, r in rows.items():
        start = ts // period * period
        s = sums.setdefault(start, {k: (collections.Counter() if k == "codes" else 0) for k in r})
        for k, v in r.items():
            s[k] = s[k] + v
    return sums


def rate(values, span):
    """average over the span, peak and its (first) second."""
    total = sum(values.values())
    peak_second = min(values, key=lambda s: (-values[s], s)) if values else 0
    return total / span if span else 0, values.get(peak_second, 0), peak_second


def check_capture(ck, sipman, work, pcap):
    label = os.path.basename(pcap)
    db = os.path.join(work, label + ".db")
    proc, summary = lib.run_analyze(sipman, db, [pcap])
    if not ck.check(f"{label}: sipman analyze exits 0 with a JSON summary", summary is not None,
                    proc.stderr):
        return
    want, want_codes = tshark_seconds(pcap)
    got = db_table(db, "stats_second")
    got_plain = {ts: {f: r[f] for f in FIELDS} for ts, r in got.items()}
    ck.check(f"{label}: tshark finds SIP traffic", len(want) > 0, "no frames")
    diff = {ts: (want.get(ts), got_plain.get(ts)) for ts in set(want) | set(got_plain)
            if want.get(ts) != got_plain.get(ts)}
    ck.check(f"{label}: {len(want)} stats_second rows equal tshark's per-second counts "
             f"(frames, frame bytes, messages, methods, classes)", not diff,
             f"second: (tshark, sipman): {dict(list(diff.items())[:5])}")
    code_diff = {ts: (dict(want_codes.get(ts, {})), dict(got[ts]["codes"])) for ts in got
                 if got[ts]["codes"] != want_codes.get(ts, collections.Counter())}
    ck.check(f"{label}: status codes per second equal tshark's", not code_diff,
             str(dict(list(code_diff.items())[:5])))

    # Rollups: seconds sum to minutes, minutes to hours.
    minutes = db_table(db, "stats_minute")
    hours = db_table(db, "stats_hour")
    ck.check(f"{label}: stats_minute rows are the sums of their seconds",
             minutes == summed(got, 60), f"{minutes} vs {summed(got, 60)}")
    ck.check(f"{label}: stats_hour rows are the sums of their minutes and of their seconds",
             hours == summed(minutes, 3600) == summed(got, 3600),
             f"{hours} vs {summed(minutes, 3600)}")

    # Average and peak, as analyze prints them, follow from tshark's seconds.
    span = max(want) - min(want) + 1 if want else 0
    t = summary.get("traffic", {})
    for name, field in (("bytes_per_second", "frame_bytes"), ("messages_per_second", "messages")):
        avg, peak, peak_second = rate({s: r[field] for s, r in want.items()}, span)
        g = t.get(name, {})
        ck.check(f"{label}: {name} average {avg:.3f}, peak {peak} at {peak_second} follow from "
                 "tshark's seconds",
                 abs(g.get("average", -1) - avg) < 0.0006 and g.get("peak") == peak and
                 g.get("peak_second") == peak_second, f"sipman says {g}")
    ck.check(f"{label}: span {span} s", t.get("span_seconds") == span, f"sipman says {t}")

    # Analyzing the same capture again changes no row.
    before = (got, minutes, hours)
    proc, _ = lib.run_analyze(sipman, db, [pcap])
    after = (db_table(db, "stats_second"), db_table(db, "stats_minute"), db_table(db, "stats_hour"))
    ck.check(f"{label}: a second analyze of the same capture leaves the rows as they were",
             proc.returncode == 0 and before == after, proc.stderr)


def main():
    sipman, work, captures = sys.argv[1], sys.argv[2], sys.argv[3:]
    ck = lib.Checks()
    for pcap in captures:
        check_capture(ck, sipman, work, pcap)
    return ck.finish()


if __name__ == "__main__":
    sys.exit(main())
