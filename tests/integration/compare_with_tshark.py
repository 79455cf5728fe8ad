#!/usr/bin/env python3
"""Compares `sipman messages` with an independent oracle, capture by capture.

For each capture file, sipman and the oracle list every SIP message as
(timestamp in microseconds, source IP, source port, destination IP,
destination port, transport, Call-ID, method or status code, CSeq). The two
multisets must be equal. Known tshark mistakes are listed in TSHARK_EXCEPTIONS
with the frame and the reason; nothing else may differ.

Which oracle judges a file:
- a file in the public set (PUBLIC/ beside the MANIFEST.md given with
  --manifest): the oracle its `oracle` column names; every row of the table
  must be among the files given, and every public file must have a row;
- a project fixture (tests/fixtures/pcaps/): by name, see FIXTURE_ORACLES;
- anything else (SIPp captures, ../shared/pcaps/generated/): plain tshark.

The oracles (one function each below):
- `tshark`: tshark -Y sip is right about every message.
- `tshark -d SPEC ...`: tshark with that decode-as, for SIP on a port tshark
  gives to another protocol (6060 is X11 to tshark).
- `tshark minus N ICMP-quoted`: tshark also shows the SIP request quoted in an
  ICMP/ICMPv6 error (port unreachable) as SIP, but that is a copy, not a
  message on the wire; those are dropped, and there must be exactly N.
- `tshark, CSeq not compared`: a stray CR before CRLF makes tshark end the
  headers early, so it has no CSeq for those messages; everything but the
  CSeq is compared.
- `HEP decap`: tshark does not decode HEP. Each HEP packet's SIP payload is
  written into a plain Ethernet/IP/UDP pcap with the HEP header's addresses,
  ports and time (hep_decap.py), and tshark's list for that pcap is the
  oracle, with the transport the HEP header names. Frames that are not HEP
  are judged by plain tshark.
- `none` / `none (fuzzed)`: no reliable oracle; `sipman messages` must exit 0
  with no sanitizer report, in TSV and in JSON.
- `ORACLE, good messages only` (the malformed `bad-*` fixtures): tshark is
  lenient with broken tunnels and still finds SIP inside some of them, which
  a strict decoder drops and counts. sipman must exit cleanly (as for
  `none`) and list exactly the oracle's messages whose Call-ID marks them
  good ("-good-"): what follows the damage is still found.

usage: compare_with_tshark.py [--manifest MANIFEST.md] SIPMAN FILE...
Exit 0 when every file agrees, 1 otherwise (the differences are printed).
"""
import argparse
import collections
import dataclasses
import fnmatch
import ipaddress
import json
import os
import re
import subprocess
import sys
import tempfile
from typing import Callable, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hep_decap  # noqa: E402
from analyze_lib import TSHARK_SIP_PORTS  # noqa: E402

FIXTURES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "pcaps")

# file name -> {(frame number): reason}. tshark's view of these frames is
# wrong; the test drops tshark's entries for them and checks that sipman's
# extra or missing lines are exactly the ones explained here.
TSHARK_EXCEPTIONS = {}

# Project fixtures: file name pattern -> oracle text (first match wins), or
# a reason for not comparing the file here at all.
FIXTURE_ORACLES = [
    ("bad-hep*", "HEP decap, good messages only"),
    ("bad-*", "tshark, good messages only"),
    ("hep-*", "HEP decap"),
    ("*", "tshark"),
]
FIXTURE_SKIPS = {
    "not-a-capture*": "not a capture on purpose; cli_test checks sipman's error",
    "truncated*": "cut short on purpose (tshark exits 2); "
                  "cli_test checks sipman's 4 messages and warning",
}

SANITIZER_REPORT = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|"
                              r"ThreadSanitizer|MemorySanitizer|runtime error:")
SIPMAN_TIMEOUT_S = 300


class OracleError(Exception):
    """The oracle cannot give a message list for this file."""


class SipmanError(Exception):
    """sipman failed before listing messages."""


Message = collections.namedtuple(
    "Message", "ts_us src sport dst dport transport call_id kind cseq")


def show(m):
    return (f"{m.ts_us / 1e6:.6f} {m.src}:{m.sport} -> {m.dst}:{m.dport} {m.transport} "
            f"{m.kind} Call-ID {m.call_id!r} CSeq {m.cseq!r}")


# ------------------------------------------------------------------ tshark

@dataclasses.dataclass
class TsharkSip:
    frame: int
    protocols: list     # frame.protocols, outermost first
    message: Message


def tshark_sip(path, extra_args=()):
    """Every SIP message tshark finds in `path`, as [TsharkSip]. Frames that
    tshark marks as SIP but that have no request or status line (continuations)
    are left out."""
    out = subprocess.run(
        ["tshark", "-r", path, "-Y", "sip", "-T", "json", "--no-duplicate-keys",
         # Without this tshark 4.0 drops messages whose segments arrive out of
         # order (tests/fixtures/pcaps/tcp-out-of-order.pcap).
         "-o", "tcp.reassemble_out_of_order:TRUE",
         "-J", "frame ip ipv6 icmp icmpv6 udp tcp sctp websocket sip"]
        + TSHARK_SIP_PORTS + list(extra_args),
        check=True, capture_output=True, text=True).stdout
    result = []
    for frame in (json.loads(out) if out.strip() else []):
        layers = frame["_source"]["layers"]
        number = int(first(layers["frame"]["frame.number"]))
        protocols = first(layers["frame"]["frame.protocols"]).split(":")
        ts_us = round_us(first(layers["frame"]["frame.time_epoch"]))
        # Tunnels (GRE, IP-in-IP, VXLAN, GTP-U, an ICMP error's quote) add
        # outer IP and UDP layers: the innermost ones carry the SIP.
        ip_name = innermost(protocols, ("ip", "ipv6"))
        ip = instances(layers, ip_name, f"{ip_name}.src")[-1]
        l4_name = innermost(protocols, ("udp", "tcp", "sctp"))
        l4 = instances(layers, l4_name, f"{l4_name}.srcport")[-1]
        transport = l4_name
        if l4_name == "tcp" and "websocket" in protocols[last_index(protocols, "tcp"):]:
            transport = "ws"
        for sip in pdu_list(layers["sip"]):
            if "sip.Request-Line_tree" in sip:
                kind = sip["sip.Request-Line_tree"]["sip.Method"]
            elif "sip.Status-Line_tree" in sip:
                kind = sip["sip.Status-Line_tree"]["sip.Status-Code"]
            else:
                continue  # a continuation tshark could not parse as a message
            hdr = sip.get("sip.msg_hdr_tree", {})
            result.append(TsharkSip(number, protocols, Message(
                ts_us, norm_ip(ip[f"{ip_name}.src"]), int(l4[f"{l4_name}.srcport"]),
                norm_ip(ip[f"{ip_name}.dst"]), int(l4[f"{l4_name}.dstport"]), transport,
                first(hdr.get("sip.Call-ID", "")), kind,
                norm_cseq(first(hdr.get("sip.CSeq", ""))))))
    return result


def innermost(protocols, names):
    """Of `names`, the one that appears last in frame.protocols before the SIP."""
    found = [p for p in protocols[:protocols.index("sip")] if p in names]
    if not found:
        raise OracleError(f"no {'/'.join(names)} layer under the SIP in {':'.join(protocols)}")
    return found[-1]


def instances(layers, name, field):
    """Every `name` layer of a frame that has `field`, outermost first.
    tshark's JSON nests the packet an ICMP error quotes inside the icmp
    (icmpv6) layer, and gives an SCTP packet with several DATA chunks as a
    list of sctp layers, only the first with the ports."""
    found = pdu_list(layers.get(name, []))
    for icmp in ("icmp", "icmpv6"):
        for layer in pdu_list(layers.get(icmp, [])):
            found = found + pdu_list(layer.get(name, []))
    found = [layer for layer in found if field in layer]
    if not found:
        raise OracleError(f"no {name} layer with {field} in tshark's JSON")
    return found


def last_index(protocols, name):
    return len(protocols) - 1 - protocols[::-1].index(name)


def norm_cseq(value):
    return " ".join(value.split())


def norm_ip(value):
    return str(ipaddress.ip_address(value)) if value else ""


def pdu_list(value):
    return value if isinstance(value, list) else [value]


def first(value):
    return value[0] if isinstance(value, list) else value


def round_us(epoch_text):
    seconds, _, frac = epoch_text.partition(".")
    frac = (frac + "000000000")[:9]
    return int(seconds) * 1_000_000 + int(frac[:6])


# ------------------------------------------------------------------ the oracles
# Each returns (expected [(frame, Message)], a note for the result line).

def oracle_tshark(path):
    return [(s.frame, s.message) for s in tshark_sip(path)], ""


def oracle_tshark_decode_as(path, decode_as):
    args = [a for spec in decode_as for a in ("-d", spec)]
    return [(s.frame, s.message) for s in tshark_sip(path, args)], ""


def oracle_tshark_minus_icmp(path, quoted):
    kept, dropped = [], []
    for s in tshark_sip(path):
        outer = s.protocols[:s.protocols.index("sip")]
        (dropped if "icmp" in outer or "icmpv6" in outer else kept).append(s)
    if len(dropped) != quoted:
        raise OracleError(f"the MANIFEST says {quoted} ICMP-quoted SIP messages, tshark shows "
                          f"{len(dropped)} (frames {[s.frame for s in dropped]})")
    return [(s.frame, s.message) for s in kept], ""


def oracle_tshark_no_cseq(path):
    # The comparison blanks the CSeq on both sides (Oracle.compare_cseq).
    return oracle_tshark(path)


def oracle_hep_decap(path):
    with tempfile.TemporaryDirectory(prefix="sipman-hep-") as tmp:
        pcap, packets, skipped = hep_decap.decapsulate(path, tmp)
        # Every payload here is SIP by the HEP header's word: let tshark's SIP
        # heuristic look at it before a dissector registered for its port.
        inner = tshark_sip(pcap, ["-o", "udp.try_heuristic_first:TRUE"])
    hep_frames = {p.frame for p in packets}
    # Frame n of the decapsulated pcap is packets[n - 1]; report the frame of
    # the original capture, with the transport the HEP header says.
    expected = [(packets[s.frame - 1].frame,
                 s.message._replace(transport=packets[s.frame - 1].transport)) for s in inner]
    expected += [(s.frame, s.message) for s in tshark_sip(path) if s.frame not in hep_frames]
    note = f"{len(packets)} HEP packets"
    if skipped:
        note += f"; {len(skipped)} UDP/TCP payloads not decapsulated: " + "; ".join(
            f"frame {frame}: {why}" for frame, why in skipped[:5]) + (
            " ..." if len(skipped) > 5 else "")
    return expected, note


@dataclasses.dataclass
class Oracle:
    text: str                                  # as in the MANIFEST, for the result line
    expected: Optional[Callable] = None        # path -> (expected, note); None: robustness only
    compare_cseq: bool = True
    robustness_too: bool = False               # also the clean-exit check of `none`


def parse_oracle(text):
    """The MANIFEST's `oracle` cell -> Oracle. Raises ValueError for a text
    this test does not know: a new kind of oracle needs code here."""
    text = " ".join(text.replace("`", "").split())
    if text.endswith(", good messages only"):
        base = parse_oracle(text[:-len(", good messages only")])
        if base.expected is None:
            raise ValueError(f"unknown oracle {text!r}")

        def good_only(path):
            expected, note = base.expected(path)
            return [(f, m) for f, m in expected if "-good-" in m.call_id], note
        return Oracle(text, good_only, base.compare_cseq, robustness_too=True)
    if text == "tshark":
        return Oracle(text, oracle_tshark)
    if m := re.fullmatch(r"tshark((?: -d \S+)+)", text):
        specs = m.group(1).split()[1::2]
        return Oracle(text, lambda path: oracle_tshark_decode_as(path, specs))
    if m := re.fullmatch(r"tshark minus (\d+) ICMP-quoted", text):
        quoted = int(m.group(1))
        return Oracle(text, lambda path: oracle_tshark_minus_icmp(path, quoted))
    if text == "tshark, CSeq not compared":
        return Oracle(text, oracle_tshark_no_cseq, compare_cseq=False)
    if text == "HEP decap":
        return Oracle(text, oracle_hep_decap)
    if re.fullmatch(r"none( \(.*\))?", text):
        return Oracle(text)
    raise ValueError(f"unknown oracle {text!r}")


# ------------------------------------------------------------------ which oracle

def read_manifest(path):
    """The MANIFEST's table -> {file name: oracle text}."""
    with open(path, encoding="utf-8") as f:
        rows = [line.strip() for line in f if line.lstrip().startswith("|")]
    cells = [[c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows]
    header = cells[0]
    if "file" not in header or "oracle" not in header:
        raise SystemExit(f"{path}: the table has no 'file' and 'oracle' columns: {header}")
    table = {}
    for row in cells[2:]:  # after the header and the |---| line
        if len(row) != len(header):
            raise SystemExit(f"{path}: a row with {len(row)} cells, the header has "
                             f"{len(header)}: {row[:1]}")
        table[row[header.index("file")]] = row[header.index("oracle")]
    return table


def choose_oracles(files, manifest):
    """[(file, Oracle or a skip reason string)], and failure lines for the
    MANIFEST rows no file answers."""
    table, public_dir = {}, None
    if manifest:
        table = read_manifest(manifest)
        public_dir = os.path.realpath(os.path.join(os.path.dirname(manifest), "public"))
    chosen, problems, seen = [], [], set()
    for path in files:
        name, folder = os.path.basename(path), os.path.realpath(os.path.dirname(path))
        if folder == public_dir:
            if name not in table:
                problems.append(f"FAIL {name}: in {public_dir} but not in the MANIFEST")
                continue
            seen.add(name)
            text = table[name]
        elif folder == os.path.realpath(FIXTURES_DIR):
            skip = [why for pattern, why in FIXTURE_SKIPS.items() if fnmatch.fnmatch(name, pattern)]
            if skip:
                chosen.append((path, skip[0]))
                continue
            text = next(o for pattern, o in FIXTURE_ORACLES if fnmatch.fnmatch(name, pattern))
        else:
            text = "tshark"
        try:
            chosen.append((path, parse_oracle(text)))
        except ValueError as e:
            problems.append(f"FAIL {name}: {e}; this test knows tshark, tshark -d SPEC, "
                            "tshark minus N ICMP-quoted, tshark, CSeq not compared, "
                            "HEP decap, none")
    for name in sorted(set(table) - seen):
        problems.append(f"FAIL {name}: listed in the MANIFEST but not among the files checked")
    return chosen, problems


# ------------------------------------------------------------------ sipman

def run_sipman(sipman, fmt, path):
    return subprocess.run([sipman, "messages", "--format", fmt, path], capture_output=True,
                          text=True, errors="surrogateescape", timeout=SIPMAN_TIMEOUT_S)


def sipman_messages(sipman, path):
    proc = run_sipman(sipman, "tsv", path)
    if proc.returncode != 0:
        raise SipmanError(f"sipman exited {proc.returncode}: {proc.stderr.strip()}")
    result = []
    # Only "\n" ends a line: splitlines() would also cut at a vertical tab or
    # form feed, which a fuzzed header value can hold.
    for line in proc.stdout.split("\n")[:-1]:
        cols = line.split("\t")
        if len(cols) != 9:
            raise SipmanError(f"sipman printed a line of {len(cols)} columns, not 9: {line!r}")
        ts, src, sport, dst, dport, transport, kind, call_id, cseq = cols
        result.append(Message(round_us(ts), norm_ip(src), int(sport), norm_ip(dst), int(dport),
                              transport, call_id, kind, norm_cseq(cseq)))
    return result, proc.stderr


# ------------------------------------------------------------------ judging one file

def check_robustness(sipman, path, oracle):
    name = os.path.basename(path)
    problems = []
    for fmt in ("tsv", "json"):
        try:
            proc = run_sipman(sipman, fmt, path)
        except subprocess.TimeoutExpired:
            problems.append(f"--format {fmt}: no exit within {SIPMAN_TIMEOUT_S} s")
            continue
        if proc.returncode != 0:
            problems.append(f"--format {fmt}: exit status {proc.returncode}")
        if SANITIZER_REPORT.search(proc.stderr):
            problems.append(f"--format {fmt}: sanitizer report")
        if proc.returncode != 0 or SANITIZER_REPORT.search(proc.stderr):
            problems += ["  stderr: " + line for line in proc.stderr.strip()[-3000:].splitlines()]
    if problems:
        print(f"FAIL {name}: sipman messages on a capture judged by {oracle.text}")
        print("\n".join("  " + line for line in problems))
        return False
    print(f"ok   {name}: sipman messages exits cleanly in TSV and JSON "
          f"(robustness only; oracle {oracle.text})")
    return True


def compare(sipman, path, oracle):
    name = os.path.basename(path)
    if oracle.expected is None:
        return check_robustness(sipman, path, oracle)
    if oracle.robustness_too and not check_robustness(sipman, path, oracle):
        return False
    try:
        expected_frames, note = oracle.expected(path)
        actual_list, stderr = sipman_messages(sipman, path)
    except (OracleError, SipmanError, RuntimeError, subprocess.SubprocessError) as e:
        detail = e.stderr if isinstance(e, subprocess.CalledProcessError) else ""
        print(f"FAIL {name} ({oracle.text}): {e} {detail}".rstrip())
        return False
    if not oracle.compare_cseq:
        expected_frames = [(f, m._replace(cseq="(not compared)")) for f, m in expected_frames]
        actual_list = [m._replace(cseq="(not compared)") for m in actual_list]
    exceptions = TSHARK_EXCEPTIONS.get(name, {})
    expected = collections.Counter(m for frame, m in expected_frames if frame not in exceptions)
    actual = collections.Counter(actual_list)
    missing = expected - actual
    extra = actual - expected
    if exceptions:
        # Lines that differ must all belong to the excepted frames' timestamps.
        excepted_ts = {m.ts_us for frame, m in expected_frames if frame in exceptions}
        extra = collections.Counter({m: n for m, n in extra.items() if m.ts_us not in excepted_ts})
    if missing or extra:
        print(f"FAIL {name}: {oracle.text} {sum(expected.values())} messages, "
              f"sipman {len(actual_list)}" + (f" ({note})" if note else ""))
        for m, n in sorted(missing.items())[:20]:
            print(f"  only in {oracle.text} ({n}x): {show(m)}")
        for m, n in sorted(extra.items())[:20]:
            print(f"  only in sipman ({n}x): {show(m)}")
        if len(missing) > 20 or len(extra) > 20:
            print(f"  ... {len(missing)} distinct lines only in {oracle.text}, "
                  f"{len(extra)} only in sipman")
        print("  sipman stderr: " + stderr.strip().replace("\n", "\n  "))
        return False
    notes = [note] if note else []
    if exceptions:
        notes.append(f"{len(exceptions)} tshark exception(s)")
    print(f"ok   {name}: {len(actual_list)} SIP messages agree with {oracle.text}"
          + (f" ({'; '.join(notes)})" if notes else ""))
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", help="MANIFEST.md of the public captures")
    parser.add_argument("sipman")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    chosen, problems = choose_oracles(args.files, args.manifest)
    passed = failed = skipped = 0
    for line in problems:
        print(line)
        failed += 1
    for path, oracle in chosen:
        if isinstance(oracle, str):
            print(f"skip {os.path.basename(path)}: {oracle}")
            skipped += 1
        elif compare(args.sipman, path, oracle):
            passed += 1
        else:
            failed += 1
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
