#!/usr/bin/env python3
"""A failing trunk and its ASR alert, live and from a capture, told to a real
Alertmanager and a webhook; undeliverable notifications never block capture
(started by alerts_trunk_test.sh, as root, inside a network namespace of its
own: everything here is on that namespace's loopback).

Phase 1, live. Rule trunk-asr: metric asr by dst_ip, window 20 s, at least
10 calls, fires at <= 50 %, resolves at >= 80 %, critical. A SIPp caller
(127.0.0.1:5060, scenarios/uac-trunk.xml) makes CALLS calls at RATE a second
to 127.0.0.2:5090, where a SIPp UAS answers every INVITE 503 for FAIL_S
seconds and is then replaced by `sipp -sn uas` (200, 1 s calls). `sipman
run -i lo --config` watches, with its webhook pointing at a receiver in
this script and its alertmanager at prometheus-alertmanager (routing to the
same receiver). tcpdump writes the same traffic to a file meanwhile.

  - the rule fires once for 127.0.0.2, fired_at within its window of the
    first 503 (the capture's time stamps are wall time), value <= 50, its
    evidence Call-IDs of calls stored with final status 503; it resolves
    after the recovery with a value >= 80; no other alert.
    Call-end metrics are fed when sipman stores a call, which is when the
    call's linger (32 s of capture time, for late retransmissions) is
    over: the alert's fired_at is the capture time at which the rule's
    value crossed the threshold, but sipman only learns it, and notifies,
    about 32 s later. The normal UAS therefore runs long enough (NORMAL_S)
    for the resolution to be notified while sipman still runs.
  - the webhook receiver gets exactly two POSTs, fire and resolve, of
    {"version":1,"alert":{...}} with the stored alert's fields;
  - Alertmanager's GET /api/v2/alerts shows the alert active with its labels
    while it fires, and Alertmanager's own webhook notification reaches the
    receiver with status "firing", then "resolved" (group_interval 1 s).

Phase 2, the same rules on the capture: `sipman analyze --config` over
tcpdump's file stores the same alert rows as the live run, times to the
nanosecond. tcpdump writes nanosecond time stamps: sipman's live capture
has the kernel's nanoseconds, and a microsecond file would cut fired_at and
resolved_at to the microsecond (the same packets, the same kernel stamp).

Phase 3, undeliverable notifications: a second `sipman run` with a webhook
that accepts connections and never answers, an Alertmanager port that
refuses them, and `queue = 2`. 200 OPTIONS with User-Agent
friendly-scanner from 50 addresses (127.0.1.1-50, 4 each, in 2 s) trip the
built-in sip-scanner rule for each: all 200 requests and all 50 alerts are
stored, and the run's summary counts dropped notifications.

usage: alerts_trunk_test.py --sipman SIPMAN --work DIR --scenarios DIR --here DIR
"""
import argparse
import http.server
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import analyze_lib as lib  # noqa: E402

CALLER, TRUNK = "127.0.0.1", "127.0.0.2"
TRUNK_PORT, CALLER_PORT = 5090, 5060
FILTER = "udp port 5060 or udp port 5090"
SENSOR = "trunktest"
RATE = 5                 # calls per second
FAIL_S = 25              # seconds the trunk answers 503
NORMAL_S = 60            # then seconds of normal calls (resolution notified live: linger 32 s)
CALLS = RATE * (FAIL_S + NORMAL_S)
WINDOW, MIN_SAMPLES, FIRE, RESOLVE = 20, 10, 50, 80
LINGER_S = 32            # sipman keeps an ended call this long before storing it
AM_PORT = 9093           # the namespace's own loopback: nothing else there
SCANNERS, PER_SCANNER = 50, 4
SCANNER_UA = "friendly-scanner"

RULE = f"""
[[rule]]
name = "trunk-asr"
metric = "asr"
by = "dst_ip"
window = {WINDOW}
min_samples = {MIN_SAMPLES}
fire = {FIRE}
resolve = {RESOLVE}
severity = "critical"
"""


class Receiver:
    """An HTTP server recording every POST: (wall ns, path, headers, body)."""

    def __init__(self):
        self.posts = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with outer.lock:
                    outer.posts.append((time.time_ns(), self.path, dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def on(self, path):
        with self.lock:
            return [(t, h, b) for t, p, h, b in self.posts if p == path]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Tarpit:
    """Accepts TCP connections and never answers (nor closes them)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stopping = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        self.sock.settimeout(0.2)
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
                self.conns.append(c)
            except socket.timeout:
                continue
            except OSError:
                return

    def close(self):
        self.stopping = True
        self.thread.join(5)
        for c in self.conns:
            c.close()
        self.sock.close()


def closed_port():
    """A TCP port on 127.0.0.1 that refuses connections."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def get_json(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read().decode())
    except Exception as e:  # noqa: BLE001 -- unreachable, not JSON: no answer
        return 0, str(e)


def sipp_counts(path):
    """The last row of SIPp's -trace_counts file as {column: int}."""
    try:
        with open(path) as f:
            rows = [line.rstrip("\n").split(";") for line in f if line.strip()]
    except OSError:
        return {}
    if len(rows) < 2:
        return {}
    out = {}
    for k, v in zip(rows[0], rows[-1]):
        try:
            out[k] = int(v)
        except ValueError:
            pass
    return out


def sipp_stat(path, *keys):
    try:
        with open(path) as f:
            rows = [line.rstrip("\n").split(";") for line in f if line.strip()]
    except OSError:
        return {k: 0 for k in keys}
    if len(rows) < 2:
        return {k: 0 for k in keys}
    return {k: int(rows[-1][rows[0].index(k)]) for k in keys}


def alerts_summary(text):
    """The numbers of the run summary's "alerts:" line."""
    m = re.search(r"(?m)^alerts: (\d+) fired, (\d+) resolved, by (\d+) rules; notifications: (\d+) queued, "
                  r"(\d+) dropped \(queue full\), webhook (\d+) sent (\d+) failed, alertmanager (\d+) sent "
                  r"(\d+) failed", text)
    if not m:
        return None
    keys = ("fired", "resolved", "rules", "queued", "dropped", "webhook_sent", "webhook_failed",
            "alertmanager_sent", "alertmanager_failed")
    return dict(zip(keys, map(int, m.groups())))


def options(src, port, n, tag):
    call_id = f"scan-{tag}-{n}@{src}"
    return (f"OPTIONS sip:100@{TRUNK}:{TRUNK_PORT} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {src}:{port};branch=z9hG4bK-{tag}-{n};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: \"sipvicious\" <sip:100@{src}>;tag={tag}{n}\r\n"
            f"To: \"sipvicious\" <sip:100@{src}>\r\nCall-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\n"
            f"Contact: <sip:100@{src}:{port}>\r\nAccept: application/sdp\r\n"
            f"User-Agent: {SCANNER_UA}\r\nContent-Length: 0\r\n\r\n").encode(), call_id


class Test:
    def __init__(self, a):
        self.a = a
        self.ck = lib.Checks()
        self.procs = []

    def path(self, name):
        return os.path.join(self.a.work, name)

    def start(self, argv, name, cwd=None):
        """A process in the background, stdout and stderr to NAME.log."""
        log = open(self.path(name + ".log"), "w")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=cwd)
        self.procs.append(p)
        return p

    def text(self, name):
        try:
            with open(self.path(name), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def alerts(self, label, db):
        rows, ok, detail = lib.stored_alerts(self.a.sipman, db)
        self.ck.check(f"{label}: sipman alerts --db --json prints one JSON object per line", ok, detail)
        return rows

    # ------------------------------------------------------------ services

    def start_alertmanager(self, receiver_port):
        cfg = self.path("alertmanager.yml")
        with open(cfg, "w") as f:
            f.write(f"""route:
  receiver: test
  group_by: ['alertname', 'key']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: test
    webhook_configs:
      - url: http://127.0.0.1:{receiver_port}/am
        send_resolved: true
""")
        os.makedirs(self.path("am-data"), exist_ok=True)
        p = self.start(["prometheus-alertmanager", f"--config.file={cfg}",
                        f"--storage.path={self.path('am-data')}",
                        f"--web.listen-address=127.0.0.1:{AM_PORT}", "--cluster.listen-address="],
                       "alertmanager")
        deadline = time.time() + 20
        ready = False
        while time.time() < deadline and p.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{AM_PORT}/-/ready", timeout=2) as r:
                    ready = r.status == 200
            except Exception:  # noqa: BLE001 -- not up yet
                pass
            if ready:
                break
            time.sleep(0.2)
        self.ck.check(f"prometheus-alertmanager answers on 127.0.0.1:{AM_PORT} (cluster off)", ready,
                      self.text("alertmanager.log")[-2000:])
        return ready

    def start_sipman(self, label, config, filt):
        cfg = self.path(f"{label}.toml")
        with open(cfg, "w") as f:
            f.write(config)
        db = self.path(f"{label}.db")
        log = self.path(f"{label}.sipman.log")
        p = self.start([self.a.sipman, "run", "-i", "lo", "-f", filt, "--db", db, "--no-web",
                        "--config", cfg, "--sensor", SENSOR, "--stats-interval", "0", "--log", log],
                       f"{label}.sipman.out")
        ok = lib.wait_for(log, r"capturing on lo", 15)
        time.sleep(0.5)
        ok = ok and p.poll() is None
        self.ck.check(f"{label}: sipman run -i lo --config {os.path.basename(cfg)} starts", ok,
                      self.text(f"{label}.sipman.log")[-2000:] + self.text(f"{label}.sipman.out.log")[-2000:])
        return p, cfg, db, ok

    def stop_sipman(self, label, p):
        t0 = time.time()
        lib.stop(p, signal.SIGTERM, 60)
        took = time.time() - t0
        out = self.text(f"{label}.sipman.out.log")
        self.ck.check(f"{label}: sipman run stops on SIGTERM with exit status 0", p.returncode == 0,
                      f"exit status {p.returncode}: {out[-1500:]} {self.text(f'{label}.sipman.log')[-1500:]}")
        return out, took

    # ------------------------------------------------------------ phase 1

    def trunk(self):
        print("== phase 1: a trunk answering 503, then recovering, live")
        rx = Receiver()
        try:
            return self.trunk_with(rx)
        finally:
            rx.close()

    def trunk_with(self, rx):
        if not self.start_alertmanager(rx.port):
            return None
        pcap = self.path("trunk.pcap")
        # Nanosecond stamps, as sipman's own capture (phase 2 compares times).
        tcpdump = self.start(["tcpdump", "-i", "lo", "-n", "-Z", "root", "--time-stamp-precision=nano",
                              "-w", pcap, FILTER], "tcpdump")
        if not self.ck.check("tcpdump listens on lo", lib.wait_for(self.path("tcpdump.log"), r"listening on lo", 15),
                             self.text("tcpdump.log")):
            return None
        config = (f'[alerts]\nwebhook = "http://127.0.0.1:{rx.port}/hook"\n'
                  f'alertmanager = "http://127.0.0.1:{AM_PORT}"\nqueue = 1000\n' + RULE)
        sipman, cfg, db, ok = self.start_sipman("trunk", config, FILTER)
        if not ok:
            return None

        # Alertmanager's view, polled all along.
        am_seen = []
        polling = threading.Event()

        def poll_am():
            while not polling.is_set():
                status, body = get_json(f"http://127.0.0.1:{AM_PORT}/api/v2/alerts")
                if status == 200:
                    am_seen.append((time.time_ns(), body))
                polling.wait(0.5)
        poller = threading.Thread(target=poll_am, daemon=True)
        poller.start()

        sc = self.a.scenarios
        uas503 = self.start(["sipp", "-sf", os.path.join(sc, "uas-reject-503.xml"), "-i", TRUNK,
                             "-p", str(TRUNK_PORT), "-t", "u1", "-nostdin", "-timeout", "120s"], "uas503")
        time.sleep(0.5)
        t_first = time.time_ns()
        uac = self.start(["sipp", f"{TRUNK}:{TRUNK_PORT}", "-sf", os.path.join(self.a.here, "scenarios",
                                                                             "uac-trunk.xml"),
                          "-i", CALLER, "-p", str(CALLER_PORT), "-t", "u1", "-m", str(CALLS), "-r", str(RATE),
                          "-nostdin", "-timeout", "200s", "-trace_counts", "-trace_stat", "-stf",
                          self.path("uac.stat.csv"), "-fd", "1"], "uac", cwd=self.a.work)
        time.sleep(FAIL_S)
        lib.stop(uas503, signal.SIGTERM, 10)
        t_recover = time.time_ns()
        uas = self.start(["sipp", "-sn", "uas", "-i", TRUNK, "-p", str(TRUNK_PORT), "-t", "u1", "-nostdin",
                          "-timeout", "200s"], "uas")
        print(f"     503 UAS from the first call until {(t_recover - t_first) / 1e9:.1f} s, "
              f"then sipp -sn uas")
        try:
            uac.wait(timeout=CALLS / RATE + 30)
        except subprocess.TimeoutExpired:
            lib.stop(uac, signal.SIGKILL)
        t_uac_end = time.time_ns()
        time.sleep(3)  # every call's last message is in before the stop
        t_stop = time.time_ns()
        out, took = self.stop_sipman("trunk", sipman)
        lib.stop(tcpdump, signal.SIGTERM, 10)
        lib.stop(uas, signal.SIGTERM, 10)
        print(f"     sipman took {took:.1f} s to stop")

        # Alertmanager's resolved notification follows group_interval (1 s)
        # after sipman told it; a bounded wait for it.
        deadline = time.time() + 15
        while time.time() < deadline:
            if any(json.loads(b).get("status") == "resolved" for _, _, b in rx.on("/am")):
                break
            time.sleep(0.5)
        polling.set()
        poller.join(10)

        st = sipp_stat(self.path("uac.stat.csv"), "TotalCallCreated", "SuccessfulCall(C)", "FailedCall(C)")
        counts = {}
        for name in os.listdir(self.a.work):
            if name.startswith("uac-trunk_") and name.endswith("_counts.csv"):
                counts = sipp_counts(self.path(name))
        got503, got200 = counts.get("3_503_Recv", 0), counts.get("4_200_Recv", 0)
        print(f"     SIPp: {st['TotalCallCreated']} calls, {st['SuccessfulCall(C)']} completed "
              f"({got503} answered 503, {got200} answered 200), {st['FailedCall(C)']} failed; "
              f"INVITE retransmissions {counts.get('0_INVITE_Retrans')}, timeouts {counts.get('0_INVITE_Timeout')}")
        self.ck.check(f"SIPp made its {CALLS} calls, about {RATE * FAIL_S} answered 503 and the rest 200",
                      st["TotalCallCreated"] == CALLS and RATE * FAIL_S - 15 <= got503 <= RATE * FAIL_S + 15
                      and got503 + got200 + st["FailedCall(C)"] == CALLS and st["FailedCall(C)"] <= 5,
                      f"{st} {counts}")
        self.check_trunk(db, out, rx, am_seen, t_first, t_recover, t_uac_end, t_stop, got503, got200)
        self.check_tcpdump()
        return db, cfg, pcap

    def check_trunk(self, db, out, rx, am_seen, t_first, t_recover, t_uac_end, t_stop, got503, got200):
        con = sqlite3.connect(db, timeout=10)
        try:
            by_status = dict(con.execute("SELECT final_status, COUNT(*) FROM calls WHERE dst_ip = ? "
                                         "GROUP BY final_status", (TRUNK,)).fetchall())
            first503 = con.execute("SELECT MIN(ts) FROM messages WHERE status = 503").fetchone()[0]
            failed = {r[0]: r[1] for r in con.execute("SELECT call_id, final_status FROM calls")}
        finally:
            con.close()
        print(f"     calls to {TRUNK} stored, per final status: {by_status}; first 503 captured "
              f"{((first503 or 0) - t_first) / 1e9:.3f} s after the caller started")
        self.ck.check("the calls table has as many 503 and 200 calls to the trunk as SIPp got",
                      by_status.get(503) == got503 and by_status.get(200) == got200, by_status)

        rows = self.alerts("trunk", db)
        for r in rows:
            print(f"       {r.get('rule')} {r.get('key')} {r.get('state')}: fired {r.get('fired_at_time')} "
                  f"value {r.get('value')} (threshold {r.get('threshold')}), resolved "
                  f"{r.get('resolved_at_time')} value {r.get('resolved_value')} "
                  f"(threshold {r.get('resolve_threshold')}); evidence {r.get('evidence')}")
        mine = [r for r in rows if r.get("key") == TRUNK]
        others = [r for r in rows if r.get("key") != TRUNK]
        self.ck.check(f"one alert for {TRUNK} (one episode), none for anything else",
                      len(mine) == 1 and not others, rows)
        if len(mine) != 1:
            return
        a = mine[0]
        self.ck.check("it is trunk-asr: kind asr, category quality, by dst_ip, critical, sensor trunktest",
                      a.get("rule") == "trunk-asr" and a.get("kind") == "asr" and a.get("category") == "quality"
                      and a.get("by") == "dst_ip" and a.get("severity") == "critical"
                      and a.get("sensor") == SENSOR and a.get("action") == "", a)
        fired_after = (a["fired_at"] - t_first) / 1e9
        print(f"     fired_at {fired_after:.3f} s after the caller's first call (first 503), "
              f"value {a['value']}")
        self.ck.check(f"fired_at within the rule's window ({WINDOW} s) of the first 503",
                      0 <= fired_after <= WINDOW, fired_after)
        self.ck.check(f"fired with value <= {FIRE} against threshold {FIRE}",
                      a["value"] <= FIRE and a["threshold"] == FIRE, a)
        ev = a.get("evidence") or []
        bad = [c for c in ev if failed.get(c) != 503]
        self.ck.check("its evidence is Call-IDs of calls stored with final status 503", ev and not bad,
                      f"evidence {ev}; not 503: {[(c, failed.get(c)) for c in bad]}")
        resolved_after = (a["resolved_at"] - t_recover) / 1e9
        print(f"     resolved_at {resolved_after:.3f} s after the normal UAS started, value "
              f"{a['resolved_value']}")
        self.ck.check(f"it resolved after the recovery with a value >= {RESOLVE} (threshold {RESOLVE})",
                      a["state"] == "resolved" and 0 < resolved_after <= WINDOW + 5
                      and a["resolved_value"] >= RESOLVE and a["resolve_threshold"] == RESOLVE, a)
        summary = alerts_summary(out)
        print(f"     run summary: {summary}")
        self.ck.check("the run summary says 1 fired, 1 resolved; webhook 2 sent; Alertmanager told, "
                      "nothing dropped or failed",
                      summary is not None and summary["fired"] == 1 and summary["resolved"] == 1
                      and summary["webhook_sent"] == 2 and summary["webhook_failed"] == 0
                      and summary["alertmanager_sent"] >= 2 and summary["alertmanager_failed"] == 0
                      and summary["dropped"] == 0, out[-2000:])
        self.check_webhook(a, rx, t_first, t_recover, t_stop)
        self.check_alertmanager(a, rx, am_seen)

    def check_webhook(self, a, rx, t_first, t_recover, t_stop):
        posts = rx.on("/hook")
        bodies = []
        for t, headers, body in posts:
            try:
                bodies.append((t, headers, json.loads(body)))
            except ValueError:
                bodies.append((t, headers, body))
        seen = [(b.get("alert", {}).get("state") if isinstance(b, dict) else b, round((t - t_first) / 1e9, 3))
                for t, _, b in bodies]
        print(f"     webhook POSTs: {seen} (s after the first 503)")
        if not self.ck.check("the webhook got exactly two POSTs: fire, then resolve",
                             len(bodies) == 2 and all(isinstance(b, dict) for _, _, b in bodies)
                             and [b.get("alert", {}).get("state") for _, _, b in bodies] == ["firing", "resolved"],
                             bodies):
            return
        (t_fire, h_fire, fire), (t_res, h_res, res) = bodies
        self.ck.check("both are Content-Type application/json",
                      all(h.get("Content-Type", "").startswith("application/json") for h in (h_fire, h_res)),
                      (h_fire, h_res))
        want_keys = {"rule", "kind", "category", "by", "key", "severity", "state", "fired_at", "fired_at_time",
                     "resolved_at", "resolved_at_time", "value", "threshold", "resolved_value",
                     "resolve_threshold", "evidence", "sensor", "action", "action_result"}
        f, r = fire.get("alert", {}), res.get("alert", {})
        self.ck.check("each body is {version: 1, alert: {the documented fields, no id}}",
                      fire.get("version") == 1 and res.get("version") == 1 and set(fire) == {"version", "alert"}
                      and set(res) == {"version", "alert"} and set(f) == want_keys and set(r) == want_keys,
                      f"fire {sorted(fire)} {sorted(f)}; resolve {sorted(res)} {sorted(r)}")
        self.ck.check("the fire POST is the stored alert as it fired: trunk-asr, asr, 127.0.0.2, firing, "
                      "fired_at, value, threshold, evidence",
                      f.get("rule") == "trunk-asr" and f.get("kind") == "asr" and f.get("key") == TRUNK
                      and f.get("state") == "firing" and f.get("fired_at") == a["fired_at"]
                      and f.get("value") == a["value"] and f.get("threshold") == a["threshold"]
                      and f.get("evidence") == a["evidence"] and f.get("resolved_at") == 0
                      and f.get("severity") == "critical" and f.get("sensor") == SENSOR, f)
        self.ck.check("the resolve POST is the stored alert as it resolved: same fired_at, resolved_at, "
                      "resolved_value, resolve_threshold",
                      r.get("rule") == "trunk-asr" and r.get("key") == TRUNK and r.get("state") == "resolved"
                      and r.get("fired_at") == a["fired_at"] and r.get("resolved_at") == a["resolved_at"]
                      and r.get("resolved_value") == a["resolved_value"]
                      and r.get("resolve_threshold") == a["resolve_threshold"]
                      and r.get("evidence") == a["evidence"], r)
        # docs/ALERTS.md, Webhook: a resolution still carries the value and
        # threshold it fired with, beside the ones it resolved with.
        self.ck.check("the resolve POST keeps the value and threshold it fired with",
                      r.get("value") == a["value"] and r.get("threshold") == a["threshold"]
                      and r.get("threshold") == 50 and r.get("resolve_threshold") == 80
                      and r.get("resolved_value", 0) >= 80, r)
        fire_latency = (t_fire - t_first) / 1e9
        res_latency = (t_res - t_recover) / 1e9
        print(f"     notified: fire {fire_latency:.1f} s after the first 503 ({(t_fire - a['fired_at']) / 1e9:.1f} s "
              f"after fired_at); resolve {res_latency:.1f} s after the recovery "
              f"({(t_res - a['resolved_at']) / 1e9:.1f} s after resolved_at)")
        # sipman hears of a call when it stores it, LINGER_S after its end.
        self.ck.check(f"the fire POST came within window + linger ({WINDOW} + {LINGER_S} s) of the first 503, "
                      f"at most 3 s after fired_at + linger",
                      fire_latency <= WINDOW + LINGER_S and t_fire - a["fired_at"] <= (LINGER_S + 3) * 10**9,
                      f"{fire_latency:.1f} s")
        self.ck.check("the resolve POST came while sipman still ran (the resolution is live, not the flush "
                      "at the stop)", t_res < t_stop, f"{(t_res - t_stop) / 1e9:.1f} s after the stop")

    def check_alertmanager(self, a, rx, am_seen):
        active = []
        for t, alerts in am_seen:
            for x in alerts if isinstance(alerts, list) else []:
                lab = x.get("labels", {})
                if lab.get("alertname") == "trunk-asr" and x.get("status", {}).get("state") == "active":
                    active.append((t, x))
        if active:
            print(f"     Alertmanager showed trunk-asr active from {(active[0][0] - a['fired_at']) / 1e9:.1f} s to "
                  f"{(active[-1][0] - a['fired_at']) / 1e9:.1f} s after fired_at ({len(active)} polls)")
        want = {"alertname": "trunk-asr", "key": TRUNK, "severity": "critical", "metric": "asr",
                "category": "quality", "by": "dst_ip", "sensor": SENSOR, "job": "sipman"}
        x = active[0][1] if active else {}
        self.ck.check("Alertmanager's GET /api/v2/alerts showed trunk-asr active with labels alertname, key "
                      "127.0.0.2, severity critical (and metric, category, by, sensor, job)",
                      active and x.get("labels") == want, x or [b for _, b in am_seen[-3:]])
        ann = x.get("annotations", {})
        self.ck.check("and annotations summary, value, threshold and evidence (the Call-IDs)",
                      ann.get("threshold") == str(FIRE) and float(ann.get("value", "nan")) == a["value"]
                      and ann.get("evidence", "").split() == a["evidence"] and "trunk-asr" in ann.get("summary", ""),
                      ann)
        am = []
        for t, _, body in rx.on("/am"):
            try:
                am.append((t, json.loads(body)))
            except ValueError:
                pass
        print(f"     Alertmanager's webhook notifications: "
              f"{[(b.get('status'), round((t - a['fired_at']) / 1e9, 1)) for t, b in am]} (s after fired_at)")

        def about_trunk(b):
            return any(x.get("labels", {}).get("alertname") == "trunk-asr" and x.get("labels", {}).get("key") == TRUNK
                       for x in b.get("alerts", []))
        firing = [b for _, b in am if b.get("status") == "firing" and about_trunk(b)]
        resolved = [b for _, b in am if b.get("status") == "resolved" and about_trunk(b)]
        self.ck.check("Alertmanager's own webhook notification reached the receiver with status firing",
                      firing and firing[0].get("version") == "4"
                      and firing[0].get("commonLabels", {}).get("severity") == "critical", am)
        # The resolve notification leaves at the group's next flush
        # (group_interval 1 s) after sipman sent endsAt; it was waited for,
        # 15 s at most, after sipman stopped.
        self.ck.check("and then with status resolved", resolved, am)

    def check_tcpdump(self):
        log = self.text("tcpdump.log")
        m = re.search(r"(\d+) packets? dropped by kernel", log)
        self.ck.check("tcpdump dropped nothing", m is not None and m.group(1) == "0", log[-500:])

    # ------------------------------------------------------------ phase 2

    def replay(self, db, cfg, pcap):
        print("== phase 2: the same rules over tcpdump's capture")
        db2 = self.path("analyze.db")
        proc = subprocess.run([self.a.sipman, "analyze", "--config", cfg, "--sensor", SENSOR, "--db", db2, pcap],
                              capture_output=True, text=True, timeout=300)
        print("     " + "\n     ".join(line for line in proc.stdout.splitlines() if line.startswith("alerts")))
        if not self.ck.check("sipman analyze --config over the capture exits 0", proc.returncode == 0,
                             proc.stdout[-1500:] + proc.stderr[-1500:]):
            return
        fields = ("rule", "kind", "by", "key", "severity", "state", "fired_at", "resolved_at", "value",
                  "threshold", "resolved_value", "resolve_threshold", "evidence", "sensor")
        live = sorted(tuple(json.dumps(r.get(k)) for k in fields) for r in self.alerts("live", db))
        off = sorted(tuple(json.dumps(r.get(k)) for k in fields) for r in self.alerts("analyze", db2))
        diff = [dict(zip(fields, map(json.loads, x))) for x in set(live) ^ set(off)]
        self.ck.check(f"analyze stores the same alerts as the live run ({', '.join(fields)})",
                      live == off and live, f"live {live}\nanalyze {off}\ndiffering {diff}")
        con = sqlite3.connect(db, timeout=10)
        con.execute("ATTACH ? AS off", (db2,))
        try:
            calls = con.execute("SELECT (SELECT COUNT(*) FROM calls), (SELECT COUNT(*) FROM off.calls)").fetchone()
            msgs = con.execute("SELECT (SELECT COUNT(*) FROM messages), (SELECT COUNT(*) FROM off.messages)").fetchone()
        finally:
            con.close()
        print(f"     calls live/analyze {calls}, messages {msgs}")
        self.ck.check("and the same number of calls and messages", calls[0] == calls[1] and msgs[0] == msgs[1],
                      f"calls {calls}, messages {msgs}")

    # ------------------------------------------------------------ phase 3

    def flood(self):
        print("== phase 3: notifications that cannot be delivered, a queue of 2, 50 alerts in 2 s")
        tarpit = Tarpit()
        try:
            self.flood_with(tarpit)
        finally:
            tarpit.close()

    def flood_with(self, tarpit):
        config = (f'[alerts]\nwebhook = "http://127.0.0.1:{tarpit.port}/hook"\n'
                  f'alertmanager = "http://127.0.0.1:{closed_port()}"\nqueue = 2\n')
        sipman, _, db, ok = self.start_sipman("flood", config, f"udp port {TRUNK_PORT}")
        if not ok:
            return
        socks = []
        for i in range(1, SCANNERS + 1):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((f"127.0.1.{i}", 0))
            socks.append(s)
        tag = os.urandom(3).hex()
        sent = {}
        t0 = time.time()
        n = 0
        for round_ in range(PER_SCANNER):
            for i, s in enumerate(socks, 1):
                src, port = s.getsockname()
                msg, call_id = options(src, port, n, tag)
                s.sendto(msg, (TRUNK, TRUNK_PORT))
                sent[call_id] = src
                n += 1
                time.sleep(max(0, t0 + n * 2.0 / (SCANNERS * PER_SCANNER) - time.time()))
        for s in socks:
            s.close()
        print(f"     sent {n} OPTIONS from {SCANNERS} addresses in {time.time() - t0:.2f} s")
        time.sleep(2)
        conns = len(tarpit.conns)
        out, took = self.stop_sipman("flood", sipman)
        print(f"     sipman took {took:.1f} s to stop; the silent webhook had {conns} connections")
        self.ck.check("sipman stopped within 20 s of SIGTERM despite the silent webhook", took < 20, took)
        self.ck.check("sipman did connect to the webhook that never answers", conns >= 1, conns)

        con = sqlite3.connect(db, timeout=10)
        try:
            stored = {r[0]: r[1] for r in con.execute(
                "SELECT call_id, src_ip FROM messages WHERE method = 'OPTIONS'")}
            first = dict(con.execute("SELECT src_ip, MIN(ts) FROM messages WHERE method = 'OPTIONS' "
                                     "GROUP BY src_ip").fetchall())
        finally:
            con.close()
        self.ck.check(f"all {n} OPTIONS are in the messages table, from the right addresses",
                      stored == sent, f"{len(stored)} stored; missing {sorted(set(sent) - set(stored))[:5]}")
        rows = self.alerts("flood", db)
        scan = [r for r in rows if r.get("rule") == "sip-scanner"]
        keys = sorted(r.get("key") for r in scan)
        want = sorted(f"127.0.1.{i}" for i in range(1, SCANNERS + 1))
        self.ck.check(f"{SCANNERS} sip-scanner alerts are stored, one per address, and nothing else",
                      keys == want and len(rows) == len(scan), f"{len(scan)} sip-scanner, {len(rows)} in all: {keys}")
        late = [(r["key"], r["fired_at"] - first.get(r["key"], 0)) for r in scan
                if r["fired_at"] != first.get(r["key"])]
        self.ck.check("each fired at the time of its address's first OPTIONS", not late, late[:5])
        summary = alerts_summary(out)
        print(f"     run summary: {summary}")
        self.ck.check("the run summary counts the alerts and dropped notifications (queue full): dropped > 0, "
                      "nothing delivered",
                      summary is not None and summary["fired"] == SCANNERS and summary["dropped"] > 0
                      and summary["webhook_sent"] == 0 and summary["alertmanager_sent"] == 0,
                      out[-2000:])
        kd = re.search(r"kernel drops: (\d+)", out)
        self.ck.check("the capture lost nothing (kernel drops 0)", kd is not None and kd.group(1) == "0", out[-1500:])
        log = self.text("flood.sipman.log")
        self.ck.check("the log says why the webhook was not told", "webhook not told of sip-scanner" in log,
                      log[-1500:])

    def main(self):
        t0 = time.time()
        try:
            got = self.trunk()
            if got is not None:
                self.replay(*got)
            self.flood()
        finally:
            for p in self.procs:
                lib.stop(p, signal.SIGKILL, 5)
        print(f"     took {time.time() - t0:.0f} s")
        return self.ck.finish()


def main():
    ap = argparse.ArgumentParser()
    for name in ("sipman", "work", "scenarios", "here"):
        ap.add_argument("--" + name, required=True)
    return Test(ap.parse_args()).main()


if __name__ == "__main__":
    sys.exit(main())
