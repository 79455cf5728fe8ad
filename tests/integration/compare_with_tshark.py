#!/usr/bin/env python3
"""Compares `sipman messages` with tshark, the independent oracle.

For each capture file, both tools list every SIP message as
(timestamp in microseconds, source IP, source port, destination IP,
destination port, transport, Call-ID, method or status code, CSeq). The two
multisets must be equal. Known tshark mistakes are listed in TSHARK_EXCEPTIONS
with the frame and the reason; nothing else may differ.

usage: compare_with_tshark.py SIPMAN FILE...
Exit 0 when every file agrees, 1 otherwise (the differences are printed).
"""
import collections
import ipaddress
import json
import subprocess
import sys

from analyze_lib import TSHARK_SIP_PORTS

# file name -> {(frame number): reason}. tshark's view of these frames is
# wrong; the test drops tshark's entries for them and checks that sipman's
# extra or missing lines are exactly the ones explained here.
TSHARK_EXCEPTIONS = {}


def norm_cseq(value):
    return " ".join(value.split())


def norm_ip(value):
    return str(ipaddress.ip_address(value)) if value else ""


def pdu_list(value):
    return value if isinstance(value, list) else [value]


def first(value):
    return value[0] if isinstance(value, list) else value


def tshark_messages(path):
    out = subprocess.run(
        ["tshark", "-r", path, "-Y", "sip", "-T", "json", "--no-duplicate-keys",
         # Without this tshark 4.0 drops messages whose segments arrive out of
         # order (tests/fixtures/pcaps/tcp-out-of-order.pcap).
         "-o", "tcp.reassemble_out_of_order:TRUE",
         "-J", "frame ip ipv6 udp tcp websocket sip"] + TSHARK_SIP_PORTS,
        check=True, capture_output=True, text=True).stdout
    frames = json.loads(out) if out.strip() else []
    result = []
    for frame in frames:
        layers = frame["_source"]["layers"]
        number = int(first(layers["frame"]["frame.number"]))
        ts_us = round_us(first(layers["frame"]["frame.time_epoch"]))
        # The innermost IP header carries the SIP packet.
        if "ipv6" in layers and ("ip" not in layers or
                                 frame_proto_order(layers, "ipv6") > frame_proto_order(layers, "ip")):
            ip = pdu_list(layers["ipv6"])[-1]
            src, dst = ip["ipv6.src"], ip["ipv6.dst"]
        else:
            ip = pdu_list(layers["ip"])[-1]
            src, dst = ip["ip.src"], ip["ip.dst"]
        if "tcp" in layers:
            l4 = pdu_list(layers["tcp"])[-1]
            sport, dport = l4["tcp.srcport"], l4["tcp.dstport"]
            transport = "ws" if "websocket" in layers else "tcp"
        else:
            l4 = pdu_list(layers["udp"])[-1]
            sport, dport = l4["udp.srcport"], l4["udp.dstport"]
            transport = "udp"
        for sip in pdu_list(layers["sip"]):
            if "sip.Request-Line_tree" in sip:
                kind = sip["sip.Request-Line_tree"]["sip.Method"]
            elif "sip.Status-Line_tree" in sip:
                kind = sip["sip.Status-Line_tree"]["sip.Status-Code"]
            else:
                continue  # a continuation tshark could not parse as a message
            hdr = sip.get("sip.msg_hdr_tree", {})
            call_id = first(hdr.get("sip.Call-ID", ""))
            cseq = norm_cseq(first(hdr.get("sip.CSeq", "")))
            result.append((number, (ts_us, norm_ip(src), int(sport), norm_ip(dst), int(dport),
                                    transport, call_id, kind, cseq)))
    return result


def frame_proto_order(layers, name):
    protos = first(layers["frame"]["frame.protocols"]).split(":")
    return max(i for i, p in enumerate(protos) if p == name) if name in protos else -1


def round_us(epoch_text):
    seconds, _, frac = epoch_text.partition(".")
    frac = (frac + "000000000")[:9]
    return int(seconds) * 1_000_000 + int(frac[:6])


def sipman_messages(sipman, path):
    proc = subprocess.run([sipman, "messages", "--format", "tsv", path],
                          capture_output=True, text=True, errors="surrogateescape")
    if proc.returncode != 0:
        raise RuntimeError(f"sipman exited {proc.returncode} on {path}: {proc.stderr}")
    result = []
    for line in proc.stdout.splitlines():
        ts, src, sport, dst, dport, transport, kind, call_id, cseq = line.split("\t")
        result.append((round_us(ts), norm_ip(src), int(sport), norm_ip(dst), int(dport),
                       transport, call_id, kind, norm_cseq(cseq)))
    return result, proc.stderr


def compare(sipman, path):
    name = path.rsplit("/", 1)[-1]
    expected_frames = tshark_messages(path)
    exceptions = TSHARK_EXCEPTIONS.get(name, {})
    expected = collections.Counter(m for frame, m in expected_frames if frame not in exceptions)
    actual_list, stderr = sipman_messages(sipman, path)
    actual = collections.Counter(actual_list)
    missing = expected - actual
    extra = actual - expected
    if exceptions:
        # Lines that differ must all belong to the excepted frames' timestamps.
        excepted_ts = {m[0] for frame, m in expected_frames if frame in exceptions}
        extra = collections.Counter({m: n for m, n in extra.items() if m[0] not in excepted_ts})
    if missing or extra:
        print(f"FAIL {name}: tshark {sum(expected.values())} messages, sipman {len(actual_list)}")
        for m, n in sorted(missing.items())[:20]:
            print(f"  only in tshark ({n}x): {m}")
        for m, n in sorted(extra.items())[:20]:
            print(f"  only in sipman ({n}x): {m}")
        print("  sipman stderr: " + stderr.strip().replace("\n", "\n  "))
        return False
    print(f"ok   {name}: {len(actual_list)} SIP messages agree with tshark"
          + (f" ({len(exceptions)} tshark exception(s))" if exceptions else ""))
    return True


def main():
    sipman, files = sys.argv[1], sys.argv[2:]
    results = [compare(sipman, f) for f in files]
    print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
