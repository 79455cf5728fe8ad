#!/usr/bin/env python3
"""Real softphones (media_baresip_test.sh): two calls between Debian's
baresip instances on the loopback of a network namespace, G.711 with audio
from a WAV file written here (aufile), real RTCP (baresip sends SR + SDES
every 5 s, an APP PING at the start and a BYE at the end), while
`sipman run -i lo` captures and tcpdump writes the same traffic to a pcap.
The oracles are tshark on that pcap (RTP streams, and every RTCP report
block decoded by tshark), the test's own relay's count of what it dropped,
and ITU-T G.107 for the MOS.

Phone A (the caller, driven over its ctrl_tcp socket) calls B, then C; B
and C answer by themselves (answermode=auto).

1. A -> B, clean: each direction one PCMU stream joined to the call, its
   packets and lost those tshark counts (lost 0), MOS >= 4.3, no flags, and
   the phones' RTCP counted (report blocks, fraction lost 0, jitter, RTT)
   as tshark decodes it.
2. A -> C through a lossy relay: loopback has no netem here and the
   namespace no iptables, so C (medianat=stun) asks the test's STUN server
   for its address, which answers with the relay's port for C's RTP port:
   C's SDP names the relay (its RTCP port stays C's own, a=rtcp). The relay
   drops every DROP_EVERY-th RTP packet of A's and sends the rest on to C's
   real port from A's own address and port (a raw socket), and sipman's
   capture filter leaves out the relay's and the STUN server's ports, as a
   sensor behind a lossy link would. A's direction must then show exactly
   the relay's drops as lost, the loss % they make, a MOS within 0.01 of
   G.107 for that loss (at least 0.9 below the clean call's), and C's own
   RTCP reporting the loss (fraction lost > 0, as tshark reads it).

Also: /metrics (after a web login) counts tshark's RTP packets and RTCP
compounds on the sensor's side of the relay, and no stream loses a packet
to the 50 ms jitter buffer, which tshark's timestamps bound (each packet's
capture time against its RTP timestamp). The phones and the relay run at a
real-time priority so that a busy machine does not delay their packets; if
tshark still shows a packet 40 ms late and a check failed, the calls are
made once more.

RTCP round trips: baresip's DLSR counts whole milliseconds of its timer
(libre's calc_dlsr, tmr_jiffies), so on loopback, where the true round trip
is well under 1 ms, an SR/block pair can give a slightly negative RTT; sipman
takes a pair down to -2 ms as a round trip of 0 (docs/METRICS.md). The test
asserts that tshark shows a pair for every stream and that sipman's RTT is
the highest, negatives down to -2 ms counted as 0.

usage: media_baresip_test.py SIPMAN WORKDIR BARESIP_MODULE_DIR
"""
import json
import math
import os
import re
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
import wave

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import analyze_lib as lib  # noqa: E402
from media_sipp_test import g107_mos  # noqa: E402  (G.107 with its defaults, Annex B)
import media_tshark_test  # noqa: E402  (tshark_streams: tshark -z rtp,streams)

WEB_PORT = 18581
PASSWORD = "media-baresip-password"
# name: (SIP port, RTP port (RTCP the next), ctrl_tcp port). SIP ports two
# apart: baresip also listens for TLS on the SIP port + 1.
PHONES = {"a": (5084, 18000, 4441), "b": (5086, 16000, 4442), "c": (5088, 16100, 4443)}
STUN_PORT = 3478
RELAY_PORT = 16500        # what C's SDP names, from the STUN server's answer
DROP_EVERY = 10           # the relay drops A's 10th, 20th, ... RTP packet
CALL_SECONDS = 11         # after the answer; baresip's RTCP goes out at 5 and 10 s
AUDIO_SECONDS = 14        # the WAV outlasts the call (aufile stops at its end)
# tshark's name of the RTP payload type for sipman's codec name.
TSHARK_CODEC = {"PCMU": "g711U", "PCMA": "g711A"}


def write_wav(path):
    """8 kHz mono 16-bit, speech-like: a 120 Hz voice with formant-weighted
    harmonics, syllables at 4 Hz and a pause every 1.5 s."""
    frames = bytearray()
    for i in range(8000 * AUDIO_SECONDS):
        t = i / 8000
        voice = sum(w * math.sin(2 * math.pi * 120 * k * t)
                    for k, w in ((1, 0.5), (2, 0.3), (4, 0.35), (6, 0.2), (10, 0.15), (20, 0.1)))
        envelope = max(0.0, math.sin(2 * math.pi * 4 * t)) if (t % 1.5) < 1.2 else 0.0
        frames += struct.pack("<h", int(9000 * envelope * voice))
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(frames))


def write_phone(work, name, modules, wav, stun=False):
    """A baresip config directory: SIP on 127.0.0.1 only, PCMU/PCMA only,
    audio from the WAV (no player module loaded: nothing is played),
    RTCP on its own port, ctrl_tcp to drive it, auto answer."""
    sip, rtp, ctrl = PHONES[name]
    home = os.path.join(work, name)
    os.makedirs(home)
    config = f"""poll_method epoll
sip_listen 127.0.0.1:{sip}
net_interface 127.0.0.1
call_local_timeout 20
call_max_calls 1
audio_source aufile,{wav}
rtp_ports {rtp}-{rtp + 1}
rtcp_mux no
rtp_stats yes
module_path {modules}
module g711.so
module aufile.so
module_tmp account.so
module_app menu.so
statmode_default off
module_app ctrl_tcp.so
ctrl_tcp_listen 127.0.0.1:{ctrl}
"""
    account = f"<sip:{name}@127.0.0.1:{sip}>;regint=0;answermode=auto;audio_codecs=PCMU,PCMA"
    if stun:
        config += "module stun.so\n"
        account += f";medianat=stun;stunserver=stun:127.0.0.1:{STUN_PORT}"
    for file, text in (("config", config), ("accounts", account + "\n"), ("contacts", "")):
        with open(os.path.join(home, file), "w") as f:
            f.write(text)
    return home


class Ctrl:
    """baresip's ctrl_tcp: JSON commands and events in netstrings."""

    def __init__(self, port, timeout=10):
        deadline = time.time() + timeout
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=1)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        self.sock.settimeout(0.2)
        self.buf = b""
        self.events = []
        self.responses = {}

    def close(self):
        self.sock.close()

    def _pump(self):
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return
        if not data:
            raise ConnectionError("baresip closed its ctrl_tcp connection")
        self.buf += data
        while b":" in self.buf:
            size, rest = self.buf.split(b":", 1)
            if len(rest) < int(size) + 1:
                break
            msg = json.loads(rest[:int(size)])
            self.buf = rest[int(size) + 1:]
            if msg.get("response"):
                self.responses[msg.get("token")] = msg
            elif msg.get("event"):
                self.events.append(msg)

    def command(self, command, params="", timeout=10):
        body = json.dumps({"command": command, "params": params, "token": command}).encode()
        self.sock.sendall(str(len(body)).encode() + b":" + body + b",")
        deadline = time.time() + timeout
        while command not in self.responses and time.time() < deadline:
            self._pump()
        return self.responses.pop(command, None)

    def wait_event(self, kind, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for e in self.events:
                if e.get("type") == kind:
                    self.events.remove(e)
                    return e
            self._pump()
        return None


def realtime():
    """SCHED_FIFO for the calling thread (Linux: per thread), so that a busy
    machine does not hold media back past the 50 ms jitter buffer."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
    except (OSError, AttributeError):
        pass


def stun_server(stop, asked):
    """RFC 5389 Binding responses: XOR-MAPPED-ADDRESS is the sender's own,
    but the relay's port for C's RTP port."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", STUN_PORT))
    s.settimeout(0.2)
    while not stop.is_set():
        try:
            data, (ip, port) = s.recvfrom(2048)
        except socket.timeout:
            continue
        if len(data) < 20 or struct.unpack("!H", data[:2])[0] != 0x0001:
            continue
        mapped = RELAY_PORT if port == PHONES["c"][1] else port
        asked.append((port, mapped))
        xaddr = bytes(a ^ b for a, b in zip(socket.inet_aton(ip), struct.pack("!I", 0x2112A442)))
        attr = struct.pack("!HHBBH4s", 0x0020, 8, 0, 1, mapped ^ 0x2112, xaddr)
        s.sendto(struct.pack("!HHI", 0x0101, len(attr), 0x2112A442) + data[8:20] + attr, (ip, port))
    s.close()


def relay(stop, seen):
    """Receives A's RTP on RELAY_PORT, drops every DROP_EVERY-th packet and
    sends the rest to C's RTP port with A's own source port (a raw socket:
    the hop sipman sees looks like A's). Records (index, sequence, dropped)."""
    realtime()
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", RELAY_PORT))
    rx.settimeout(0.2)
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
    dst_port = PHONES["c"][1]
    while not stop.is_set():
        try:
            data, (_, src_port) = rx.recvfrom(65535)
        except socket.timeout:
            continue
        if len(data) >= 12 and data[0] >> 6 == 2:
            n = len(seen) + 1
            drop = n % DROP_EVERY == 0
            seen.append((n, struct.unpack("!H", data[2:4])[0], drop))
            if drop:
                continue
        # UDP header; checksum 0 (none) is allowed over IPv4.
        raw.sendto(struct.pack("!HHHH", src_port, dst_port, 8 + len(data), 0) + data,
                   ("127.0.0.1", 0))
    rx.close()
    raw.close()


def tshark_rtcp(pcap):
    """Every RTCP compound tshark decodes (it finds the RTCP ports in the
    SDP): [(time, sender SSRC or None, SR NTP middle 32 bits or None,
    [report blocks])], a block {ssrc, fraction, cum_nr, jitter, lsr, dlsr}."""
    out = subprocess.run(["tshark", "-n", "-r", pcap, "--disable-protocol", "stun", "-Y", "rtcp",
                          "-T", "json", "--no-duplicate-keys"],
                         capture_output=True, text=True, check=True).stdout
    packets = []
    for frame in json.loads(out):
        layers = frame["_source"]["layers"]
        parts = layers["rtcp"] if isinstance(layers["rtcp"], list) else [layers["rtcp"]]
        t = float(layers["frame"]["frame.time_epoch"])
        sender, ntp_mid, blocks = None, None, []
        for p in parts:
            if p.get("rtcp.pt") in ("200", "201"):
                sender = int(p["rtcp.senderssrc"], 16)
            if p.get("rtcp.pt") == "200":
                msw, lsw = int(p["rtcp.timestamp.ntp.msw"]), int(p["rtcp.timestamp.ntp.lsw"])
                ntp_mid = ((msw & 0xFFFF) << 16) | (lsw >> 16)
            for key, b in p.items():
                if key.startswith("Source ") and isinstance(b, dict):
                    blocks.append({"ssrc": int(b["rtcp.ssrc.identifier"], 16),
                                   "fraction": int(b["SSRC contents"]["rtcp.ssrc.fraction"]),
                                   "cum_nr": int(b["SSRC contents"]["rtcp.ssrc.cum_nr"]),
                                   "jitter": int(b["rtcp.ssrc.jitter"]),
                                   "lsr": int(b["rtcp.ssrc.lsr"]),
                                   "dlsr": int(b["rtcp.ssrc.dlsr"])})
        packets.append((t, sender, ntp_mid, blocks))
    return packets


def rtcp_expected(packets, ssrc, clock=8000):
    """What docs/METRICS.md says sipman keeps of the RTCP about `ssrc`, from
    tshark's fields: report blocks, the last one's fraction lost in % and
    cumulative lost, the highest jitter in ms; and the round trips: a block
    about `ssrc` whose LSR is the middle 32 bits of the NTP time of the last
    SR `ssrc` sent (seen at t), seen at t' after DLSR d: t' - t - d.
    rtt_ms is the highest of them, one down to -2 ms counted as 0 (sipman's
    DLSR quantum), -1 without one."""
    blocks, rtts, last_sr = [], [], None
    for t, sender, mid, bs in packets:
        if sender == ssrc and mid is not None:
            last_sr = (mid, t)
        for b in bs:
            if b["ssrc"] != ssrc:
                continue
            blocks.append(b)
            if b["lsr"] and last_sr and b["lsr"] == last_sr[0]:
                rtts.append(1000 * (t - last_sr[1] - b["dlsr"] / 65536))
    kept = [max(r, 0.0) for r in rtts if r >= -2]
    return {"reports": len(blocks),
            "fraction_pct": blocks[-1]["fraction"] * 100 / 256 if blocks else 0.0,
            "cum_lost": blocks[-1]["cum_nr"] if blocks else 0,
            "jitter_ms": max((b["jitter"] for b in blocks), default=0) * 1000 / clock,
            "rtts": [round(r, 3) for r in rtts],
            "rtt_ms": max(kept) if kept else -1.0,
            "blocks": [(b["fraction"], b["cum_nr"], b["jitter"]) for b in blocks]}


def tshark_lateness(pcap):
    """{(src port, dst port, SSRC): ms}: the spread of each stream's
    transit (capture time - media time from the RTP timestamp, tshark's
    fields): how far its least punctual packet came behind its most
    punctual one. sipman's fixed buffer measures lateness from the smallest
    transit seen so far (let rise), never below the stream's smallest: it
    discards none of the stream's packets when this is under 50 ms."""
    out = subprocess.run(["tshark", "-n", "-r", pcap, "--disable-protocol", "stun", "-Y", "rtp",
                          "-T", "fields", "-e", "frame.time_epoch", "-e", "udp.srcport",
                          "-e", "udp.dstport", "-e", "rtp.ssrc", "-e", "rtp.timestamp"],
                         capture_output=True, text=True, check=True).stdout
    transits = {}
    for line in out.splitlines():
        t, sport, dport, ssrc, ts = line.split("\t")
        key = (int(sport), int(dport), int(ssrc, 16))
        first = transits.setdefault(key, [int(ts)])
        first.append(float(t) - ((int(ts) - first[0]) % 2**32) / 8000)
    return {k: 1000 * (max(v[1:]) - min(v[1:])) for k, v in transits.items()}


def main():
    """The calls once more when tshark shows that the machine held a phone
    (or the relay) back 40 ms or more: a 50 ms jitter buffer then discards
    packets, and the MOS is no longer the loss's alone (a busy build host;
    the phones and the relay already run at a real-time priority)."""
    sipman, work, modules = sys.argv[1], sys.argv[2], sys.argv[3]
    for n in (1, 2):
        home = os.path.join(work, f"attempt-{n}")
        os.makedirs(home)
        ck, late = attempt(sipman, home, modules)
        if late < 40 or not ck.failed or n == 2:
            return ck.finish()
        print(f"RETRY: a packet came {late:.1f} ms late (tshark): "
              f"{len(ck.failed)} checks failed; the calls again")
    return 1


def attempt(sipman, work, modules):
    """Both calls and every check: (Checks, the highest lateness in ms)."""
    ck = lib.Checks()
    started = time.time()
    late = 0.0

    wav = os.path.join(work, "speech.wav")
    write_wav(wav)
    homes = {"a": write_phone(work, "a", modules, wav), "b": write_phone(work, "b", modules, wav),
             "c": write_phone(work, "c", modules, wav, stun=True)}
    db = os.path.join(work, "media.db")
    pcap = os.path.join(work, "lo.pcap")
    log_path = os.path.join(work, "sipman.log")
    password_file = os.path.join(work, "password")
    with open(password_file, "w") as f:
        f.write(PASSWORD + "\n")
    # Phones and relay at a real-time priority: the build next door must not
    # hold a packet back past the 50 ms jitter buffer (a discard lowers MOS).
    rt = ["chrt", "-f", "10"] if subprocess.run(["chrt", "-f", "10", "true"]).returncode == 0 else []

    procs = {}
    stop = threading.Event()
    asked, seen = [], []
    threads = [threading.Thread(target=stun_server, args=(stop, asked)),
               threading.Thread(target=relay, args=(stop, seen))]
    ctrl = None
    try:
        with open(os.path.join(work, "tcpdump.err"), "w") as err:
            procs["tcpdump"] = subprocess.Popen(["tcpdump", "-i", "lo", "-n", "-U", "-w", pcap, "udp"],
                                                stdout=subprocess.DEVNULL, stderr=err)
        with open(os.path.join(work, "sipman.out"), "w") as out:
            # The sensor sits behind the lossy link: the relay's port (and the
            # STUN server's) is not seen.
            procs["sipman"] = subprocess.Popen(
                [sipman, "run", "-i", "lo", "--db", db,
                 "-f", f"udp and not udp port {RELAY_PORT} and not udp port {STUN_PORT}",
                 "--log", log_path, "--listen", f"127.0.0.1:{WEB_PORT}",
                 "--admin-password-file", password_file],
                stdout=out, stderr=subprocess.STDOUT)
        if not lib.wait_for(os.path.join(work, "tcpdump.err"), r"listening on lo", 10):
            ck.check("tcpdump -i lo starts", False, open(os.path.join(work, "tcpdump.err")).read())
            return ck, late
        if not lib.wait_for(log_path, r"capturing on lo", 10):
            ck.check("sipman run -i lo starts capturing", False, open(log_path).read()
                     if os.path.exists(log_path) else "no log")
            return ck, late
        for t in threads:
            t.start()
        for name, home in homes.items():
            with open(os.path.join(work, f"baresip-{name}.log"), "w") as out:
                procs[name] = subprocess.Popen([*rt, "baresip", "-f", home],
                                               stdout=out, stderr=subprocess.STDOUT)
        # Every phone up: its ctrl_tcp socket accepts.
        try:
            for name in ("c", "b"):
                Ctrl(PHONES[name][2]).close()
            ctrl = Ctrl(PHONES["a"][2])
        except OSError as e:
            logs = "".join(open(os.path.join(work, f"baresip-{n}.log"), errors="replace").read()[-600:]
                           for n in homes)
            ck.check("the three baresip phones start (ctrl_tcp accepts)", False, f"{e}: {logs}")
            return ck, late
        for callee in ("b", "c"):
            reply = ctrl.command("dial", f"sip:{callee}@127.0.0.1:{PHONES[callee][0]}")
            established = ctrl.wait_event("CALL_ESTABLISHED", 10)
            if not ck.check(f"A -> {callee.upper()}: baresip dials and the call is answered",
                            reply is not None and reply.get("ok") and established is not None,
                            f"{reply} {ctrl.events}"):
                return ck, late
            time.sleep(CALL_SECONDS)
            reply = ctrl.command("hangup")
            closed = ctrl.wait_event("CALL_CLOSED", 10)
            ck.check(f"A -> {callee.upper()}: A hangs up", closed is not None, f"{reply} {ctrl.events}")
            time.sleep(0.5)  # the RTCP BYEs and the 200 OK to the BYE
        ctrl.close()
        ctrl = None
        for name in ("a", "b", "c"):
            lib.stop(procs.pop(name))
        stop.set()
        for t in threads:
            t.join()
        time.sleep(0.5)
        lib.stop(procs.pop("tcpdump"))

        # The oracles.
        streams = media_tshark_test.tshark_streams(pcap)
        rtcp = tshark_rtcp(pcap)
        lateness = tshark_lateness(pcap)
        late = max(v for k, v in lateness.items() if k[1] != RELAY_PORT)
        visible = [s for s in streams if int(s["dport"]) != RELAY_PORT]
        # /metrics: the media counters are live (the calls' MOS histogram
        # waits for the 32 s linger, which SIGTERM cuts short).
        code, body, headers = lib.http(WEB_PORT, "/api/v1/login",
                                       data={"username": "admin", "password": PASSWORD})
        cookie = (headers.get("Set-Cookie") or "").split(";")[0] if code == 200 else None
        ck.check("login to the web API", code == 200, f"{code} {body[:200]}")
        want_rtp, want_rtcp = sum(int(s["pkts"]) for s in visible), len(rtcp)
        deadline, metrics = time.time() + 10, ""
        while time.time() < deadline:
            _, metrics, _ = lib.http(WEB_PORT, "/metrics", cookie=cookie)
            if (re.search(rf"^sipman_media_rtp_packets_total {want_rtp}$", metrics, re.M) and
                    re.search(rf"^sipman_media_rtcp_packets_total {want_rtcp}$", metrics, re.M)):
                break
            time.sleep(0.5)
        ck.check(f"/metrics: sipman_media_rtp_packets_total {want_rtp} and "
                 f"sipman_media_rtcp_packets_total {want_rtcp}, tshark's RTP packets and RTCP "
                 f"compounds on the sensor's side of the relay",
                 re.search(rf"^sipman_media_rtp_packets_total {want_rtp}$", metrics, re.M) and
                 re.search(rf"^sipman_media_rtcp_packets_total {want_rtcp}$", metrics, re.M),
                 "\n".join(line for line in metrics.splitlines() if line.startswith("sipman_media")))
    finally:
        if ctrl:
            ctrl.close()
        stop.set()
        for t in threads:
            if t.is_alive():
                t.join()
        for name in list(procs):
            if name != "sipman":
                lib.stop(procs.pop(name))
        daemon = procs.pop("sipman", None)
        if daemon:
            lib.stop(daemon, timeout=60)
    if not ck.check("sipman run exits 0 on SIGTERM", daemon is not None and daemon.returncode == 0,
                    str(daemon and daemon.returncode)):
        return ck, late

    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    calls = {r["callee_user"]: dict(r) for r in con.execute("SELECT * FROM calls ORDER BY invite_ts")}
    rows = [dict(r) for r in con.execute("SELECT * FROM rtp_streams ORDER BY first_ts")]
    con.close()
    ck.check("2 calls stored, A -> B and A -> C, both answered",
             sorted(calls) == ["b", "c"] and all(c["state"] == "answered" and c["caller_user"] == "a"
                                                 for c in calls.values()),
             [(c["caller_user"], c["callee_user"], c["state"]) for c in calls.values()])
    if sorted(calls) != ["b", "c"]:
        return ck, late

    def tshark_stream(src_port, dst_port, ssrc):
        return [s for s in streams if (int(s["sport"]), int(s["dport"]), int(s["ssrc"], 16)) ==
                (src_port, dst_port, ssrc)]

    def fmt(s):
        keys = ("sender", "src_port", "dst_port", "ssrc", "codec", "packets", "lost", "expected_rfc3550",
                "lost_rfc3550", "loss_pct", "discarded_fixed50", "max_jitter_ms", "mean_jitter_ms",
                "mos_fixed50", "flags", "rtcp_reports", "rtcp_fraction_lost_pct", "rtcp_cumulative_lost",
                "rtcp_jitter_ms", "rtcp_rtt_ms")
        return {k: s.get(k) for k in keys}

    def check_common(label, call, callee_rtp_port):
        """One stream each way joined to the call, on the ports the phones
        use, each agreeing with tshark's stream and tshark's RTCP."""
        mine = [s for s in rows if s["call_id"] == call["call_id"]]
        by = {s["sender"]: s for s in mine}
        a_port = PHONES["a"][1]
        ok = ck.check(f"{label}: one stream each way joined to the call, A's port {a_port} <-> "
                      f"the callee's {callee_rtp_port}",
                      len(mine) == 2 and sorted(by) == ["callee", "caller"] and
                      (by["caller"]["src_port"], by["caller"]["dst_port"]) == (a_port, callee_rtp_port) and
                      (by["callee"]["src_port"], by["callee"]["dst_port"]) == (callee_rtp_port, a_port),
                      [fmt(s) for s in mine])
        if not ok:
            return None
        for side, s in sorted(by.items()):
            t = tshark_stream(s["src_port"], s["dst_port"], s["ssrc"])
            ck.check(f"{label}, {side}'s stream: in tshark's streams once",
                     len(t) == 1, f"{fmt(s)} {streams}")
            if len(t) != 1:
                continue
            t = t[0]
            ck.check(f"{label}, {side}'s stream: codec {s['codec']} (PCMU or PCMA), tshark's {t['payload']}",
                     s["codec"] in TSHARK_CODEC and TSHARK_CODEC[s["codec"]] == t["payload"], fmt(s))
            ck.check(f"{label}, {side}'s stream: packets {s['packets']} and lost {s['lost']} as tshark's "
                     f"({t['pkts']}, {t['lost']})",
                     (s["packets"], s["lost"]) == (int(t["pkts"]), int(t["lost"])), fmt(s))
            ck.check(f"{label}, {side}'s stream: max and mean jitter within 0.01 ms of tshark's "
                     f"({t['max_jitter']}, {t['mean_jitter']})",
                     abs(s["max_jitter_ms"] - float(t["max_jitter"])) <= 0.01 and
                     abs(s["mean_jitter_ms"] - float(t["mean_jitter"])) <= 0.01, fmt(s))
            spread = lateness.get((s["src_port"], s["dst_port"], s["ssrc"]), 99)
            ck.check(f"{label}, {side}'s stream: none discarded by the 50 ms buffer (tshark: the "
                     f"least punctual packet {spread:.1f} ms behind the most punctual)",
                     s["discarded_fixed50"] == 0 and spread < 50, fmt(s))
            want = rtcp_expected(rtcp, s["ssrc"])
            ck.check(f"{label}, {side}'s stream: the receiving phone's RTCP reports on it "
                     f"({want['reports']} report blocks in tshark's RTCP)",
                     want["reports"] > 0 and s["rtcp_reports"] == want["reports"],
                     f"{fmt(s)} tshark {want}")
            ck.check(f"{label}, {side}'s stream: RTCP fraction lost {want['fraction_pct']:.3f} %, "
                     f"cumulative lost {want['cum_lost']} and jitter {want['jitter_ms']:.3f} ms "
                     f"(the highest) as tshark decodes the blocks",
                     abs(s["rtcp_fraction_lost_pct"] - want["fraction_pct"]) <= 0.01 and
                     s["rtcp_cumulative_lost"] == want["cum_lost"] and
                     abs(s["rtcp_jitter_ms"] - want["jitter_ms"]) <= 0.01,
                     f"{fmt(s)} tshark {want}")
            # Loopback: the true round trip is well under 1 ms, but baresip's
            # DLSR counts whole milliseconds of its timer (libre calc_dlsr:
            # tmr_jiffies), so a pair reads up to 1 ms low: negative at times.
            ck.check(f"{label}, {side}'s stream: its sender's SRs answered (tshark: round trips "
                     f"{want['rtts']} ms, each between -1 and 20 ms on loopback)",
                     want["rtts"] and all(-1 < r < 20 for r in want["rtts"]), f"tshark {want}")
            ck.check(f"{label}, {side}'s stream: RTCP round trip {want['rtt_ms']:.3f} ms, the highest "
                     f"of those, down to -2 ms as 0 (-1 when none)",
                     abs(s["rtcp_rtt_ms"] - want["rtt_ms"]) <= 0.01, f"{fmt(s)} tshark {want}")
        ck.check(f"{label}: the call's columns are its streams' (codec, packets, lost)",
                 (call["caller_rtp_codec"], call["callee_rtp_codec"], call["caller_rtp_packets"],
                  call["callee_rtp_packets"], call["caller_rtp_lost"], call["callee_rtp_lost"],
                  call["rtp_streams"]) ==
                 (by["caller"]["codec"], by["callee"]["codec"], by["caller"]["packets"],
                  by["callee"]["packets"], by["caller"]["lost_rfc3550"], by["callee"]["lost_rfc3550"], 2),
                 {k: v for k, v in call.items() if "rtp" in k or "mos" in k or "media_flags" in k})
        return by

    ck.check("4 RTP streams stored, each joined to one of the calls",
             len(rows) == 4 and all(s["call_id"] in (calls["b"]["call_id"], calls["c"]["call_id"])
                                    for s in rows), [fmt(s) for s in rows])

    # 1. The clean call.
    clean = calls["b"]
    by = check_common("clean call", clean, PHONES["b"][1])
    clean_mos = None
    if by:
        for side, s in sorted(by.items()):
            ck.check(f"clean call, {side}'s stream: nothing lost (RFC 3550: expected = packets)",
                     (s["lost"], s["lost_rfc3550"], s["expected_rfc3550"]) == (0, 0, s["packets"]), fmt(s))
            ck.check(f"clean call, {side}'s stream: G.711 without loss scores MOS >= 4.3 (G.107: "
                     f"{g107_mos(0):.3f}, within 0.01)",
                     s["mos_fixed50"] >= 4.3 and abs(s["mos_fixed50"] - g107_mos(0)) <= 0.01, fmt(s))
            ck.check(f"clean call, {side}'s stream: no flags, RTCP fraction lost 0",
                     s["flags"] == "" and s["rtcp_fraction_lost_pct"] == 0, fmt(s))
        ck.check("clean call: no media flags, MOS (min per side and of the call) >= 4.3",
                 clean["media_flags"] == "" and min(clean["caller_mos_min"], clean["callee_mos_min"],
                                                    clean["mos_min"]) >= 4.3,
                 {k: v for k, v in clean.items() if "mos" in k or "media_flags" in k})
        clean_mos = by["caller"]["mos_fixed50"]

    # 2. The call through the lossy relay.
    lossy = calls["c"]
    ck.check("lossy call: C asked the STUN server for its RTP and RTCP ports, was told the relay's "
             "for RTP", sorted(set(asked)) == [(PHONES["c"][1], RELAY_PORT), (PHONES["c"][1] + 1,
                                                                          PHONES["c"][1] + 1)], asked)
    consecutive = all((b[1] - a[1]) % 65536 == 1 for a, b in zip(seen, seen[1:]))
    dropped = [n for n, _, d in seen if d]
    forwarded = [n for n, _, d in seen if not d]
    # The receiver counts a drop as lost when a later packet came through.
    lost_expected = sum(1 for n in dropped if forwarded and n < forwarded[-1])
    expected = forwarded[-1] - forwarded[0] + 1 if forwarded else 0
    ck.check(f"lossy call: the relay saw A's RTP in sequence and dropped every {DROP_EVERY}th "
             f"({len(dropped)} of {len(seen)}, {lost_expected} before its last forwarded)",
             consecutive and len(seen) > 400 and len(dropped) == len(seen) // DROP_EVERY,
             f"{len(seen)} seen, {len(dropped)} dropped, consecutive {consecutive}")
    pre = [s for s in streams if (int(s["sport"]), int(s["dport"])) == (PHONES["a"][1], RELAY_PORT)]
    ck.check("lossy call: tshark sees all of A's packets on the way to the relay",
             len(pre) == 1 and int(pre[0]["pkts"]) == len(seen) and int(pre[0]["lost"]) == 0, pre)
    by = check_common("lossy call", lossy, PHONES["c"][1])
    if by:
        s = by["caller"]
        loss_pct = 100.0 * lost_expected / expected
        ck.check(f"lossy call, caller's stream: packets {len(forwarded)} (what the relay forwarded), "
                 f"lost {lost_expected} of {expected} (its drops; RFC 3550 and Wireshark's)",
                 (s["packets"], s["lost"], s["lost_rfc3550"], s["expected_rfc3550"]) ==
                 (len(forwarded), lost_expected, lost_expected, expected), fmt(s))
        ck.check(f"lossy call, caller's stream: loss {loss_pct:.3f} % (stream and call)",
                 abs(s["loss_pct"] - loss_pct) <= 0.001 and
                 abs(lossy["caller_rtp_loss_pct"] - loss_pct) <= 0.001,
                 f"{fmt(s)} call {lossy['caller_rtp_loss_pct']}")
        want = g107_mos(loss_pct)
        ck.check(f"lossy call, caller's stream: MOS within 0.01 of G.107's {want:.3f} for "
                 f"{loss_pct:.2f} % random loss (G.711 with PLC: Ie 0, Bpl 25.1, BurstR 1)",
                 abs(s["mos_fixed50"] - want) <= 0.01 and abs(lossy["caller_mos_min"] - want) <= 0.01,
                 f"{fmt(s)} call {lossy['caller_mos_min']}")
        ck.check("lossy call: its MOS at least 0.9 below the clean call's, and the call's mos_min",
                 clean_mos is not None and s["mos_fixed50"] <= clean_mos - 0.9 and
                 lossy["mos_min"] == s["mos_fixed50"], f"{fmt(s)} clean {clean_mos} call {lossy['mos_min']}")
        # A report covers 5 s, about 250 packets, 24 to 26 of them dropped:
        # fraction lost 24/256 to 26/256 (9.4 to 10.2 %).
        want = rtcp_expected(rtcp, s["ssrc"])
        ck.check("lossy call, caller's stream: C's RTCP reports the loss (fraction lost between 8 and "
                 "12 %, cumulative lost > 0)",
                 8 <= s["rtcp_fraction_lost_pct"] <= 12 and s["rtcp_cumulative_lost"] > 0,
                 f"{fmt(s)} tshark {want}")
        o = by["callee"]
        ck.check("lossy call, callee's stream: whole (lost 0), MOS >= 4.3",
                 (o["lost"], o["lost_rfc3550"]) == (0, 0) and o["mos_fixed50"] >= 4.3 and
                 lossy["callee_mos_min"] >= 4.3, fmt(o))
        # C sends from its real port, not the relay's it announced: media
        # from another address and port than the SDP named.
        ck.check("lossy call: the callee's RTP flagged as from an unexpected source (only)",
                 o["flags"] == "unexpected_source" and s["flags"] == "" and
                 lossy["media_flags"] == "unexpected_source", f"{fmt(o)} call {lossy['media_flags']}")
    for s in rows:
        print("stream", fmt(s))
    for callee, c in sorted(calls.items()):
        print(f"call A -> {callee.upper()}",
              {k: v for k, v in c.items() if "rtp" in k or "mos" in k or k == "media_flags"})
    print(f"elapsed {time.time() - started:.1f} s")
    return ck, late


if __name__ == "__main__":
    sys.exit(main())
