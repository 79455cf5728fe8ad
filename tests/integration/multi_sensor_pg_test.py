#!/usr/bin/env python3
"""Two sensors, one PostgreSQL store, one `sipman serve` on top of it (run by
multi_sensor_pg_test.sh inside a network namespace of its own, as root, with
a PostgreSQL server it started there).

- Sensor core-a: `sipman run -i lo -f "port 5071 or port 5072"` captures the
  calls of SIPp pair A (answered and busy) live and writes into PostgreSQL.
- Sensor edge-b: a HEP capture agent, `sipman run -i lo -f "port 6071 or
  port 6072" --sensor edge-b --hep-send 127.0.0.1:9060`, captures SIPp pair
  B (answered and cancelled) into its own SQLite file and forwards every
  message as HEPv3 to a collector, `sipman run --hep-listen 127.0.0.1:9060`,
  which writes into the same PostgreSQL; the agent's node name becomes the
  calls' sensor.

- SIPp pair C (answered calls on port 7071) passes both capture points:
  each of its calls must be ONE call in the central store, naming both
  sensors (its row's sensor and also_seen_by).

Then `sipman serve --db postgresql://...` must list, per sensor, exactly
SIPp's calls that sensor saw, in the right states (SIPp's -trace_stat is the
oracle), every call once without a sensor filter, the same per-sensor counts
in the statistics, and edge-b's calls must equal those its agent stored
locally (Call-ID and state). Every process is ended by its PID.

usage: multi_sensor_pg_test.py SIPMAN WORKDIR PG_URL REPO_ROOT
"""
import collections
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import analyze_lib as lib  # noqa: E402
from web_api_test import PASSWORD, Client, free_port, raw  # noqa: E402

RATE = 10
# sensor, phases: (state, uas scenario, uas port, uac scenario, uac port, calls)
SIDES = {
    "core-a": [("answered", "uas-answer-audio", 5071, "uac-answer-audio", 5081, 8),
               ("busy", "uas-reject-486", 5072, "uac-reject-486", 5082, 5)],
    "edge-b": [("answered", "uas-answer-audio", 6071, "uac-answer-audio", 6081, 6),
               ("cancelled", "uas-cancel", 6072, "uac-cancel", 6082, 4)],
    "both": [("answered", "uas-answer-video", 7071, "uac-answer-video", 7081, 5)],
}
FILTERS = {"core-a": "port 5071 or port 5072 or port 7071",
           "edge-b": "port 6071 or port 6072 or port 7071"}


def sipp(args, log):
    return subprocess.Popen(["sipp", *args, "-i", "127.0.0.1", "-nostdin", "-timeout", "120s"],
                            stdout=log, stderr=subprocess.STDOUT)


def run_sipp(ck, work, sc):
    """Runs both sides' calls at once; returns {sensor: {state: successful calls}}."""
    procs, uacs = [], []
    try:
        for sensor, phases in SIDES.items():
            for state, uas, uport, uac, cport, n in phases:
                log = open(os.path.join(work, f"{sensor}-{state}.uas.log"), "w")
                procs.append(sipp(["-sf", os.path.join(sc, uas + ".xml"), "-p", str(uport)], log))
        time.sleep(0.5)
        for sensor, phases in SIDES.items():
            for state, uas, uport, uac, cport, n in phases:
                stat = os.path.join(work, f"{sensor}-{state}.stat.csv")
                log = open(os.path.join(work, f"{sensor}-{state}.uac.log"), "w")
                p = sipp([f"127.0.0.1:{uport}", "-sf", os.path.join(sc, uac + ".xml"),
                          "-p", str(cport), "-m", str(n), "-r", str(RATE), "-trace_stat",
                          "-stf", stat, "-fd", "1"], log)
                procs.append(p)
                uacs.append((sensor, state, p, stat))
        for _, _, p, _ in uacs:
            try:
                p.wait(timeout=150)
            except subprocess.TimeoutExpired:
                p.kill()
    finally:
        for p in procs:
            lib.stop(p, signal.SIGKILL, 5)
    want = collections.defaultdict(dict)
    for sensor, state, _, stat in uacs:
        want[sensor][state] = lib.successful_calls(stat)
    asked = {s: {state: n for state, _, _, _, _, n in phases} for s, phases in SIDES.items()}
    ck.check("SIPp completed every call of both sides", dict(want) == asked,
             f"SIPp {dict(want)}, asked {asked}")
    return {s: dict(v) for s, v in want.items()}


def daemon(sipman, work, name, args):
    log = os.path.join(work, f"{name}.log")
    out = open(os.path.join(work, f"{name}.out"), "w")
    p = subprocess.Popen([sipman, "run", "--no-web", "--log", log, "--stats-interval", "0",
                          "--spill-dir", os.path.join(work, f"{name}.spill"), *args],
                         stdout=out, stderr=subprocess.STDOUT)
    return p, log


def page_all(client, path):
    rows, cursor = [], None
    for _ in range(100):
        sep = "&" if "?" in path else "?"
        page = client.get_json(path + sep + "limit=500" +
                               (f"&cursor={urllib.parse.quote(cursor)}" if cursor else ""))
        if not page:
            break
        rows += page["calls"]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    return rows


def by_state(rows):
    return dict(collections.Counter(r["state"] for r in rows))


def browser_check(ck, sipman, root, port, sensors):
    """The GUI over the central store: tests/e2e/ui_e2e.mjs in Chromium drives
    the serve (login, dashboard, calls, a call's ladder and pcap, statistics)
    and checks that the call list names both sensors and filters by each."""
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not (os.path.exists(chromium) and os.path.isdir(
            os.path.join(root, "ui", "node_modules", "playwright-core"))):
        print("SKIP browser part: Chromium or ui/node_modules missing (scripts/bootstrap)")
        return
    artifacts = os.path.join(os.path.dirname(os.path.abspath(sipman)), "e2e-artifacts",
                             "multi-sensor")
    os.makedirs(artifacts, exist_ok=True)
    r = subprocess.run(["node", os.path.join(root, "tests", "e2e", "ui_e2e.mjs"),
                        "--url", f"http://127.0.0.1:{port}", "--password", PASSWORD,
                        "--artifacts", artifacts, "--chromium", chromium,
                        "--expect-sensors", ",".join(sensors)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    print(r.stdout[-4000:])
    ck.check(f"the web GUI over PostgreSQL shows both sensors' calls (screenshots in {artifacts})",
             r.returncode == 0, r.stdout[-3000:])


def main():
    sipman, work, pg_url, root = sys.argv[1:5]
    sc = os.path.join(root, "tests", "scenarios")
    ck = lib.Checks()
    agent_db = os.path.join(work, "edge-b-agent.db")
    core, core_log = daemon(sipman, work, "core-a", ["-i", "lo", "-f", FILTERS["core-a"],
                                                     "--sensor", "core-a", "--db", pg_url])
    collector, col_log = daemon(sipman, work, "collector", ["--hep-listen", "127.0.0.1:9060",
                                                            "--sensor", "collector",
                                                            "--db", pg_url])
    agent, agent_log = daemon(sipman, work, "edge-b-agent",
                              ["-i", "lo", "-f", FILTERS["edge-b"], "--sensor", "edge-b",
                               "--hep-send", "127.0.0.1:9060", "--db", agent_db])
    daemons = [("edge-b-agent", agent), ("collector", collector), ("core-a", core)]
    want = {}
    try:
        ok = (lib.wait_for(core_log, r"capturing on lo", 15) and
              lib.wait_for(col_log, r"receiving HEP", 15) and
              lib.wait_for(agent_log, r"capturing on lo", 15))
        ck.check("two live sensors and a HEP collector start", ok,
                 "\n".join(open(p).read()[-1500:] for p in (core_log, col_log, agent_log)
                           if os.path.exists(p)))
        if not ok:
            return ck.finish()
        want = run_sipp(ck, work, sc)
        time.sleep(2)  # the last ACKs and BYEs, and their HEP copies
    finally:
        # The agent first, so the collector has every HEP packet before it stops.
        for name, p in daemons:
            lib.stop(p, signal.SIGTERM, 60)
            ck.check(f"sipman run ({name}) exits 0 after SIGTERM", p.returncode == 0,
                     open(os.path.join(work, f"{name}.out")).read()[-2000:])
            time.sleep(1)
    if not want:
        return ck.finish()
    both = want.pop("both", {})
    seen = {s: {k: v + (both.get(k, 0)) for k, v in list(states.items()) +
                [(k, 0) for k in both if k not in states]} for s, states in want.items()}
    total = sum(sum(v.values()) for v in want.values()) + sum(both.values())

    port = free_port()
    log = open(os.path.join(work, "serve.log"), "w")
    env = dict(os.environ, SIPMAN_ADMIN_PASSWORD=PASSWORD)
    serve = subprocess.Popen([sipman, "serve", "--db", pg_url, "--users-db",
                              os.path.join(work, "users.db"), "--listen", f"127.0.0.1:{port}"],
                             stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        up = False
        for _ in range(150):
            if serve.poll() is not None:
                break
            try:
                up = raw(port, b"GET /healthz HTTP/1.0\r\n\r\n").endswith(b"ok\n")
            except OSError:
                up = False
            if up:
                break
            time.sleep(0.1)
        ck.check("sipman serve --db postgresql://... starts", up,
                 open(os.path.join(work, "serve.log")).read()[-2000:])
        if not up:
            return ck.finish()
        client = Client(port)
        status, headers, body = client.request("POST", "/api/v1/login",
                                               {"username": "admin", "password": PASSWORD})
        ck.check("log in to the serve over PostgreSQL", status == 200, f"{status} {body[:200]!r}")
        client.cookie = headers.get("set-cookie", "").split(";")[0]

        every = page_all(client, "/api/v1/calls")
        sensors = dict(collections.Counter(r["sensor"] for r in every))
        print(f"SIPp {want}, seen by both {both}; serve lists {len(every)} calls, "
              f"per row sensor {sensors}")
        ck.check("the call list without a filter shows every call once",
                 len(every) == total and set(sensors) <= set(want),
                 f"listed {len(every)} ({sensors}), SIPp {total}")
        named = sorted({r["sensor"], r.get("also_seen_by", "")} == {"core-a", "edge-b"}
                       for r in every if r.get("also_seen_by"))
        ck.check(f"each of the {sum(both.values())} calls both sensors saw is one row naming both",
                 len(named) == sum(both.values()) and all(named),
                 [(r["call_id"], r["sensor"], r.get("also_seen_by")) for r in every
                  if r.get("also_seen_by")][:10])
        for sensor, states in seen.items():
            rows = page_all(client, f"/api/v1/calls?sensor={sensor}")
            ck.check(f"calls sensor {sensor} saw, per state, equal SIPp's counts of its traffic",
                     by_state(rows) == states, f"listed {by_state(rows)}, SIPp {states}")
            summary = client.get_json(f"/api/v1/stats/summary?sensor={sensor}") or {}
            got = {r["key"]: r["calls"] for r in summary.get("by_state", [])}
            ck.check(f"statistics of sensor {sensor}: calls and calls per state equal SIPp's",
                     summary.get("calls") == sum(states.values()) and got == states,
                     f"summary calls {summary.get('calls')} by_state {got}, SIPp {states}")
        summary = client.get_json("/api/v1/stats/summary") or {}
        ck.check("statistics over every sensor count each call once",
                 summary.get("calls") == total, f"{summary.get('calls')}, SIPp {total}")

        con = sqlite3.connect(agent_db)
        local = sorted(f"{cid} {st}" for cid, st in con.execute("SELECT call_id, state FROM calls"))
        con.close()
        central = sorted(f"{r['call_id']} {r['state']}" for r in every
                         if "edge-b" in (r["sensor"], *r.get("also_seen_by", "").split(",")))
        ck.check("edge-b's calls in the central store equal those its agent stored locally",
                 local == central, f"agent only {sorted(set(local) - set(central))[:5]}, "
                                   f"central only {sorted(set(central) - set(local))[:5]}")
        browser_check(ck, sipman, root, port, list(want))
    finally:
        lib.stop(serve, signal.SIGTERM, 15)
    return ck.finish()


if __name__ == "__main__":
    sys.exit(main())
