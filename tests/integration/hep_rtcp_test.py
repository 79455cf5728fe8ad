#!/usr/bin/env python3
"""HEP RTCP joined to its call; see hep_rtcp_test.sh."""
import json
import os
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import analyze_lib as lib  # noqa: E402
from api_golden_test import load_fixture_builders  # noqa: E402
from media_truth_test import g107_mos, g107_r  # noqa: E402

HEP_CORRELATION_ID = 0x11
MS = 1_000_000


def sdp(ip, port):
    """An answer/offer whose first format is PCMA: the codec an RTCP-only
    stream is measured by."""
    return ("v=0\r\no=- 7 7 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
            "m=audio %d RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n"
            "a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n" % (ip, ip, port)).encode()


def report(ssrc, sent, about, lost, jitter, fraction):
    """Asterisk's rendering (main/rtp_engine.c): numbers, "lsr" as a string."""
    return json.dumps({
        "ssrc": ssrc, "type": 200, "report_count": 1,
        "sender_information": {"ntp_timestamp_sec": "3900000000", "ntp_timestamp_usec": "500000",
                               "rtp_timestamp": 48000, "packets": sent, "octets": sent * 160},
        "report_blocks": [{"source_ssrc": about, "fraction_lost": fraction, "packets_lost": lost,
                           "highest_seq_no": 3000, "ia_jitter": jitter, "lsr": "0", "dlsr": 0}],
    }, separators=(",", ":")).encode()


def raw_sr(ssrc, sent, about, lost, jitter):
    """The same facts as RTCP on the wire: an SR with one report block."""
    return (struct.pack("!BBH", 0x81, 200, 12) + struct.pack("!IIIIII", ssrc, 3900000000, 0, 48000,
                                                             sent, sent * 160)
            + struct.pack("!IIIIII", about, (0 << 24) | lost, 3000, jitter, 0, 0))


def hep_packets(m):
    """[(ts_ns, hep bytes)]: the call's SIP, then four RTCP reports (JSON and
    raw) from both endpoints' RTCP ports, HEP correlation ID = Call-ID."""
    caller, callee = m.UA("amy", "192.0.2.171", 5060), m.UA("bert", "192.0.2.172", 5060)
    call_id = "hep-rtcp-1@192.0.2.171"
    d = m.Dialog(call_id, caller, callee)
    sip = d.basic_call(offer=sdp(caller.ip, 30000), answer=sdp(callee.ip, 32000))
    t0 = m.T0_NS + 900_000 * MS
    out = []
    times = [0, 20, 40, 60, 80, 30_000, 30_020]  # answered at 60 ms, BYE after 30 s
    for (from_caller, raw), at in zip(sip, times):
        a, b = (caller, callee) if from_caller else (callee, caller)
        out.append((t0 + at * MS, m.hep3(a.ip, a.port, b.ip, b.port, t0 + at * MS, raw, 3001)))

    def rtcp(at_ms, from_caller, payload):
        a, ap, b, bp = ((caller.ip, 30001, callee.ip, 32001) if from_caller
                        else (callee.ip, 32001, caller.ip, 30001))
        packet = m.hep3(a, ap, b, bp, t0 + at_ms * MS, payload, 3001,
                        extra=[m.hep3_chunk(HEP_CORRELATION_ID, call_id.encode())])
        # make-test-pcaps' hep3 writes payload type 1 (SIP): this is RTCP (5).
        marker = m.hep3_chunk(m.HEP_PROTO_TYPE, b"\x01")
        assert packet.count(marker) == 1
        out.append((t0 + at_ms * MS, packet.replace(marker, m.hep3_chunk(m.HEP_PROTO_TYPE, b"\x05"))))
    # The callee received 1450 of the caller's 1500 (50 lost, jitter 80 units
    # = 10 ms); the caller received all 1490 of the callee's.
    rtcp(10_000, False, report(0xBBBB0002, 1000, 0xAAAA0001, 20, 40, 5))
    rtcp(10_010, True, raw_sr(0xAAAA0001, 1000, 0xBBBB0002, 0, 8))
    rtcp(29_000, False, report(0xBBBB0002, 1490, 0xAAAA0001, 50, 80, 8))
    rtcp(29_010, True, report(0xAAAA0001, 1500, 0xBBBB0002, 0, 8, 0))
    out.sort(key=lambda p: p[0])
    return m, out, call_id


def streams(db):
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    rows = [dict(r) for r in con.execute(
        "SELECT call_id, sender, src_ip, src_port, dst_ip, dst_port, ssrc, codec, packets, "
        "expected_rfc3550, lost_rfc3550, loss_pct, rtcp_reports, rtcp_cumulative_lost, "
        "rtcp_jitter_ms, max_jitter_ms, mos_fixed50, flags FROM rtp_streams ORDER BY ssrc")]
    call = dict(con.execute(
        "SELECT state, caller_rtp_codec, caller_rtp_packets, caller_rtp_lost, callee_rtp_packets, "
        "callee_rtp_lost, caller_mos_min, callee_mos_min, rtp_streams, media_flags FROM calls").fetchone())
    con.close()
    return rows, call


def check_db(ck, label, db, call_id):
    rows, call = streams(db)
    want_mos = g107_mos(g107_r(0, 25.1, 100.0 * 50 / 1550, 1.0))
    ck.check(f"{label}: two RTCP-only streams stored", len(rows) == 2, rows)
    if len(rows) != 2:
        return
    a, b = rows  # 0xAAAA0001 (the caller's), 0xBBBB0002 (the callee's)
    ck.check(f"{label}: the caller's stream as its receiver's reports give it",
             a["call_id"] == call_id and a["sender"] == "caller" and a["src_ip"] == "192.0.2.171"
             and a["src_port"] == 30001 and a["dst_port"] == 32001 and a["codec"] == "PCMA"
             and a["packets"] == 1500 and a["lost_rfc3550"] == 50 and a["expected_rfc3550"] == 1550
             and a["rtcp_reports"] == 2 and a["rtcp_cumulative_lost"] == 50
             and a["rtcp_jitter_ms"] == 10.0 and a["flags"] == "rtcp_only", a)
    ck.check(f"{label}: its MOS is G.107's for 50 of 1550 lost on G.711 ({want_mos:.4f})",
             abs(a["mos_fixed50"] - want_mos) < 0.005, a["mos_fixed50"])
    ck.check(f"{label}: the callee's stream: 1490 sent, none lost",
             b["sender"] == "callee" and b["packets"] == 1490 and b["lost_rfc3550"] == 0
             and b["rtcp_jitter_ms"] == 1.0 and b["mos_fixed50"] > 4.4, b)
    ck.check(f"{label}: the call record carries both directions",
             call["state"] == "answered" and call["caller_rtp_codec"] == "PCMA"
             and call["caller_rtp_packets"] == 1500 and call["caller_rtp_lost"] == 50
             and call["callee_rtp_packets"] == 1490 and call["rtp_streams"] == 2
             and abs(call["caller_mos_min"] - want_mos) < 0.005 and call["media_flags"] == "", call)


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    sipman, work = sys.argv[1], sys.argv[2]
    ck = lib.Checks()
    m, packets, call_id = hep_packets(load_fixture_builders())

    # 1. A capture of the HEP traffic, analysed.
    pcap = os.path.join(work, "hep-rtcp.pcap")
    frames = [(ts, m.ip_udp("198.51.100.210", 47000, "198.51.100.220", 9060, h, ident=i))
              for i, (ts, h) in enumerate(packets)]
    with open(pcap, "wb") as f:
        f.write(m.PcapWriter(m.LINKTYPE_ETHERNET).add_all(m.on_ethernet(frames)).bytes())
    db = os.path.join(work, "analyze.db")
    r = subprocess.run([sipman, "analyze", "--db", db, "--json", pcap], capture_output=True, text=True,
                       timeout=60)
    ck.check("sipman analyze exits 0", r.returncode == 0, r.stderr[-2000:])
    if r.returncode == 0:
        check_db(ck, "capture", db, call_id)

    # 2. The same HEP packets, live over UDP.
    port = free_udp_port()
    live_db, log = os.path.join(work, "live.db"), os.path.join(work, "live.log")
    out = open(os.path.join(work, "live.out"), "w")
    run = subprocess.Popen([sipman, "run", "--no-web", "--hep-listen", f"127.0.0.1:{port}", "--db", live_db,
                            "--log", log, "--stats-interval", "0"], stdout=out, stderr=subprocess.STDOUT)
    try:
        ok = lib.wait_for(log, r"receiving HEP", 10)
        ck.check("sipman run --hep-listen starts", ok, open(log).read() if os.path.exists(log) else "")
        if ok:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for _, h in packets:
                s.sendto(h, ("127.0.0.1", port))
                time.sleep(0.01)
            s.close()
            time.sleep(1.0)
    finally:
        run.send_signal(signal.SIGTERM)
        try:
            run.wait(timeout=30)
        except subprocess.TimeoutExpired:
            run.kill()
            run.wait()
    ck.check("sipman run ends on SIGTERM with status 0", run.returncode == 0, run.returncode)
    if os.path.exists(live_db):
        check_db(ck, "live", live_db, call_id)
    return ck.finish()


if __name__ == "__main__":
    sys.exit(main())
