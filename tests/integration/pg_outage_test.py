#!/usr/bin/env python3
"""PostgreSQL stopped for 30 seconds while `sipman run` captures SIP traffic
(run by pg_outage_test.sh inside a network namespace of its own, as root,
with a PostgreSQL server it started there).

`sipman run -i lo --db postgresql://...` captures SIPp calls (answered and
busy) at a steady rate for about a minute. Ten seconds in, the server is
stopped (immediate shutdown) for 30 s, then started again. The writer must
spill its batches to disk meanwhile (the summary's `store spill:` line) and
write them when the server is back: after SIGTERM every call SIPp made is in
`calls` exactly once, per state equal to SIPp's own counts, and no spill
segment is left. Every process is ended by its PID.

usage: pg_outage_test.py SIPMAN WORKDIR PG_URL REPO_ROOT   (env PG_CTL, PG_START_ARGS, PSQL)
"""
import os
import re
import shlex
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import analyze_lib as lib  # noqa: E402

RATE = 5          # calls per second, each kind
CALLS = 300       # each kind: about 60 s of traffic
OUTAGE_AT = 10    # seconds after the traffic starts
OUTAGE_S = 30


def pg_ctl(*args):
    cmd = shlex.split(os.environ["PG_CTL"]) + list(args)
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def psql(url, sql):
    r = subprocess.run([os.environ.get("PSQL", "psql"), url, "-At", "-F", " ", "-c", sql],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return r.returncode, r.stdout.strip()


def main():
    sipman, work, url, root = sys.argv[1:5]
    sc = os.path.join(root, "tests", "scenarios")
    ck = lib.Checks()
    spill = os.path.join(work, "spill")
    log_path = os.path.join(work, "sipman.log")
    out = open(os.path.join(work, "sipman.out"), "w")
    daemon = subprocess.Popen([sipman, "run", "--no-web", "-i", "lo", "-f",
                               "port 5071 or port 5072", "--db", url, "--sensor", "outage",
                               "--spill-dir", spill, "--log", log_path, "--stats-interval", "1"],
                              stdout=out, stderr=subprocess.STDOUT)
    procs, want = [], {}
    try:
        ok = lib.wait_for(log_path, r"capturing on lo", 15)
        ck.check("sipman run -i lo --db postgresql://... starts", ok and daemon.poll() is None,
                 open(log_path).read()[-2000:] if os.path.exists(log_path) else "no log")
        if not ok:
            return ck.finish()
        kinds = [("answered", "uas-answer-audio", 5071, "uac-answer-audio", 5081),
                 ("busy", "uas-reject-486", 5072, "uac-reject-486", 5082)]
        for state, uas, port, _, _ in kinds:
            log = open(os.path.join(work, f"{state}.uas.log"), "w")
            procs.append(subprocess.Popen(["sipp", "-sf", os.path.join(sc, uas + ".xml"), "-i",
                                           "127.0.0.1", "-p", str(port), "-nostdin",
                                           "-timeout", "300s"],
                                          stdout=log, stderr=subprocess.STDOUT))
        time.sleep(0.5)
        uacs = []
        for state, _, port, uac, lport in kinds:
            stat = os.path.join(work, f"{state}.stat.csv")
            log = open(os.path.join(work, f"{state}.uac.log"), "w")
            p = subprocess.Popen(["sipp", f"127.0.0.1:{port}", "-sf", os.path.join(sc, uac + ".xml"),
                                  "-i", "127.0.0.1", "-p", str(lport), "-m", str(CALLS), "-r",
                                  str(RATE), "-nostdin", "-timeout", "300s", "-trace_stat",
                                  "-stf", stat, "-fd", "1"], stdout=log, stderr=subprocess.STDOUT)
            procs.append(p)
            uacs.append((state, p, stat))

        time.sleep(OUTAGE_AT)
        r = pg_ctl("-m", "immediate", "-w", "stop")
        ck.check("PostgreSQL stops while the calls flow", r.returncode == 0, r.stdout)
        down_at = time.time()
        time.sleep(OUTAGE_S)
        alive_during = daemon.poll() is None
        r = subprocess.run(shlex.split(os.environ["PG_CTL"]) + shlex.split(os.environ["PG_START_ARGS"]),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        ck.check(f"PostgreSQL starts again after {time.time() - down_at:.0f} s", r.returncode == 0,
                 r.stdout)
        ck.check("sipman keeps running through the outage", alive_during)

        for state, p, stat in uacs:
            try:
                p.wait(timeout=200)
            except subprocess.TimeoutExpired:
                p.kill()
            want[state] = lib.successful_calls(stat)
        ck.check(f"SIPp completed every call ({CALLS} of each kind)",
                 all(v == CALLS for v in want.values()), want)
        time.sleep(2)
    finally:
        for p in procs:
            lib.stop(p, signal.SIGKILL, 5)
        lib.stop(daemon, signal.SIGTERM, 120)
    text = open(os.path.join(work, "sipman.out")).read()
    print(text[-3000:])
    ck.check("sipman run exits 0 after SIGTERM", daemon.returncode == 0, text[-2000:])
    m = re.search(r"store spill: (\d+) rows spilled while the database was unreachable; "
                  r"(\d+) segments \((\d+) bytes\) still on disk; (\d+) unreadable", text)
    ck.check("the writer spilled rows to disk during the outage, and none is left or unreadable",
             m is not None and int(m.group(1)) > 0 and m.group(2) == "0" and m.group(4) == "0",
             m.group(0) if m else "no 'store spill:' line in the summary")
    rc, rows = psql(url, "SELECT state, COUNT(*) FROM calls GROUP BY state ORDER BY state")
    got = dict((s, int(n)) for s, n in (line.split() for line in rows.splitlines() if line)) \
        if rc == 0 else {}
    print(f"SIPp {want}; stored {got}")
    ck.check("calls per state equal SIPp's counts, each call stored once",
             got == {"answered": want.get("answered"), "busy": want.get("busy")},
             f"stored {got} ({rows}), SIPp {want}")
    rc, dup = psql(url, "SELECT COUNT(*) - COUNT(DISTINCT call_id) FROM calls")
    ck.check("no Call-ID is stored twice", rc == 0 and dup == "0", dup)
    rc, msgs = psql(url, "SELECT COUNT(*), COUNT(DISTINCT (ts, call_id, src_port, dst_port))"
                         " FROM messages")
    parts = msgs.split()
    ck.check("no message is stored twice", rc == 0 and len(parts) == 2 and parts[0] == parts[1]
             and int(parts[0]) > 0, msgs)
    return ck.finish()


if __name__ == "__main__":
    sys.exit(main())
