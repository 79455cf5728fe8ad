#!/usr/bin/env python3
"""Traffic counters (stats_second, stats_minute, stats_hour) against tshark.

For each capture: `sipman analyze` into a fresh database; tshark -Y sip
lists the frames carrying SIP with their time, length, request methods and
status codes (frames where it finds no request or status line are not SIP
traffic; out-of-order TCP segments are reassembled, as sipman does) (several per frame when one TCP segment completes several
messages); grouped by integer capture second, they must equal the
stats_second rows exactly. Both sides count a frame once, in the second of
its own time, for every SIP message it completes (docs/METRICS.md).

Direction: the captures named in LOCAL_NETS are analysed again with
`--local-net NET`; stats_second's in_messages and out_messages must equal,
per second, the messages of the frames tshark shows with
`sip && ip.dst==NET && !(ip.src==NET)` and `sip && ip.src==NET &&
!(ip.dst==NET)` (ipv6.src/ipv6.dst for IPv6 networks).

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


# Capture -> the --local-net values its direction counters are checked with:
# one side's address, a network holding both ends of some messages (they
# count in neither direction), an IPv6 network.
LOCAL_NETS = {
    "pcapng-multi-if.pcapng": ["198.51.100.80", "198.51.100.0/24"],
    "tcp-segmentation.pcap": ["192.0.2.60"],
    "ipv6-fragments.pcap": ["2001:db8:1::/48"],
    "sngrep__aaa.pcap": ["192.168.1.2"],
}


def tshark_seconds(pcap, display_filter="sip", extra_args=()):
    """Per capture second: tshark's counts of the frames completing SIP (extra_args: more
    tshark options, e.g. analyze_lib.TSHARK_SIP_PORTS); and the status codes per second."""
    out = subprocess.run(
        ["tshark", "-r", pcap, "-o", "tcp.reassemble_out_of_order:TRUE", "-Y", display_filter,
         "-T", "fields", "-E", "occurrence=a",
         "-E", "aggregator=,", "-e", "frame.time_epoch", "-e", "frame.len", "-e", "sip.Method",
         "-e", "sip.Status-Code", *extra_args],
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


def check_direction(ck, sipman, work, pcap, net):
    label = f"{os.path.basename(pcap)} --local-net {net}"
    db = os.path.join(work, os.path.basename(pcap) + ".dir.db")
    if os.path.exists(db):
        os.remove(db)
    proc, summary = lib.run_analyze(sipman, db, [pcap], "--local-net", net)
    if not ck.check(f"{label}: sipman analyze exits 0", summary is not None, proc.stderr):
        return
    ip = "ipv6" if ":" in net else "ip"
    want = {}
    for direction, to, frm in (("in", "dst", "src"), ("out", "src", "dst")):
        rows, _ = tshark_seconds(
            pcap, f"sip && {ip}.{to}=={net} && !({ip}.{frm}=={net})")
        want[direction] = {ts: r["messages"] for ts, r in rows.items() if r["messages"]}
    con = sqlite3.connect(db)
    got = {"in": {}, "out": {}}
    over = {}
    for ts, n_in, n_out, n in con.execute(
            "SELECT ts, in_messages, out_messages, messages FROM stats_second ORDER BY ts"):
        if n_in:
            got["in"][ts] = n_in
        if n_out:
            got["out"][ts] = n_out
        if n_in + n_out > n:
            over[ts] = (n_in, n_out, n)
    con.close()
    ck.check(f"{label}: in + out <= messages in every second", not over,
             f"second: (in, out, messages): {dict(list(over.items())[:5])}")
    for direction in ("in", "out"):
        w, g = want[direction], got[direction]
        diff = {ts: (w.get(ts), g.get(ts)) for ts in set(w) | set(g) if w.get(ts) != g.get(ts)}
        ck.check(f"{label}: {sum(w.values())} '{direction}' messages in {len(w)} seconds equal "
                 f"tshark's per second", not diff,
                 f"second: (tshark, sipman): {dict(list(diff.items())[:5])}")
    ck.check(f"{label}: some messages have a direction",
             sum(want["in"].values()) + sum(want["out"].values()) > 0, "none")
    t = summary.get("traffic", {})
    ck.check(f"{label}: analyze's traffic totals carry the direction counters",
             t.get("in_messages") == sum(want["in"].values()) and
             t.get("out_messages") == sum(want["out"].values()), f"sipman says {t}")


def main():
    sipman, work, captures = sys.argv[1], sys.argv[2], sys.argv[3:]
    ck = lib.Checks()
    for pcap in captures:
        check_capture(ck, sipman, work, pcap)
        for net in LOCAL_NETS.get(os.path.basename(pcap), []):
            check_direction(ck, sipman, work, pcap, net)
    return ck.finish()


if __name__ == "__main__":
    sys.exit(main())
