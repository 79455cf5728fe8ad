#!/usr/bin/env python3
"""Behaviour of `sipman messages` on the command line: every format, several
files merged in time order, damaged files and usage errors; the decoder's
summary lines and counters (tunnels, SCTP, HEP, TLS) with exact values. Uses
the fixtures made by scripts/make-test-pcaps."""
import json
import sqlite3
import os
import re
import struct
import subprocess
import sys
import tempfile

SIPMAN = sys.argv[1]
FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "pcaps")
failures = []
passed = 0


def run(*args):
    return subprocess.run([SIPMAN, *args], capture_output=True, text=True, errors="surrogateescape")


def check(name, condition, detail=""):
    global passed
    if condition:
        passed += 1
        print(f"ok   {name}")
    else:
        failures.append(name)
        print(f"FAIL {name}: {detail}")


def totals(stderr):
    m = re.search(r"messages: (\d+)\s+packets: (\d+)\s+bytes: (\d+)\s+malformed: (\d+)", stderr)
    return tuple(int(x) for x in m.groups()) if m else None


def fx(name):
    return os.path.join(FIX, name)


# TSV and JSON describe the same messages; none prints nothing but the totals.
tsv = run("messages", fx("tcp-segmentation.pcap"))
js = run("messages", "--format", "json", fx("tcp-segmentation.pcap"))
none = run("messages", "--format=none", fx("tcp-segmentation.pcap"))
tsv_lines = tsv.stdout.splitlines()
check("tsv exit 0 and lines", tsv.returncode == 0 and len(tsv_lines) > 0, tsv.stderr)
check("tsv has 9 fields per line", all(len(l.split("\t")) == 9 for l in tsv_lines), tsv_lines[:2])
records = [json.loads(l) for l in js.stdout.splitlines()]
check("json lines parse and match tsv count", len(records) == len(tsv_lines), f"{len(records)} vs {len(tsv_lines)}")
same = all(
    [f"{r['ts']:.6f}", r["src_ip"], str(r["src_port"]), r["dst_ip"], str(r["dst_port"]), r["transport"],
     r.get("method") or str(r.get("status")), r["call_id"], r["cseq"]] == l.split("\t")
    for r, l in zip(records, tsv_lines))
check("json fields equal tsv fields", same, (records[:1], tsv_lines[:1]))
invite = next((r for r in records if r.get("method") == "INVITE" and r["media"]), None)
check("json carries the SDP media of an INVITE", invite is not None and invite["media"][0]["type"] == "audio"
      and invite["media"][0]["port"] > 0, invite)
check("none prints no lines", none.returncode == 0 and none.stdout == "", none.stdout[:200])
check("totals are the same in every format",
      totals(tsv.stderr) == totals(js.stderr) == totals(none.stderr) and totals(none.stderr)[0] == len(tsv_lines),
      (totals(tsv.stderr), totals(js.stderr), totals(none.stderr)))
check("totals report elapsed time and rate", "elapsed:" in none.stderr and "messages/s" in none.stderr, none.stderr)

# Two files whose packets interleave in time come out merged.
merged = run("messages", fx("merge-a.pcap"), fx("merge-b.pcap"))
ts = [float(l.split("\t")[0]) for l in merged.stdout.splitlines()]
single_a = len(run("messages", fx("merge-a.pcap")).stdout.splitlines())
single_b = len(run("messages", fx("merge-b.pcap")).stdout.splitlines())
check("merged files keep every message", len(ts) == single_a + single_b and single_a > 0 and single_b > 0,
      (len(ts), single_a, single_b))
check("merged files come out in time order", ts == sorted(ts) and len(ts) > 1, ts)

# Standard input ("-") works, e.g. behind tcpdump -w -.
with open(fx("sll.pcap"), "rb") as f:
    piped = subprocess.run([SIPMAN, "messages", "-"], stdin=f, capture_output=True, text=True)
direct = run("messages", fx("sll.pcap"))
check("reads a capture from standard input", piped.returncode == 0 and piped.stdout == direct.stdout
      and len(direct.stdout.splitlines()) == 6, (piped.returncode, piped.stderr))

# A file cut short: everything before the cut, a warning, exit 0.
trunc = run("messages", fx("truncated.pcap"))
check("truncated file exits 0", trunc.returncode == 0, trunc.stderr)
check("truncated file yields the 4 messages before the cut", len(trunc.stdout.splitlines()) == 4, trunc.stdout)
check("truncated file warns", "warning" in trunc.stderr and "truncated.pcap" in trunc.stderr, trunc.stderr)

# Not a capture: a clear error naming the file, exit 1.
bad = run("messages", fx("not-a-capture.pcap"))
check("not a capture exits 1", bad.returncode == 1, bad.returncode)
check("not a capture names file and remedy", "not-a-capture.pcap" in bad.stderr and "pcap" in bad.stderr, bad.stderr)
missing = run("messages", "/nonexistent/x.pcap")
check("missing file exits 1 with the reason", missing.returncode == 1 and "No such file" in missing.stderr, missing.stderr)

# Garbage and malformed SIP: counted and skipped, the good messages survive.
garbage = run("messages", fx("garbage.pcap"))
t = totals(garbage.stderr)
check("garbage does not crash", garbage.returncode == 0, garbage.stderr)
check("garbage keeps the valid messages", t is not None and len(garbage.stdout.splitlines()) >= 2,
      garbage.stdout)
check("garbage counts malformed messages", t is not None and t[3] >= 1, garbage.stderr)

# Usage errors: exit 2 with a hint.
for args in (["messages"], ["messages", "--format", "xml", "f"], ["frobnicate"], ["messages", "--bogus", "f"]):
    r = run(*args)
    check(f"usage error {' '.join(args)}", r.returncode == 2 and "sipman --help" in r.stderr, (r.returncode, r.stderr))
h = run("--help")
check("--help names the commands", h.returncode == 0 and "sipman messages" in h.stdout, h.stdout[:100])

# Decoder summaries: tunnels, SCTP, HEP in the capture and encrypted SIP. Every
# number below is derived from how scripts/make-test-pcaps builds the fixture
# (tests/fixtures/pcaps/README.md has the frame tables), not taken from sipman.
# `sipman messages` prints the lines on stderr, `sipman analyze` on stdout, and
# `analyze --json` has every counter under "decoder".
TLS_SIP_BYTES = 8188   # TCP payload of tls-sip.pcap's two TLS connections (README)
SUMMARY_PREFIXES = ("tunnels:", "sctp:", "HEP in the capture:", "encrypted SIP:")
# Counters of these layers that a fixture does not name must be 0.
LAYER_COUNTERS = ("truncated", "gre", "erspan", "vxlan", "geneve", "ip_in_ip", "pppoe", "ppp",
                  "mpls", "gtpu", "tunnel_errors", "tunnel_too_deep", "sctp_packets",
                  "sctp_data_chunks", "sctp_reassembled", "sctp_errors", "hep_packets",
                  "hep_errors", "tls_connections", "tls_bytes", "non_sip")
ENCRYPTED = f"encrypted SIP: 2 connections, {TLS_SIP_BYTES} bytes ("


def tcp_payload_bytes(path):
    """TCP payload bytes in a little-endian microsecond pcap of Ethernet/IPv4 frames,
    counted here independently of sipman and tshark."""
    with open(path, "rb") as f:
        data = f.read()
    total, pos = 0, 24
    while pos + 16 <= len(data):
        caplen = struct.unpack_from("<I", data, pos + 8)[0]
        frame = data[pos + 16:pos + 16 + caplen]
        pos += 16 + caplen
        if frame[12:14] != b"\x08\x00" or frame[14 + 9] != 6:
            continue
        ip = frame[14:]
        ihl, ip_total = (ip[0] & 15) * 4, struct.unpack_from("!H", ip, 2)[0]
        total += ip_total - ihl - (ip[ihl + 12] >> 4) * 4
    return total


# name: (summary lines, decoder counters, messages listed). A line ending in "("
# is matched as the start of a line (the TLS line goes on with advice).
DECODER_CASES = {
    # 7 frames, each Ethernet / MPLS / IPv4 / GRE / IPv4 / UDP / VXLAN / ... / SIP.
    "nested-mpls-gre-vxlan.pcap": (
        ["tunnels: GRE 7, VXLAN 7, MPLS 7 (0 malformed, 0 nested too deep)"],
        {"gre": 7, "vxlan": 7, "mpls": 7, "sip_payloads": 7}, 7),
    # 13 packets; DATA chunks: INVITE 1, 100 + 180 2, the 200 in 3 fragments (one
    # message reassembled), ACK 1, BYE 1, 200 1 = 9; 7 messages.
    "sctp.pcap": (
        ["sctp: 13 packets, 9 DATA chunks, 1 messages reassembled, 0 errors"],
        {"sctp_packets": 13, "sctp_data_chunks": 9, "sctp_reassembled": 1, "sip_payloads": 7},
        7),
    # One HEP packet per message: a call (7) and OPTIONS/200 (2); the TCP file 7.
    "hep-v3-udp.pcap": (["HEP in the capture: 9 packets unwrapped, 0 unreadable"],
                        {"hep_packets": 9, "sip_payloads": 9}, 9),
    "hep-v3-tcp.pcap": (["HEP in the capture: 7 packets unwrapped, 0 unreadable"],
                        {"hep_packets": 7, "sip_payloads": 7}, 7),
    "hep-v2-udp.pcap": (["HEP in the capture: 9 packets unwrapped, 0 unreadable"],
                        {"hep_packets": 9, "sip_payloads": 9}, 9),
    # Two TLS connections (5061 and 443), both directions starting with a record;
    # the OPTIONS/200 over UDP are the only messages.
    "tls-sip.pcap": ([ENCRYPTED], {"tls_connections": 2, "tls_bytes": TLS_SIP_BYTES,
                                   "sip_payloads": 2}, 2),
    # Frames 1 (C, K, S set, cut in the optional fields) and 3 (PPTP payload length
    # past the end) are malformed GRE; frames 2 and 4 have whole GRE headers whose
    # inner IPv4 is cut short (60 of 375 bytes) or missing: truncated. GRE counts
    # 2, 4 and the good frame 5.
    "bad-gre-length.pcap": (["tunnels: GRE 3 (2 malformed, 0 nested too deep)"],
                            {"gre": 3, "tunnel_errors": 2, "truncated": 2, "sip_payloads": 2},
                            2),
    # Version 2, routing bit, version 7, strict route + recursion: 4 bad, 1 good.
    "bad-gre-flags.pcap": (["tunnels: GRE 1 (4 malformed, 0 nested too deep)"],
                           {"gre": 1, "tunnel_errors": 4, "sip_payloads": 2}, 2),
    # kMaxEncapsulations is 8: frame 1 counts 8 IP-in-IP headers, frame 2 8 GRE
    # headers, each then too deep; the good frame 3 is GRE + IP-in-IP.
    "bad-nesting.pcap": (["tunnels: GRE 9, IP-in-IP 9 (0 malformed, 2 nested too deep)"],
                         {"gre": 9, "ip_in_ip": 9, "tunnel_too_deep": 2, "sip_payloads": 2},
                         2),
    # Frames 1-4 each hold one bad chunk (length past the end, 0, 2, 12 with 4 bytes
    # there); frame 5's IPv4 packet is cut short, so it never reaches SCTP; frame 6
    # is the good DATA chunk.
    "bad-sctp.pcap": (["sctp: 5 packets, 1 DATA chunks, 0 messages reassembled, 4 errors"],
                      {"sctp_packets": 5, "sctp_data_chunks": 1, "sctp_errors": 4,
                       "truncated": 1, "sip_payloads": 2}, 2),
    # Frame 1's 4-byte VXLAN header fails VXLAN's check: a plain datagram, not SIP.
    # Frames 2-4: a whole VXLAN header, then inner Ethernet, IPv4 header, IPv4
    # packet cut short. Frame 5 the good one.
    "bad-vxlan-truncated.pcap": (["tunnels: VXLAN 4 (0 malformed, 0 nested too deep)"],
                                 {"vxlan": 4, "truncated": 3, "non_sip": 1, "sip_payloads": 2},
                                 2),
    # Frames 1 (3 labels, no bottom, nothing after) and 2 (20 labels, no bottom
    # within 16) are malformed; frame 3 is a whole stack with nothing after it
    # (truncated); frame 4 the good one.
    "bad-mpls-no-bos.pcap": (["tunnels: MPLS 2 (2 malformed, 0 nested too deep)"],
                             {"mpls": 2, "tunnel_errors": 2, "truncated": 1, "sip_payloads": 2},
                             2),
    # Six bad HEPv3 packets, one good; the 200 is plain UDP.
    "bad-hep.pcap": (["HEP in the capture: 1 packets unwrapped, 6 unreadable"],
                     {"hep_packets": 1, "hep_errors": 6, "sip_payloads": 2}, 2),
    # Plain TCP and WebSocket (12 frames: 4 REGISTER/401, the INVITE in 2, 100, 180,
    # 4 more): no TLS is seen where there is none.
    "tcp-segmentation.pcap": ([], {"sip_payloads": 9}, 9),
    "websocket.pcap": ([], {"websocket_frames": 12, "sip_payloads": 11}, 11),
}


def summary_lines(text):
    return [l for l in text.splitlines() if l.startswith(SUMMARY_PREFIXES)]


def lines_match(got, want):
    return len(got) == len(want) and all(
        g.startswith(w) if w.endswith("(") else g == w for g, w in zip(got, want))


check("tls-sip.pcap carries the README's TLS byte count",
      tcp_payload_bytes(fx("tls-sip.pcap")) == TLS_SIP_BYTES, tcp_payload_bytes(fx("tls-sip.pcap")))
with tempfile.TemporaryDirectory(prefix="sipman-cli-") as tmp:
    for name, (want_lines, want_counters, want_messages) in DECODER_CASES.items():
        msgs = run("messages", fx(name))
        listed = msgs.stdout.splitlines()
        check(f"{name}: messages lists {want_messages}",
              msgs.returncode == 0 and len(listed) == want_messages
              and (not name.startswith("bad-") or all("-good-" in l for l in listed)),
              (msgs.returncode, listed, msgs.stderr))
        check(f"{name}: messages' decoder lines on stderr",
              lines_match(summary_lines(msgs.stderr), want_lines),
              (summary_lines(msgs.stderr), want_lines))
        text = run("analyze", "--db", os.path.join(tmp, name + ".txt.db"), fx(name))
        check(f"{name}: analyze's decoder lines on stdout",
              text.returncode == 0 and lines_match(summary_lines(text.stdout), want_lines),
              (text.returncode, summary_lines(text.stdout), text.stderr))
        js = run("analyze", "--json", "--db", os.path.join(tmp, name + ".json.db"), fx(name))
        try:
            decoder = json.loads(js.stdout)["decoder"]
        except (ValueError, KeyError) as e:
            decoder = {"error": repr(e)}
        want = {k: 0 for k in LAYER_COUNTERS}
        want.update(want_counters)
        got = {k: decoder.get(k) for k in want}
        check(f"{name}: analyze --json decoder counters", js.returncode == 0 and got == want,
              {k: (got[k], want[k]) for k in want if got[k] != want[k]} or js.stderr)

    # Encrypted SIP is counted per second too: stored in the traffic tables,
    # reported by `sipman report` from the database.
    db = os.path.join(tmp, "tls-sip.pcap.txt.db")
    con = sqlite3.connect(db)
    per_second = con.execute("SELECT SUM(tls_connections), SUM(tls_bytes), "
                             "COUNT(*) FILTER (WHERE tls_bytes > 0) FROM stats_second").fetchone()
    per_hour = con.execute("SELECT SUM(tls_connections), SUM(tls_bytes) FROM stats_hour").fetchone()
    con.close()
    check("tls-sip.pcap: TLS connections and bytes stored per second and rolled up",
          per_second[:2] == (2, TLS_SIP_BYTES) and per_second[2] >= 1
          and per_hour == (2, TLS_SIP_BYTES), (per_second, per_hour))
    report = run("report", "--db", db)
    check("tls-sip.pcap: sipman report shows the encrypted SIP",
          report.returncode == 0 and
          f"encrypted SIP      2 connections, {TLS_SIP_BYTES} bytes" in report.stdout,
          report.stdout[-1500:] + report.stderr)

# Bad alert rules are refused at start, by run and by analyze, with the
# file's line and the reason (docs/ALERTS.md, "Bad rules").
BAD_RULES = [
    ("unknown field", 'db = "x.db"\n[[rule]]\nname = "a"\nmetric = "asr"\nfire = 40\ncolour = 3\n',
     ":6: [[rule]]: unknown field 'colour'"),
    ("impossible threshold", '[[rule]]\nname = "a"\nmetric = "asr"\nfire = 150\n',
     ":4: [[rule]]: 'fire' = 150 is impossible for asr: it must be from 0 to 100"),
    ("a prefix that is not a number",
     '[alerts]\ndefaults = false\n\n[[rule]]\nname = "p"\nmetric = "prefix_calls"\nfire = 3\n'
     'prefixes = ["900", "09x"]\n', ':8: [[rule]]: \'prefixes\': "09x" is not a number prefix'),
    ("resolve on the wrong side", '[[rule]]\nname = "a"\nmetric = "scanner"\nfire = 5\nresolve = 9\n',
     ":5: [[rule]]: 'resolve' (9) must be at most 'fire' (5)"),
    ("an allow list that is no address", '[alerts]\nallow = ["10.0.0.0/8", "ten"]\n',
     ":2: [alerts]: 'allow':"),
]
with tempfile.TemporaryDirectory() as tmp:
    for name, text, want in BAD_RULES:
        cfg = os.path.join(tmp, "bad.toml")
        with open(cfg, "w") as f:
            f.write(text)
        for command in (["run", "--config", cfg, "--pcap", fx("tcp-segmentation.pcap"), "--no-web",
                         "--db", os.path.join(tmp, "run.db")],
                        ["analyze", "--config", cfg, "--db", os.path.join(tmp, "a.db"),
                         fx("tcp-segmentation.pcap")]):
            r = run(*command)
            check(f"bad rules ({name}): sipman {command[0]} refuses them with the line and reason",
                  r.returncode == 1 and (cfg + want) in r.stderr, (r.returncode, r.stderr[-600:]))

print(f"{passed} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
