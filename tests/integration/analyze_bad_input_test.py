#!/usr/bin/env python3
"""sipman analyze on bad input: malformed SIP, a BYE without a call,
responses without a request, one Call-ID reused on different days, and
packets that are not SIP or not even IP. The captures are written here,
frame by frame, with fixed content; the test checks that sipman exits 0,
counts what is wrong (malformed, orphans), and stores every valid call and
every message that has a Call-ID: nothing lost.

usage: analyze_bad_input_test.py SIPMAN WORKDIR
"""
import collections
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import analyze_lib as lib  # noqa: E402

T0 = 1_700_000_000  # 2023-11-14 22:13:20 UTC
DAY = 86_400
A, B = (10, 0, 0, 1), (10, 0, 0, 2)


# ------------------------------------------------------------------ frames

def ip_checksum(header):
    s = sum(struct.unpack("!10H", header))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(src, dst, proto, payload, total_len=None):
    total = 20 + len(payload) if total_len is None else total_len
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, proto, 0, bytes(src), bytes(dst))
    h = h[:10] + struct.pack("!H", ip_checksum(h)) + h[12:]
    return h + payload


def eth(payload, ethertype=0x0800):
    return b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + struct.pack("!H", ethertype) + payload


def udp_frame(src, sport, dst, dport, data, udp_len=None):
    ulen = 8 + len(data) if udp_len is None else udp_len
    return eth(ipv4(src, dst, 17, struct.pack("!HHHH", sport, dport, ulen, 0) + data))


def tcp_frame(src, sport, dst, dport, seq, data, flags=0x18):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0)
    return eth(ipv4(src, dst, 6, tcp + data))


def write_pcap(path, frames):
    """frames: [(epoch seconds as float, frame bytes)] in the order given."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for ts, frame in frames:
            us = round(ts * 1_000_000)
            f.write(struct.pack("<IIII", us // 1_000_000, us % 1_000_000, len(frame), len(frame)))
            f.write(frame)


# ------------------------------------------------------------------ SIP text

def sip(start, call_id, cseq, from_tag, to_tag="", extra=(), body="", via_branch="z9hG4bK1"):
    lines = [start,
             f"Via: SIP/2.0/UDP 10.0.0.1:5060;branch={via_branch}",
             f"From: \"Alice\" <sip:alice@example.test>;tag={from_tag}",
             "To: <sip:bob@example.test>" + (f";tag={to_tag}" if to_tag else ""),
             f"Call-ID: {call_id}",
             f"CSeq: {cseq}",
             "Max-Forwards: 70",
             *extra]
    if body:
        lines += ["Content-Type: application/sdp", f"Content-Length: {len(body)}"]
    else:
        lines += ["Content-Length: 0"]
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def sdp(addr, port):
    return (f"v=0\r\no=- 1 1 IN IP4 {addr}\r\ns=-\r\nc=IN IP4 {addr}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")


class Capture:
    """Collects frames and what the test expects of them."""

    def __init__(self):
        self.frames = []
        self.sip_messages = collections.Counter()  # Call-ID -> messages sipman must store

    def send(self, ts, data, src=A, dst=B, sport=5060, dport=5060, call_id=None):
        self.frames.append((ts, udp_frame(src, sport, dst, dport, data)))
        if call_id is not None:
            self.sip_messages[call_id] += 1

    def raw(self, ts, frame):
        self.frames.append((ts, frame))

    def answered_call(self, t, call_id, tag, talk=10.0, callee_tag="b1"):
        """INVITE, 100, 180, 200, ACK, then BYE `talk` seconds after the ACK, 200."""
        inv = sip(f"INVITE sip:bob@example.test SIP/2.0", call_id, "1 INVITE", tag, body=sdp("192.0.2.1", 4000),
                  extra=["Contact: <sip:alice@10.0.0.1>", "User-Agent: bad-input-test"])
        self.send(t, inv, call_id=call_id)
        self.send(t + 0.01, sip("SIP/2.0 100 Trying", call_id, "1 INVITE", tag), B, A, call_id=call_id)
        self.send(t + 0.5, sip("SIP/2.0 180 Ringing", call_id, "1 INVITE", tag, callee_tag), B, A,
                  call_id=call_id)
        self.send(t + 2.0, sip("SIP/2.0 200 OK", call_id, "1 INVITE", tag, callee_tag,
                               extra=["Contact: <sip:bob@10.0.0.2>"], body=sdp("198.51.100.1", 5000)),
                  B, A, call_id=call_id)
        self.send(t + 2.1, sip("ACK sip:bob@10.0.0.2 SIP/2.0", call_id, "1 ACK", tag, callee_tag,
                               via_branch="z9hG4bK2"), call_id=call_id)
        self.send(t + 2.1 + talk, sip("BYE sip:bob@10.0.0.2 SIP/2.0", call_id, "2 BYE", tag, callee_tag,
                                      via_branch="z9hG4bK3"), call_id=call_id)
        self.send(t + 2.2 + talk, sip("SIP/2.0 200 OK", call_id, "2 BYE", tag, callee_tag,
                                      via_branch="z9hG4bK3"), B, A, call_id=call_id)
        return expect(call_id, tag, t, "answered", 200, 7, round(talk * 1000))

    def busy_call(self, t, call_id, tag, extra_invite_lines=(), bad_length=False):
        """INVITE, 486, ACK. bad_length: the 486 claims a body it does not have."""
        inv = sip("INVITE sip:bob@example.test SIP/2.0", call_id, "1 INVITE", tag, body=sdp("192.0.2.2", 4002),
                  extra=list(extra_invite_lines))
        self.send(t, inv, call_id=call_id)
        busy = sip("SIP/2.0 486 Busy Here", call_id, "1 INVITE", tag, "busy1")
        if bad_length:
            busy = busy.replace(b"Content-Length: 0", b"Content-Length: 50")
        self.send(t + 0.3, busy, B, A, call_id=call_id)
        self.send(t + 0.31, sip("ACK sip:bob@example.test SIP/2.0", call_id, "1 ACK", tag, "busy1"),
                  call_id=call_id)
        return expect(call_id, tag, t, "busy", 486, 3, 0)


def expect(call_id, caller_tag, invite_time, state, final_status, message_count, duration_ms):
    """What one calls row must hold. invite_time None: the INVITE was never captured."""
    invite_ts = 0 if invite_time is None else round(invite_time * 1_000_000) * 1000
    return (call_id, caller_tag, invite_ts, state, final_status, message_count, duration_ms)


ROW_FIELDS = ("call_id", "caller_tag", "invite_ts", "state", "final_status", "message_count", "duration_ms")


def build_main(path):
    """The main bad-input capture. Returns (Capture, expectations)."""
    cap = Capture()
    t = T0
    # A valid answered call first: it must come out whole whatever follows.
    calls = [cap.answered_call(t, "good-1@bad.test", "g1", talk=10.0)]

    # Malformed SIP, each SIP-looking (the decoder hands it to the parser).
    malformed = 0
    # 1. An INVITE without a Call-ID: counted, cannot be filed, not stored.
    no_call_id = sip("INVITE sip:bob@example.test SIP/2.0", "x", "1 INVITE", "m1").replace(b"Call-ID: x\r\n", b"")
    cap.send(t + 20, no_call_id)
    malformed += 1
    # 2. An unreadable CSeq: counted, stored under its Call-ID, no call.
    cap.send(t + 21, sip("INVITE sip:bob@example.test SIP/2.0", "bad-cseq@bad.test", "one INVITE", "m2"),
             call_id="bad-cseq@bad.test")
    malformed += 1
    # 3. Headers cut off before the blank line (a datagram cut short).
    cap.send(t + 22, b"INVITE sip:bob@example.test SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9\r\nFrom: <sip:a")
    malformed += 1
    # 4. A busy call whose 486 claims a 50-byte body it does not have
    #    (RFC 3261 18.3): counted; the call still counts.
    calls.append(cap.busy_call(t + 23, "bad-length@bad.test", "m4", bad_length=True))
    malformed += 1
    # 5. A busy call whose INVITE carries a header line without a colon,
    #    as SIPp writes when a keyword is misspelt: counted; the call still counts.
    calls.append(cap.busy_call(t + 24, "junk-header@bad.test", "m5", ["1[authentication username=user]"]))
    malformed += 1
    # A status code outside 100-699 is still 3DIGIT (RFC 3261 25.1), so it is
    # not counted malformed here; it is stored but makes no call.
    cap.send(t + 25, sip("SIP/2.0 999 Odd", "bad-status@bad.test", "1 INVITE", "m6", "x"), B, A,
             call_id="bad-status@bad.test")

    # Not SIP at all, on the SIP port: not malformed SIP, just skipped.
    cap.send(t + 30, bytes(range(256)))
    cap.send(t + 30.1, b"")
    cap.send(t + 30.2, b"\x00" * 40)
    cap.raw(t + 30.3, tcp_frame(A, 40000, B, 5060, 1000, b"\x16\x03\x01\x00\x05hello-not-sip"))
    # Not even IP, or IP that lies about its length.
    cap.raw(t + 30.4, eth(b"\x00" * 46, ethertype=0x88B5))
    cap.raw(t + 30.5, eth(b"\x45\x00\x00"))  # truncated IPv4 header
    cap.raw(t + 30.6, eth(ipv4(A, B, 17, struct.pack("!HHHH", 5060, 5060, 400, 0) + b"INVITE", total_len=1400)))
    cap.raw(t + 30.7, udp_frame(A, 5060, B, 5060, b"SIP/2.0 200 OK\r\n", udp_len=900))
    cap.raw(t + 30.8, b"")  # an empty frame
    cap.raw(t + 30.9, b"\xff" * 7)  # shorter than an Ethernet header

    # Orphans: a BYE and its 200 for no known call; a 481 to a BYE nobody sent;
    # a 200 to a REGISTER never seen.
    cap.send(t + 40, sip("BYE sip:bob@10.0.0.2 SIP/2.0", "orphan-bye@bad.test", "2 BYE", "o1", "o2"),
             call_id="orphan-bye@bad.test")
    cap.send(t + 40.1, sip("SIP/2.0 200 OK", "orphan-bye@bad.test", "2 BYE", "o1", "o2"), B, A,
             call_id="orphan-bye@bad.test")
    cap.send(t + 41, sip("SIP/2.0 481 Call/Transaction Does Not Exist", "orphan-481@bad.test", "5 BYE", "o3", "o4"),
             B, A, call_id="orphan-481@bad.test")
    cap.send(t + 42, sip("SIP/2.0 200 OK", "orphan-reg@bad.test", "1 REGISTER", "o5", "o6",
                         extra=["Contact: <sip:alice@10.0.0.1>;expires=60"]), B, A, call_id="orphan-reg@bad.test")
    orphans = 4
    # A final response to an INVITE that was never captured: still a call
    # (correlation does not depend on seeing the INVITE), busy.
    cap.send(t + 43, sip("SIP/2.0 486 Busy Here", "lone-486@bad.test", "1 INVITE", "l1", "l2"), B, A,
             call_id="lone-486@bad.test")
    calls.append(expect("lone-486@bad.test", "l1", None, "busy", 486, 1, 0))

    # One Call-ID on two different days, with other traffic between: two calls.
    calls.append(cap.answered_call(t + 100, "reused@bad.test", "day1", talk=5.0))
    calls.append(cap.busy_call(t + DAY + 100, "day2-other@bad.test", "d2"))
    calls.append(cap.answered_call(t + 2 * DAY + 100, "reused@bad.test", "day3", talk=7.0, callee_tag="b3"))

    cap.frames.sort(key=lambda f: f[0])
    write_pcap(path, cap.frames)
    return cap, dict(calls=calls, malformed=malformed, orphans=orphans)


def build_adjacent(path1, path2):
    """One Call-ID on day 1 (file 1) and day 3 (file 2), nothing between:
    the day-3 INVITE is the very next packet after the day-1 call's 200 to BYE."""
    day1, day3 = Capture(), Capture()
    calls = [day1.answered_call(T0 + 500, "adjacent@bad.test", "a1", talk=3.0),
             day3.answered_call(T0 + 2 * DAY + 500, "adjacent@bad.test", "a3", talk=4.0, callee_tag="b3")]
    write_pcap(path1, day1.frames)
    write_pcap(path2, day3.frames)
    return day1.sip_messages + day3.sip_messages, calls


def check_calls(ck, label, db, want):
    """Every expected call is one row with exactly these fields; no other rows."""
    calls = lib.db_rows(db, "calls")
    got = collections.Counter(tuple(c[f] for f in ROW_FIELDS) for c in calls)
    want = collections.Counter(want)
    missing, extra = want - got, got - want
    ck.check(f"{label}: every valid call is stored once, whole {ROW_FIELDS}", not missing and not extra,
             f"expected but not stored: {sorted(missing)}; stored but not expected: {sorted(extra)}")
    retrans = [(c["call_id"], c["caller_tag"], c["retransmissions"]) for c in calls if c["retransmissions"]]
    ck.check(f"{label}: no call counts a retransmission (none was sent)", not retrans, retrans)
    return calls


def check_messages_stored(ck, label, db, want):
    rows = lib.db_rows(db, "messages")
    got = collections.Counter(r["call_id"] for r in rows)
    diff = {k: (want.get(k, 0), got.get(k, 0)) for k in set(want) | set(got) if want.get(k, 0) != got.get(k, 0)}
    ck.check(f"{label}: every SIP message with a Call-ID is stored ({sum(want.values())}); "
             f"(expected, stored) per differing Call-ID", not diff, diff)


def main():
    sipman, work = sys.argv[1], sys.argv[2]
    ck = lib.Checks()

    pcap = os.path.join(work, "bad-input.pcap")
    cap, exp = build_main(pcap)
    db = os.path.join(work, "bad.db")
    proc, summary = lib.run_analyze(sipman, db, [pcap])
    ck.check("bad-input: sipman analyze exits 0 and prints JSON (no crash)", summary is not None,
             f"exit {proc.returncode}; stderr {proc.stderr[-2000:]}")
    if summary is not None:
        print(f"     bad-input: {proc.stdout.strip()}")
        check_calls(ck, "bad-input", db, exp["calls"])
        check_messages_stored(ck, "bad-input", db, cap.sip_messages)
        ck.check(f"bad-input: the {exp['malformed']} malformed SIP messages are counted as malformed",
                 summary["malformed"] == exp["malformed"],
                 f"expected {exp['malformed']}, got {summary['malformed']}")
        ck.check(f"bad-input: the {exp['orphans']} orphan requests and responses are counted",
                 summary["orphans"] == exp["orphans"], f"expected {exp['orphans']}, got {summary['orphans']}")
        ck.check("bad-input: totals count every packet", summary["packets"] == len(cap.frames),
                 f"expected {len(cap.frames)}, got {summary['packets']}")
        ck.check("bad-input: JSON call count equals the table's",
                 summary["calls"]["total"] == summary["calls_stored"] == len(exp["calls"]),
                 f"JSON total {summary['calls']['total']}, stored {summary['calls_stored']}, "
                 f"expected {len(exp['calls'])}")
        ck.check("bad-input: no registration is invented from a lone 200 to REGISTER",
                 summary["registrations"]["total"] == 0 and lib.db_counts(db)["registrations"] == 0,
                 summary["registrations"])
        proc2, again = lib.run_analyze(sipman, db, [pcap])
        ck.check("bad-input: a second run adds nothing",
                 again is not None and again["calls_stored"] == again["messages_stored"] == 0,
                 f"exit {proc2.returncode}; {proc2.stdout.strip()}")

    # The same Call-ID on day 1 and day 3 with nothing between, in two files.
    f1, f2 = os.path.join(work, "day1.pcap"), os.path.join(work, "day3.pcap")
    msgs, calls = build_adjacent(f1, f2)
    db2 = os.path.join(work, "adjacent.db")
    proc, summary = lib.run_analyze(sipman, db2, [f1, f2])
    ck.check("adjacent-days: sipman analyze exits 0 and prints JSON", summary is not None,
             f"exit {proc.returncode}; stderr {proc.stderr[-2000:]}")
    if summary is not None:
        print(f"     adjacent-days: {proc.stdout.strip()}")
        check_calls(ck, "adjacent-days (Call-ID reused 2 days later, no packet between)", db2, calls)
        check_messages_stored(ck, "adjacent-days", db2, msgs)
    return ck.finish()


if __name__ == "__main__":
    sys.exit(main())
