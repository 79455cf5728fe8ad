#!/usr/bin/env python3
"""sipman run against SIPp's own counts (run_live_test.sh runs this inside a
network namespace of its own, as root).

1. Live: `sipman run -i lo` captures SIPp calls with known outcomes (answered
   audio and audio+video, 401/407 challenges then answered, 486, 404, 503,
   CANCEL; REGISTER with a challenge). Every call that ended is stored while
   sipman still runs (its linger timer runs on wall time when traffic is
   idle). Then calls still in flight (answered without BYE yet, and ringing
   without a final response) are started, sipman is stopped with SIGTERM,
   and the stored calls per state must equal SIPp's counts exactly, with the
   in-flight calls stored as in_progress. While they are up, the in-flight
   calls are visible in table active_calls (snapshots every
   --active-interval seconds), which is empty after the stop.
2. Burst: `sipman run --pcap FILE --pcap-speed 0` with a packet queue of 64
   packets and a tiny store queue: packets spill to disk and every call is
   stored all the same, exactly as `sipman analyze` stores them.

usage: run_live_test.py SIPMAN WORKDIR REPO_ROOT
"""
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import analyze_lib as lib  # noqa: E402

CALLS = 10  # per outcome
RATE = 20
INFLIGHT = 4  # calls of each in-flight kind

# outcome, uas scenario, uas port, uac scenario, uac port
PLAN = [
    ("answered_audio", "uas-answer-audio", 5071, "uac-answer-audio", 5081),
    ("answered_video", "uas-answer-video", 5073, "uac-answer-video", 5082),
    ("busy", "uas-reject-486", 5074, "uac-reject-486", 5083),
    ("not_found", "uas-reject-404", 5075, "uac-reject-404", 5084),
    ("unavailable", "uas-reject-503", 5076, "uac-reject-503", 5085),
    ("cancelled", "uas-cancel", 5077, "uac-cancel", 5086),
    ("auth407", "uas-auth407-answer", 5078, "uac-auth407-answer", 5087),
    ("auth401", "uas-auth401-answer", 5079, "uac-auth401-answer", 5088),
    ("registered", "uas-registrar", 5080, "uac-register", 5089),
]


def sipp_uas(scenario, port, log):
    return subprocess.Popen(["sipp", "-sf", scenario, "-i", "127.0.0.1", "-p", str(port), "-t", "u1",
                             "-max_socket", "1000", "-nostdin", "-timeout", "600s"],
                            stdout=log, stderr=subprocess.STDOUT)


def sipp_uac(scenario, port, lport, calls, stat, log):
    return subprocess.Popen(["sipp", f"127.0.0.1:{port}", "-sf", scenario, "-i", "127.0.0.1",
                             "-p", str(lport), "-t", "u1", "-max_socket", "1000", "-m", str(calls),
                             "-r", str(RATE), "-nostdin", "-timeout", "600s", "-au", "user",
                             "-ap", "secret", "-trace_stat", "-stf", stat, "-fd", "1"],
                            stdout=log, stderr=subprocess.STDOUT)


def calls_by_state(db):
    con = sqlite3.connect(db, timeout=10)
    try:
        return dict(con.execute("SELECT state, COUNT(*) FROM calls GROUP BY state").fetchall())
    except sqlite3.OperationalError:
        return {}
    finally:
        con.close()


def active_calls(db):
    """(caller prefix, answered, state, end_ts) of every active_calls row, read-only."""
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    except sqlite3.OperationalError:
        return None
    try:
        rows = con.execute("SELECT caller_user, answer_ts, state, end_ts, sensor FROM active_calls")
        return sorted((u.split("-")[0], a > 0, s, e, sensor) for u, a, s, e, sensor in rows)
    except sqlite3.OperationalError:
        return None
    finally:
        con.close()


def derived_scenario(src, dst, replacements):
    with open(src) as f:
        text = f.read()
    for old, new in replacements:
        assert old in text, (src, old)
        text = text.replace(old, new)
    with open(dst, "w") as f:
        f.write(text)
    return dst


def summary_numbers(text):
    """The final summary of sipman run as a dict of the numbers it names."""
    out = {}
    for key in ("packets", "kernel drops", "interface drops", "spilled", "lost to spill errors",
                "messages", "calls", "registrations"):
        m = re.search(rf"(?m)(?:^|  ){re.escape(key)}: (\d+)", text)
        if m:
            out[key] = int(m.group(1))
    return out


def live_test(ck, sipman, work, root):
    sc = os.path.join(root, "tests", "scenarios")
    db = os.path.join(work, "live.db")
    log_path = os.path.join(work, "sipman.log")
    out_path = os.path.join(work, "sipman.out")
    with open(out_path, "w") as out:
        daemon = subprocess.Popen([sipman, "run", "--no-web", "-i", "lo", "--db", db, "--log", log_path,
                                   "--stats-interval", "1", "--sensor", "live-test",
                                   "--active-interval", "1"],
                                  stdout=out, stderr=subprocess.STDOUT)
    started = lib.wait_for(log_path, r"capturing on lo", 10)
    ck.check("sipman run -i lo starts capturing", started and daemon.poll() is None,
             open(log_path).read() if os.path.exists(log_path) else "no log")
    if not started:
        daemon.kill()
        return
    procs = []
    try:
        logs = []
        for name, uas, port, _, _ in PLAN:
            log = open(os.path.join(work, f"{name}.uas.log"), "w")
            logs.append(log)
            procs.append(sipp_uas(os.path.join(sc, uas + ".xml"), port, log))
        # In flight at the stop: answered, caller waits 10 minutes before its
        # BYE; and ringing, callee waits 10 minutes before its 200.
        answered_wait = derived_scenario(os.path.join(sc, "uac-answer-audio.xml"),
                                         os.path.join(work, "uac-inflight.xml"),
                                         [('<pause milliseconds="200"/>', '<pause milliseconds="600000"/>'),
                                          ("audio-[call_number]", "inflight-[call_number]")])
        ringing_uas = derived_scenario(os.path.join(sc, "uas-answer-audio.xml"),
                                       os.path.join(work, "uas-ringing.xml"),
                                       [("]]></send>\n  <send retrans=\"500\">",
                                         "]]></send>\n  <pause milliseconds=\"600000\"/>\n  <send retrans=\"500\">")])
        ringing_uac = derived_scenario(os.path.join(sc, "uac-answer-audio.xml"),
                                       os.path.join(work, "uac-ringing.xml"),
                                       [("audio-[call_number]", "ringing-[call_number]")])
        log = open(os.path.join(work, "inflight.uas.log"), "w")
        procs.append(sipp_uas(os.path.join(sc, "uas-answer-audio.xml"), 5090, log))
        log = open(os.path.join(work, "ringing.uas.log"), "w")
        procs.append(sipp_uas(ringing_uas, 5091, log))
        time.sleep(1)

        uacs = []
        for name, _, port, uac, lport in PLAN:
            log = open(os.path.join(work, f"{name}.uac.log"), "w")
            stat = os.path.join(work, f"{name}.stat.csv")
            p = sipp_uac(os.path.join(sc, uac + ".xml"), port, lport, CALLS, stat, log)
            procs.append(p)
            uacs.append((name, p, stat))
        for name, p, _ in uacs:
            try:
                p.wait(timeout=120)
            except subprocess.TimeoutExpired:
                p.kill()
        ok = {name: lib.successful_calls(stat) for name, _, stat in uacs}
        ck.check("SIPp completed every requested call and registration",
                 all(v == CALLS for v in ok.values()), ok)
        want = {
            "answered": ok["answered_audio"] + ok["answered_video"] + ok["auth407"] + ok["auth401"],
            "busy": ok["busy"],
            "failed": ok["not_found"] + ok["unavailable"],
            "cancelled": ok["cancelled"],
        }

        # Calls are stored when they end, while sipman runs: each lingers 32 s
        # of capture time, which passes on the wall clock once traffic stops.
        deadline = time.time() + 90
        got = {}
        while time.time() < deadline:
            got = calls_by_state(db)
            if got == want:
                break
            time.sleep(1)
        ck.check("calls that ended are stored while sipman runs, per state equal to SIPp's counts",
                 got == want, f"expected {want}, got {got}")

        inflight = []
        for name, scenario, port, lport in (("inflight", answered_wait, 5090, 5092),
                                            ("ringing", ringing_uac, 5091, 5093)):
            log = open(os.path.join(work, f"{name}.uac.log"), "w")
            p = sipp_uac(scenario, port, lport, INFLIGHT, os.path.join(work, f"{name}.stat.csv"), log)
            procs.append(p)
            inflight.append(p)
        time.sleep(3)  # every in-flight call has been answered or is ringing
        ck.check("sipman is still running before the stop", daemon.poll() is None)

        # The calls still up are visible in the store while sipman runs.
        want_active = sorted([("inflight", True, "in_progress", 0, "live-test")] * INFLIGHT
                             + [("ringing", False, "in_progress", 0, "live-test")] * INFLIGHT)
        deadline = time.time() + 15
        active = None
        while time.time() < deadline:
            active = active_calls(db)
            if active == want_active:
                break
            time.sleep(0.5)
        ck.check("while sipman runs, answered calls not yet hung up (and ringing ones) are in "
                 "active_calls as in_progress", active == want_active,
                 f"expected {want_active}, got {active}")
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        stored_inflight = con.execute("SELECT call_id FROM calls WHERE caller_user LIKE 'inflight-%' "
                                      "OR caller_user LIKE 'ringing-%'").fetchall()
        con.close()
        ck.check("and are not yet in calls", not stored_inflight, len(stored_inflight))

        os.kill(daemon.pid, signal.SIGTERM)
        try:
            rc = daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            daemon.kill()
            rc = "did not exit within 60 s of SIGTERM"
        out = open(out_path).read()
        log_text = open(log_path).read()
        ck.check("SIGTERM: sipman exits 0", rc == 0, f"rc {rc}\n{out}\n{log_text[-2000:]}")
        ck.check("the log has per-second status lines",
                 len(re.findall(r"status: \d+ packets/s, \d+ messages/s, \d+ open calls", log_text)) >= 3,
                 log_text[-1500:])
        ck.check("the log says the stop drained the queue",
                 re.search(r"SIGTERM: stopping capture; storing \d+ open calls and draining "
                           r"\d+ queued and \d+ spilled packets", log_text), log_text[-1500:])
        nums = summary_numbers(out)
        ck.check("the summary reports packets, no kernel or interface drops and no spill loss",
                 nums.get("packets", 0) > 0 and nums.get("kernel drops") == 0
                 and nums.get("interface drops") == 0 and nums.get("lost to spill errors") == 0, out)

        got = calls_by_state(db)
        want_all = dict(want)
        want_all["in_progress"] = 2 * INFLIGHT
        ck.check("after SIGTERM, stored calls per state equal SIPp's counts, in-flight ones in_progress",
                 got == want_all, f"expected {want_all}, got {got}")
        rows = lib.db_rows(db, "calls")
        in_progress = sorted((r["caller_user"].split("-")[0], r["answer_ts"] > 0)
                             for r in rows if r["state"] == "in_progress")
        ck.check("every call in flight at the stop is stored: answered ones and ringing ones",
                 in_progress == sorted([("inflight", True)] * INFLIGHT + [("ringing", False)] * INFLIGHT),
                 in_progress)
        ck.check("every row carries the sensor name", all(r["sensor"] == "live-test" for r in rows),
                 {r["sensor"] for r in rows})
        active = active_calls(db)
        ck.check("after the stop, active_calls is empty and the answered in-flight calls are in calls",
                 active == [] and sum(1 for r in rows if r["state"] == "in_progress"
                                      and r["caller_user"].startswith("inflight-")
                                      and r["answer_ts"] > 0) == INFLIGHT, active)
        con = sqlite3.connect(db)
        regs = con.execute("SELECT COUNT(*) FROM registrations WHERE result = 'success'").fetchone()[0]
        msgs = con.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
        con.close()
        ck.check("successful registrations equal SIPp's", regs == ok["registered"],
                 f"expected {ok['registered']}, got {regs}")
        ck.check("every SIP message is stored", msgs == nums.get("messages"),
                 f"summary says {nums.get('messages')} messages, the store has {msgs}")
        ck.check("the spill directory is gone after a clean stop", not os.path.exists(db + ".spill"))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        for p in procs:
            p.wait()
        if daemon.poll() is None:
            daemon.kill()


def burst_test(ck, sipman, work, root):
    pcap = os.path.join(work, "burst.pcap")
    gen = subprocess.run([os.path.join(root, "scripts", "gen-calls-pcap"), "--out", pcap,
                          "--calls", "40", "--rate", "100"], capture_output=True, text=True, timeout=300)
    if not ck.check("SIPp burst capture made", gen.returncode == 0, gen.stderr[-2000:]):
        return
    db = os.path.join(work, "burst.db")
    spill = os.path.join(work, "spill")
    proc = subprocess.run([sipman, "run", "--no-web", "--pcap", pcap, "--pcap-speed", "0", "--db", db,
                           "--queue-packets", "64", "--store-queue-rows", "16",
                           "--spill-dir", spill, "--stats-interval", "0"],
                          capture_output=True, text=True, timeout=300)
    ck.check("burst replay exits 0", proc.returncode == 0, proc.stdout + proc.stderr)
    nums = summary_numbers(proc.stdout)
    ck.check("the burst overflowed the 64-packet queue and spilled to disk",
             nums.get("spilled", 0) > 0 and nums.get("lost to spill errors") == 0, proc.stdout)
    ref_db = os.path.join(work, "burst-analyze.db")
    ref, summary = lib.run_analyze(sipman, ref_db, [pcap])
    if not ck.check("sipman analyze reads the burst", summary is not None, ref.stderr):
        return
    got = calls_by_state(db)
    want = calls_by_state(ref_db)
    ck.check("every call of the burst is stored: per state equal to sipman analyze",
             got == want and sum(got.values()) == summary["calls"]["total"],
             f"run {got}, analyze {want}")
    with open(pcap[:-len(".pcap")] + ".truth.json") as f:
        truth = json.load(f)
    ck.check("and equal to SIPp's counts",
             all(got.get(state, 0) == n for state, n in truth["calls"].items()),
             f"truth {truth['calls']}, stored {got}")
    ck.check("every packet of the burst went through (count before and after the spill)",
             nums.get("packets") == summary["packets"] and nums.get("messages") == summary["messages"],
             f"run {nums}, analyze packets {summary['packets']} messages {summary['messages']}")
    ck.check("the spill files are removed once read back",
             not os.path.exists(spill) or not os.listdir(spill), os.listdir(spill) if os.path.exists(spill) else "")


def main():
    sipman, work, root = sys.argv[1], sys.argv[2], sys.argv[3]
    ck = lib.Checks()
    live_test(ck, sipman, work, root)
    burst_test(ck, sipman, work, root)
    return ck.finish()


if __name__ == "__main__":
    sys.exit(main())
