#!/usr/bin/env python3
"""sipman report on a capture of SIPp calls with known outcomes
(report_sipp_test.sh makes it with scripts/gen-calls-pcap): the RFC 6076
ratios are computed from SIPp's scenario counts, the delays, per-user,
per-period and duration figures from tshark's reading of the same capture,
independently of sipman; then `sipman report --json` must equal them.
Its traffic figures (messages per method and response class, bytes and
messages per second, average and peak) must equal tshark's frames, in JSON
and in the text report, and be the very summary that `sipman serve` answers
on /api/v1/stats/traffic for the same range.

usage: report_sipp_test.py SIPMAN WORKDIR   (WORKDIR holds sipp.pcap and sipp.truth.json)
"""
import collections
import datetime
import http.client
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import analyze_lib as lib  # noqa: E402
import stats_tshark_test as st  # noqa: E402

FIELDS = ["frame.time_epoch", "sip.Call-ID", "sip.Method", "sip.Status-Code", "sip.CSeq.method",
          "sip.CSeq.seq", "sip.from.user", "sip.to.user", "sip.to.tag"]
BUCKETS_MS = [0, 5000, 15000, 30000, 60000, 120000, 300000, 600000, 1800000, 3600000]
HOUR_NS, DAY_NS = 3600 * 10**9, 86400 * 10**9


def tshark_sip(pcap):
    out = subprocess.run(["tshark", "-r", pcap, "-Y", "sip", "-T", "fields", "-E", "separator=\t",
                          "-E", "occurrence=f"] + sum([["-e", f] for f in FIELDS], [])
                         + lib.TSHARK_SIP_PORTS,
                         check=True, capture_output=True, text=True).stdout
    msgs = []
    for line in out.splitlines():
        v = dict(zip(FIELDS, line.split("\t")))
        msgs.append({"ts": lib.epoch_ns(v["frame.time_epoch"]), "call_id": v["sip.Call-ID"],
                     "method": v["sip.Method"] or None,
                     "status": int(v["sip.Status-Code"]) if v["sip.Status-Code"] else None,
                     "cseq_method": v["sip.CSeq.method"], "from": v["sip.from.user"],
                     "to": v["sip.to.user"], "to_tag": v["sip.to.tag"]})
    return msgs


def dialogs(msgs):
    """Per Call-ID: first initial INVITE, first 18x, first 2xx, final (non-401/407 >= 300 or 2xx),
    first ACK after the 2xx, first BYE and its first final response; REGISTER attempts apart."""
    calls, regs = {}, {}
    for m in msgs:
        if m["cseq_method"] == "REGISTER":
            r = regs.setdefault(m["call_id"], {"first": None, "ok": None, "final": None})
            if m["method"] == "REGISTER" and r["first"] is None:
                r["first"] = m["ts"]
            if m["status"] and m["status"] >= 200 and m["status"] not in (401, 407) and r["final"] is None:
                r["final"] = m["status"]
                if m["status"] < 300:
                    r["ok"] = m["ts"]
            continue
        c = calls.get(m["call_id"])
        if c is None:
            if m["method"] != "INVITE":
                continue
            c = calls[m["call_id"]] = {"invite": m["ts"], "from": m["from"], "to": m["to"], "r18x": None,
                                       "answer": None, "final": None, "final_ts": None, "ack": None,
                                       "bye": None, "bye_final": None}
        if m["cseq_method"] == "INVITE" and m["status"]:
            s = m["status"]
            if s in (180, 183) and c["r18x"] is None:
                c["r18x"] = m["ts"]
            if 200 <= s < 300 and c["answer"] is None:
                c["answer"] = m["ts"]
            if s >= 200 and s not in (401, 407) and c["final"] is None:
                c["final"], c["final_ts"] = s, m["ts"]
        elif m["method"] == "ACK" and c["answer"] is not None and c["ack"] is None:
            c["ack"] = m["ts"]
        elif m["method"] == "BYE" and c["bye"] is None:
            c["bye"] = m["ts"]
        elif m["cseq_method"] == "BYE" and m["status"] and m["status"] >= 200 and c["bye_final"] is None:
            c["bye_final"] = m["ts"]
    return calls, regs


def mean(values):
    return sum(values) / len(values) if values else None


def nearest_rank(values, p):
    if not values:
        return None
    v = sorted(values)
    return v[max(1, math.ceil(p * len(v) / 100)) - 1]


def report(sipman, db, *args):
    proc = subprocess.run([sipman, "report", "--db", db, "--json", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        return None, proc.stderr
    return json.loads(proc.stdout), ""


def close(a, b, tol):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= tol


def utc(second):
    return datetime.datetime.fromtimestamp(second, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def want_traffic(seconds, codes, invites, first=None):
    """The report's traffic from tshark's seconds (stats_tshark_test.tshark_seconds) from
    second `first` on and the INVITE times (ns) of the calls in the range: the span runs from
    the first to the last second holding either (docs/METRICS.md)."""
    seconds = {s: r for s, r in seconds.items() if first is None or s >= first}
    calls = collections.Counter(t // 10**9 for t in invites)
    total = collections.Counter()
    for r in seconds.values():
        total.update(r)
    all_codes = collections.Counter()
    for s, c in codes.items():
        if first is None or s >= first:
            all_codes.update(c)
    first_second, last_second = min(set(seconds) | set(calls)), max(set(seconds) | set(calls))
    span = last_second - first_second + 1
    rates = {name: st.rate({s: r[field] for s, r in seconds.items()}, span)
             for name, field in (("bytes_per_second", "frame_bytes"),
                                 ("messages_per_second", "messages"))}
    rates["calls_per_second"] = st.rate(calls, span)
    methods = {m: total["m_" + m.lower()] for m in st.METHODS}
    classes = {f"{i}xx": total[f"r{i}xx"] for i in range(1, 7)}
    return {"first": first_second, "last": last_second, "span": span, "calls": len(invites),
            "packets": total["packets"],
            "bytes": total["frame_bytes"], "messages": total["messages"],
            "requests": total["requests"], "responses": total["responses"], "methods": methods,
            "classes": classes, "codes": dict(all_codes), "rates": rates}


def check_traffic_json(ck, label, t, w):
    """The report's "traffic" object `t` against want_traffic's `w`."""
    if not ck.check(f"{label}: report --json has a traffic object", isinstance(t, dict), t):
        return
    tot = t["totals"]
    got = {"first": t["first_ts"] // 10**9, "last": t["last_ts"] // 10**9, "span": t["span_seconds"],
           "calls": t["calls"],
           "packets": tot["packets"], "bytes": tot["bytes"], "messages": tot["messages"],
           "requests": tot["requests"], "responses": tot["responses"], "methods": tot["methods"],
           "classes": tot["classes"], "codes": tot["codes"],
           "rates": {name: (t[name]["average"], t[name]["peak"], t[name]["peak_ts"] // 10**9)
                     for name in w["rates"]}}
    for key in ("first", "last", "span", "calls", "packets", "bytes", "messages", "requests", "responses",
                "methods", "classes", "codes"):
        ck.check(f"{label}: traffic {key} equals tshark's ({w[key]})", got[key] == w[key],
                 f"got {got[key]}")
    for name, (avg, peak, peak_second) in w["rates"].items():
        g = got["rates"][name]
        ck.check(f"{label}: {name} average {avg:.3f}, peak {peak} at {peak_second} follow from "
                 "tshark's seconds", close(g[0], avg, 1e-6) and g[1:] == (peak, peak_second),
                 f"got {g}")
    ck.check(f"{label}: no capture drops in a file", tot["kernel_drops"] == 0 and
             tot["interface_drops"] == 0, tot)


def check_traffic_text(ck, label, text, w):
    lines = text.splitlines()

    def peak_at(rate):
        # A peak that never happened (no traffic in the range) has no second.
        return utc(rate[2]) if rate[2] else "-"

    head = f"traffic: {utc(w['first'])} .. {utc(w['last'] + 1)}  ({w['span']} s)"
    ck.check(f"{label}: text traffic header is '{head}'", head in lines, text[-2500:])
    want_lines = [f"  {'bytes/s':<18} average {w['rates']['bytes_per_second'][0]:<12.1f} peak "
                  f"{w['rates']['bytes_per_second'][1]} at {peak_at(w['rates']['bytes_per_second'])}",
                  f"  {'messages/s':<18} average {w['rates']['messages_per_second'][0]:<12.2f} peak "
                  f"{w['rates']['messages_per_second'][1]} at "
                  f"{peak_at(w['rates']['messages_per_second'])}",
                  f"  {'calls/s':<18} average {w['rates']['calls_per_second'][0]:<12.3f} peak "
                  f"{w['rates']['calls_per_second'][1]} at {peak_at(w['rates']['calls_per_second'])}",
                  f"messages: {w['messages']}  ({w['requests']} requests, {w['responses']} responses)"]
    want_lines += [f"  {m:<10} {n:>10}" for m, n in w["methods"].items() if n]
    for i in range(1, 7):
        codes = sorted((int(c), n) for c, n in w["codes"].items() if int(c) // 100 == i)
        detail = "  (" + ", ".join(f"{c}: {n}" for c, n in codes) + ")" if codes else ""
        want_lines.append(f"  {i}xx        {w['classes'][f'{i}xx']:>10}{detail}")
    missing = [x for x in want_lines if x not in lines]
    ck.check(f"{label}: text traffic lines (3 rates, {sum(1 for n in w['methods'].values() if n)} "
             "methods, 6 classes) equal tshark's counts", not missing,
             f"missing {missing}\n{text[text.find('traffic:'):]}")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def api_traffic_summaries(sipman, db, work, queries):
    """Starts `sipman serve` on db, logs in and returns the "summary" of GET
    /api/v1/stats/traffic?QUERY for each query (None where it failed), then stops it."""
    port = free_port()
    password = "report-test-Password-1"
    env = dict(os.environ, SIPMAN_ADMIN_PASSWORD=password)
    log = open(os.path.join(work, "serve.log"), "w")
    server = subprocess.Popen([sipman, "serve", "--db", db, "--listen", f"127.0.0.1:{port}"],
                              stdout=log, stderr=subprocess.STDOUT, env=env)
    results = []
    try:
        def request(method, path, body=None, headers=None):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            conn.close()
            return r.status, r.getheader("Set-Cookie") or "", data
        deadline = time.time() + 30
        while True:
            try:
                if request("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                return [None] * len(queries)
            time.sleep(0.1)
        status, cookie, _ = request("POST", "/api/v1/login",
                                    json.dumps({"username": "admin", "password": password}),
                                    {"Content-Type": "application/json"})
        cookie = cookie.split(";")[0]
        for q in queries:
            status, _, data = request("GET", "/api/v1/stats/traffic?" + q, headers={"Cookie": cookie})
            results.append(json.loads(data)["summary"] if status == 200 else None)
    finally:
        os.kill(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
    return results


def main():
    sipman, work = sys.argv[1], sys.argv[2]
    ck = lib.Checks()
    pcap, db = os.path.join(work, "sipp.pcap"), os.path.join(work, "report.db")
    with open(os.path.join(work, "sipp.truth.json")) as f:
        truth = json.load(f)
    d = truth["detail"]
    print(f"     truth: {json.dumps(d)} registrations {truth['registrations_successful']}")
    proc, summary = lib.run_analyze(sipman, db, [pcap])
    if not ck.check("sipman analyze stores the capture", summary is not None, proc.stderr[-2000:]):
        return ck.finish()
    r, err = report(sipman, db)
    if not ck.check("sipman report --json runs", r is not None, err):
        return ck.finish()

    # Ratios from SIPp's counts alone.
    answered = d["answered_audio"] + d["answered_audio_video"] + d["answered_after_407"] + \
        d["answered_after_401"]
    total = answered + d["busy_486"] + d["not_found_404"] + d["unavailable_503"] + d["cancelled_487"]
    redirected = 0  # no scenario answers 3xx
    want = {
        "ser": 100.0 * answered / (total - redirected),
        "seer": 100.0 * (answered + d["busy_486"]) / (total - redirected),
        "isa": 100.0 * d["unavailable_503"] / total,
        "scr": 100.0 * answered / total,
        "ira": 0.0,
    }
    got = {k: r["rfc6076"][k] for k in want}
    ck.check(f"calls = SIPp's successful calls ({total})", r["calls"] == total, f"got {r['calls']}")
    ck.check("SER, SEER, ISA, SCR, IRA equal SIPp's scenario counts (RFC 6076 formulas)",
             all(close(got[k], want[k], 1e-6) for k in want), f"expected {want}, got {got}")
    want_asr = 100.0 * answered / total
    want_ner = 100.0 * (answered + d["busy_486"] + d["cancelled_487"]) / total
    ck.check("ASR and NER equal SIPp's scenario counts",
             close(r["asr"], want_asr, 1e-6) and close(r["ner"], want_ner, 1e-6),
             f"expected {want_asr}, {want_ner}; got {r['asr']}, {r['ner']}")
    want_status = {"200": answered, "486": d["busy_486"], "404": d["not_found_404"],
                   "503": d["unavailable_503"], "487": d["cancelled_487"]}
    got_status = {k["key"]: k["calls"] for k in r["by_status"]}
    ck.check("calls per final status equal SIPp's counts", got_status == want_status,
             f"expected {want_status}, got {got_status}")
    want_state = {"answered": answered, "busy": d["busy_486"],
                  "failed": d["not_found_404"] + d["unavailable_503"], "cancelled": d["cancelled_487"]}
    got_state = {k["key"]: k["calls"] for k in r["by_state"]}
    ck.check("calls per state equal SIPp's counts", got_state == want_state,
             f"expected {want_state}, got {got_state}")
    ck.check(f"registrations = SIPp's successful REGISTERs ({truth['registrations_successful']})",
             r["rfc6076"]["registrations"] == truth["registrations_successful"],
             r["rfc6076"]["registrations"])

    # Delays, users, periods and durations from tshark's timestamps.
    calls, regs = dialogs(tshark_sip(pcap))
    ck.check("tshark sees as many INVITE dialogs as SIPp made calls", len(calls) == total, len(calls))
    ms = lambda ns: ns / 1e6  # noqa: E731
    srd_ok = [ms((c["r18x"] if c["r18x"] and c["r18x"] < c["answer"] else c["answer"]) - c["invite"])
              for c in calls.values() if c["answer"]]
    srd_fail = [ms(c["final_ts"] - c["invite"]) for c in calls.values() if c["final"] and c["final"] >= 400]
    sdd = [ms(c["bye_final"] - c["bye"]) for c in calls.values() if c["bye"] and c["bye_final"]]
    sdt = [ms(c["bye"] - c["answer"]) for c in calls.values() if c["answer"] and c["bye"]]
    pdd = [ms((c["r18x"] or c["final_ts"]) - c["invite"]) for c in calls.values()
           if c["r18x"] or c["final_ts"]]
    durations = [ms(c["bye"] - c["ack"]) for c in calls.values() if c["ack"] and c["bye"]]
    rrd = [ms(g["ok"] - g["first"]) for g in regs.values() if g["ok"]]
    rf = r["rfc6076"]
    # Stored delays are whole milliseconds where the CDR keeps *_ms columns (SDD, SDT, PDD,
    # durations, RRD): allow 1 ms per value; SRD is computed from nanosecond times (exact).
    for name, got_d, values, tol in (("SRD successful", rf["srd_successful"], srd_ok, 1e-3),
                                     ("SRD failed", rf["srd_failed"], srd_fail, 1e-3),
                                     ("SDD", rf["sdd"], sdd, 1.0), ("SDT", rf["sdt"], sdt, 1.0),
                                     ("RRD", rf["rrd"], rrd, 1.0),
                                     ("post-dial delay", r["post_dial_delay"], pdd, 1.0)):
        ck.check(f"{name}: count and mean equal tshark's ({len(values)} values, mean {mean(values)})",
                 got_d["count"] == len(values) and close(got_d["mean_ms"], mean(values), tol),
                 f"got count {got_d['count']} mean {got_d['mean_ms']}")
    ck.check("post-dial delay p95 is tshark's nearest-rank p95 within 1 ms",
             close(r["post_dial_delay"]["p95_ms"], nearest_rank(pdd, 95), 1.0),
             f"expected {nearest_rank(pdd, 95)}, got {r['post_dial_delay']['p95_ms']}")
    ck.check("ACD is the mean ACK-to-BYE time per tshark, within 1 ms",
             close(r["acd_ms"], mean(durations), 1.0), f"expected {mean(durations)}, got {r['acd_ms']}")
    for p in (50, 90, 99):
        ck.check(f"duration p{p} is tshark's nearest-rank p{p} within 1 ms",
                 close(r["duration"][f"p{p}_ms"], nearest_rank(durations, p), 1.0),
                 f"expected {nearest_rank(durations, p)}, got {r['duration'][f'p{p}_ms']}")
    want_hist = [0] * len(BUCKETS_MS)
    for v in durations:
        want_hist[max(i for i, b in enumerate(BUCKETS_MS) if v >= b)] += 1
    got_hist = [b["calls"] for b in r["duration_histogram"]]
    ck.check(f"duration histogram equals tshark's ({want_hist})", got_hist == want_hist, got_hist)

    for by, key in (("caller", "from"), ("callee", "to")):
        want_users = collections.Counter(c[key] for c in calls.values())
        rb, err = report(sipman, db, "--by", by, "--top", "1000")
        got_users = {k["key"]: k["calls"] for k in rb["rows"]} if rb else err
        ck.check(f"calls per {by} equal tshark's From/To users ({len(want_users)} users)",
                 got_users == dict(want_users), f"expected {dict(want_users)}, got {got_users}")
    want_either = collections.Counter()
    for c in calls.values():
        want_either[c["from"]] += 1
        if c["to"] != c["from"]:
            want_either[c["to"]] += 1
    rb, err = report(sipman, db, "--by", "user", "--top", "1000")
    got_either = {k["key"]: k["calls"] for k in rb["rows"]} if rb else err
    ck.check("calls per user (either side) equal tshark's", got_either == dict(want_either),
             f"expected {dict(want_either)}, got {got_either}")
    for by, size in (("hour", HOUR_NS), ("day", DAY_NS)):
        want_p = collections.Counter(c["invite"] // size * size for c in calls.values())
        rb, err = report(sipman, db, "--by", by)
        got_p = {row["start_ns"]: row["calls"] for row in rb["rows"]} if rb else err
        ck.check(f"calls per {by} equal tshark's INVITE times per UTC {by}", got_p == dict(want_p),
                 f"expected {dict(want_p)}, got {got_p}")

    # A range that cuts the capture: only the INVITEs at or after its first second.
    invites = sorted(c["invite"] for c in calls.values())
    cut_ns = invites[len(invites) // 2]  # pcap times are whole microseconds
    cut = f"{cut_ns // 10**9}.{cut_ns % 10**9:09d}"
    rb, err = report(sipman, db, "--from", cut)
    want_n = sum(1 for t in invites if t >= cut_ns)
    ck.check(f"--from {cut} counts only the {want_n} later INVITEs", rb and rb["calls"] == want_n,
             rb["calls"] if rb else err)
    for args in (("--from", "2099-01-01T00:00:00Z"), ("--from", "100", "--to", "100")):
        rb, err = report(sipman, db, *args)
        rh, err_h = report(sipman, db, *args, "--by", "hour")
        ok = rb is not None and rb["calls"] == 0 and rh is not None and rh["rows"] == [] and \
            all(rb["rfc6076"][k] is None for k in ("ser", "seer", "isa", "scr", "ira")) and \
            rb["asr"] is None and rb["acd_ms"] is None and rb["duration"]["p50_ms"] is None
        err = err or err_h
        ck.check(f"report {' '.join(args)}: empty, null ratios, exit 0", ok, rb if rb else err)
    text = subprocess.run([sipman, "report", "--db", db, "--by", "caller"], capture_output=True, text=True)
    ck.check("text report --by caller prints the callers table", text.returncode == 0 and
             "top 10 by caller" in text.stdout, text.stdout[-1500:] + text.stderr)
    text = subprocess.run([sipman, "report", "--db", db], capture_output=True, text=True)
    ck.check("text report prints the RFC 6076 table", text.returncode == 0 and "SER" in text.stdout
             and "duration histogram" in text.stdout, text.stdout[-1500:] + text.stderr)

    # Traffic over the whole capture and from the cut on, against tshark's frames.
    seconds, codes = st.tshark_seconds(pcap, extra_args=lib.TSHARK_SIP_PORTS)
    if not ck.check("tshark finds SIP frames", seconds, "none"):
        return ck.finish()
    w_all = want_traffic(seconds, codes, invites)
    print(f"     tshark: {w_all['messages']} messages in {w_all['span']} s, methods "
          f"{ {m: n for m, n in w_all['methods'].items() if n} }, classes {w_all['classes']}")
    check_traffic_json(ck, "whole capture", r.get("traffic"), w_all)
    check_traffic_text(ck, "whole capture", text.stdout, w_all)
    cut_second = -(-cut_ns // 10**9)  # seconds whose start lies in the range
    w_cut = want_traffic(seconds, codes, [t for t in invites if t >= cut_ns], first=cut_second)
    r_cut, err = report(sipman, db, "--from", cut)
    check_traffic_json(ck, f"--from {cut}", r_cut.get("traffic") if r_cut else err, w_cut)
    text_cut = subprocess.run([sipman, "report", "--db", db, "--from", cut], capture_output=True,
                              text=True)
    check_traffic_text(ck, f"--from {cut}", text_cut.stdout + text_cut.stderr, w_cut)

    # The same summary as the web API's traffic resource, for the same ranges.
    end_ns = (w_all["last"] + 1) * 10**9
    ranges = [((), ""), (("--from", cut), f"from={cut_ns}"),
              (("--from", cut, "--to", str(w_all["last"])), f"from={cut_ns}&to={w_all['last'] * 10**9}"),
              (("--from", "2099-01-01T00:00:00Z"), "from=4070908800000000000")]
    reports = []
    for args, _ in ranges:
        rr, err = report(sipman, db, *args)
        reports.append(rr["traffic"] if rr else err)
    summaries = api_traffic_summaries(sipman, db, work, [q + "&step=hour" if q else "step=hour"
                                                         for _, q in ranges])
    for (args, q), mine, theirs in zip(ranges, reports, summaries):
        ck.check(f"report {' '.join(args) or '(whole database)'}: traffic equals the summary of "
                 f"GET /api/v1/stats/traffic?{q}", mine == theirs and theirs is not None,
                 f"report {mine}\napi    {theirs}")
    ck.check("an empty range: traffic span 0", reports[-1].get("span_seconds") == 0
             if isinstance(reports[-1], dict) else False, reports[-1])
    return ck.finish()


if __name__ == "__main__":
    sys.exit(main())
