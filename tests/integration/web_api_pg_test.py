#!/usr/bin/env python3
"""`sipman serve --db postgresql://...` (see web_api_pg_test.sh): two captures
stored as sensors A and B in PostgreSQL and in one SQLite file; a serve on
each; per sensor and for all, the calls, registrations and statistics of the
two serves must be equal, and /api/v1/calls?sensor=X must count what analyze
stored for X; `sipman report --json` must print the same from either
database. Both servers are killed by PID.

usage: web_api_pg_test.py SIPMAN WORKDIR PG_URL PCAP_A PCAP_B
"""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from web_api_test import PASSWORD, Client, check, db_rows, failures, free_port, raw  # noqa: E402


def analyze(sipman, db, sensor, pcap):
    out = subprocess.run([sipman, "analyze", "--db", db, "--sensor", sensor, "--json", pcap],
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    return out


def start_serve(sipman, work, db, name, extra=()):
    port = free_port()
    env = dict(os.environ, SIPMAN_ADMIN_PASSWORD=PASSWORD)
    log = open(os.path.join(work, f"serve-{name}.log"), "w")
    server = subprocess.Popen([sipman, "serve", "--db", db, "--listen", f"127.0.0.1:{port}",
                               *extra], stdout=log, stderr=subprocess.STDOUT, env=env)
    for _ in range(150):
        if server.poll() is not None:
            break
        try:
            if raw(port, b"GET /healthz HTTP/1.0\r\n\r\n").endswith(b"ok\n"):
                break
        except OSError:
            pass
        time.sleep(0.1)
    client = Client(port)
    status, headers, body = client.request("POST", "/api/v1/login",
                                           {"username": "admin", "password": PASSWORD})
    check(status == 200, f"login on the {name} serve", f"{status} {body[:200]!r}")
    client.cookie = headers.get("set-cookie", "").split(";")[0]
    return server, log, client


def stop(server, log, name):
    os.kill(server.pid, signal.SIGTERM)
    try:
        rc = server.wait(timeout=15)
        check(rc == 0, f"{name} serve exits 0 on SIGTERM", f"exit {rc}")
    except subprocess.TimeoutExpired:
        os.kill(server.pid, signal.SIGKILL)
        server.wait()
        check(False, f"{name} serve stops within 15 s of SIGTERM")
    log.close()


def all_pages(client, path, key):
    rows, cursor = [], None
    for _ in range(1000):
        sep = "&" if "?" in path else "?"
        page = client.get_json(path + sep + "limit=500" + (f"&cursor={cursor}" if cursor else ""))
        if not page:
            return rows
        rows += page[key]
        cursor = page.get("next_cursor")
        if not cursor:
            return rows
    check(False, f"{path}: more than 1000 pages")
    return rows


def strip_ids(rows):
    """Row ids are each database's own; everything else must be equal."""
    out = []
    for r in rows:
        r = dict(r)
        r.pop("id", None)
        out.append(json.dumps(r, sort_keys=True))
    return sorted(out)


def main():
    sipman, work, pg_url, pcap_a, pcap_b = sys.argv[1:6]
    sqlite_db = os.path.join(work, "oracle.db")
    for sensor, pcap in (("A", pcap_a), ("B", pcap_b)):
        analyze(sipman, pg_url, sensor, pcap)
        analyze(sipman, sqlite_db, sensor, pcap)
    stored = {s: db_rows(sqlite_db, "SELECT COUNT(*) AS n FROM calls WHERE sensor = ?", (s,))[0]["n"]
              for s in ("A", "B")}
    print(f"analyze stored {stored} calls")
    check(stored["A"] > 0 and stored["B"] > 0, "both captures hold calls")

    # sipman report reads the same figures from either database.
    for args in (["--sensor", "A"], ["--sensor", "B"], [], ["--by", "hour"], ["--by", "user", "--top", "50"]):
        a = subprocess.run([sipman, "report", "--db", pg_url, "--json", *args], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        b = subprocess.run([sipman, "report", "--db", sqlite_db, "--json", *args], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        check(a.returncode == 0 and a.stdout == b.stdout, f"sipman report {' '.join(args)}: PostgreSQL = SQLite",
              f"{a.stdout[:300]} vs {b.stdout[:300]}")

    pg, pg_log, pgc = start_serve(sipman, work, pg_url, "postgresql",
                                  ["--users-db", os.path.join(work, "users.db")])
    lite, lite_log, litec = start_serve(sipman, work, sqlite_db, "sqlite")
    try:
        check(os.path.exists(os.path.join(work, "users.db")), "serve on PostgreSQL keeps its web users in --users-db")
        total = 0
        for sensor in ("A", "B", None):
            q = f"?sensor={sensor}" if sensor else ""
            what = f"sensor {sensor}" if sensor else "every sensor"
            calls_pg = all_pages(pgc, "/api/v1/calls" + q, "calls")
            calls_lite = all_pages(litec, "/api/v1/calls" + q, "calls")
            expected = stored[sensor] if sensor else stored["A"] + stored["B"]
            check(len(calls_pg) == expected, f"/api/v1/calls, {what}: as many calls as analyze stored",
                  f"{len(calls_pg)} vs {expected}")
            if sensor:
                total += len(calls_pg)
                check(all(c["sensor"] == sensor for c in calls_pg), f"/api/v1/calls?sensor={sensor} only its calls")
            else:
                check(len(calls_pg) == total, "without sensor: the sum of the sensors")
            check(strip_ids(calls_pg) == strip_ids(calls_lite), f"/api/v1/calls, {what}: PostgreSQL = SQLite")
            for path, key in (("/api/v1/registrations" + q, "registrations"),):
                a, b = all_pages(pgc, path, key), all_pages(litec, path, key)
                check(strip_ids(a) == strip_ids(b), f"{path}: PostgreSQL = SQLite", f"{len(a)} vs {len(b)}")
            sep = "&" if q else "?"
            for path in ["/api/v1/stats/summary" + q,
                         "/api/v1/stats/periods" + q + sep + "by=hour",
                         "/api/v1/stats/periods" + q + sep + "by=day",
                         "/api/v1/stats/periods" + q + sep + "by=week",
                         "/api/v1/stats/top" + q + sep + "by=caller&limit=100",
                         "/api/v1/stats/top" + q + sep + "by=callee&limit=5",
                         "/api/v1/stats/top" + q + sep + "by=user&limit=100",
                         "/api/v1/stats/top" + q + sep + "by=ip&limit=100",
                         "/api/v1/stats/top" + q + sep + "by=agent&limit=100"]:
                a, b = pgc.get_json(path), litec.get_json(path)
                check(a is not None and a == b, f"{path}: PostgreSQL = SQLite",
                      f"{json.dumps(a)[:300]} vs {json.dumps(b)[:300]}")
            summary = pgc.get_json("/api/v1/stats/summary" + q)
            check(summary and summary["calls"] == expected, f"stats/summary, {what}, counts the stored calls",
                  str(summary and summary["calls"]))
        # Call detail (CDR, messages, SDP) and pcap, each by its own database's id.
        listed = pgc.get_json("/api/v1/calls?limit=5") or {"calls": []}
        check(len(listed["calls"]) == 5, "five calls listed")
        for call in listed["calls"]:
            q = f"?call_id={call['call_id']}&sensor={call['sensor']}"
            other = (litec.get_json("/api/v1/calls" + q) or {"calls": []})["calls"]
            if not check(len(other) == 1, f"{call['call_id']} found on SQLite"):
                continue
            a = pgc.get_json(f"/api/v1/calls/{call['id']}")
            b = litec.get_json(f"/api/v1/calls/{other[0]['id']}")
            check(a is not None and len(a.get("messages", [])) > 0,
                  f"call detail of {call['call_id']} with its messages from PostgreSQL")

            def plain(d):
                d = json.loads(json.dumps(d))
                d["call"].pop("id", None)
                for m in d.get("messages", []):
                    m.pop("id", None)
                for x in d.get("sdp", []):
                    x.pop("message_id", None)
                return d
            check(a is not None and b is not None and plain(a) == plain(b),
                  f"call detail of {call['call_id']}: PostgreSQL = SQLite")
            sa, _, pa = pgc.request("GET", f"/api/v1/calls/{call['id']}/pcap")
            sb, _, pb = litec.request("GET", f"/api/v1/calls/{other[0]['id']}/pcap")
            check(sa == 200 and sb == 200 and pa == pb, f"pcap of {call['call_id']}: PostgreSQL = SQLite",
                  f"{sa} {len(pa)} bytes vs {sb} {len(pb)} bytes")
    finally:
        stop(pg, pg_log, "postgresql")
        stop(lite, lite_log, "sqlite")
    if failures:
        for name in ("postgresql", "sqlite"):
            print(f"serve-{name}.log: " + open(os.path.join(work, f"serve-{name}.log")).read()[-2000:])
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print("PASS: web API over PostgreSQL")


if __name__ == "__main__":
    main()
