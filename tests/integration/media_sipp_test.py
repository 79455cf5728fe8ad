#!/usr/bin/env python3
"""Real media endpoints (media_sipp_test.sh): two SIPp calls one after the
other, each side playing /usr/share/sip-tester/g711a.pcap after the ACK
(SIPp's play_pcap_audio: 236 RTP packets of PCMA, 30 ms apart), while
`sipman run -i lo` captures. SIPp reuses its media ports and the capture's
SSRC in every call, so the second call's SDP must end the first call's
streams. Expected in each call's record: both directions 236 packets, 0
lost, codec PCMA, MOS >= 4.3, no flags, 2 streams.

Then a third call through a lossy relay of the test's own: the callee's SDP
names the relay's port, the relay drops every 20th packet and sends the rest
on to the callee's real media port from the caller's address and port (a
raw socket), and sipman's capture filter leaves out the relay's port, as a
sensor behind a lossy link would. The caller's direction must show exactly
the relay's drops as lost, and a MOS within 0.05 of G.107 for that loss
(the E-model written here from G.107's formulas), lower than the other
direction's.

usage: media_sipp_test.py SIPMAN WORKDIR
"""
import os
import re
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import analyze_lib as lib  # noqa: E402

AUDIO = "/usr/share/sip-tester/g711a.pcap"
PACKETS = 236
CALLS = 2

UAC = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="uac call playing g711a.pcap">
  <send retrans="500"><![CDATA[
INVITE sip:service@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:alice@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:service@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:alice@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=alice 1 1 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 8 101
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rtd="true"/>
  <send><![CDATA[
ACK sip:service@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:alice@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:service@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

]]></send>
  <nop><action><exec play_pcap_audio="AUDIO"/></action></nop>
  <pause milliseconds="7800"/>
  <send retrans="500"><![CDATA[
BYE sip:service@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:alice@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:service@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 BYE
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200" crlf="true"/>
  <pause milliseconds="500"/>
</scenario>
""".replace("AUDIO", AUDIO)

UAS = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="uas answer playing g711a.pcap">
  <recv request="INVITE"/>
  <send retrans="500"><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTagS[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port]>
Content-Type: application/sdp
Content-Length: [len]

v=0
o=uas 1 1 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 8
a=rtpmap:8 PCMA/8000
]]></send>
  <recv request="ACK"/>
  <nop><action><exec play_pcap_audio="AUDIO"/></action></nop>
  <recv request="BYE"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
</scenario>
""".replace("AUDIO", AUDIO)


WEB_PORT = 18580
PASSWORD = "media-test-password"


def http(path, cookie=None, data=None):
    return lib.http(WEB_PORT, path, cookie, data)


RELAY_PORT = 16500      # what the lossy call's callee announces
LOSSY_MEDIA_PORT = 16100  # where that callee's SIPp really receives
DROP_EVERY = 20


def relay(stop, counts):
    """Receives the caller's RTP on RELAY_PORT, drops every DROP_EVERY-th
    packet, and sends the rest to LOSSY_MEDIA_PORT with the caller's own
    source port, so that the hop sipman sees looks like the caller's."""
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", RELAY_PORT))
    rx.settimeout(0.2)
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
    n = 0
    while not stop.is_set():
        try:
            data, (_, src_port) = rx.recvfrom(65535)
        except socket.timeout:
            continue
        n += 1
        if n % DROP_EVERY == 0:
            counts["dropped"] += 1
            continue
        # UDP header; checksum 0 (none) is allowed over IPv4.
        raw.sendto(struct.pack("!HHHH", src_port, LOSSY_MEDIA_PORT, 8 + len(data), 0) + data,
                   ("127.0.0.1", 0))
        counts["forwarded"] += 1
    rx.close()
    raw.close()


def g107_mos(loss_percent, ie=0.0, bpl=25.1, burst_ratio=1.0):
    """ITU-T G.107 with its default values: R = Ro - Is - Id - Ie,eff + A,
    at the defaults Ro - Is = 93.2 and Id = 0 below 100 ms; then Annex B."""
    ie_eff = ie + (95 - ie) * loss_percent / (loss_percent / burst_ratio + bpl)
    r = 93.2 - ie_eff
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    return 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6


def main():
    sipman, work = sys.argv[1], sys.argv[2]
    failures = []
    metrics = ""  # /metrics as read after the calls (checked against the database)

    def check(what, ok, detail=""):
        print(("PASS " if ok else "FAIL ") + what + ("" if ok else f": {detail}"))
        if not ok:
            failures.append(what)

    for name, text in (("uac.xml", UAC), ("uas.xml", UAS)):
        with open(os.path.join(work, name), "w") as f:
            f.write(text)
    db = os.path.join(work, "media.db")
    log_path = os.path.join(work, "sipman.log")
    lossy_uas = UAS.replace("m=audio [media_port] ", f"m=audio {RELAY_PORT} ")
    with open(os.path.join(work, "uas-lossy.xml"), "w") as f:
        f.write(lossy_uas)
    password_file = os.path.join(work, "password")
    with open(password_file, "w") as f:
        f.write(PASSWORD + "\n")
    with open(os.path.join(work, "sipman.out"), "w") as out:
        # The sensor sits behind the lossy link: the relay's port is not seen.
        daemon = subprocess.Popen([sipman, "run", "-i", "lo", "--db", db,
                                   "-f", f"not udp port {RELAY_PORT}", "--log", log_path,
                                   "--listen", f"127.0.0.1:{WEB_PORT}",
                                   "--admin-password-file", password_file],
                                  stdout=out, stderr=subprocess.STDOUT)
    try:
        if not lib.wait_for(log_path, r"capturing on lo", 10):
            check("sipman run -i lo starts capturing", False, open(log_path).read()
                  if os.path.exists(log_path) else "no log")
            return 1
        common = ["-i", "127.0.0.1", "-nostdin", "-timeout", "60s", "-timeout_error"]
        uas = subprocess.Popen(["sipp", "-sf", os.path.join(work, "uas.xml"), "-p", "5071",
                                "-mp", "16000", "-m", str(CALLS), *common],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        uac = subprocess.run(["sipp", "127.0.0.1:5071", "-sf", os.path.join(work, "uac.xml"),
                              "-p", "5081", "-mp", "18000", "-m", str(CALLS), "-l", "1",
                              "-r", "1", *common], capture_output=True, text=True)
        check("SIPp's calls all succeed", uac.returncode == 0, uac.stdout[-1500:] + uac.stderr[-800:])
        try:
            uas.wait(timeout=20)
        except subprocess.TimeoutExpired:
            uas.kill()
            uas.wait()
        # The third call, through the relay.
        stop, counts = threading.Event(), {"dropped": 0, "forwarded": 0}
        thread = threading.Thread(target=relay, args=(stop, counts))
        thread.start()
        uas = subprocess.Popen(["sipp", "-sf", os.path.join(work, "uas-lossy.xml"), "-p", "5073",
                                "-mp", str(LOSSY_MEDIA_PORT), "-m", "1", *common],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        uac = subprocess.run(["sipp", "127.0.0.1:5073", "-sf", os.path.join(work, "uac.xml"),
                              "-p", "5081", "-mp", "18000", "-m", "1", *common],
                             capture_output=True, text=True)
        check("the call through the relay succeeds", uac.returncode == 0,
              uac.stdout[-1500:] + uac.stderr[-800:])
        try:
            uas.wait(timeout=20)
        except subprocess.TimeoutExpired:
            uas.kill()
            uas.wait()
        stop.set()
        thread.join()
        check(f"the relay dropped every {DROP_EVERY}th packet",
              counts["dropped"] == PACKETS // DROP_EVERY and
              counts["forwarded"] == PACKETS - PACKETS // DROP_EVERY, counts)
        time.sleep(1)
        # The three calls end after their linger (32 s) while sipman runs;
        # /metrics then has their MOS and loss histograms.
        code, body, headers = http("/api/v1/login", data={"username": "admin", "password": PASSWORD})
        cookie = (headers.get("Set-Cookie") or "").split(";")[0] if code == 200 else None
        check("login to the web API", code == 200, f"{code} {body[:200]}")
        deadline = time.time() + 60
        while time.time() < deadline:
            _, metrics, _ = http("/metrics", cookie=cookie)
            if re.search(r"^sipman_call_mos_count 3$", metrics, re.M):
                break
            time.sleep(1)
        check("/metrics: sipman_call_mos counts the 3 calls",
              re.search(r'^sipman_call_mos_count 3$', metrics, re.M) is not None,
              "\n".join(line for line in metrics.splitlines() if "mos" in line))
        check("/metrics: sipman_rtp_loss_percent has the 6 directions, 5 without loss",
              re.search(r'^sipman_rtp_loss_percent_count 6$', metrics, re.M) is not None and
              re.search(r'^sipman_rtp_loss_percent_bucket\{le="0"\} 5$', metrics, re.M)
              is not None,
              "\n".join(line for line in metrics.splitlines() if "loss" in line))
        check("/metrics: sipman_media_rtp_packets_total counts every RTP packet",
              re.search(rf"^sipman_media_rtp_packets_total {6 * PACKETS - PACKETS // DROP_EVERY}$",
                        metrics, re.M) is not None,
              "\n".join(line for line in metrics.splitlines() if "sipman_media" in line))
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
    check("sipman run exits 0 on SIGTERM", daemon.returncode == 0, str(daemon.returncode))
    con = sqlite3.connect(db)
    rows = con.execute(
        "SELECT call_id, state, caller_rtp_codec, callee_rtp_codec, caller_rtp_packets,"
        " callee_rtp_packets, caller_rtp_lost, callee_rtp_lost, caller_mos_min, callee_mos_min,"
        " mos_min, rtp_streams, media_flags, first_rtp_ms FROM calls ORDER BY invite_ts").fetchall()
    check(f"{CALLS + 1} answered calls stored", [r[1] for r in rows] == ["answered"] * (CALLS + 1),
          rows)
    # The histogram's le="4.3" bucket holds the stored calls whose lowest MOS
    # is 4.3 or less (the lossy one; a clean one too if the machine was so
    # busy that packets came too late for the buffer: see below).
    at_most = sum(1 for r in rows if r[10] <= 4.3)
    check(f"/metrics: sipman_call_mos's le=\"4.3\" bucket holds the {at_most} stored calls at 4.3 or less",
          re.search(r'^sipman_call_mos_bucket\{le="4.3"\} %d$' % at_most, metrics, re.M) is not None,
          "\n".join(line for line in metrics.splitlines() if "mos_bucket" in line))
    lossy = rows[CALLS:]
    rows = rows[:CALLS]
    for r in lossy:
        (_, _, codec_a, codec_b, packets_a, packets_b, lost_a, lost_b, mos_a, mos_b, mos,
         streams, flags, _) = r
        dropped = PACKETS // DROP_EVERY
        check("lossy call: the caller's packets are what the relay forwarded",
              packets_a == PACKETS - dropped, r)
        check(f"lossy call: the caller's lost are the relay's {dropped} drops", lost_a == dropped, r)
        check("lossy call: the callee's direction is whole", (packets_b, lost_b) == (PACKETS, 0), r)
        # The stream's own row: how many packets a busy machine delivered too
        # late for the 50 ms buffer, and the burst ratio, both in G.107's Ppl.
        stream = con.execute("SELECT discarded_fixed50, burst_ratio, lost_rfc3550 FROM rtp_streams"
                             " WHERE call_id = ? AND sender = 'caller'", (r[0],)).fetchall()
        check("lossy call: the caller's stream is stored with its loss",
              len(stream) == 1 and stream[0][2] == dropped, stream)
        late, burst = (stream[0][0], max(1.0, stream[0][1])) if len(stream) == 1 else (0, 1.0)
        expected = g107_mos(100.0 * (dropped + late) / PACKETS, burst_ratio=burst)
        check(f"lossy call: the caller's MOS follows G.107 ({expected:.3f} +- 0.05; "
              f"{dropped} dropped, {late} late, BurstR {burst:.2f})",
              abs(mos_a - expected) <= 0.05, r)
        check("lossy call: lower than the whole direction's", mos_a < mos_b - 0.3 and mos == mos_a, r)
        # The callee sends from its real port, not the relay's it announced:
        # media from another address and port than the SDP named.
        check("lossy call: the callee's RTP flagged as from an unexpected source",
              flags == "unexpected_source" and streams == 2, r)
    for n, r in enumerate(rows, 1):
        (call_id, _, codec_a, codec_b, packets_a, packets_b, lost_a, lost_b, mos_a, mos_b, mos,
         streams, flags, first_rtp) = r
        name = f"call {n}"
        check(f"{name}: both directions PCMA", (codec_a, codec_b) == ("PCMA", "PCMA"), r)
        check(f"{name}: {PACKETS} packets each way", (packets_a, packets_b) == (PACKETS, PACKETS), r)
        check(f"{name}: nothing lost", (lost_a, lost_b) == (0, 0), r)
        check(f"{name}: 2 streams, no flags", (streams, flags) == (2, ""), r)
        # On time, lossless G.711 scores 4.41. A loaded machine may hand SIPp's
        # packets over more than 50 ms late: the buffer discards them, and the
        # MOS must then be G.107's for that share instead.
        late = dict(con.execute("SELECT sender, discarded_fixed50 FROM rtp_streams WHERE call_id = ?",
                                (call_id,)).fetchall())
        if not any(late.values()):
            check(f"{name}: G.711 without loss scores MOS >= 4.3", mos_a >= 4.3 and mos_b >= 4.3 and
                  mos >= 4.3, r)
        else:
            for side, m in (("caller", mos_a), ("callee", mos_b)):
                want = g107_mos(100.0 * late.get(side, 0) / PACKETS)
                check(f"{name}: {side}'s MOS is G.107's for its {late.get(side, 0)} late packets "
                      f"({want:.3f} +- 0.05; the machine was busy)", abs(m - want) <= 0.05, r)
        check(f"{name}: first RTP within 100 ms of the answer", 0 <= first_rtp <= 100, r)
    print(f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
