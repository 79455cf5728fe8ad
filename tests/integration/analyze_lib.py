"""Shared checks of the analyze_*_test.py drivers: `sipman analyze` on a real
capture, judged against tshark (the independent oracle for times, SDP and
message counts), against the capture's own bytes (read here, without tshark
or sipman) and against a truth file of SIPp's counts.

Only the Python standard library is used; zstd-compressed raw messages are
decompressed through libzstd with ctypes (libzstd is a build dependency).
"""
import collections
import ctypes
import ctypes.util
import json
import os
import re
import signal
import sqlite3
import struct
import subprocess
import time
import urllib.error
import urllib.request

# tshark's SIP over TCP on other ports than 5060 rests on a heuristic that runs
# only when no dissector claims the connection's ports by number. A SIPp
# caller's ephemeral port can be one that tshark assigns to another protocol
# (44321 is PCP's), and that call's messages then vanish from tshark's view.
# SIPp and Kamailio in these tests use ports 5060-5099: decode those as SIP.
TSHARK_SIP_PORTS = ["-d", "tcp.port==5060-5099,sip"]


class Checks:
    """Counts passed and failed checks; prints one line per check."""

    def __init__(self):
        self.passed = 0
        self.failed = []

    def check(self, name, condition, detail=""):
        if condition:
            self.passed += 1
            print(f"ok   {name}")
        else:
            self.failed.append(name)
            text = detail if isinstance(detail, str) else repr(detail)
            if len(text) > 3000:
                text = text[:3000] + " ..."
            print(f"FAIL {name}: {text}")
        return condition

    def finish(self):
        print(f"{self.passed} passed, {len(self.failed)} failed")
        return 1 if self.failed else 0


# Helpers of the tests that start daemons and SIPp (run_live_test,
# hep_kamailio_test, hep_sngrep_test).

def http(port, path, cookie=None, data=None):
    """GET (or POST `data` as JSON) http://127.0.0.1:PORT/PATH: (status, body
    text, headers); never raises for an HTTP error status (0 when unreachable)."""
    headers = {"Cookie": cookie} if cookie else {}
    if data is not None:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers,
                                 data=None if data is None else json.dumps(data).encode(),
                                 method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode(errors="replace"), resp.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace"), e.headers
    except OSError as e:
        return 0, str(e), {}


def wait_for(path, pattern, timeout):
    """True once the file at `path` matches `pattern`; False after `timeout` s."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open(path, errors="replace") as f:
                if re.search(pattern, f.read()):
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def stop(proc, sig=signal.SIGTERM, timeout=10):
    """Ends `proc` (a Popen) by its PID: `sig`, then SIGKILL after `timeout` s."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def successful_calls(stat_csv):
    """SuccessfulCall(C) from the last row of SIPp's statistics file."""
    try:
        with open(stat_csv) as f:
            rows = [line.rstrip("\n").split(";") for line in f if line.strip()]
    except OSError:
        return 0
    if len(rows) < 2:
        return 0
    return int(rows[-1][rows[0].index("SuccessfulCall(C)")])


def run_analyze(sipman, db, files, *extra, timeout=600):
    """Runs `sipman analyze --json`; returns (CompletedProcess, parsed JSON or None)."""
    proc = subprocess.run([sipman, "analyze", "--db", db, "--json", *extra, *files],
                          capture_output=True, text=True, errors="surrogateescape", timeout=timeout)
    summary = None
    if proc.returncode == 0:
        try:
            summary = json.loads(proc.stdout)
        except ValueError:
            summary = None
    return proc, summary


def db_rows(db, table):
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    rows = [dict(r) for r in con.execute(f"SELECT * FROM {table} ORDER BY id")]
    con.close()
    return rows


def db_counts(db):
    con = sqlite3.connect(db)
    counts = {t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
              for t in ("calls", "registrations", "messages")}
    con.close()
    return counts


# ------------------------------------------------------------------ tshark

def epoch_ns(text):
    seconds, _, frac = text.partition(".")
    return int(seconds) * 1_000_000_000 + int((frac + "000000000")[:9])


def _list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _first(value):
    return value[0] if isinstance(value, list) else value


def _sdp_streams(sdp):
    """[(type, address, port)] of one SDP body as tshark decoded it, or None
    when the connection addresses cannot be assigned to streams unambiguously."""
    medias = _list(sdp.get("sdp.media_tree"))
    conns = [c.get("sdp.connection_info.address", "") for c in _list(sdp.get("sdp.connection_info_tree"))]
    if len(conns) == 1:
        addrs = conns * len(medias)
    elif len(conns) == len(medias):
        addrs = conns
    elif len(conns) == len(medias) + 1:
        addrs = conns[1:]
    else:
        return None
    return [(m.get("sdp.media.media", ""), a, int(_first(m.get("sdp.media.port", "0")) or 0))
            for m, a in zip(medias, addrs)]


def tshark_messages(path):
    """Every SIP message of the capture as tshark reads it, in frame order:
    dicts with ts (ns), call_id, method (requests) or status (responses),
    cseq (number), cseq_method, to_tag, sdp ([(type, address, port)] or None
    without a body; "?" when ambiguous)."""
    out = subprocess.run(
        ["tshark", "-r", path, "-Y", "sip", "-T", "json", "--no-duplicate-keys",
         "-o", "tcp.reassemble_out_of_order:TRUE", "-J", "frame sip sdp"] + TSHARK_SIP_PORTS,
        check=True, capture_output=True, text=True).stdout
    frames = json.loads(out) if out.strip() else []
    result = []
    for frame in frames:
        layers = frame["_source"]["layers"]
        number = int(_first(layers["frame"]["frame.number"]))
        ts = epoch_ns(_first(layers["frame"]["frame.time_epoch"]))
        for sip in _list(layers.get("sip")):
            msg = {"frame": number, "ts": ts, "method": None, "status": None}
            if "sip.Request-Line_tree" in sip:
                msg["method"] = sip["sip.Request-Line_tree"]["sip.Method"]
            elif "sip.Status-Line_tree" in sip:
                msg["status"] = int(sip["sip.Status-Line_tree"]["sip.Status-Code"])
            else:
                continue
            hdr = sip.get("sip.msg_hdr_tree", {})
            msg["call_id"] = _first(hdr.get("sip.Call-ID", ""))
            cseq = _first(hdr.get("sip.CSeq_tree", {})) or {}
            msg["cseq"] = int(_first(cseq.get("sip.CSeq.seq", "0")))
            msg["cseq_method"] = _first(cseq.get("sip.CSeq.method", ""))
            to_tree = _first(hdr.get("sip.To_tree", {})) or {}
            msg["to_tag"] = _first(to_tree.get("sip.to.tag", ""))
            body = sip.get("sip.msg_body", {})
            sdp = body.get("sdp") if isinstance(body, dict) else None
            msg["sdp"] = None if sdp is None else (_sdp_streams(sdp) or "?")
            result.append(msg)
    return result


def tshark_calls(messages):
    """Per Call-ID of an INVITE dialog, what the capture says about the call:
    invite_cseqs, answered_cseq, ack_ts (first ACK with the answered
    INVITE's CSeq), bye_ts (first BYE), challenges (401/407 to INVITE,
    retransmissions excluded), caller_sdp (last initial INVITE's SDP),
    callee_sdp (last 18x/2xx SDP)."""
    calls = {}
    for m in messages:
        if m["cseq_method"] == "REGISTER":
            continue
        c = calls.get(m["call_id"])
        if c is None:
            if m["cseq_method"] != "INVITE":
                continue
            c = calls[m["call_id"]] = {"invite_ts": None, "answered_cseq": None, "ack_ts": {},
                                       "bye_ts": None, "challenge_cseqs": set(), "caller_sdp": None,
                                       "callee_sdp": None, "final": None}
        if m["method"] == "INVITE" and not m["to_tag"]:
            if c["invite_ts"] is None:
                c["invite_ts"] = m["ts"]
            if m["sdp"] is not None:
                c["caller_sdp"] = m["sdp"]
        elif m["method"] == "ACK":
            c["ack_ts"].setdefault(m["cseq"], m["ts"])
        elif m["method"] == "BYE":
            if c["bye_ts"] is None:
                c["bye_ts"] = m["ts"]
        elif m["status"] is not None and m["cseq_method"] == "INVITE":
            if m["status"] in (401, 407):
                c["challenge_cseqs"].add(m["cseq"])
            if 200 <= m["status"] < 300 and c["answered_cseq"] is None:
                c["answered_cseq"] = m["cseq"]
            if m["status"] >= 200:
                c["final"] = m["status"]
            if m["sdp"] is not None and (180 <= m["status"] < 300):
                c["callee_sdp"] = m["sdp"]
    return calls


# ------------------------------------------------------------------ pcap bytes

def pcap_payloads(path):
    """Reads a classic pcap (Ethernet, Linux cooked v1/v2, raw IP, loopback)
    and returns (udp, tcp): udp maps (ts_us, sport, dport) to a list of
    datagram payloads; tcp maps (src, sport, dst, dport) to the direction's
    byte stream (segments placed by sequence number). IPv4 fragments are not
    reassembled (the captures made by these tests have none)."""
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise ValueError(f"{path}: not a classic pcap file")
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0xFFFF
    udp = collections.defaultdict(list)
    segments = collections.defaultdict(list)
    off = 24
    while off + 16 <= len(data):
        sec, frac, caplen, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + caplen]
        off += 16 + caplen
        ts_us = sec * 1_000_000 + (frac // 1000 if nano else frac)
        if linktype == 1:
            ethertype, l3 = struct.unpack("!H", pkt[12:14])[0], 14
            while ethertype == 0x8100 and len(pkt) >= l3 + 4:
                ethertype, l3 = struct.unpack("!H", pkt[l3 + 2:l3 + 4])[0], l3 + 4
        elif linktype == 113:
            ethertype, l3 = struct.unpack("!H", pkt[14:16])[0], 16
        elif linktype == 276:
            ethertype, l3 = struct.unpack("!H", pkt[0:2])[0], 20
        elif linktype in (101, 12):
            ethertype, l3 = (0x0800 if pkt[0] >> 4 == 4 else 0x86DD), 0
        elif linktype == 0:
            ethertype, l3 = (0x0800 if struct.unpack("=I", pkt[:4])[0] == 2 else 0x86DD), 4
        else:
            raise ValueError(f"{path}: link type {linktype} not handled here")
        if ethertype == 0x0800:
            ihl = (pkt[l3] & 0x0F) * 4
            total = struct.unpack("!H", pkt[l3 + 2:l3 + 4])[0]
            proto = pkt[l3 + 9]
            src, dst = pkt[l3 + 12:l3 + 16], pkt[l3 + 16:l3 + 20]
            l4, end = l3 + ihl, l3 + total
        elif ethertype == 0x86DD:
            proto = pkt[l3 + 6]
            src, dst = pkt[l3 + 8:l3 + 24], pkt[l3 + 24:l3 + 40]
            l4 = l3 + 40
            end = l4 + struct.unpack("!H", pkt[l3 + 4:l3 + 6])[0]
        else:
            continue
        if proto == 17:
            sport, dport, ulen = struct.unpack("!HHH", pkt[l4:l4 + 6])
            udp[(ts_us, sport, dport)].append(bytes(pkt[l4 + 8:l4 + ulen]))
        elif proto == 6:
            sport, dport, seq = struct.unpack("!HHI", pkt[l4:l4 + 8])
            doff = (pkt[l4 + 12] >> 4) * 4
            payload = bytes(pkt[l4 + doff:end])
            if payload:
                segments[(src, sport, dst, dport)].append((seq, payload))
    tcp = {}
    for key, segs in segments.items():
        base = min(s for s, _ in segs)
        stream = bytearray()
        for seq, payload in sorted(segs, key=lambda s: (s[0] - base) % (1 << 32)):
            rel = (seq - base) % (1 << 32)
            if rel + len(payload) > len(stream):
                stream[rel:] = payload  # retransmissions overlap; keep one copy
        tcp[key] = bytes(stream)
    return udp, tcp


_zstd = None
_dctx = None


def zstd_decompress(blob, size, dictionary=b""):
    """Plain zstd frame (compression 1) or a frame made with a raw-content
    dictionary (compression 2), through libzstd."""
    global _zstd, _dctx
    if _zstd is None:
        name = ctypes.util.find_library("zstd") or "libzstd.so.1"
        _zstd = ctypes.CDLL(name)
        _zstd.ZSTD_createDCtx.restype = ctypes.c_void_p
        _zstd.ZSTD_decompress_usingDict.restype = ctypes.c_size_t
        _zstd.ZSTD_decompress_usingDict.argtypes = [
            ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t,
            ctypes.c_void_p, ctypes.c_size_t]
        _zstd.ZSTD_isError.restype = ctypes.c_uint
        _zstd.ZSTD_isError.argtypes = [ctypes.c_size_t]
        _dctx = _zstd.ZSTD_createDCtx()
    out = ctypes.create_string_buffer(max(size, 1))
    n = _zstd.ZSTD_decompress_usingDict(_dctx, out, size, blob, len(blob), dictionary or None,
                                        len(dictionary))
    if _zstd.ZSTD_isError(n) or n != size:
        raise ValueError(f"zstd: cannot decompress a {len(blob)}-byte blob to {size} bytes")
    return out.raw[:size]


def compression_dictionaries(db):
    """compression value -> dictionary bytes, from the database itself."""
    con = sqlite3.connect(db)
    try:
        return {c: bytes(d) for c, d in con.execute(
            "SELECT compression, dictionary FROM compression_dictionaries")}
    except sqlite3.OperationalError:
        return {}  # schema version 1: no dictionaries
    finally:
        con.close()


def stored_raw(row, dictionaries=None):
    raw = row["raw"]
    # A BLOB column comes back as bytes; TEXT would mean the raw bytes were
    # stored as a string (and would be compared as their UTF-8 encoding).
    raw = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else bytes(raw)
    if row["compression"] == 0:
        return raw
    if row["compression"] == 1:
        return zstd_decompress(raw, row["size"])
    if dictionaries and row["compression"] in dictionaries:
        return zstd_decompress(raw, row["size"], dictionaries[row["compression"]])
    raise ValueError(f"message {row['id']}: unknown compression {row['compression']}")


def _ip_bytes(text):
    import ipaddress
    return ipaddress.ip_address(text).packed


def check_raw_messages(ck, label, db, pcap):
    """Every stored raw message equals bytes of the original capture: a UDP
    datagram with the same time and ports, or a slice of the TCP stream of
    its direction."""
    udp, tcp = pcap_payloads(pcap)
    rows = db_rows(db, "messages")
    dictionaries = compression_dictionaries(db)
    bad = []
    compressed = 0
    for row in rows:
        try:
            raw = stored_raw(row, dictionaries)
        except ValueError as e:
            bad.append((row["call_id"], str(e)))
            continue
        compressed += row["compression"] != 0
        if len(raw) != row["size"]:
            bad.append((row["call_id"], row["ts"], f"size column {row['size']} != raw {len(raw)}"))
            continue
        if row["transport"] == "udp":
            candidates = udp.get((row["ts"] // 1000, row["src_port"], row["dst_port"]), [])
            if raw not in candidates:
                bad.append((row["call_id"], row["ts"], row["method"], row["status"],
                            f"no UDP datagram equal to the stored {len(raw)} bytes",
                            raw[:80], [c[:80] for c in candidates]))
        elif row["transport"] == "tcp":
            stream = tcp.get((_ip_bytes(row["src_ip"]), row["src_port"], _ip_bytes(row["dst_ip"]),
                              row["dst_port"]), b"")
            if raw not in stream:
                bad.append((row["call_id"], row["ts"], row["method"], row["status"],
                            "stored bytes are not in the TCP stream", raw[:80]))
        else:
            bad.append((row["call_id"], f"unexpected transport {row['transport']!r}"))
    ck.check(f"{label}: all {len(rows)} stored raw messages ({compressed} zstd) are byte-identical "
             f"to the capture", not bad and rows, bad[:5])


# ------------------------------------------------------------------ call checks

def check_states(ck, label, summary, calls, truth):
    """Calls per state, in the JSON summary and in the calls table, equal truth."""
    expected = {s: 0 for s in ("answered", "busy", "cancelled", "no_answer", "failed", "in_progress",
                               "timed_out")}
    expected.update(truth["calls"])
    in_db = collections.Counter(c["state"] for c in calls)
    got_db = {s: in_db.get(s, 0) for s in expected}
    got_json = {s: summary["calls"].get(s) for s in expected}
    ck.check(f"{label}: calls per state in the JSON summary equal SIPp's counts", got_json == expected,
             f"expected {expected}, got {got_json}")
    ck.check(f"{label}: calls per state in the calls table equal SIPp's counts", got_db == expected,
             f"expected {expected}, got {got_db}; extra states: "
             f"{ {s: n for s, n in in_db.items() if s not in expected} }")


def check_one_row_per_call(ck, label, calls, tcalls):
    by_id = collections.Counter(c["call_id"] for c in calls)
    dup = {k: n for k, n in by_id.items() if n != 1}
    missing = sorted(set(tcalls) - set(by_id))
    extra = sorted(set(by_id) - set(tcalls))
    ck.check(f"{label}: one calls row per INVITE Call-ID in the capture ({len(tcalls)})",
             not dup and not missing and not extra,
             f"Call-IDs with several rows: {dup}; in capture, not stored: {missing[:10]}; "
             f"stored, not an INVITE dialog in the capture: {extra[:10]}")


def check_challenges(ck, label, calls, tcalls):
    bad = []
    for c in calls:
        t = tcalls.get(c["call_id"])
        if t is None:
            continue
        want = len(t["challenge_cseqs"])
        if c["auth_challenges"] != want:
            bad.append((c["call_id"], f"auth_challenges expected {want}, got {c['auth_challenges']}"))
    ck.check(f"{label}: auth_challenges equals the 401/407 responses tshark sees per call", not bad, bad[:10])


def check_durations(ck, label, calls, tcalls):
    """duration_ms = BYE time - ACK time (the ACK of the answered INVITE), within 1 ms;
    ack_ts and bye_ts are those frames' times."""
    bad_duration, bad_ts, checked = [], [], 0
    for c in calls:
        if c["state"] != "answered":
            continue
        t = tcalls.get(c["call_id"])
        if t is None or t["answered_cseq"] is None or t["bye_ts"] is None:
            bad_duration.append((c["call_id"], "answered in the store, but tshark sees no 2xx or no BYE"))
            continue
        ack = t["ack_ts"].get(t["answered_cseq"])
        if ack is None:
            bad_duration.append((c["call_id"], f"tshark sees no ACK with CSeq {t['answered_cseq']}"))
            continue
        checked += 1
        want = (t["bye_ts"] - ack) / 1e6
        if abs(c["duration_ms"] - want) > 1.0:
            bad_duration.append((c["call_id"], f"duration_ms expected {want:.3f} (BYE {t['bye_ts']} - "
                                 f"ACK {ack}), got {c['duration_ms']}"))
        # Stored times are capture times; pcap keeps microseconds.
        if c["ack_ts"] // 1000 != ack // 1000 or c["bye_ts"] // 1000 != t["bye_ts"] // 1000:
            bad_ts.append((c["call_id"], f"ack_ts expected {ack} got {c['ack_ts']}; "
                           f"bye_ts expected {t['bye_ts']} got {c['bye_ts']}"))
    ck.check(f"{label}: duration_ms of all {checked} answered calls = BYE - ACK per tshark, within 1 ms",
             not bad_duration and checked > 0, bad_duration[:10])
    ck.check(f"{label}: ack_ts and bye_ts of answered calls are tshark's ACK and BYE frame times",
             not bad_ts and checked > 0, bad_ts[:10])


def media_tuples(media_json):
    return [(m["type"], m["address"], m["port"]) for m in json.loads(media_json or "[]")]


def types_of(streams):
    seen = []
    for t, _, _ in streams:
        if t not in seen:
            seen.append(t)
    return ",".join(seen)


def check_media_vs_tshark(ck, label, calls, tcalls):
    """Per call and side: media types, addresses and ports equal the SDP that
    tshark decodes from the INVITE (caller) and the 18x/2xx (callee)."""
    bad, checked = [], 0
    for c in calls:
        t = tcalls.get(c["call_id"])
        if t is None:
            continue
        for side, sdp in (("caller", t["caller_sdp"]), ("callee", t["callee_sdp"])):
            got = media_tuples(c[f"{side}_media"])
            if sdp == "?":
                continue
            want = sdp or []
            checked += 1
            if got != want or c[f"{side}_media_types"] != types_of(want):
                bad.append((c["call_id"], side, f"expected {want} types {types_of(want)!r}, got {got} "
                            f"types {c[side + '_media_types']!r}"))
    ck.check(f"{label}: media (type, address, port) per call and side equal the SDP tshark decodes "
             f"({checked} sides)", not bad and checked > 0, bad[:10])


def check_registrations(ck, label, summary, regs, truth):
    want = truth["registrations_successful"]
    ok = [r for r in regs if r["result"] == "success"]
    ck.check(f"{label}: successful registrations = SIPp's count ({want})",
             len(ok) == want and summary["registrations"].get("success", 0) == want,
             f"table {len(ok)}, JSON {summary['registrations']}")
    ck.check(f"{label}: no registration other than the successful ones", len(regs) == len(ok),
             collections.Counter(r["result"] for r in regs))
    bad = [(r["call_id"], r["challenges"], r["status_code"], r["request_delay_ms"]) for r in ok
           if r["challenges"] != 1 or r["status_code"] != 200 or r["request_delay_ms"] < 0]
    ck.check(f"{label}: each successful registration had 1 challenge, status 200 and a request delay",
             not bad, bad[:10])


def check_messages(ck, label, summary, db, tmsgs):
    counts = db_counts(db)
    ck.check(f"{label}: messages table holds every SIP message tshark sees ({len(tmsgs)})",
             counts["messages"] == len(tmsgs) == summary["messages"] == summary["messages_stored"],
             f"table {counts['messages']}, tshark {len(tmsgs)}, JSON messages {summary['messages']} "
             f"stored {summary['messages_stored']}")
    con = sqlite3.connect(db)
    got = collections.Counter(con.execute("SELECT call_id FROM messages").fetchall())
    con.close()
    got = collections.Counter({k[0]: n for k, n in got.items()})
    want = collections.Counter(m["call_id"] for m in tmsgs)
    diff = {k: (want.get(k, 0), got.get(k, 0)) for k in set(want) | set(got) if want.get(k) != got.get(k)}
    ck.check(f"{label}: messages per Call-ID equal tshark's (tshark, stored)", not diff,
             dict(list(diff.items())[:10]))


def check_rerun(ck, label, sipman, db, files, first):
    before = db_counts(db)
    proc, again = run_analyze(sipman, db, files)
    after = db_counts(db)
    ck.check(f"{label}: second analyze into the same database exits 0", again is not None,
             f"exit {proc.returncode}: {proc.stderr[-2000:]}")
    if again is None:
        return
    ck.check(f"{label}: second run adds no rows", before == after, f"before {before}, after {after}")
    first_rows = first["calls_stored"] + first["registrations_stored"] + first["messages_stored"]
    ck.check(f"{label}: second run's JSON reports every row as a duplicate",
             again["calls_stored"] == again["registrations_stored"] == again["messages_stored"] == 0
             and again["duplicates_ignored"] == first_rows,
             f"stored {again['calls_stored']}/{again['registrations_stored']}/{again['messages_stored']}, "
             f"duplicates_ignored {again['duplicates_ignored']}, expected {first_rows}")
    ck.check(f"{label}: second run reports the same calls per state", again["calls"] == first["calls"],
             f"first {first['calls']}, second {again['calls']}")


def analyze_capture(ck, label, sipman, pcap, truth, workdir):
    """The checks every real capture gets. Returns (summary, calls, tcalls)
    for further, capture-specific checks, or None when analyze failed."""
    db = os.path.join(workdir, os.path.basename(pcap) + ".db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    proc, summary = run_analyze(sipman, db, [pcap])
    if not ck.check(f"{label}: sipman analyze exits 0 and prints JSON", summary is not None,
                    f"exit {proc.returncode}; stdout {proc.stdout[-500:]!r}; stderr {proc.stderr[-2000:]}"):
        return None
    print(f"     {label}: {proc.stdout.strip()}")
    calls = db_rows(db, "calls")
    regs = db_rows(db, "registrations")
    tmsgs = tshark_messages(pcap)
    tcalls = tshark_calls(tmsgs)
    check_states(ck, label, summary, calls, truth)
    check_one_row_per_call(ck, label, calls, tcalls)
    check_challenges(ck, label, calls, tcalls)
    check_durations(ck, label, calls, tcalls)
    check_media_vs_tshark(ck, label, calls, tcalls)
    check_registrations(ck, label, summary, regs, truth)
    check_messages(ck, label, summary, db, tmsgs)
    check_raw_messages(ck, label, db, pcap)
    check_rerun(ck, label, sipman, db, [pcap], summary)
    return summary, calls, tcalls


def stored_alerts(sipman, db, limit=10000):
    """The alerts `sipman alerts --db DB --json` prints: (rows, ok, detail),
    ok when it exited 0 and printed only JSON lines, at least one."""
    out = subprocess.run([sipman, "alerts", "--db", db, "--json", "--limit", str(limit)],
                         capture_output=True, text=True, timeout=60)
    rows, bad = [], []
    for line in out.stdout.splitlines():
        if line.strip():
            try:
                rows.append(json.loads(line))
            except ValueError:
                bad.append(line)
    detail = (f"exit status {out.returncode}, lines not JSON {bad[:3]}: {out.stdout[-1500:]} "
              f"{out.stderr[-1500:]}")
    return rows, out.returncode == 0 and bool(rows) and not bad, detail

