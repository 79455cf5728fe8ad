#!/usr/bin/env python3
"""The database's file system fills up while `sipman run` stores a replay
(run by store_full_disk_test.sh as root, inside a mount namespace of its own).

The issue: a failed database write was silent and its rows were dropped for
good (45,867 messages and 1,092 registrations in the report): nothing in the
log, /healthz "ok", nothing in /metrics or the status line.

1. A synthetic capture (N answered UDP calls and M challenged registrations,
   written here, outside the tmpfs) is stored by `sipman analyze` into a
   database on the normal disk: the reference counts.
2. A 3 MiB tmpfs is mounted and `sipman run --pcap CAPTURE --pcap-speed 0
   --db TMPFS/x.db` (web GUI on) replays it; the database outgrows the tmpfs.
3. While it is full: the log says "writing failed" with the database path and
   the reason soon after the start; a status line says "database write
   failing ... rows kept, retrying"; /healthz says "degraded: ..." (200);
   /metrics has sipman_store_write_failing 1 and rows pending; sipman keeps
   running, its worker waiting for the writer and its packet queue spilling
   to the normal disk (the backpressure chosen: wait, never drop).
4. The tmpfs is grown (remount); the log says writes work again; sipman
   stores the replay ("replay finished and stored"); /healthz is "ok"; every
   call, registration and message is in the database, the same as the
   reference (counts per table and per call state, and the sets of Call-IDs);
   SIGINT then stops it with exit 0 and a summary that gives up no rows.

Every process is ended by its PID.
usage: store_full_disk_test.py SIPMAN WORKDIR
"""
import os
import re
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import analyze_lib as lib  # noqa: E402

T0 = 1_700_000_000
CALLS = 6000          # 7 messages each
REGISTRATIONS = 1000  # REGISTER, 401, REGISTER, 200 each
SMALL_MB = 3
PASSWORD = "full-disk-test-password"


def frame(src, dst, payload):
    udp = struct.pack("!HHHH", 5060, 5060, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, src, dst) + udp
    return b"\x00\x00\x5e\x00\x53\x02\x00\x00\x5e\x00\x53\x01\x08\x00" + ip


def sip(start, call_id, from_tag, to_tag, cseq, method, extra=""):
    to = "<sip:bob@example.com>" + (f";tag={to_tag}" if to_tag else "")
    return (f"{start}\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK{call_id}{method}{cseq}\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag={from_tag}\r\nTo: {to}\r\n"
            f"Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n"
            f"Contact: <sip:alice@192.0.2.1:5060>\r\nUser-Agent: full-disk-test\r\n{extra}"
            f"Content-Length: 0\r\n\r\n").encode()


def write_capture(path):
    """Writes the capture in time order; returns the number of SIP messages."""
    a, b = bytes([192, 0, 2, 1]), bytes([198, 51, 100, 1])
    packets = []
    for i in range(CALLS):
        base = T0 * 1_000_000 + i * 200
        cid = f"full-call-{i}@192.0.2.1"
        for offset, src, dst, payload in [
            (0, a, b, sip("INVITE sip:bob@example.com SIP/2.0", cid, f"a{i}", "", 1, "INVITE")),
            (100, b, a, sip("SIP/2.0 100 Trying", cid, f"a{i}", "", 1, "INVITE")),
            (200, b, a, sip("SIP/2.0 180 Ringing", cid, f"a{i}", f"b{i}", 1, "INVITE")),
            (300, b, a, sip("SIP/2.0 200 OK", cid, f"a{i}", f"b{i}", 1, "INVITE")),
            (400, a, b, sip("ACK sip:bob@198.51.100.1 SIP/2.0", cid, f"a{i}", f"b{i}", 1, "ACK")),
            (500_000, a, b, sip("BYE sip:bob@198.51.100.1 SIP/2.0", cid, f"a{i}", f"b{i}", 2,
                                "BYE")),
            (500_100, b, a, sip("SIP/2.0 200 OK", cid, f"a{i}", f"b{i}", 2, "BYE")),
        ]:
            packets.append((base + offset, frame(src, dst, payload)))
    for j in range(REGISTRATIONS):
        base = T0 * 1_000_000 + j * 1200 + 50
        cid = f"full-reg-{j}@192.0.2.1"
        auth = (f'Authorization: Digest username="alice{j}", realm="example.com", '
                f'nonce="n{j}", uri="sip:example.com", response="00112233445566778899aabbccddeeff"'
                f"\r\n")
        for offset, src, dst, payload in [
            (0, a, b, sip("REGISTER sip:example.com SIP/2.0", cid, f"r{j}", "", 1, "REGISTER",
                          "Expires: 3600\r\n")),
            (100, b, a, sip("SIP/2.0 401 Unauthorized", cid, f"r{j}", f"s{j}", 1, "REGISTER",
                            f'WWW-Authenticate: Digest realm="example.com", nonce="n{j}"\r\n')),
            (200, a, b, sip("REGISTER sip:example.com SIP/2.0", cid, f"r{j}", "", 2, "REGISTER",
                            "Expires: 3600\r\n" + auth)),
            (300, b, a, sip("SIP/2.0 200 OK", cid, f"r{j}", f"s{j}", 2, "REGISTER",
                            "Expires: 3600\r\n")),
        ]:
            packets.append((base + offset, frame(src, dst, payload)))
    packets.sort(key=lambda p: p[0])
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for ts, data in packets:
            f.write(struct.pack("<IIII", ts // 1_000_000, ts % 1_000_000, len(data), len(data)))
            f.write(data)
    return len(packets)


def contents(db):
    """What a database holds: counts per table, calls per state, Call-ID sets."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return {
            "calls": conn.execute("SELECT COUNT(*) FROM calls").fetchone()[0],
            "registrations": conn.execute("SELECT COUNT(*) FROM registrations").fetchone()[0],
            "messages": conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0],
            "states": dict(conn.execute("SELECT state, COUNT(*) FROM calls GROUP BY state")),
            "results": dict(conn.execute(
                "SELECT result, COUNT(*) FROM registrations GROUP BY result")),
            "call_ids": {r[0] for r in conn.execute("SELECT call_id FROM calls")},
            "registration_ids": {r[0] for r in conn.execute("SELECT call_id FROM registrations")},
            "messages_per_call_id": dict(conn.execute(
                "SELECT call_id, COUNT(*) FROM messages GROUP BY call_id")),
        }


def summary(c):
    return {k: v for k, v in c.items() if not isinstance(v, (set, dict)) or k in ("states",
                                                                                    "results")}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


http = lib.http


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def wait_match(path, pattern, timeout, proc=None):
    """The first match of `pattern` in the file, or None after `timeout` s (or
    once `proc` has exited and the file still does not match)."""
    deadline = time.time() + timeout
    while True:
        m = re.search(pattern, read(path))
        if m or time.time() >= deadline:
            return m
        if proc is not None and proc.poll() is not None:
            return re.search(pattern, read(path))
        time.sleep(0.1)


def mount(*args):
    return subprocess.run(["mount", *args], capture_output=True, text=True)


def main():
    sipman, work = sys.argv[1], sys.argv[2]
    ck = lib.Checks()
    pcap = os.path.join(work, "calls.pcap")
    messages = write_capture(pcap)
    print(f"     capture: {CALLS} answered calls, {REGISTRATIONS} challenged registrations, "
          f"{messages} SIP messages ({os.path.getsize(pcap) / 1e6:.1f} MB)")

    ref_db = os.path.join(work, "reference.db")
    proc, _ = lib.run_analyze(sipman, ref_db, [pcap])
    if not ck.check("sipman analyze stores the capture on the normal disk (the reference)",
                    proc.returncode == 0, proc.stderr[-2000:]):
        return ck.finish()
    ref = contents(ref_db)
    ck.check("the reference holds what the capture has",
             ref["calls"] == CALLS and ref["registrations"] == REGISTRATIONS
             and ref["messages"] == messages and ref["states"] == {"answered": CALLS},
             summary(ref))
    ref_bytes = sum(os.path.getsize(os.path.join(work, n)) for n in os.listdir(work)
                    if n.startswith("reference.db"))
    print(f"     reference database: {ref_bytes / 1e6:.1f} MB on disk")

    full = os.path.join(work, "full")
    m = mount("-t", "tmpfs", "-o", f"size={SMALL_MB}m", "tmpfs", full)
    if m.returncode != 0:
        print(f"SKIP: cannot mount a tmpfs on {full}: {m.stderr.strip()}")
        return 77
    big_mb = max(64, 4 * ref_bytes // 1_000_000 + 16)
    db = os.path.join(full, "x.db")
    log = os.path.join(work, "sipman.log")
    password = os.path.join(work, "password")
    with open(password, "w") as f:
        f.write(PASSWORD + "\n")
    port = free_port()
    out = open(os.path.join(work, "sipman.out"), "w")
    # Small queues: once the store queue is full the worker waits for the
    # writer, and the packet queue (1000 packets) spills to WORK/spill on the
    # normal disk, so sipman is still replaying while the database is full
    # and the whole backpressure chain runs.
    started = time.time()
    daemon = subprocess.Popen([sipman, "run", "--pcap", pcap, "--pcap-speed", "0", "--db", db,
                               "--spill-dir", os.path.join(work, "spill"), "--log", log,
                               "--stats-interval", "1", "--store-queue-rows", "2000",
                               "--queue-packets", "1000",
                               "--listen", f"127.0.0.1:{port}", "--admin-password-file",
                               password, "--sensor", "full-disk"],
                              stdout=out, stderr=subprocess.STDOUT)
    try:
        # --- while the file system is full
        failed = wait_match(log, r"store: writing failed: (.*)", 60, daemon)
        took = time.time() - started
        ck.check(f"the log says at once that writing failed, with the path {db} and the reason "
                 "(disk full)",
                 failed is not None and db in failed.group(1)
                 and re.search(r"full|disk I/O", failed.group(1)) is not None,
                 read(log)[-3000:])
        if failed:
            print(f"     logged {took:.1f} s after the start: {failed.group(0)[:300]}")
        status = wait_match(log, r"status: database write failing for \d+ s: (.*); (\d+) rows "
                                 r"kept, retrying", 15, daemon)
        ck.check("a status line says the database write is failing, with the path and rows kept",
                 status is not None and db in status.group(1) and int(status.group(2)) > 0,
                 read(log)[-3000:])
        ck.check("sipman keeps running while the database is full", daemon.poll() is None,
                 f"exit {daemon.poll()}; {read(log)[-2000:]}")
        code, body, _ = http(port, "/healthz")
        ck.check("/healthz answers 200 'degraded: database write failing ...' with the path",
                 code == 200 and body.startswith("degraded: database write failing")
                 and db in body and "rows kept, retrying" in body, f"{code} {body!r}")
        code, body, headers = http(port, "/api/v1/login",
                                   data={"username": "admin", "password": PASSWORD})
        cookie = (headers.get("Set-Cookie") or "").split(";")[0] if code == 200 else None
        ck.check("login works while the database is full (it only reads)", code == 200,
                 f"{code} {body[:300]}")
        code, body, _ = http(port, "/metrics", cookie=cookie)
        failing = re.search(r"^sipman_store_write_failing (\d+)$", body, re.M)
        pending = re.search(r"^sipman_store_rows_pending (\d+)$", body, re.M)
        ck.check("/metrics: sipman_store_write_failing 1 and sipman_store_rows_pending > 0",
                 code == 200 and failing is not None and failing.group(1) == "1"
                 and pending is not None and int(pending.group(1)) > 0,
                 f"{code} " + "\n".join(l for l in body.splitlines() if "store" in l)[:1500])

        # --- room again
        m = mount("-o", f"remount,size={big_mb}m", full)
        ck.check(f"the tmpfs grows to {big_mb} MiB (mount -o remount)", m.returncode == 0,
                 m.stderr)
        freed = time.time()
        again = wait_match(log, r"store: database \S+ takes writes again after .*", 90, daemon)
        ck.check("the log says writes work again", again is not None, read(log)[-3000:])
        if again:
            print(f"     {time.time() - freed:.1f} s after the remount: {again.group(0)[:300]}")
        stored = wait_match(log, r"replay finished and stored", 300, daemon)
        ck.check("the whole replay is stored ('replay finished and stored')",
                 stored is not None and daemon.poll() is None, read(log)[-3000:])
        code, body, _ = http(port, "/healthz")
        ck.check("/healthz is 'ok' again", code == 200 and body == "ok\n", f"{code} {body!r}")
        code, body, _ = http(port, "/metrics", cookie=cookie)
        ck.check("/metrics: sipman_store_write_failing 0, nothing pending",
                 re.search(r"^sipman_store_write_failing 0$", body, re.M) is not None
                 and re.search(r"^sipman_store_rows_pending 0$", body, re.M) is not None
                 and re.search(r"^sipman_store_rows_failed_total 0$", body, re.M) is not None,
                 "\n".join(l for l in body.splitlines() if "store" in l)[:1500])
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGINT)
        try:
            daemon.wait(timeout=120)
        except subprocess.TimeoutExpired:
            pass
        ck.check("SIGINT then stops sipman with exit 0", daemon.returncode == 0,
                 f"exit {daemon.returncode}; {read(log)[-2000:]}")
    finally:
        lib.stop(daemon)
        out.close()

    text = read(os.path.join(work, "sipman.out"))
    given_up = re.search(r"database write failures: (\d+) failed attempts kept their rows and "
                         r"were retried; (\d+) batches \((\d+) rows\) given up", text)
    ck.check("the summary counts the retried attempts and gives up no rows",
             given_up is not None and int(given_up.group(1)) > 0 and given_up.group(2) == "0"
             and given_up.group(3) == "0", text[-2000:])
    spilled = re.search(r"spilled: (\d+) packets .*lost to spill errors: (\d+)", text)
    ck.check("meanwhile the packet queue spilled to disk and lost nothing",
             spilled is not None and int(spilled.group(1)) > 0 and spilled.group(2) == "0",
             text[-2000:])
    try:
        got = contents(db)
    except sqlite3.Error as e:
        got = None
        ck.check("the database on the tmpfs can be read", False, str(e))
    if got is not None:
        for table in ("calls", "registrations", "messages"):
            ck.check(f"every {table[:-1]} is stored: {got[table]} == {ref[table]} as analyze "
                     "stores them", got[table] == ref[table],
                     f"stored {got[table]}, reference {ref[table]} "
                     f"({ref[table] - got[table]} lost)")
        ck.check("calls per state and registrations per result equal the reference",
                 got["states"] == ref["states"] and got["results"] == ref["results"],
                 f"stored {got['states']} {got['results']}, "
                 f"reference {ref['states']} {ref['results']}")
        missing = sorted(ref["call_ids"] - got["call_ids"])[:10]
        ck.check("the same Call-IDs in calls and in registrations",
                 got["call_ids"] == ref["call_ids"]
                 and got["registration_ids"] == ref["registration_ids"],
                 f"calls missing e.g. {missing}")
        differ = [k for k in ref["messages_per_call_id"]
                  if got["messages_per_call_id"].get(k) != ref["messages_per_call_id"][k]][:10]
        ck.check("every Call-ID has all its messages", not differ,
                 f"e.g. {[(k, got['messages_per_call_id'].get(k), ref['messages_per_call_id'][k]) for k in differ]}")
    subprocess.run(["umount", full], capture_output=True)
    return ck.finish()


if __name__ == "__main__":
    sys.exit(main())
