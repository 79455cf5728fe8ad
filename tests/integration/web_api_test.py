#!/usr/bin/env python3
"""Web API test (see web_api_test.sh): fills a database with `sipman analyze`,
starts `sipman serve` on a free port and checks every endpoint against the
database read directly with sqlite3 (the oracle), then kills the server by PID.

usage: web_api_test.py SIPMAN WORKDIR PCAP...
"""
import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from analyze_lib import TSHARK_SIP_PORTS  # noqa: E402

PASSWORD = "web-test-Password-1"
failures = []


def check(cond, what, detail=""):
    if not cond:
        failures.append(what)
        print(f"FAIL: {what}" + (f"\n      {detail}" if detail else ""))
    return cond


class Client:
    def __init__(self, port):
        self.port = port
        self.cookie = None
        self.token = None

    def request(self, method, path, body=None, headers=None, auth=True, source=None):
        """`source`: the loopback address to send from (another client)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30,
                                          source_address=(source, 0) if source else None)
        h = dict(headers or {})
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        if auth and self.token:
            h["Authorization"] = "Bearer " + self.token
        elif auth and self.cookie:
            h["Cookie"] = self.cookie
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data

    def get_json(self, path, expect=200):
        status, headers, data = self.request("GET", path)
        check(status == expect, f"GET {path} -> {expect}", f"got {status}: {data[:300]!r}")
        try:
            return json.loads(data) if data else None
        except ValueError:
            check(False, f"GET {path} returns JSON", repr(data[:200]))
            return None


def raw(port, payload, read_all=True):
    """Sends bytes on a fresh socket; returns the status of the first response."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(payload)
    except OSError:
        pass  # the server may close before taking everything
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if not read_all and b"\r\n\r\n" in data:
                break
    except OSError:
        pass
    s.close()
    return data


def status_of(data):
    try:
        return int(data.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def db_rows(db, sql, args=()):
    c = sqlite3.connect(db)
    c.row_factory = sqlite3.Row
    rows = [dict(r) for r in c.execute(sql, args)]
    c.close()
    return rows


# ---------------------------------------------------------------- oracles

def expected_call_ids(calls, f, sort="-invite_ts"):
    out = []
    for c in calls:
        if "from" in f and c["invite_ts"] < int(f["from"]):
            continue
        if "to" in f and c["invite_ts"] >= int(f["to"]):
            continue
        if "caller" in f and not c["caller_user"].startswith(f["caller"]):
            continue
        if "caller_contains" in f and f["caller_contains"] not in c["caller_user"]:
            continue
        if "callee" in f and not c["callee_user"].startswith(f["callee"]):
            continue
        if "callee_contains" in f and f["callee_contains"] not in c["callee_user"]:
            continue
        if "call_id" in f and c["call_id"] != f["call_id"]:
            continue
        if "ip" in f and f["ip"] not in (c["src_ip"], c["dst_ip"]):
            continue
        if "state" in f and c["state"] not in f["state"].split(","):
            continue
        if "status" in f and c["final_status"] not in [int(x) for x in f["status"].split(",")]:
            continue
        if "min_duration_ms" in f and c["duration_ms"] < int(f["min_duration_ms"]):
            continue
        if "max_duration_ms" in f and c["duration_ms"] > int(f["max_duration_ms"]):
            continue
        if "sensor" in f and c["sensor"] != f["sensor"]:
            continue
        out.append(c)
    key = sort.lstrip("-")
    out.sort(key=lambda c: (c[key], c["id"]), reverse=sort.startswith("-"))
    return [c["id"] for c in out]


def expected_registration_ids(regs, f):
    out = []
    for r in regs:
        if "from" in f and r["first_seen"] < int(f["from"]):
            continue
        if "to" in f and r["first_seen"] >= int(f["to"]):
            continue
        if "user" in f and not r["aor"].startswith(f["user"]):
            continue
        if "ip" in f and r["src_ip"] != f["ip"]:
            continue
        if "state" in f and r["result"] != f["state"]:
            continue
        if "sensor" in f and r["sensor"] != f["sensor"]:
            continue
        out.append(r)
    out.sort(key=lambda r: (r["first_seen"], r["id"]), reverse=True)
    return [r["id"] for r in out]


def page_all(client, path, params, key, limit):
    """Follows next_cursor; returns all ids in page order."""
    ids, cursor, pages = [], None, 0
    while True:
        p = dict(params, limit=limit)
        if cursor:
            p["cursor"] = cursor
        d = client.get_json(path + "?" + urllib.parse.urlencode(p))
        if not isinstance(d, dict) or key not in d:
            return None
        ids += [row["id"] for row in d[key]]
        check(len(d[key]) <= limit, f"{path} page holds at most limit={limit} rows")
        cursor = d["next_cursor"]
        pages += 1
        if not cursor or pages > 1000:
            return ids


def tshark_calls(pcap):
    out = subprocess.run(["tshark", "-r", pcap, "-Y", "sip", "-T", "fields", "-E", "separator=\t",
                          "-e", "sip.Call-ID", "-e", "sip.Method", "-e", "sip.Status-Code"]
                         + TSHARK_SIP_PORTS,
                         check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def main():
    sipman, work = sys.argv[1], sys.argv[2]
    pcaps = sys.argv[3:]
    db = os.path.join(work, "web.db")
    subprocess.run([sipman, "analyze", "--db", db] + pcaps, check=True,
                   stdout=subprocess.DEVNULL)
    calls = db_rows(db, "SELECT * FROM calls")
    regs = db_rows(db, "SELECT * FROM registrations")
    print(f"database: {len(calls)} calls, {len(regs)} registrations")
    check(len(calls) > 10, "the capture holds calls")

    port = free_port()
    env = dict(os.environ, SIPMAN_ADMIN_PASSWORD=PASSWORD)
    log = open(os.path.join(work, "serve.log"), "w")
    server = subprocess.Popen([sipman, "serve", "--db", db, "--listen", f"127.0.0.1:{port}"],
                              stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        for _ in range(100):
            try:
                if raw(port, b"GET /healthz HTTP/1.0\r\n\r\n").endswith(b"ok\n"):
                    break
            except OSError:
                pass
            time.sleep(0.1)
        run_checks(Client(port), port, db, calls, regs)
        check_connection_memory(port, server.pid)
    finally:
        os.kill(server.pid, signal.SIGTERM)
        try:
            rc = server.wait(timeout=15)
            check(rc == 0, "sipman serve exits 0 on SIGTERM", f"exit {rc}")
        except subprocess.TimeoutExpired:
            os.kill(server.pid, signal.SIGKILL)
            check(False, "sipman serve stops within 15 s of SIGTERM")
        log.close()
    if failures:
        print(f"{len(failures)} check(s) failed; server log: {open(os.path.join(work, 'serve.log')).read()[-2000:]}")
        sys.exit(1)
    print("PASS: web API")


def memory_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def check_connection_memory(port, pid):
    """Unauthenticated clients fill every connection the server allows (8
    addresses x 60) with requests that never finish: first bodies the size
    the old 1 MiB limit let through (refused now at their headers), then
    bodies just under the 64 KiB limit. What the server holds per
    connection stays bounded: its peak resident memory grows by less than
    FLOOD_GROWTH_MB (docs/CONFIG.md, "Memory bounds")."""
    FLOOD_GROWTH_MB = 96
    for length, sent in ((1_000_000, 990_000), (65_536, 65_000)):
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")  # VmHWM restarts from the current resident size
        before = memory_kb(pid, "VmRSS")
        socks = []
        body = b"x" * sent
        for a in range(8):
            for _ in range(60):
                s = socket.socket()
                s.settimeout(5)
                try:
                    s.bind((f"127.0.0.{20 + a}", 0))
                    s.connect(("127.0.0.1", port))
                    s.sendall(b"POST /api/v1/login HTTP/1.1\r\nHost: x\r\n"
                              b"Content-Type: application/json\r\n"
                              b"Content-Length: %d\r\n\r\n" % length + body)
                except OSError:
                    pass  # refused (413) and closed: what a bounded server does
                socks.append(s)
        time.sleep(0.5)
        peak = memory_kb(pid, "VmHWM")
        check((peak - before) / 1024 < FLOOD_GROWTH_MB,
              f"480 connections with unfinished {length}-byte bodies: the server's peak memory "
              f"grows by less than {FLOOD_GROWTH_MB} MB",
              f"VmRSS before {before / 1024:.0f} MB, VmHWM {peak / 1024:.0f} MB")
        for s in socks:
            s.close()
    status = raw(port, b"GET /healthz HTTP/1.0\r\n\r\n")
    check(status.endswith(b"ok\n"), "the server answers after the floods", repr(status[:100]))


def run_checks(client, port, db, calls, regs):
    # --- without authentication
    status, _, body = client.request("GET", "/healthz", auth=False)
    check(status == 200 and body == b"ok\n", "/healthz answers ok without auth")
    protected = ["/api/v1/calls", "/api/v1/calls/1", "/api/v1/calls/1/pcap", "/api/v1/registrations",
                 "/api/v1/registrations/current", "/api/v1/stats/summary", "/api/v1/stats/periods",
                 "/api/v1/stats/top", "/api/v1/stats/traffic", "/api/v1/live", "/api/v1/me",
                 "/metrics"]
    for path in protected:
        status, headers, body = client.request("GET", path, auth=False)
        check(status == 401, f"GET {path} without auth -> 401", f"got {status}")
        if path.startswith("/api"):
            check(headers.get("content-type", "").startswith("application/json"),
                  f"401 of {path} is JSON")
    status, _, _ = client.request("GET", "/api/v1/calls", auth=False,
                                  headers={"Cookie": "sipman_session=forged"})
    check(status == 401, "a forged session cookie -> 401")
    status, _, _ = client.request("GET", "/api/v1/calls", auth=False,
                                  headers={"Authorization": "Bearer forged"})
    check(status == 401, "a forged API token -> 401")

    # --- login: JSON only (any case), and from this server's origin when a browser names one
    creds = json.dumps({"username": "admin", "password": PASSWORD})
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "application/jsonp"):
        status, _, _ = client.request("POST", "/api/v1/login", creds, auth=False,
                                      headers={"Content-Type": ctype})
        check(status == 415, f"login with Content-Type {ctype} -> 415", f"got {status}")
    status, _, _ = client.request("POST", "/api/v1/login", creds, auth=False,
                                  headers={"Content-Type": "APPLICATION/JSON; Charset=UTF-8"})
    check(status == 200, "login with Content-Type APPLICATION/JSON; Charset=UTF-8 -> 200",
          f"got {status}")
    own = f"http://127.0.0.1:{port}"
    for origin in ("http://evil.example", f"https://127.0.0.1:{port}", "null",
                   f"http://127.0.0.1:{port + 1 if port < 65535 else port - 1}"):
        status, _, body = client.request("POST", "/api/v1/login", creds, auth=False,
                                         headers={"Content-Type": "application/json",
                                                  "Origin": origin})
        check(status == 403 and b"cross-origin" in body, f"login with Origin {origin} -> 403",
              f"{status} {body[:200]!r}")
    status, _, _ = client.request("POST", "/api/v1/login", creds, auth=False,
                                  headers={"Content-Type": "application/json", "Origin": own})
    check(status == 200, f"login with Origin {own} (this server) -> 200", f"got {status}")

    status, _, _ = client.request("POST", "/api/v1/login", {"username": "admin", "password": "nope"})
    check(status == 401, "wrong password -> 401", f"got {status}")
    status, headers, body = client.request("POST", "/api/v1/login",
                                           {"username": "admin", "password": PASSWORD})
    check(status == 200 and json.loads(body).get("user") == "admin", "login -> 200 {user}")
    cookie = headers.get("set-cookie", "")
    for attr in ("HttpOnly", "SameSite=Strict", "Path=/"):
        check(attr in cookie, f"session cookie has {attr}", cookie)
    client.cookie = cookie.split(";")[0]
    me = client.get_json("/api/v1/me")
    check(me and me["user"] == "admin" and me["auth"] == "session", "/me names the user")
    status, _, body = client.request("POST", "/api/v1/tokens", {"name": "test"})
    check(status == 400, "POST /tokens without the password -> 400", f"{status} {body[:200]!r}")
    status, _, body = client.request("POST", "/api/v1/tokens",
                                     {"name": "test", "password": "not-it"})
    check(status == 403, "POST /tokens with a wrong password -> 403", f"{status} {body[:200]!r}")
    for days in ("0", "367", "x"):
        status, _, _ = client.request("POST", "/api/v1/tokens",
                                      {"name": "t", "password": PASSWORD, "expires_days": days})
        check(status == 400, f"expires_days {days} -> 400", f"got {status}")
    before = time.time_ns()
    status, _, body = client.request("POST", "/api/v1/tokens",
                                     {"name": "test", "password": PASSWORD})
    check(status == 201, "POST /tokens -> 201", f"{status} {body[:200]!r}")
    created = json.loads(body)
    token = created["token"]
    day = 86400 * 10**9
    check(created["expires_ts"] - created["created_ts"] == 90 * day and
          created["created_ts"] >= before and created["last_used_time"] is None,
          "a token expires in 90 days by default", created)
    status, _, body = client.request("POST", "/api/v1/tokens",
                                     {"name": "week", "password": PASSWORD, "expires_days": 7})
    week = json.loads(body) if status == 201 else {}
    check(status == 201 and week["expires_ts"] - week["created_ts"] == 7 * day,
          "expires_days 7 -> a week", f"{status} {body[:200]!r}")
    status, _, _ = client.request("POST", "/api/v1/tokens", "name=x",
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    check(status == 415, "a cookie-authenticated form POST is refused (415)", f"got {status}")
    client.token = token
    me = client.get_json("/api/v1/me")
    check(me and me["auth"] == "token", "Bearer token authenticates")
    client.token = None

    # --- tokens are listed (never in clear), revoked by id; a password
    # change ends every other session and every token
    listed = client.get_json("/api/v1/tokens")
    names = [t["name"] for t in (listed or {}).get("tokens", [])]
    check(names[:2] == ["week", "test"], "GET /tokens lists the user's tokens, newest first", listed)
    check(all("token" not in t and "token_hash" not in t for t in listed["tokens"]),
          "the list shows no token or hash", listed)
    used = next(t for t in listed["tokens"] if t["name"] == "test")
    check(used["last_used_time"] is not None, "a used token shows when it was last used", used)
    status, _, _ = client.request("DELETE", f"/api/v1/tokens/{week['id']}")
    check(status == 200, "DELETE /tokens/{id} -> 200", f"got {status}")
    status, _, _ = client.request("DELETE", f"/api/v1/tokens/{week['id']}")
    check(status == 404, "revoking it again -> 404", f"got {status}")
    client.token = week["token"]
    status, _, _ = client.request("GET", "/api/v1/me")
    check(status == 401, "a revoked token -> 401", f"got {status}")
    client.token = None
    other = Client(client.port)
    status, headers, _ = other.request("POST", "/api/v1/login",
                                       {"username": "admin", "password": PASSWORD}, auth=False)
    other.cookie = headers.get("set-cookie", "").split(";")[0]
    check(status == 200 and other.get_json("/api/v1/me") is not None, "a second session")
    new_password = PASSWORD + "-changed"
    status, headers, body = client.request("POST", "/api/v1/password",
                                           {"current_password": PASSWORD,
                                            "new_password": new_password})
    changed = json.loads(body) if status == 200 else {}
    check(status == 200 and changed.get("sessions_ended", 0) >= 2 and
          changed.get("tokens_revoked") == 1,
          "a password change ends the sessions and the remaining token", f"{status} {body!r}")
    old_cookie = client.cookie
    client.cookie = headers.get("set-cookie", "").split(";")[0]
    check(client.cookie.startswith("sipman_session=") and client.cookie != old_cookie,
          "the browser that changed it gets a new session", headers.get("set-cookie"))
    check(client.request("GET", "/api/v1/me")[0] == 200, "... which works")
    check(other.request("GET", "/api/v1/me")[0] == 401, "the other session ended (401)")
    other.cookie = old_cookie
    check(other.request("GET", "/api/v1/me")[0] == 401, "the old cookie ended (401)")
    client.token = token
    check(client.request("GET", "/api/v1/me")[0] == 401, "the token from before ended (401)")
    client.token = None
    status, headers, _ = client.request("POST", "/api/v1/password",
                                        {"current_password": new_password,
                                         "new_password": PASSWORD})
    check(status == 200, "the password changed back", f"got {status}")
    client.cookie = headers.get("set-cookie", "").split(";")[0]
    status, _, body = client.request("POST", "/api/v1/tokens",
                                     {"name": "test", "password": PASSWORD})
    token = json.loads(body)["token"] if status == 201 else ""

    # --- calls: pagination in every sort order equals the database
    for sort in ("-invite_ts", "invite_ts", "duration_ms", "-duration_ms"):
        ids = page_all(client, "/api/v1/calls", {"sort": sort}, "calls", 7)
        exp = expected_call_ids(calls, {}, sort)
        check(ids == exp, f"calls sorted {sort}, 7 per page, equal the database",
              f"api {ids[:10] if ids else ids}... db {exp[:10]}...")
    d = client.get_json("/api/v1/calls")
    check(d and len(d["calls"]) == min(50, len(calls)), "default limit is 50")
    c0 = next(c for c in calls if c["state"] == "answered") if any(
        c["state"] == "answered" for c in calls) else calls[0]
    invite_sorted = sorted(c["invite_ts"] for c in calls)
    mid = invite_sorted[len(invite_sorted) // 2]
    filters = [
        {"caller": c0["caller_user"][:3]}, {"caller": c0["caller_user"]},
        {"caller_contains": c0["caller_user"][1:4]}, {"callee": c0["callee_user"][:2]},
        {"callee_contains": c0["callee_user"][-3:]}, {"call_id": c0["call_id"]},
        {"ip": c0["src_ip"]}, {"ip": c0["dst_ip"]}, {"state": "answered"},
        {"state": "busy,cancelled"}, {"status": "200"}, {"status": "486,404"},
        {"min_duration_ms": "1"}, {"max_duration_ms": "0"},
        {"min_duration_ms": "1", "max_duration_ms": str(max(1, c0["duration_ms"]))},
        {"from": str(mid)}, {"to": str(mid)}, {"from": str(invite_sorted[0]), "to": str(mid + 1)},
        {"sensor": c0["sensor"]}, {"sensor": "no-such-sensor"},
        {"caller": c0["caller_user"][:2], "state": "answered", "from": str(invite_sorted[0])},
    ]
    for f in filters:
        ids = page_all(client, "/api/v1/calls", f, "calls", 5)
        exp = expected_call_ids(calls, f)
        check(ids == exp, f"calls filter {f} equals the database", f"api {ids} db {exp}")
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(mid // 10**9))
    ids = page_all(client, "/api/v1/calls", {"from": iso}, "calls", 50)
    exp = expected_call_ids(calls, {"from": (mid // 10**9) * 10**9})
    check(ids == exp, "from= in ISO 8601 equals the same time in ns")

    # --- bad values: 400 naming the parameter
    for query, name in [("nope=1", "nope"), ("limit=0", "limit"), ("limit=501", "limit"),
                        ("limit=x", "limit"), ("sort=caller", "sort"), ("from=yesterday", "from"),
                        ("to=2026-13-01", "to"), ("state=ringing", "state"), ("status=abc", "status"),
                        ("ip=999.1.1.1", "ip"), ("min_duration_ms=-1", "min_duration_ms"),
                        ("cursor=garbage", "cursor"), ("caller=a&caller=b", "caller")]:
        status, _, body = client.request("GET", "/api/v1/calls?" + query)
        check(status == 400 and name in json.loads(body).get("error", ""),
              f"calls?{query} -> 400 naming {name}", f"{status} {body[:200]!r}")
    d = client.get_json("/api/v1/calls?limit=2&sort=invite_ts")
    if d and d["next_cursor"]:
        status, _, _ = client.request("GET", "/api/v1/calls?sort=-duration_ms&cursor=" + d["next_cursor"])
        check(status == 400, "a cursor of another sort order -> 400")

    # --- SQL injection in every filter: 200 with exactly the literal's rows, or 400; never 500
    injections = ["' OR '1'='1", "1' OR 1=1 --", "\" OR \"\"=\"", "'; DROP TABLE calls; --",
                  "%' OR 1=1 --", "1) OR (1=1", "' UNION SELECT * FROM web_users --", "*", "%", "_"]
    text_filters = ["caller", "caller_contains", "callee", "callee_contains", "call_id", "sensor"]
    other_filters = ["from", "to", "ip", "state", "status", "min_duration_ms", "max_duration_ms",
                     "sort", "limit", "cursor"]
    for inj in injections:
        for name in text_filters:
            status, _, body = client.request("GET", "/api/v1/calls?" +
                                             urllib.parse.urlencode({name: inj, "limit": 500}))
            got = [c["id"] for c in json.loads(body)["calls"]] if status == 200 else None
            exp = expected_call_ids(calls, {name: inj})
            check(status == 200 and got == exp, f"calls {name}={inj!r}: 200 with the literal's rows",
                  f"{status} {got} vs {exp}")
        for name in other_filters:
            status, _, _ = client.request("GET", "/api/v1/calls?" + urllib.parse.urlencode({name: inj}))
            check(status == 400, f"calls {name}={inj!r} -> 400", f"got {status}")
        for name in ["user", "sensor"]:
            status, _, body = client.request("GET", "/api/v1/registrations?" +
                                             urllib.parse.urlencode({name: inj}))
            got = [r["id"] for r in json.loads(body)["registrations"]] if status == 200 else None
            check(status == 200 and got == expected_registration_ids(regs, {name: inj}),
                  f"registrations {name}={inj!r}: no extra rows", f"{status} {got}")
        for name in ["ip", "state", "from", "to", "limit", "cursor"]:
            status, _, _ = client.request("GET", "/api/v1/registrations?" +
                                          urllib.parse.urlencode({name: inj}))
            check(status == 400, f"registrations {name}={inj!r} -> 400", f"got {status}")
        for path in ["/api/v1/stats/summary", "/api/v1/stats/top", "/api/v1/stats/periods",
                     "/api/v1/stats/traffic"]:
            for name in ["sensor", "by", "from"]:
                status, _, _ = client.request("GET", path + "?" + urllib.parse.urlencode({name: inj}))
                check(status in (200, 400), f"{path} {name}={inj!r} -> 200/400", f"got {status}")
        status, _, _ = client.request("GET", "/api/v1/calls/" + urllib.parse.quote(inj, safe=""))
        check(status in (400, 404), f"calls/{inj!r} -> 400/404", f"got {status}")
    check(len(db_rows(db, "SELECT id FROM calls")) == len(calls), "the calls table is intact")

    # --- registrations
    ids = page_all(client, "/api/v1/registrations", {}, "registrations", 3)
    check(ids == expected_registration_ids(regs, {}), "registrations paged 3 at a time equal the database")
    if regs:
        r0 = regs[0]
        for f in [{"user": r0["aor"][:3]}, {"ip": r0["src_ip"]}, {"state": "success"},
                  {"state": "failed"}, {"from": str(r0["first_seen"])}, {"to": str(r0["first_seen"])}]:
            ids = page_all(client, "/api/v1/registrations", f, "registrations", 4)
            exp = expected_registration_ids(regs, f)
            check(ids == exp, f"registrations filter {f} equals the database", f"{ids} vs {exp}")
    cur = client.get_json("/api/v1/registrations/current")
    if cur is not None:
        check(all(r["result"] == "success" for r in cur["registrations"]),
              "current registrations are successful ones")
        keys = [(r["aor"], r["contact"], r["sensor"]) for r in cur["registrations"]]
        check(len(keys) == len(set(keys)), "one current binding per (aor, contact, sensor)")

    # --- one call, its messages and its pcap
    by_transport = {}
    for c in calls:
        by_transport.setdefault(c["transport"], c)
    for transport, c in by_transport.items():
        d = client.get_json(f"/api/v1/calls/{c['id']}")
        if not d:
            continue
        check(d["call"]["call_id"] == c["call_id"], f"call {c['id']} is its row")
        want = db_rows(db, "SELECT id, ts FROM messages WHERE call_id = ? AND sensor = ? ORDER BY ts, id",
                       (c["call_id"], c["sensor"]))
        got = [m["id"] for m in d["messages"]]
        check(got == [m["id"] for m in want], f"call {c['id']} ({transport}) lists its messages in time order",
              f"{got} vs {[m['id'] for m in want]}")
        check(all(m["raw"].startswith(m["first_line"]) for m in d["messages"]), "raw text is there")
        status, headers, body = client.request("GET", f"/api/v1/calls/{c['id']}/pcap")
        check(status == 200 and headers.get("content-type") == "application/vnd.tcpdump.pcap",
              f"call {c['id']} pcap is served")
        path = os.path.join(os.path.dirname(db), f"call-{c['id']}.pcap")
        with open(path, "wb") as f:
            f.write(body)
        rows = tshark_calls(path)
        check(len(rows) == len(d["messages"]),
              f"tshark reads exactly the {len(d['messages'])} messages of call {c['id']} ({transport})",
              f"tshark saw {len(rows)}")
        check(all(r[0] == c["call_id"] for r in rows), f"every SIP message in the pcap is call {c['id']}'s")
        api_seq = [m["method"] if m["is_request"] else str(m["status"]) for m in d["messages"]]
        tshark_seq = [r[1] if r[1] else r[2] for r in rows]
        check(api_seq == tshark_seq, f"pcap of call {c['id']} holds the messages in order",
              f"{api_seq} vs {tshark_seq}")
    status, _, _ = client.request("GET", "/api/v1/calls/999999999")
    check(status == 404, "a missing call -> 404")
    status, _, _ = client.request("GET", "/api/v1/calls/abc")
    check(status == 400, "a non-numeric call id -> 400")

    # --- statistics
    s = client.get_json("/api/v1/stats/summary")
    check(s and s["calls"] == len(calls), "stats/summary counts every call", str(s and s["calls"]))
    if s:
        states = {k["key"]: k["calls"] for k in s["by_state"]}
        exp = {}
        for c in calls:
            exp[c["state"]] = exp.get(c["state"], 0) + 1
        check(states == exp, "stats/summary by_state equals the database", f"{states} vs {exp}")
    for by in ("hour", "day", "week"):
        p = client.get_json(f"/api/v1/stats/periods?by={by}")
        check(p and sum(x["calls"] for x in p["periods"]) == len(calls), f"stats/periods by {by} sums to all calls")
    for by in ("caller", "callee", "user", "ip", "agent"):
        t = client.get_json(f"/api/v1/stats/top?by={by}&limit=3")
        check(t is not None and len(t["top"]) <= 3, f"stats/top by {by}")
    t = client.get_json("/api/v1/stats/top?by=caller&limit=100")
    if t:
        exp = {}
        for c in calls:
            exp[c["caller_user"]] = exp.get(c["caller_user"], 0) + 1
        check({x["key"]: x["calls"] for x in t["top"]} == exp, "top callers equal the database")
    tr = client.get_json("/api/v1/stats/traffic?step=hour")
    hour_msgs = db_rows(db, "SELECT SUM(messages) AS m FROM stats_hour")[0]["m"] or 0
    check(tr and sum(r["messages"] for r in tr["rows"]) == hour_msgs,
          "stats/traffic hourly messages equal stats_hour")
    first = db_rows(db, "SELECT MIN(ts) AS a, MAX(ts) AS b FROM stats_second")[0]
    if first["a"] is not None:
        q = f"from={first['a'] * 10**9}&to={(first['b'] + 1) * 10**9}&step=second"
        tr = client.get_json("/api/v1/stats/traffic?" + q)
        sec = db_rows(db, "SELECT ts, messages, frame_bytes FROM stats_second ORDER BY ts")
        got = [(r["ts"] // 10**9, r["messages"], r["bytes"]) for r in tr["rows"]] if tr else None
        check(got == [(r["ts"], r["messages"], r["frame_bytes"]) for r in sec],
              "stats/traffic per second equals stats_second")
        if tr:
            peak = max(r["messages"] for r in sec)
            check(tr["summary"]["messages_per_second"]["peak"] == peak, "traffic peak messages/s")
    status, _, _ = client.request("GET", "/api/v1/stats/traffic?step=second")
    check(status == 400, "step=second without a range -> 400")
    status, headers, body = client.request("GET", "/metrics")
    check(status == 200 and b"sipman_" in body and headers.get("content-type", "").startswith("text/plain"),
          "/metrics serves Prometheus text")

    # --- UI and fallbacks
    status, headers, body = client.request("GET", "/", auth=False)
    check(status == 200 and headers.get("content-type", "").startswith("text/html"), "/ serves the UI")
    status, _, body2 = client.request("GET", "/calls/123", auth=False)
    check(status == 200 and body2 == body, "unknown page paths serve index.html (SPA)")
    status, headers, _ = client.request("GET", "/api/v1/nothing")
    check(status == 404 and headers.get("content-type") == "application/json", "unknown API path -> 404 JSON")
    status, headers, _ = client.request("DELETE", "/api/v1/calls")
    check(status == 405 and "GET" in headers.get("allow", ""), "wrong method -> 405 with Allow")

    # --- live stream
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(f"GET /api/v1/live HTTP/1.1\r\nHost: x\r\nCookie: {client.cookie}\r\n\r\n".encode())
    data, deadline = b"", time.time() + 4
    while time.time() < deadline and b"heartbeat" not in data and b"\n\nevent: " not in data:
        try:
            data += s.recv(4096)
        except socket.timeout:
            break
    s.close()
    check(data.startswith(b"HTTP/1.1 200") and b"text/event-stream" in data and
          (b"heartbeat" in data or b"\n\nevent: " in data),
          "live stream sends events or heartbeats", repr(data[:300]))

    # HEAD of the stream: its head, no body, no stream left behind.
    data = raw(port, f"HEAD /api/v1/live HTTP/1.1\r\nHost: x\r\nCookie: {client.cookie}\r\n"
                     "Connection: close\r\n\r\n".encode())
    check(data.startswith(b"HTTP/1.1 200") and b"text/event-stream" in data and
          data.endswith(b"\r\n\r\n") and b"retry:" not in data,
          "HEAD /api/v1/live sends the head only", repr(data[:300]))

    # At most 8 streams per user: the 9th is 503 JSON with Retry-After; closing one frees it.
    streams, refused = [], b""
    for i in range(9):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(f"GET /api/v1/live HTTP/1.1\r\nHost: x\r\nCookie: {client.cookie}\r\n\r\n".encode())
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        if i < 8:
            check(got.startswith(b"HTTP/1.1 200"), f"live stream {i + 1} of 8 opens", repr(got[:200]))
        else:
            while got.startswith(b"HTTP/1.1 503") and not got.endswith(b"}\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
            refused = got
        streams.append(s)
    head, _, body = refused.partition(b"\r\n\r\n")
    check(refused.startswith(b"HTTP/1.1 503") and b"\r\nRetry-After: " in head and
          b"application/json" in head and b"too many live streams for user admin" in body,
          "a 9th live stream of one user -> 503 JSON with Retry-After", repr(refused[:400]))
    for s in streams:
        s.close()
    ok = False
    for _ in range(50):
        d = raw(port, f"GET /metrics HTTP/1.0\r\nCookie: {client.cookie}\r\n\r\n".encode())
        if b"\nsipman_web_live_clients 0\n" in d:
            ok = True
            break
        time.sleep(0.1)
    check(ok, "closed live streams free their places (sipman_web_live_clients 0)")

    # --- malformed and oversized requests over raw sockets
    cases = [
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 414, "request line over 8 KiB"),
        (b"GET / HTTP/1.1\r\nX-Big: " + b"b" * 40000 + b"\r\n\r\n", 431, "headers over 32 KiB"),
        (b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(101)) + b"\r\n", 431,
         "101 headers"),
        (b"POST /api/v1/login HTTP/1.1\r\nContent-Length: 65537\r\n\r\n", 413, "body over 64 KiB"),
        (b"GARBAGE\r\n\r\n", 400, "garbage request line"),
        (b"GET / HTTP/2.0\r\n\r\n", 505, "HTTP/2.0 over HTTP/1 framing"),
        (b"GET /healthz HTTP/1.9\r\n\r\n", 505, "HTTP/1.9"),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501, "chunked body"),
        (b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400, "bad Content-Length"),
        (b"GET /%zz HTTP/1.1\r\n\r\n", 400, "bad %-escape in the path"),
        (b"GET /api/v1/calls?caller=%zz HTTP/1.1\r\nCookie: " + client.cookie.encode() + b"\r\n\r\n",
         400, "bad %-escape in the query"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 100 + b"\r\n\r\n", 400, "a TLS hello"),
    ]
    for payload, want, what in cases:
        got = status_of(raw(port, payload, read_all=False))
        check(got == want, f"{what} -> {want}", f"got {got}")
    data = raw(port, b"GET /healthz HTTP/1.1\r\n\r\nGET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
    check(data.count(b"HTTP/1.1 200 OK") == 2, "two pipelined requests on one connection get two answers")
    status, _, _ = client.request("GET", "/healthz")
    check(status == 200, "the server still serves after all of that")

    # --- one address cannot hold every connection (64 each)
    held = []
    for _ in range(64):
        s = socket.socket()
        s.bind(("127.0.0.3", 0))
        s.connect(("127.0.0.1", port))
        held.append(s)
    time.sleep(0.3)
    s = socket.socket()
    s.settimeout(10)
    s.bind(("127.0.0.3", 0))
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
    data = b""
    try:
        while chunk := s.recv(4096):
            data += chunk
    except OSError:
        pass
    s.close()
    check(data.startswith(b"HTTP/1.1 503") and data.endswith(b"too many connections from your address"),
          "a 65th connection from one address -> 503", repr(data[:200]))
    status, _, _ = client.request("GET", "/healthz", source="127.0.0.4")
    check(status == 200, "another address is served meanwhile", f"got {status}")
    for s in held:
        s.close()

    # --- rate limit, last (it locks this client's address)
    codes = []
    for _ in range(6):
        status, headers, _ = client.request("POST", "/api/v1/login",
                                            {"username": "admin", "password": "wrong"}, auth=False)
        codes.append(status)
    check(codes[:4] == [401] * 4 and codes[-1] == 429, "failed logins are rate-limited (429)",
          f"got {codes}")
    status, headers, _ = client.request("POST", "/api/v1/login",
                                        {"username": "admin", "password": PASSWORD}, auth=False)
    check(status == 429 and int(headers.get("retry-after", "0")) > 0,
          "even the right password waits, with Retry-After", f"{status} {headers.get('retry-after')}")
    status, headers, _ = client.request("POST", "/api/v1/login",
                                        {"username": "admin", "password": PASSWORD}, auth=False,
                                        source="127.0.0.2")
    check(status == 200, "... but not from another address: no lockout per user alone",
          f"got {status}")
    status, _, _ = client.request("POST", "/api/v1/logout", {})
    check(status == 200, "logout")
    status, _, _ = client.request("GET", "/api/v1/me")
    check(status == 401, "the session is gone after logout")


if __name__ == "__main__":
    main()
