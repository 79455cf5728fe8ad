#!/usr/bin/env python3
"""Golden test of the web API (see api_golden_test.sh): every read endpoint's
answer, byte for byte, over a database built from fixed captures.

usage: api_golden_test.py SIPMAN WORKDIR [--update]

1. Writes the database WORKDIR/golden.db with `sipman analyze`: the committed
   fixtures of FIXTURES (tests/fixtures/pcaps/, made by
   scripts/make-test-pcaps) plus one capture written here, states.pcap
   (calls that end busy, failed, cancelled, no_answer and timed_out, a call
   still ringing, a challenged call, failed and removed registrations, over
   UDP, TCP and IPv6: the fixtures hold answered calls, one cut short, and
   successful registrations). It is built with the fixture generator's own functions,
   so it is as fixed as the fixtures. All as sensor "golden"; then
   SECOND_SENSOR_FIXTURES again as sensor "golden-b" (for `sensor=`).
2. Starts `sipman serve` on a free loopback port, waits for /healthz, logs in
   (session cookie), and sends each request of requests() in order. For each
   it keeps the status, the Content-Type, the headers of KEPT_HEADERS that
   are present, and the body as the exact text sent (a pcap: its sha256 and
   size). Nothing is pretty-printed or parsed before the comparison.
3. Without --update: compares with tests/golden/api_responses.json and, per
   differing request, prints the request and the first lines of a unified
   diff of the bodies (re-indented when both are JSON, so that one changed
   field shows as one line; when only the bytes differ, the raw text around
   the first difference). Exit 1 on any difference. With --update: rewrites
   the golden file, which is then reviewed as a diff (`git diff --word-diff`
   helps with the one-line bodies).

Endpoints whose answer depends on the wall clock (/healthz, /metrics,
/api/v1/live, tokens) are left out; every time range is explicit or open,
never "the last N hours".
"""
import difflib
import hashlib
import http.client
import importlib.machinery
import importlib.util
import json
import os
import re
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOLDEN = os.path.join(ROOT, "tests", "golden", "api_responses.json")
FIXTURE_DIR = os.path.join(ROOT, "tests", "fixtures", "pcaps")
PASSWORD = "api-golden-Password-1"

# An explicit list, so that a new fixture does not change the goldens. Left
# out: bad-* and hep-* (malformed input, HEP: other tests), not-a-capture.pcap
# (analyze refuses it).
FIXTURES = [
    "eth-vlan-qinq.pcap", "sll.pcap", "sll2.pcap", "raw-ip.pcap", "null-loopback.pcap",
    "ipv4-fragments.pcap", "ipv6-fragments.pcap", "tcp-segmentation.pcap",
    "tcp-out-of-order.pcap", "tcp-midstream.pcap", "websocket.pcap", "pcap-nanosecond.pcap",
    "pcap-bigendian.pcap", "pcapng-multi-if.pcapng", "pcapng-mixed-linktypes.pcapng",
    "truncated.pcap", "garbage.pcap", "merge-a.pcap", "merge-b.pcap", "gre.pcap",
    "gre-pptp.pcap", "erspan.pcap", "vxlan.pcap", "geneve.pcap", "ip-in-ip.pcap", "pppoe.pcap",
    "mpls.pcap", "gtpu.pcap", "nested-vlan-gre-ipv6.pcap", "nested-erspan-vlan-tcp.pcap",
    "nested-vxlan-fragments.pcap", "nested-mpls-gre-vxlan.pcap", "sctp.pcap", "tls-sip.pcap",
]
SECOND_SENSOR_FIXTURES = ["eth-vlan-qinq.pcap", "sll.pcap"]

# The captures' times: the fixtures from 2023-11-14T22:13:20Z, states.pcap
# from 22:15:00Z to about 00:25Z the next day. FROM..TO covers all of it
# (checked before any request).
FROM, TO = "2023-11-14T22:00:00Z", "2023-11-15T01:00:00Z"
FROM_NS, TO_NS = 1699999200 * 10**9, 1700010000 * 10**9

# Response headers kept besides Content-Type (Date, Content-Length and
# Connection say nothing the body does not).
KEPT_HEADERS = ["allow", "cache-control", "content-disposition", "www-authenticate",
                "retry-after"]


# ---------------------------------------------------------------- the extra capture

def load_fixture_builders():
    """scripts/make-test-pcaps as a module (its main() runs only as a script)."""
    path = os.path.join(ROOT, "scripts", "make-test-pcaps")
    loader = importlib.machinery.SourceFileLoader("make_test_pcaps", path)
    spec = importlib.util.spec_from_loader("make_test_pcaps", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def states_capture():
    """The bytes of states.pcap: calls and registrations of every outcome the
    fixtures lack. Times start at T0 + 100 s, after every fixture."""
    m = load_fixture_builders()
    MS, S = m.MS, 1000 * m.MS
    t1 = m.T0_NS + 100 * S
    packets = []  # (ts_ns, ip packet)

    def at(times, messages, caller, callee, ident_base):
        """One UDP datagram per message, message i at times[i] (ns after t1)."""
        for i, ((from_caller, payload), t) in enumerate(zip(messages, times)):
            a, b = (caller, callee) if from_caller else (callee, caller)
            packets.append((t1 + t, m.ip_udp(a.ip, a.port, b.ip, b.port, payload,
                                             ident=ident_base + i)))

    def invite(d, cseq=1, extra=()):
        seed = int(m.short_hash("sdp", d.call_id, cseq, length=6), 16)
        return d.request("INVITE", cseq, body=m.sdp(d.caller.ip, 40000, 40002, seed),
                         established=False, extra=extra)

    def answer_sdp(d):
        seed = int(m.short_hash("sdp", d.call_id, "answer", length=6), 16)
        return m.sdp(d.callee.ip, 50000, 50002, seed)

    def steps(n, step_ms, start_ms=0):
        return [(start_ms + i * step_ms) * MS for i in range(n)]

    # 1. busy: 486 after ringing (UDP, IPv4).
    uma, victor = m.UA("uma", "192.0.2.200", 5060), m.UA("victor", "198.51.100.200", 5060)
    d = m.Dialog("golden-busy-1@192.0.2.200", uma, victor)
    inv = invite(d)
    at(steps(5, 300), [inv, d.response(inv, 100, "Trying"), d.response(inv, 180, "Ringing"),
                       d.response(inv, 486, "Busy Here"), d.request("ACK", 1)],
       uma, victor, 0x2000)

    # 2. failed: 404 over TCP, from the handshake to the FIN.
    walter, xavier = m.UA("walter", "192.0.2.201", 40201), m.UA("xavier", "198.51.100.201", 5060)
    d = m.Dialog("golden-404-tcp-1@192.0.2.201", walter, xavier, transport="TCP")
    inv = invite(d)
    conn = m.TcpConnection(walter.ip, walter.port, xavier.ip, xavier.port, 20000, 30000)
    seq = conn.handshake()
    for from_caller, raw in (inv, d.response(inv, 100, "Trying"),
                             d.response(inv, 404, "Not Found"), d.request("ACK", 1)):
        seq.append(conn.segment(from_caller, raw))
    seq += conn.close()
    packets += [(t1 + 1000 * MS + i * 10 * MS, p) for i, p in enumerate(seq)]

    # 3. failed: 503 with a Q.850 Reason over IPv6.
    yvonne, zach = m.UA("yvonne", "2001:db8:202::1", 5060), m.UA("zach", "2001:db8:202::2", 5060)
    d = m.Dialog("golden-503-v6-1@2001:db8:202::1", yvonne, zach)
    inv = invite(d)
    at(steps(3, 50, 2000), [inv, d.response(inv, 100, "Trying"),
                            d.response(inv, 503, "Service Unavailable", extra=[
                                ("Reason", 'Q.850;cause=41;text="Temporary failure"'),
                                ("Retry-After", "30")])],
       yvonne, zach, 0)
    packets.append((t1 + 2200 * MS, m.ip_udp(yvonne.ip, yvonne.port, zach.ip, zach.port,
                                             d.request("ACK", 1)[1])))

    # 4. cancelled: CANCEL while ringing, 200 to the CANCEL, 487, ACK.
    wendy = m.UA("wendy", "198.51.100.203", 5060)
    d = m.Dialog("golden-cancel-1@192.0.2.200", uma, wendy)
    inv = invite(d)
    cancel = d.request("CANCEL", 1, established=False)
    at([3000 * MS, 3020 * MS, 3100 * MS, 7100 * MS, 7120 * MS, 7130 * MS, 7140 * MS],
       [inv, d.response(inv, 100, "Trying"), d.response(inv, 180, "Ringing"), cancel,
        d.response(cancel, 200, "OK"), d.response(inv, 487, "Request Terminated"),
        d.request("ACK", 1)],
       uma, wendy, 0x2100)

    # 5. no_answer: 480 after ringing.
    victor2, uma2 = m.UA("victor", "192.0.2.204", 5060), m.UA("uma", "198.51.100.204", 5060)
    d = m.Dialog("golden-480-1@192.0.2.204", victor2, uma2)
    inv = invite(d)
    at(steps(5, 500, 5000), [inv, d.response(inv, 100, "Trying"),
                             d.response(inv, 180, "Ringing"),
                             d.response(inv, 480, "Temporarily Unavailable"),
                             d.request("ACK", 1)],
       victor2, uma2, 0x2200)

    # 6. no_answer: an INVITE sent three times, never answered (Timer B).
    alice, nobody = m.UA("alice", "192.0.2.205", 5060), m.UA("nobody", "198.51.100.205", 5060)
    d = m.Dialog("golden-timer-b-1@192.0.2.205", alice, nobody)
    inv = invite(d)
    at([6000 * MS, 6500 * MS, 7500 * MS], [inv, inv, inv], alice, nobody, 0x2300)

    # 7. answered after a 407 challenge, with early media (183 + SDP); the
    # callee hangs up after 65 s with a Q.850 Reason. Another User-Agent.
    carlos, dora = m.UA("carlos", "192.0.2.206", 5070), m.UA("dora", "198.51.100.206", 5060)
    d = m.Dialog("golden-auth-1@192.0.2.206", carlos, dora, user_agent="Golden-Phone/2.1")
    inv1 = invite(d)
    nonce = m.short_hash("nonce", d.call_id, length=24)
    challenge = d.response(inv1, 407, "Proxy Authentication Required", extra=[
        ("Proxy-Authenticate", 'Digest realm="example.com", nonce="%s", algorithm=MD5' % nonce)])
    inv2 = invite(d, 2, extra=[("Proxy-Authorization",
                                'Digest username="carlos", realm="example.com", nonce="%s", '
                                'uri="sip:dora@example.com", response="%s", algorithm=MD5'
                                % (nonce, m.short_hash("resp", nonce, length=32)))])
    bye = d.request("BYE", 1, from_caller=False,
                    extra=[("Reason", 'Q.850;cause=16;text="Normal call clearing"')])
    at([8000 * MS, 8030 * MS, 8040 * MS, 8100 * MS, 8120 * MS, 8400 * MS, 11400 * MS,
        11420 * MS, 76420 * MS, 76440 * MS],
       [inv1, challenge, d.request("ACK", 1), inv2, d.response(inv2, 100, "Trying"),
        d.response(inv2, 183, "Session Progress", body=answer_sdp(d)),
        d.response(inv2, 200, "OK", body=answer_sdp(d)), d.request("ACK", 2), bye,
        d.response(bye, 200, "OK")],
       carlos, dora, 0x2400)

    # 7b. Its RTP, both ways, for 12 s after the ACK (PCMU, 20 ms): the
    # caller's stream loses sequence numbers 50-54, the callee's is clean.
    def rtp(seq, ssrc):
        return (struct.pack("!BBHII", 0x80, 0, seq, 160 * seq, ssrc) + b"\xff" * 160)
    for i in range(600):
        t = t1 + 11500 * MS + i * 20 * MS
        if not 50 <= i < 55:
            packets.append((t, m.ip_udp(carlos.ip, 40000, dora.ip, 50000, rtp(i, 0x0A0B0C0D),
                                        ident=(0x4000 + i) & 0xFFFF)))
        packets.append((t + 5 * MS, m.ip_udp(dora.ip, 50000, carlos.ip, 40000,
                                             rtp(i, 0x1A2B3C4D), ident=(0x6000 + i) & 0xFFFF)))

    # 8. timed_out: answered, never hung up; the traffic 2 h 10 min later
    # (section 11) is past the idle timeout.
    frank, grace = m.UA("frank", "192.0.2.207", 5060), m.UA("grace", "198.51.100.207", 5060)
    d = m.Dialog("golden-timeout-1@192.0.2.207", frank, grace)
    inv = invite(d)
    at(steps(4, 100, 10000), [inv, d.response(inv, 100, "Trying"),
                              d.response(inv, 200, "OK", body=answer_sdp(d)),
                              d.request("ACK", 1)],
       frank, grace, 0x2500)

    # 9. a registration refused: 403.
    registrar = m.UA("registrar", "198.51.100.1", 5060)
    mallory = m.UA("mallory", "192.0.2.208", 5060)
    d = m.Dialog("golden-reg-403-1@192.0.2.208", mallory, registrar)
    reg = d.register(1, 3600)
    at(steps(2, 20, 12000), [reg, d.response(reg, 403, "Forbidden")], mallory, registrar, 0x2600)

    # 10. carol (sll.pcap) removes her binding: Expires 0, 200.
    carol = m.UA("carol", "192.0.2.30", 5060)
    d = m.Dialog("golden-unreg-1@192.0.2.30", carol, registrar)
    reg = d.register(1, 0)
    at(steps(2, 20, 14000), [reg, d.response(reg, 200, "OK")], carol, registrar, 0x2700)

    # 11. 2 h 10 min later: an IPv6 registration (401, then 200), and a call
    # still ringing when the capture ends.
    late = (2 * 3600 + 600) * 1000
    trent, registrar6 = m.UA("trent", "2001:db8:209::1", 5060), m.UA("registrar",
                                                                      "2001:db8::1", 5060)
    at(steps(4, 30, late), m.Dialog("golden-reg-v6-1@2001:db8:209::1", trent,
                                    registrar6).registration(expires=600),
       trent, registrar6, 0)
    victor3, uma3 = m.UA("victor", "192.0.2.210", 5060), m.UA("uma", "198.51.100.210", 5060)
    d = m.Dialog("golden-ringing-1@192.0.2.210", victor3, uma3)
    inv = invite(d)
    at(steps(3, 100, late + 1000), [inv, d.response(inv, 100, "Trying"),
                                    d.response(inv, 180, "Ringing")],
       victor3, uma3, 0x2800)

    packets.sort(key=lambda tp: tp[0])
    return m.PcapWriter(m.LINKTYPE_ETHERNET).add_all(m.on_ethernet(packets)).bytes()


# ---------------------------------------------------------------- database and server

def build_database(sipman, work):
    db = os.path.join(work, "golden.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    states = os.path.join(work, "states.pcap")
    with open(states, "wb") as f:
        f.write(states_capture())
    runs = [("golden", [os.path.join(FIXTURE_DIR, n) for n in FIXTURES] + [states]),
            ("golden-b", [os.path.join(FIXTURE_DIR, n) for n in SECOND_SENSOR_FIXTURES])]
    for sensor, files in runs:
        r = subprocess.run([sipman, "analyze", "--db", db, "--sensor", sensor] + files,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            print(r.stdout)
            sys.exit(f"FAIL: sipman analyze --sensor {sensor} exited {r.returncode}")
    return db


def describe_database(db):
    """Prints what the database holds; fails when a call lies outside FROM..TO."""
    c = sqlite3.connect(db)
    states = dict(c.execute("SELECT state, COUNT(*) FROM calls GROUP BY state"))
    regs = dict(c.execute("SELECT result, COUNT(*) FROM registrations GROUP BY result"))
    lo, hi = c.execute("SELECT MIN(invite_ts), MAX(invite_ts) FROM calls").fetchone()
    slo, shi = c.execute("SELECT MIN(ts), MAX(ts) FROM stats_second").fetchone()
    ids = dict(c.execute("SELECT call_id || '/' || sensor, id FROM calls"))
    c.close()
    print(f"database: calls {states}, registrations {regs}")
    if not (FROM_NS <= lo and hi < TO_NS and FROM_NS <= slo * 10**9 and shi * 10**9 < TO_NS):
        sys.exit(f"FAIL: the captures' times ({lo}..{hi} ns, traffic {slo}..{shi} s) are not "
                 f"all within {FROM}..{TO}: fix FROM and TO in {__file__}, then --update")
    return ids


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def request(port, method, path, cookie=None, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    h = dict(headers or {})
    if cookie:
        h["Cookie"] = cookie
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data


def start_server(sipman, db, work):
    """`sipman serve` on a free port, answering /healthz; a second try on
    another port if the first was taken meanwhile (the server exits)."""
    env = dict(os.environ, SIPMAN_ADMIN_PASSWORD=PASSWORD)
    log_path = os.path.join(work, "serve.log")
    for _ in range(3):
        port = free_port()
        with open(log_path, "w") as log:
            server = subprocess.Popen([sipman, "serve", "--db", db,
                                       "--listen", f"127.0.0.1:{port}"],
                                      stdout=log, stderr=subprocess.STDOUT, env=env)
        for _ in range(100):
            if server.poll() is not None:
                break
            try:
                if request(port, "GET", "/healthz")[0] == 200:
                    return server, port
            except OSError:
                pass
            time.sleep(0.1)
        if server.poll() is None:
            break  # up, but not answering: no point in another port
    stop_server(server)
    print(open(log_path).read()[-2000:])
    sys.exit("FAIL: sipman serve did not answer /healthz within 10 s")


def stop_server(server):
    if server.poll() is not None:
        return
    os.kill(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.kill(server.pid, signal.SIGKILL)
        server.wait()


def login(port):
    status, headers, body = request(port, "POST", "/api/v1/login",
                                    body=json.dumps({"username": "admin", "password": PASSWORD}),
                                    headers={"Content-Type": "application/json"})
    cookie = headers.get("set-cookie", "").split(";")[0]
    if status != 200 or not cookie.startswith("sipman_session="):
        sys.exit(f"FAIL: login: {status} {body[:200]!r}")
    return cookie


# ---------------------------------------------------------------- the requests

def q(path, **params):
    """path?params in the given order; values URL-encoded."""
    return path + ("?" + urllib.parse.urlencode(params) if params else "")


def requests(ids):
    """[(method, path, authenticated)] in the golden file's order. CURSOR
    (or CURSOR2, ...: keys must differ) in a path is sent as the next_cursor
    of the request before it; the key keeps the word. `ids` maps
    "call_id/sensor" to the call's row id."""
    def call(call_id, sensor="golden"):
        if f"{call_id}/{sensor}" not in ids:
            sys.exit(f"FAIL: no call {call_id} of sensor {sensor} in the database")
        return "/api/v1/calls/%d" % ids[f"{call_id}/{sensor}"]

    C = "/api/v1/calls"
    R = "/api/v1/registrations"
    rng = {"from": FROM, "to": TO}
    out = [("GET", "/api/v1/me", True)]

    # --- calls: listings (the default limit, 50, holds every call)
    out += [("GET", C, True),
            ("HEAD", q(C, limit=3), True)]
    for sort in ("-invite_ts", "invite_ts", "duration_ms", "-duration_ms"):
        out.append(("GET", q(C, sort=sort, limit=8), True))
    # --- paging: two pages, a cursor of another sort order (400), three pages
    out += [("GET", q(C, limit=7, sort="invite_ts", **rng), True),
            ("GET", q(C, limit=7, sort="invite_ts", cursor="CURSOR", **rng), True),
            ("GET", q(C, limit=7, cursor="CURSOR", **rng), True),
            ("GET", q(C, sort="-duration_ms", limit=5), True),
            ("GET", q(C, sort="-duration_ms", limit=5, cursor="CURSOR"), True),
            ("GET", q(R, limit=2), True),
            ("GET", q(R, limit=2, cursor="CURSOR"), True),
            ("GET", q(R, limit=2, cursor="CURSOR2"), True)]
    filters = [
        {"caller": "uma"}, {"caller": "u"}, {"caller_contains": "ic"}, {"callee": "victor"},
        {"callee_contains": "e", "limit": 6}, {"call_id": "golden-cancel-1@192.0.2.200"},
        {"call_id": "vlan-call-1@192.0.2.10"}, {"ip": "192.0.2.200"}, {"ip": "198.51.100.200"},
        {"ip": "2001:db8:202::2"}, {"ip": "2001:0db8:0202:0000:0000:0000:0000:0001"},
        {"ip": "::1"}, {"state": "answered", "limit": 5}, {"state": "busy"},
        {"state": "cancelled"}, {"state": "no_answer"}, {"state": "failed"},
        {"state": "in_progress"}, {"state": "timed_out"}, {"state": "busy,failed,cancelled"},
        {"status": "486"}, {"status": "404,503"}, {"status": "0"}, {"status": "200", "limit": 3},
        {"min_duration_ms": "1000"}, {"max_duration_ms": "5", "limit": 6},
        {"min_duration_ms": "10", "max_duration_ms": "20", "limit": 4},
        {"media_flag": "no_media", "limit": 3}, {"media_flag": "one_way"}, {"mos_below": "4.5"},
        {"from": "2023-11-14T22:13:30Z", "to": "2023-11-14T22:13:50Z"},
        {"from": "1700000100000000000", "to": "1700000110000000000"},
        {"from": "2023-11-14T23:15:00+01:00", "to": "2023-11-14T22:15:05.5Z"},
        {"from": "2023-11-15"}, {"to": "2023-11-14T22:13:21Z"},
        {"sensor": "golden-b"}, {"sensor": "golden", "limit": 3}, {"sensor": "nobody"},
        {"caller": "uma", "state": "busy,cancelled", "sort": "invite_ts"},
    ]
    for f in filters:
        out.append(("GET", q(C, **f), True))

    # --- calls: details and pcaps
    details = [
        ("vlan-call-1@192.0.2.10", "golden"),          # answered, UDP, audio+video SDP
        ("vlan-call-1@192.0.2.10", "golden-b"),        # the same call seen by another sensor
        ("raw-multipart-1@192.0.2.40", "golden"),      # SDP inside multipart/mixed
        ("null-call6-1@::1", "golden"),                # IPv6
        ("tcp-call-1@192.0.2.60", "golden"),           # TCP, segmented
        ("ws-call-1@df7jal23ls0d.invalid", "golden"),  # WebSocket
        ("merge-call-1@192.0.2.120", "golden"),        # re-INVITE, INFO, from two files
        ("trunc-call-1@192.0.2.100", "golden"),        # file cut before the BYE: timed_out
        ("sctp-call-1@192.0.2.146", "golden"),         # SCTP
        ("golden-busy-1@192.0.2.200", "golden"),       # busy
        ("golden-404-tcp-1@192.0.2.201", "golden"),    # failed over TCP
        ("golden-503-v6-1@2001:db8:202::1", "golden"),  # failed, IPv6, Reason
        ("golden-cancel-1@192.0.2.200", "golden"),     # cancelled
        ("golden-timer-b-1@192.0.2.205", "golden"),    # no_answer, retransmissions
        ("golden-auth-1@192.0.2.206", "golden"),       # 407, early media, callee hangs up
        ("golden-timeout-1@192.0.2.207", "golden"),    # timed_out
        ("golden-ringing-1@192.0.2.210", "golden"),    # in_progress: ringing at the end
    ]
    for call_id, sensor in details:
        out.append(("GET", call(call_id, sensor), True))
    for call_id, sensor in [("vlan-call-1@192.0.2.10", "golden"),
                            ("null-call6-1@::1", "golden"),
                            ("tcp-call-1@192.0.2.60", "golden"),
                            ("ws-call-1@df7jal23ls0d.invalid", "golden"),
                            ("golden-cancel-1@192.0.2.200", "golden"),
                            ("golden-404-tcp-1@192.0.2.201", "golden")]:
        out.append(("GET", call(call_id, sensor) + "/pcap", True))

    # --- registrations
    out += [("GET", R, True)]
    for f in [{"user": "carol"}, {"user": "t"}, {"ip": "192.0.2.30"},
              {"ip": "2001:db8:209::1"}, {"state": "success"}, {"state": "failed"},
              {"state": "unregistered"}, {"state": "expired"}, {"sensor": "golden-b"},
              {"from": "2023-11-14T22:15:00Z", "to": TO}, {"to": "2023-11-14T22:14:00Z"}]:
        out.append(("GET", q(R, **f), True))
    out += [("GET", R + "/current", True),
            ("GET", q(R + "/current", limit=1), True),
            ("GET", q(R + "/current", at="2023-11-14T22:14:00Z"), True),
            ("GET", q(R + "/current", at="2023-11-14T22:20:00Z"), True),
            ("GET", q(R + "/current", at="2023-11-16T00:00:00Z"), True)]

    # --- statistics
    S = "/api/v1/stats"
    for extra in [{}, rng, {"from": FROM, "to": "2023-11-14T22:14:00Z"},
                  {"from": "2023-11-14T22:15:00Z", "to": TO}, {"sensor": "golden-b", **rng},
                  {"from": "2024-01-01", "to": "2024-01-02"}]:
        out.append(("GET", q(S + "/summary", **extra), True))
    out.append(("GET", S + "/periods", True))
    for by in ("hour", "day", "week"):
        out.append(("GET", q(S + "/periods", by=by, **rng), True))
    out.append(("GET", q(S + "/periods", by="hour", sensor="golden-b", **rng), True))
    out.append(("GET", S + "/top", True))
    for by in ("caller", "callee", "user", "ip", "agent"):
        out.append(("GET", q(S + "/top", by=by, limit=100, **rng), True))
    out += [("GET", q(S + "/top", by="user", limit=2, **rng), True),
            ("GET", q(S + "/top", by="caller", sensor="golden-b", **rng), True)]
    out.append(("GET", S + "/quality", True))
    for by in ("codec", "src_ip", "dst_ip", "hour", "day", "week"):
        out.append(("GET", q(S + "/quality", by=by, **rng), True))
    out += [("GET", q(S + "/quality", by="src_ip", limit=1, **rng), True),
            ("GET", q(S + "/quality", by="codec", sensor="golden-b", **rng), True),
            ("GET", q(S + "/quality", by="caller"), True)]
    first_minutes = {"from": "2023-11-14T22:13:00Z", "to": "2023-11-14T22:17:00Z"}
    out += [("GET", S + "/traffic", True),                                   # hour, open range
            ("GET", q(S + "/traffic", **rng), True),                         # 3 h: minute
            ("GET", q(S + "/traffic", **{"from": "2023-11-14T22:15:00Z",     # 90 s: second
                                         "to": "2023-11-14T22:16:30Z"}), True),
            ("GET", q(S + "/traffic", step="second", **first_minutes), True),
            ("GET", q(S + "/traffic", step="minute", **rng), True),
            ("GET", q(S + "/traffic", step="hour", **rng), True),
            ("GET", q(S + "/traffic", step="hour"), True),
            ("GET", q(S + "/traffic", step="minute", sensor="golden-b", **rng), True),
            ("GET", q(S + "/traffic", step="second", sensor="golden-b",
                      **{"from": "1700000000000000000", "to": "1700000010000000000"}), True)]

    # --- errors
    out += [
        ("GET", "/api/v1/me", False),                             # 401
        ("GET", q(C, limit=0), True),                             # 400s
        ("GET", q(C, limit=501), True),
        ("GET", q(C, limit="x"), True),
        ("GET", q(C, state="ringing"), True),
        ("GET", q(C, status="700"), True),
        ("GET", q(C, sort="caller"), True),
        ("GET", q(C, ip="not-an-ip"), True),
        ("GET", q(C, **{"from": "yesterday"}), True),
        ("GET", q(C, min_duration_ms="-1"), True),
        ("GET", q(C, mos_below="9"), True),
        ("GET", q(C, mos_below="x"), True),
        ("GET", q(C, media_flag="loud"), True),
        ("GET", q(C, cursor="bogus"), True),
        ("GET", q(C, colour="blue"), True),
        ("GET", C + "?limit=5&limit=6", True),
        ("GET", q(C, caller="x" * 257), True),
        ("GET", "/api/v1/calls/abc", True),
        ("GET", "/api/v1/calls/0", True),
        ("GET", q("/api/v1/calls/1", verbose=1), True),
        ("GET", q(R, state="busy"), True),
        ("GET", q(R, ip="300.1.1.1"), True),
        ("GET", q(R + "/current", at="soon"), True),
        ("GET", q(S + "/periods", by="month"), True),
        ("GET", q(S + "/top", by="domain"), True),
        ("GET", q(S + "/top", limit=101), True),
        ("GET", q(S + "/summary", to="never"), True),
        ("GET", q(S + "/traffic", step="second"), True),
        ("GET", q(S + "/traffic", step="second", **{"from": "2023-11-01", "to": "2023-11-04"}),
         True),
        ("GET", q(S + "/traffic", step="minute", **{"from": "2023-01-01", "to": "2023-06-01"}),
         True),
        ("GET", q(S + "/traffic", step="day"), True),
        ("GET", "/api/v1/calls/999999", True),                    # 404s
        ("GET", "/api/v1/calls/999999/pcap", True),
        ("GET", "/api/v1/nothing", True),
        ("GET", "/api/v1/calls/1/sdp", True),
        ("DELETE", C, True),                                      # 405s
        ("POST", "/api/v1/calls/1", True),
        ("PUT", "/api/v1/stats/summary", True),
        ("GET", "/api/v1/login", True),
    ]
    return out


def record(status, headers, body):
    entry = {"status": status, "content_type": headers.get("content-type")}
    kept = {h: headers[h] for h in KEPT_HEADERS if h in headers}
    if kept:
        entry["headers"] = kept
    if entry["content_type"] == "application/vnd.tcpdump.pcap":
        entry["sha256"] = hashlib.sha256(body).hexdigest()
        entry["size"] = len(body)
    else:
        try:
            entry["body"] = body.decode("utf-8")
        except UnicodeDecodeError:  # never for the API's JSON; kept exact if it happens
            entry["body_hex"] = body.hex()
    return entry


def collect(port, cookie, ids):
    out = {}
    previous = None
    for method, path, auth in requests(ids):
        key = f"{method} {path}" + ("" if auth else " (not logged in)")
        if key in out:
            sys.exit(f"FAIL: request listed twice: {key}")
        sent = path
        if "CURSOR" in path:
            cursor = (json.loads(previous) if previous else {}).get("next_cursor")
            if not cursor:
                sys.exit(f"FAIL: {key}: the request before it gave no next_cursor")
            sent = re.sub(r"CURSOR\d*", lambda _: urllib.parse.quote(cursor, safe=""), path)
        headers = {"Content-Type": "application/json"} if method in ("POST", "PUT") else None
        status, h, body = request(port, method, sent, cookie if auth else None,
                                  body=b"{}" if method in ("POST", "PUT") else None,
                                  headers=headers)
        out[key] = record(status, h, body)
        previous = body if h.get("content-type", "").startswith("application/json") else None
    return out


# ---------------------------------------------------------------- comparison

def show_diff(key, want, got):
    print(f"DIFFERS: {key}")
    for field in ("status", "content_type", "headers", "sha256", "size"):
        if want.get(field) != got.get(field):
            print(f"  {field}: golden {want.get(field)!r}, now {got.get(field)!r}")
    a, b = want.get("body", want.get("body_hex")), got.get("body", got.get("body_hex"))
    if a == b:
        return
    if a is None or b is None:
        print(f"  body: golden {'none' if a is None else len(a)} chars, now "
              f"{'none' if b is None else len(b)} chars")
        return

    def pretty(text):
        try:
            return json.dumps(json.loads(text), indent=1, ensure_ascii=False).splitlines()
        except ValueError:
            return None
    pa, pb = pretty(a), pretty(b)
    if pa is None or pb is None or pa == pb:
        # Not JSON, or the same JSON in other bytes (order, spacing, escapes):
        # show the raw text around the first difference.
        i = next((n for n in range(min(len(a), len(b))) if a[n] != b[n]), min(len(a), len(b)))
        print(f"  body: differs from character {i} (golden {len(a)} chars, now {len(b)})" +
              (" with equal JSON values" if pa is not None and pa == pb else ""))
        pa = [ascii(a[max(0, i - 120):i + 120])]  # escapes show \r, \n, non-ASCII
        pb = [ascii(b[max(0, i - 120):i + 120])]
    lines = list(difflib.unified_diff(pa, pb, "golden", "now", n=2, lineterm=""))
    for line in lines[:40]:
        print("  " + line)
    if len(lines) > 40:
        print(f"  ... {len(lines) - 40} more diff lines")


def compare(got):
    try:
        with open(GOLDEN, encoding="utf-8") as f:
            want = json.load(f)
    except FileNotFoundError:
        sys.exit(f"FAIL: no {GOLDEN}: make it with --update")
    differ = 0
    for key in want.keys() - got.keys():
        print(f"DIFFERS: {key}: in the golden file, no longer requested")
        differ += 1
    for key, entry in got.items():
        if key not in want:
            print(f"DIFFERS: {key}: requested, not in the golden file")
            differ += 1
        elif want[key] != entry:
            show_diff(key, want[key], entry)
            differ += 1
    if differ:
        print(f"FAIL: {differ} of {len(got)} requests differ from {os.path.relpath(GOLDEN, ROOT)}."
              f"\nOnly if the API change is intended: bash tests/integration/api_golden_test.sh "
              f"build/sipman --update, and review the diff of the golden file.")
        return False
    print(f"{len(got)} requests, all identical")
    return True


def main():
    args = [a for a in sys.argv[1:] if a != "--update"]
    update = "--update" in sys.argv[1:]
    if len(args) != 2:
        sys.exit(__doc__)
    sipman, work = args
    started = time.monotonic()
    db = build_database(sipman, work)
    ids = describe_database(db)
    server, port = start_server(sipman, db, work)
    try:
        got = collect(port, login(port), ids)
    finally:
        stop_server(server)
    if update:
        os.makedirs(os.path.dirname(GOLDEN), exist_ok=True)
        with open(GOLDEN, "w", encoding="utf-8") as f:
            f.write(json.dumps(got, indent=1, ensure_ascii=False) + "\n")
        print(f"wrote {len(got)} responses to {os.path.relpath(GOLDEN, ROOT)}")
        return 0
    ok = compare(got)
    print(f"({time.monotonic() - started:.1f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
