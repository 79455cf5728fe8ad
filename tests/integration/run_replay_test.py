#!/usr/bin/env python3
"""`sipman run --pcap` as an operator uses it: nothing replayed is lost.

1. A first SIGTERM sent after "capture ended", while the drain of a large
   full-speed replay is still storing, must drain and store every call
   (exit 0), never take the "second signal" path (issue: 0 of 20,000 calls
   were stored).
2. With --pcap-speed 0 --hep-listen, the calls left open when the replay
   ends reach their timers by wall time and are stored while sipman keeps
   running, not only at shutdown.
3. With the web GUI on, a finished replay keeps serving the stored calls
   until SIGINT/SIGTERM, and says so on the terminal.

The capture is synthetic (written here): N answered UDP calls, each
INVITE/100/180/200/ACK/BYE/200, so the expected count is exact.
usage: run_replay_test.py SIPMAN WORKDIR
"""
import json
import os
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import analyze_lib as lib  # noqa: E402

T0 = 1_700_000_000


def write_calls_pcap(path, calls, call_gap_us=2000):
    """N answered calls over UDP, 192.0.2.1:5060 -> 198.51.100.1:5060."""
    src, dst = bytes([192, 0, 2, 1]), bytes([198, 51, 100, 1])

    def frame(a, b, payload):
        udp = struct.pack("!HHHH", 5060, 5060, 8 + len(payload), 0) + payload
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, a, b) + udp
        return b"\x00\x00\x5e\x00\x53\x02\x00\x00\x5e\x00\x53\x01\x08\x00" + ip

    def msg(start, call, cseq, method, body=b""):
        return (f"{start}\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK{call}{method}{cseq}\r\n"
                f"From: <sip:alice@example.com>;tag=a{call}\r\n"
                f"To: <sip:bob@example.com>" + ("" if start.startswith("INVITE") or
                                                  start.startswith("SIP/2.0 100") else f";tag=b{call}") +
                f"\r\nCall-ID: replay-{call}@192.0.2.1\r\nCSeq: {cseq} {method}\r\n"
                f"Contact: <sip:alice@192.0.2.1:5060>\r\nContent-Length: {len(body)}\r\n\r\n"
                ).encode() + body

    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for call in range(calls):
            base = T0 * 1_000_000 + call * call_gap_us
            steps = [
                (0, src, dst, msg("INVITE sip:bob@example.com SIP/2.0", call, 1, "INVITE")),
                (100, dst, src, msg("SIP/2.0 100 Trying", call, 1, "INVITE")),
                (200, dst, src, msg("SIP/2.0 180 Ringing", call, 1, "INVITE")),
                (300, dst, src, msg("SIP/2.0 200 OK", call, 1, "INVITE")),
                (400, src, dst, msg("ACK sip:bob@192.0.2.2 SIP/2.0", call, 1, "ACK")),
                (1_000_000, src, dst, msg("BYE sip:bob@192.0.2.2 SIP/2.0", call, 2, "BYE")),
                (1_000_100, dst, src, msg("SIP/2.0 200 OK", call, 2, "BYE")),
            ]
            for offset, a, b, payload in steps:
                ts = base + offset
                data = frame(a, b, payload)
                f.write(struct.pack("<IIII", ts // 1_000_000, ts % 1_000_000, len(data), len(data)))
                f.write(data)


def calls_in(db):
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT state, COUNT(*) FROM calls GROUP BY state").fetchall())


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_line(path, text, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path):
            with open(path, errors="replace") as f:
                if text in f.read():
                    return True
        time.sleep(0.02)
    return False


def sigterm_after_replay(ck, sipman, work, pcap, calls):
    db, log = os.path.join(work, "drain.db"), os.path.join(work, "drain.log")
    # A small store queue keeps the drain busy for seconds after the file
    # has been read, so the signal lands while it runs.
    proc = subprocess.Popen([sipman, "run", "--no-web", "--pcap", pcap, "--pcap-speed", "0",
                             "--db", db, "--log", log, "--stats-interval", "0",
                             "--store-queue-rows", "16", "--queue-mb", "512"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ended = wait_line(log, "capture ended", 120)
        if ended:
            proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with open(log, errors="replace") as f:
        text = f.read()
    ck.check("replay read to its end ('capture ended' logged)", ended, text[-2000:])
    ck.check("the SIGTERM landed while the drain was storing",
             "SIGTERM: stopping capture; storing" in text, text[-2000:])
    ck.check("a first SIGTERM after the end of input drains: exit 0, no 'second signal'",
             proc.returncode == 0 and "second SIGTERM" not in text,
             f"exit {proc.returncode}; {text[-2000:]}")
    got = calls_in(db)
    ck.check(f"every one of the {calls} calls is stored, answered",
             got == {"answered": calls}, f"stored {got}")


def timers_after_replay_with_hep(ck, sipman, work, pcap):
    db, log = os.path.join(work, "hep.db"), os.path.join(work, "hep.log")
    port = free_port(socket.SOCK_DGRAM)
    proc = subprocess.Popen([sipman, "run", "--no-web", "--pcap", pcap, "--pcap-speed", "0",
                             "--hep-listen", f"127.0.0.1:{port}", "--db", db, "--log", log,
                             "--stats-interval", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # The calls ended with their BYE at the end of the capture; the
        # tracker keeps them 32 s (capture time) for retransmissions. That
        # time must pass by the wall clock once the replay is over.
        stored = {}
        deadline = time.time() + 90
        while time.time() < deadline and proc.poll() is None:
            time.sleep(2)
            if os.path.exists(db):
                try:
                    stored = calls_in(db)
                except sqlite3.Error:
                    continue
                if stored.get("answered", 0) == 5:
                    break
        ck.check("with --hep-listen still open, the replay's calls are stored by their timers "
                 "while sipman runs", stored == {"answered": 5} and proc.poll() is None,
                 f"stored {stored}, running {proc.poll() is None}")
    finally:
        lib.stop(proc)


def serve_after_replay(ck, sipman, work, pcap, calls):
    db, log = os.path.join(work, "serve.db"), os.path.join(work, "serve.log")
    password = os.path.join(work, "password")
    with open(password, "w") as f:
        f.write("replay-test-password\n")
    port = free_port()
    proc = subprocess.Popen([sipman, "run", "--pcap", pcap, "--pcap-speed", "0", "--db", db,
                             "--log", log, "--stats-interval", "0",
                             "--listen", f"127.0.0.1:{port}", "--admin-password-file", password],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        finished = wait_line(log, "replay finished and stored", 120)
        ck.check("the terminal says the replay is stored and the GUI keeps serving",
                 finished and f"127.0.0.1:{port}" in open(log).read(), open(log).read()[-2000:])
        time.sleep(1)
        ck.check("sipman is still running after the replay", proc.poll() is None,
                 f"exit {proc.poll()}")
        ok = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read()
        ck.check("/healthz answers after the replay", ok.startswith(b"ok"), ok)
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/login", method="POST",
                                     data=json.dumps({"username": "admin",
                                                      "password": "replay-test-password"}).encode(),
                                     headers={"Content-Type": "application/json",
                                              "Origin": f"http://127.0.0.1:{port}"})
        resp = urllib.request.urlopen(req, timeout=5)
        cookie = resp.headers.get("Set-Cookie", "").split(";")[0]
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/calls?limit=500",
                                     headers={"Cookie": cookie})
        body = json.loads(urllib.request.urlopen(req, timeout=5).read())
        states = [c["state"] for c in body["calls"]]
        ck.check(f"the API serves the {calls} stored calls", states == ["answered"] * calls,
                 json.dumps(body)[:500])
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        ck.check("Ctrl-C (SIGINT) then stops it with exit 0", proc.returncode == 0,
                 f"exit {proc.returncode}")
        ck.check("the summary was printed once", out.count("sipman run:") == 1, out[-1500:])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def main():
    sipman, work = sys.argv[1], sys.argv[2]
    ck = lib.Checks()
    big, small = os.path.join(work, "big.pcap"), os.path.join(work, "small.pcap")
    calls = 20000
    write_calls_pcap(big, calls, call_gap_us=500)
    write_calls_pcap(small, 5)
    sigterm_after_replay(ck, sipman, work, big, calls)
    timers_after_replay_with_hep(ck, sipman, work, small)
    serve_after_replay(ck, sipman, work, small, 5)
    return ck.finish()


if __name__ == "__main__":
    sys.exit(main())
