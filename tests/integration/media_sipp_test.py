#!/usr/bin/env python3
"""Real media endpoints (media_sipp_test.sh): two SIPp calls one after the
other, each side playing /usr/share/sip-tester/g711a.pcap after the ACK
(SIPp's play_pcap_audio: 236 RTP packets of PCMA, 30 ms apart), while
`sipman run -i lo` captures. SIPp reuses its media ports and the capture's
SSRC in every call, so the second call's SDP must end the first call's
streams. Expected in each call's record: both directions 236 packets, 0
lost, codec PCMA, MOS >= 4.3, no flags, 2 streams.

usage: media_sipp_test.py SIPMAN WORKDIR
"""
import os
import signal
import sqlite3
import subprocess
import sys
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


def main():
    sipman, work = sys.argv[1], sys.argv[2]
    failures = []

    def check(what, ok, detail=""):
        print(("PASS " if ok else "FAIL ") + what + ("" if ok else f": {detail}"))
        if not ok:
            failures.append(what)

    for name, text in (("uac.xml", UAC), ("uas.xml", UAS)):
        with open(os.path.join(work, name), "w") as f:
            f.write(text)
    db = os.path.join(work, "media.db")
    log_path = os.path.join(work, "sipman.log")
    with open(os.path.join(work, "sipman.out"), "w") as out:
        daemon = subprocess.Popen([sipman, "run", "--no-web", "-i", "lo", "--db", db,
                                   "--log", log_path], stdout=out, stderr=subprocess.STDOUT)
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
        time.sleep(1)
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
    check(f"{CALLS} answered calls stored", [r[1] for r in rows] == ["answered"] * CALLS, rows)
    for n, r in enumerate(rows, 1):
        (call_id, _, codec_a, codec_b, packets_a, packets_b, lost_a, lost_b, mos_a, mos_b, mos,
         streams, flags, first_rtp) = r
        name = f"call {n}"
        check(f"{name}: both directions PCMA", (codec_a, codec_b) == ("PCMA", "PCMA"), r)
        check(f"{name}: {PACKETS} packets each way", (packets_a, packets_b) == (PACKETS, PACKETS), r)
        check(f"{name}: nothing lost", (lost_a, lost_b) == (0, 0), r)
        check(f"{name}: 2 streams, no flags", (streams, flags) == (2, ""), r)
        check(f"{name}: G.711 without loss scores MOS >= 4.3", mos_a >= 4.3 and mos_b >= 4.3 and
              mos >= 4.3, r)
        check(f"{name}: first RTP within 100 ms of the answer", 0 <= first_rtp <= 100, r)
    print(f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
