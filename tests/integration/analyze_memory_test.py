#!/usr/bin/env python3
"""Memory stays bounded under floods of calls that never end, and every
call still reaches the store: `sipman analyze` on captures of INVITEs that
are never answered, with sipman's peak resident memory (the child's
ru_maxrss) under MEMORY_LIMIT_MB.

1. timers: 1,000,000 INVITEs at 1,000 per second of capture time (1,000 s).
   The tracker's invite_timeout (180 s) closes each call as capture time
   advances, so at most 180,000 are open, below the open-call cap (200,000):
   every call must be stored as no_answer.
2. cap: a burst of 300,000 INVITEs within 10 s of capture time. From the
   200,001st on, each new call evicts the oldest INVITE without a response
   (the cheapest eviction class): exactly 100,000 evictions, all of that
   class (analyze --json "calls_evicted"), each stored as no_answer as Timer
   B would store it, so all 300,000 are no_answer.

3. tcp: 1,400 TCP connections, each leaving a ~1 MB message unfinished
   after 480,000 bytes (672 MB in all). Each stream may hold up to 1 MiB,
   but all streams together only max_tcp_total_bytes (128 MiB): the least
   recently active streams' partial data is dropped and counted
   (decoder.tcp_budget_drops), so memory stays under the limit; the one
   complete message at the end is still found.

4. fragments: 7,000 UDP datagrams of 60,000 bytes left unfinished (every
   fragment but the last, 420 MB), from 7,000 sources within 30 s of
   capture time. At most 4,096 datagrams and 64 MiB wait for their last
   fragment: the oldest are dropped (decoder.ip_fragments_dropped) and
   memory stays under FLOOD_LIMIT_MB; a whole fragmented INVITE after the
   flood is still found.
5. sctp: 1,000 SCTP streams each leaving a 420,000-byte user message
   unfinished (fragments with B but no E, 420 MB). At most 64 MiB of
   partial messages are held (max_sctp_total_bytes): the oldest are dropped
   (decoder.sctp_errors), memory stays under FLOOD_LIMIT_MB; a whole
   fragmented message after the flood is still found.

Each capture ends with one non-SIP datagram 200 s after its last INVITE, so
capture time passes every INVITE's timeout; without it the last INVITEs would
rightly still be in_progress when the capture ends.

usage: analyze_memory_test.py SIPMAN WORKDIR [SCALE]   (SCALE < 1 shrinks the runs, for trying out)
"""
import json
import os
import sqlite3
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import analyze_lib as lib  # noqa: E402

MEMORY_LIMIT_MB = int(os.environ.get("SIPMAN_MEMORY_LIMIT_MB", "512"))
# The fragment and SCTP floods each hold at most 64 MiB by design: well under
# what the flood would take unbounded (420 MB).
FLOOD_LIMIT_MB = int(os.environ.get("SIPMAN_FLOOD_LIMIT_MB", "256"))
MAX_OPEN_CALLS = 200_000  # CallTrackerOptions::max_open_calls, sipman's default
T0 = 1_700_000_000

TEMPLATE = (b"INVITE sip:bob@mem.test SIP/2.0\r\n"
            b"Via: SIP/2.0/UDP 10.1.0.1:5060;branch=z9hG4bK%(n)s\r\n"
            b"From: <sip:alice@mem.test>;tag=%(n)s\r\n"
            b"To: <sip:bob@mem.test>\r\n"
            b"Call-ID: %(n)s@mem.test\r\n"
            b"CSeq: 1 INVITE\r\n"
            b"Content-Length: 0\r\n\r\n")


def ip_checksum(header):
    s = sum(struct.unpack("!10H", header))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def headers(payload_len, sport, dport):
    """Ethernet + IPv4 + UDP headers for a payload of this length."""
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28 + payload_len, 0, 0x4000, 64, 17, 0,
                     bytes((10, 1, 0, 1)), bytes((10, 1, 0, 2)))
    ip = ip[:10] + struct.pack("!H", ip_checksum(ip)) + ip[12:]
    return (b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + ip
            + struct.pack("!HHHH", sport, dport, 8 + payload_len, 0))


def generate(path, calls, usec_step):
    """Writes the flood. Every INVITE has the same length (8-digit numbers),
    so one set of link/IP/UDP headers serves all. Returns the file size."""
    payload_len = len(TEMPLATE % {b"n": b"00000000"})
    head = headers(payload_len, 5060, 5060)
    frame_len = len(head) + payload_len
    rec = struct.Struct("<IIII")
    with open(path, "wb", buffering=1 << 22) as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        chunk = []
        for i in range(calls):
            us = i * usec_step
            n = b"%08d" % i
            chunk.append(rec.pack(T0 + us // 1_000_000, us % 1_000_000, frame_len, frame_len))
            chunk.append(head)
            chunk.append(TEMPLATE % {b"n": n})
            if len(chunk) >= 30_000:
                f.write(b"".join(chunk))
                chunk.clear()
        f.write(b"".join(chunk))
        # Capture time moves on: one RTP-like datagram 200 s after the last INVITE.
        end_us = (calls - 1) * usec_step + 200 * 1_000_000
        rtp = b"\x80\x00\x00\x01" + b"\x00" * 168
        frame = headers(len(rtp), 30000, 40000) + rtp
        f.write(rec.pack(T0 + end_us // 1_000_000, end_us % 1_000_000, len(frame), len(frame)) + frame)
    return os.path.getsize(path)


def run(ck, sipman, work, label, calls, usec_step, want_evicted):
    """One flood: generate, analyze, check. want_evicted: how many calls the
    cap must evict (all INVITEs without a response)."""
    pcap = os.path.join(work, f"{label}.pcap")
    db = os.path.join(work, f"{label}.db")
    started = time.monotonic()
    size = generate(pcap, calls, usec_step)
    print(f"     {label}: {calls} INVITEs, one every {usec_step} us of capture time "
          f"({size / 1e6:.0f} MB), generated in {time.monotonic() - started:.1f} s")
    started = time.monotonic()
    proc = subprocess.Popen([sipman, "analyze", "--db", db, "--json", pcap],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # wait4 gives the child's peak RSS. Its output is a few lines, well
    # within a pipe's buffer, so it cannot block before exiting.
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    out, err = proc.stdout.read().decode(errors="replace"), proc.stderr.read().decode(errors="replace")
    elapsed = time.monotonic() - started
    peak_mb = usage.ru_maxrss / 1024
    os.remove(pcap)
    code = proc.returncode
    print(f"     {label}: sipman analyze exit {code}, {elapsed:.1f} s, peak RSS {peak_mb:.0f} MB")
    print(f"     {out.strip()}")
    ck.check(f"{label}: sipman analyze exits 0", code == 0, f"exit {code}: {err[-2000:]}")
    ck.check(f"{label}: peak resident memory {peak_mb:.0f} MB stays under {MEMORY_LIMIT_MB} MB",
             peak_mb < MEMORY_LIMIT_MB, f"peak RSS {peak_mb:.0f} MB")
    if code != 0:
        return
    con = sqlite3.connect(db)
    states = dict(con.execute("SELECT state, COUNT(*) FROM calls GROUP BY state").fetchall())
    total, distinct = con.execute("SELECT COUNT(*), COUNT(DISTINCT call_id) FROM calls").fetchone()
    messages = con.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
    bad_rows = con.execute(
        "SELECT call_id, state, invite_ts, message_count FROM calls WHERE message_count != 1 OR invite_ts = 0 "
        "OR final_status != 0 LIMIT 5").fetchall()
    first, last = con.execute("SELECT MIN(call_id), MAX(call_id) FROM calls").fetchone()
    con.close()
    ck.check(f"{label}: all {calls} calls are stored, one row per Call-ID",
             total == distinct == calls and first == "00000000@mem.test"
             and last == f"{calls - 1:08d}@mem.test",
             f"rows {total}, distinct Call-IDs {distinct}, first {first}, last {last}")
    want = {"no_answer": calls}
    ck.check(f"{label}: calls per state {want}", states == want, f"expected {want}, got {states}")
    try:
        evicted = json.loads(out).get("calls_evicted")
    except ValueError:
        evicted = None
    want_evicted_counts = {"total": want_evicted, "no_response": want_evicted, "challenged": 0,
                           "ended": 0, "ringing": 0, "established": 0}
    ck.check(f"{label}: the cap evicted {want_evicted} INVITEs without a response, nothing else",
             evicted == want_evicted_counts, f"expected {want_evicted_counts}, got {evicted}")
    ck.check(f"{label}: every call row is one unanswered INVITE (message_count 1, invite_ts set, no final)",
             not bad_rows, bad_rows)
    ck.check(f"{label}: every INVITE is in the messages table ({calls})", messages == calls,
             f"{messages} messages stored")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)


TCP_CONNECTIONS = 1400
TCP_SEGMENT = 60_000
TCP_SEGMENTS = 8


def tcp_frame(src_port, seq, flags, payload):
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), 0, 0x4000, 64, 6, 0,
                     bytes((10, 2, 0, 1)), bytes((10, 2, 0, 2)))
    ip = ip[:10] + struct.pack("!H", ip_checksum(ip)) + ip[12:]
    tcp = struct.pack("!HHIIBBHHH", src_port, 5060, seq, 0, 5 << 4, flags, 65535, 0, 0)
    return b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + ip + tcp + payload


def run_tcp_flood(ck, sipman, work, connections):
    """Unfinished ~1 MB TCP messages on many connections, then one whole
    message: peak RSS under the limit, the budget's drops counted."""
    pcap = os.path.join(work, "tcp.pcap")
    db = os.path.join(work, "tcp.db")
    rec = struct.Struct("<IIII")
    body = b"x" * TCP_SEGMENT
    head = b"MESSAGE sip:bob@mem.test SIP/2.0\r\nCall-ID: big-%d@mem.test\r\nCSeq: 1 MESSAGE\r\nContent-Length: 1000000\r\n\r\n"
    us = 0

    def write(f, frame):
        nonlocal us
        us += 10
        f.write(rec.pack(T0 + us // 1_000_000, us % 1_000_000, len(frame), len(frame)) + frame)

    with open(pcap, "wb", buffering=1 << 22) as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for c in range(connections):
            port = 10000 + c
            write(f, tcp_frame(port, 0, 0x02, b""))  # SYN
            seq = 1
            first = (head % c) + body[:TCP_SEGMENT - len(head % c)]
            for i in range(TCP_SEGMENTS):
                data = first if i == 0 else body
                write(f, tcp_frame(port, seq, 0x10, data))
                seq += len(data)
        whole = (b"MESSAGE sip:bob@mem.test SIP/2.0\r\nCall-ID: whole@mem.test\r\n"
                 b"CSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n")
        write(f, tcp_frame(9999, 0, 0x02, b""))
        write(f, tcp_frame(9999, 1, 0x18, whole))
    size = os.path.getsize(pcap)
    print(f"     tcp: {connections} connections with an unfinished message of "
          f"{TCP_SEGMENT * TCP_SEGMENTS} bytes each ({size / 1e6:.0f} MB)")
    proc = subprocess.Popen([sipman, "analyze", "--db", db, "--json", pcap],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    out, err = proc.stdout.read().decode(errors="replace"), proc.stderr.read().decode(errors="replace")
    peak_mb = usage.ru_maxrss / 1024
    os.remove(pcap)
    print(f"     tcp: sipman analyze exit {code}, peak RSS {peak_mb:.0f} MB")
    ck.check("tcp: sipman analyze exits 0", code == 0, f"exit {code}: {err[-2000:]}")
    ck.check(f"tcp: peak resident memory {peak_mb:.0f} MB stays under {MEMORY_LIMIT_MB} MB",
             peak_mb < MEMORY_LIMIT_MB, f"peak RSS {peak_mb:.0f} MB")
    if code != 0:
        return
    summary = json.loads(out)
    drops = summary.get("decoder", {}).get("tcp_budget_drops", 0)
    # 128 MiB holds at most 279 streams of 480,000 bytes: the rest were dropped.
    ck.check("tcp: the total budget dropped the partial messages of the oldest streams",
             drops >= connections - (128 << 20) // (TCP_SEGMENT * TCP_SEGMENTS),
             f"tcp_budget_drops {drops}")
    ck.check("tcp: the whole message after the flood is found", summary.get("messages") == 1,
             f"messages {summary.get('messages')}")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)


def analyze(sipman, pcap, db):
    """sipman analyze --json: (exit code, parsed summary or None, stderr, peak RSS MB)."""
    proc = subprocess.Popen([sipman, "analyze", "--db", db, "--json", pcap],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    out, err = proc.stdout.read().decode(errors="replace"), proc.stderr.read().decode(errors="replace")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    try:
        summary = json.loads(out) if code == 0 else None
    except ValueError:
        summary = None
    return code, summary, err, usage.ru_maxrss / 1024


WHOLE_INVITE = (b"INVITE sip:bob@mem.test SIP/2.0\r\nVia: SIP/2.0/UDP 10.3.0.1;branch=z9hG4bKw\r\n"
                b"From: <sip:a@mem.test>;tag=w\r\nTo: <sip:bob@mem.test>\r\n"
                b"Call-ID: whole@mem.test\r\nCSeq: 1 INVITE\r\nContent-Length: 3000\r\n\r\n"
                + b"v" * 3000)


def ipv4(src, proto, ident, frag_word, payload):
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag_word, 64, proto, 0,
                     src, bytes((10, 3, 0, 2)))
    ip = ip[:10] + struct.pack("!H", ip_checksum(ip)) + ip[12:]
    return b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + ip + payload


def fragments(src, ident, datagram, last):
    """The IPv4 fragments of a UDP datagram (bytes after the IP header), of
    1,480 bytes each; without the last one unless `last`."""
    out = []
    step = 1480
    for off in range(0, len(datagram), step):
        more = off + step < len(datagram)
        if not more and not last:
            break
        out.append(ipv4(src, 17, ident, (0x2000 if more else 0) | off // 8, datagram[off:off + step]))
    return out


def check_flood(ck, sipman, work, label, what, frames, counter, least_dropped):
    """Writes the flood, analyzes it and checks: a clean exit, peak RSS under
    FLOOD_LIMIT_MB, at least `least_dropped` in decoder.`counter`, and the
    one whole message after the flood found."""
    pcap, db = os.path.join(work, f"{label}.pcap"), os.path.join(work, f"{label}.db")
    size = flood_file(pcap, frames)
    code, summary, err, peak_mb = analyze(sipman, pcap, db)
    os.remove(pcap)
    print(f"     {label}: {what} ({size / 1e6:.0f} MB): exit {code}, peak RSS {peak_mb:.0f} MB")
    ck.check(f"{label}: sipman analyze exits 0", code == 0, f"exit {code}: {err[-2000:]}")
    ck.check(f"{label}: peak resident memory {peak_mb:.0f} MB stays under {FLOOD_LIMIT_MB} MB",
             peak_mb < FLOOD_LIMIT_MB, f"peak RSS {peak_mb:.0f} MB")
    if summary is None:
        return
    dropped = summary.get("decoder", {}).get(counter, 0)
    ck.check(f"{label}: the bounds dropped the oldest partial data ({counter})",
             dropped >= least_dropped, f"{counter} {dropped}, expected at least {least_dropped}")
    ck.check(f"{label}: the whole message after the flood is found", summary.get("messages") == 1,
             f"messages {summary.get('messages')}")


def flood_file(path, frames_of):
    """Writes a pcap of the frames `frames_of()` yields, 10 us apart."""
    rec = struct.Struct("<IIII")
    us = 0
    with open(path, "wb", buffering=1 << 22) as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for frame in frames_of():
            us += 10
            f.write(rec.pack(T0 + us // 1_000_000, us % 1_000_000, len(frame), len(frame)) + frame)
    return os.path.getsize(path)


def run_fragment_flood(ck, sipman, work, datagrams):
    body = b"f" * 60_000

    def frames():
        for d in range(datagrams):
            src = bytes((10, 4, d >> 8 & 0xFF, d & 0xFF))
            udp = struct.pack("!HHHH", 5060, 5060, 8 + len(body), 0) + body
            yield from fragments(src, d & 0xFFFF, udp, last=False)
        udp = struct.pack("!HHHH", 5060, 5060, 8 + len(WHOLE_INVITE), 0) + WHOLE_INVITE
        yield from fragments(bytes((10, 3, 0, 1)), 1, udp, last=True)

    # 4,096 datagrams are kept; each dropped one had 40 fragments.
    check_flood(ck, sipman, work, "fragments", f"{datagrams} unfinished datagrams", frames,
                "ip_fragments_dropped", (datagrams - 4096) * 40)


def sctp_packet(stream, tsn, flags, data):
    chunk = struct.pack("!BBHIHHI", 0, flags, 16 + len(data), tsn, stream, 0, 0) + data
    chunk += b"\x00" * (-len(chunk) % 4)
    common = struct.pack("!HHII", 5060, 5060, 1, 0)
    return common + chunk


def run_sctp_flood(ck, sipman, work, streams):
    piece = b"s" * 1400
    head = b"MESSAGE sip:bob@mem.test SIP/2.0\r\nCall-ID: big@mem.test\r\nContent-Length: 900000\r\n\r\n"
    pieces = 300  # 420,000 bytes per unfinished message

    def frames():
        src = bytes((10, 5, 0, 1))
        for s in range(streams):
            tsn = s * 1000
            for i in range(pieces):
                data = head + piece[len(head):] if i == 0 else piece
                flags = 0x02 if i == 0 else 0x00  # B on the first, never E
                yield ipv4(src, 132, 0, 0x4000, sctp_packet(s, tsn + i, flags, data))
        half = len(WHOLE_INVITE) // 2
        yield ipv4(src, 132, 0, 0x4000, sctp_packet(60000, 9, 0x02, WHOLE_INVITE[:half]))
        yield ipv4(src, 132, 0, 0x4000, sctp_packet(60000, 10, 0x01, WHOLE_INVITE[half:]))

    # 64 MiB holds 159 such messages: the others were dropped.
    check_flood(ck, sipman, work, "sctp", f"{streams} unfinished messages", frames,
                "sctp_errors", streams - (64 << 20) // (pieces * len(piece)))


def main():
    sipman, work = sys.argv[1], sys.argv[2]
    scale = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
    ck = lib.Checks()
    run(ck, sipman, work, "timers", int(1_000_000 * scale), 1000, 0)
    burst = int(300_000 * scale)
    run(ck, sipman, work, "cap", burst, 33, max(0, burst - MAX_OPEN_CALLS))
    run_tcp_flood(ck, sipman, work, max(1, int(TCP_CONNECTIONS * scale)))
    run_fragment_flood(ck, sipman, work, max(1, int(7000 * scale)))
    run_sctp_flood(ck, sipman, work, max(1, int(1000 * scale)))
    return ck.finish()


if __name__ == "__main__":
    sys.exit(main())
