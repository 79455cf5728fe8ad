#!/usr/bin/env python3
"""Behaviour of `sipman messages` on the command line: every format, several
files merged in time order, damaged files and usage errors. Uses the
fixtures made by scripts/make-test-pcaps."""
import json
import os
import re
import subprocess
import sys

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

print(f"{passed} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
