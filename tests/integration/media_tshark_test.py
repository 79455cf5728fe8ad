#!/usr/bin/env python3
"""sipman media against tshark -z rtp,streams (issue 15).

For every capture given, every stream tshark lists must appear in
`sipman media` with the same addresses, ports and SSRC, the same packet and
lost counts, and max delta, max jitter and mean jitter within 0.01 ms.
sipman may list more streams (RTP no SDP announced, found by its own
detection); those are printed, not judged.

usage: media_tshark_test.py SIPMAN CAPTURE...
"""
import re
import subprocess
import sys

TOLERANCE_MS = 0.01

# One tshark row: start end src sport dst dport ssrc payload... pkts lost (x%)
# min/mean/max delta, min/mean/max jitter, then "X" when it saw problems.
ROW = re.compile(
    r"^\s*(?P<start>[\d.]+)\s+(?P<end>[\d.]+)\s+(?P<src>\S+)\s+(?P<sport>\d+)\s+"
    r"(?P<dst>\S+)\s+(?P<dport>\d+)\s+(?P<ssrc>0x[0-9A-Fa-f]+)\s+(?P<payload>.*?)\s+"
    r"(?P<pkts>\d+)\s+(?P<lost>-?\d+) \([^)]*\)\s+"
    r"(?P<min_delta>-?[\d.]+)\s+(?P<mean_delta>[\d.]+)\s+(?P<max_delta>[\d.]+)\s+"
    r"(?P<min_jitter>-?[\d.]+)\s+(?P<mean_jitter>[\d.]+)\s+(?P<max_jitter>[\d.]+)\s*X?\s*$")


def tshark_streams(path):
    out = subprocess.run(["tshark", "-q", "-n", "--disable-protocol", "stun", "-r", path, "-z", "rtp,streams"],
                         capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        if "0x" not in line:
            continue
        m = ROW.match(line)
        if not m:
            raise SystemExit(f"FAIL {path}: cannot read tshark's row: {line!r}")
        rows.append(m.groupdict())
    return rows


def sipman_streams(sipman, path):
    run = subprocess.run([sipman, "media", path], capture_output=True, text=True)
    if run.returncode != 0 or "runtime error" in run.stderr or "Sanitizer" in run.stderr:
        raise SystemExit(f"FAIL {path}: sipman media exited {run.returncode}: {run.stderr}")
    streams = {}
    for line in run.stdout.splitlines():
        f = line.split("\t")
        if len(f) != 14:
            raise SystemExit(f"FAIL {path}: a line without 14 fields: {line!r}")
        key = (f[1], int(f[2]), f[3], int(f[4]), int(f[5], 16))
        streams[key] = {"pkts": int(f[7]), "lost": int(f[8]), "max_delta": float(f[9]),
                        "max_jitter": float(f[10]), "mean_jitter": float(f[11]),
                        "codec": f[6], "mos": f[12], "call_id": f[13]}
    return streams


def main():
    sipman, captures = sys.argv[1], sys.argv[2:]
    failures, checked = [], 0
    for path in captures:
        expected = tshark_streams(path)
        got = sipman_streams(sipman, path)
        matched = set()
        for t in expected:
            key = (t["src"], int(t["sport"]), t["dst"], int(t["dport"]), int(t["ssrc"], 16))
            name = f"{path.rsplit('/', 1)[-1]} {t['src']}:{t['sport']} -> {t['dst']}:{t['dport']} {t['ssrc']}"
            s = got.get(key)
            if s is None:
                failures.append(f"{name}: missing from sipman media")
                continue
            matched.add(key)
            checked += 1
            for field in ("pkts", "lost"):
                if s[field] != int(t[field]):
                    failures.append(f"{name}: {field} {s[field]}, tshark {t[field]}")
            for field in ("max_delta", "max_jitter", "mean_jitter"):
                if abs(s[field] - float(t[field])) > TOLERANCE_MS:
                    failures.append(f"{name}: {field} {s[field]:.3f} ms, tshark {t[field]} ms")
        extra = [k for k in got if k not in matched]
        print(f"{path.rsplit('/', 1)[-1]}: tshark {len(expected)} streams, sipman {len(got)}"
              f" ({len(extra)} more: {', '.join(f'{k[0]}:{k[1]}->{k[2]}:{k[3]}' for k in extra[:4])})")
    for f in failures:
        print("FAIL", f)
    print(f"{checked} tshark streams checked, {len(failures)} disagreements")
    return 1 if failures or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
