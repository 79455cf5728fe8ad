#!/usr/bin/env python3
"""sipman media against calls whose impairments are known exactly.

scripts/gen-media-pcap writes a capture of scripted calls (loss, bursts,
jitter, reordering, duplicates, late packets, wrap-around, SSRC change,
one-way audio, hold, RTCP, DTMF, G.729) and the figures every RTP stream
must have. For each seed this runs the generator, then `sipman media
--json`, and checks:
  - the streams are exactly those the script sent (none missing, none more);
  - every figure in the truth: integers and strings exactly, times in ms
    within 0.01 ms, first/last timestamps within 1 us, BurstR within 0.001;
  - the tracker's counters (stderr) that the truth states;
  - mos_fixed50 within 0.05 of an E-model computed here from ITU-T G.107's
    formulas with its default values (Ta = 70 ms one-way, T = Tr = 0),
    the packet loss after a 50 ms buffer and BurstR from the truth, and
    G.113 Appendix I's Ie and Bpl;
  - lossless G.711 has a MOS of 4.3 or more; 20% loss is far lower.
Prints a FAIL line per disagreement and a summary; exits 1 on any.

usage: media_truth_test.py SIPMAN GENERATOR WORKDIR SEED...
"""
import json
import math
import subprocess
import sys

MS_TOLERANCE = 0.01
TS_TOLERANCE = 1.5e-6      # sipman prints epoch seconds with 6 decimals
RATIO_TOLERANCE = 0.001    # printed with 3 decimals
MOS_TOLERANCE = 0.05

# G.113 Appendix I: equipment impairment Ie (Table I.1) and packet-loss
# robustness Bpl (Table I.3). G.711 with its Appendix I concealment;
# G.729A (+VAD) for G.729.
CODEC_IMPAIRMENT = {"PCMU": (0, 25.1), "PCMA": (0, 25.1), "G729": (11, 19.0)}


def g107_r(ie, bpl, ppl, burst_r, ta=70.0, t=0.0, tr=0.0):
    """ITU-T G.107 (06/2015) R with Table 3's default values for everything
    but Ie, Bpl, Ppl, BurstR and the delays."""
    slr, rlr, stmr, telr, wepl = 8.0, 2.0, 15.0, 65.0, 110.0
    ds, ps, pr, nc, nfor, qdu, a = 3.0, 35.0, 35.0, -70.0, -64.0, 1.0, 0.0
    olr = slr + rlr
    # 7.2: basic signal-to-noise ratio Ro.
    nos = ps - slr - ds - 100 + 0.004 * (ps - olr - ds - 14) ** 2
    nor = rlr - 121 + pr + 0.008 * (pr - 35) ** 2
    nfo = nfor + rlr
    no = 10 * math.log10(10 ** (nc / 10) + 10 ** (nos / 10) + 10 ** (nor / 10) + 10 ** (nfo / 10))
    ro = 15 - 1.5 * (slr + no)
    # 7.3: simultaneous impairment Is = Iolr + Ist + Iq.
    xolr = olr + 0.2 * (64 + no - rlr)
    iolr = 20 * ((1 + (xolr / 8) ** 8) ** (1 / 8) - xolr / 8)
    stmro = -10 * math.log10(10 ** (-stmr / 10) + math.exp(-t / 4) * 10 ** (-telr / 10))
    ist = (12 * (1 + ((stmro - 13) / 6) ** 8) ** (1 / 8) - 28 * (1 + ((stmro + 1) / 19.4) ** 35) ** (1 / 35)
           - 13 * (1 + ((stmro - 3) / 33) ** 13) ** (1 / 13) + 29)
    q = 37 - 15 * math.log10(qdu)
    g = 1.07 + 0.258 * q + 0.0602 * q * q
    y = (ro - 100) / 15 + 46 / 8.4 - g / 9
    z = 46 / 30 - g / 40
    iq = 15 * math.log10(1 + 10 ** y + 10 ** z)
    is_ = iolr + ist + iq
    # 7.4: delay impairment Id = Idte + Idle + Idd.
    terv = telr - 40 * math.log10((1 + t / 10) / (1 + t / 150)) + 6 * math.exp(-0.3 * t * t)
    roe = -1.5 * (no - rlr)
    re = 80 + 2.5 * (terv - 14)
    idte = ((roe - re) / 2 + math.sqrt((roe - re) ** 2 / 4 + 100) - 1) * (1 - math.exp(-t))
    rle = 10.5 * (wepl + 7) * (tr + 1) ** -0.25
    idle = (ro - rle) / 2 + math.sqrt((ro - rle) ** 2 / 4 + 169)
    idd = 0.0
    if ta > 100:
        x = math.log10(ta / 100) / math.log10(2)
        idd = 25 * ((1 + x ** 6) ** (1 / 6) - 3 * (1 + (x / 3) ** 6) ** (1 / 6) + 2)
    # 7.5: effective equipment impairment under random or bursty loss.
    ie_eff = ie + (95 - ie) * ppl / (ppl / burst_r + bpl)
    return ro - is_ - (idte + idle + idd) - ie_eff + a


def g107_mos(r):
    """G.107 Annex B: R to MOS (CQE)."""
    if r < 0:
        return 1.0
    if r > 100:
        return 4.5
    return 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6


def expected_mos(f):
    ie, bpl = CODEC_IMPAIRMENT[f["codec"]]
    ppl = min(100.0, 100.0 * (f["lost_rfc3550"] + f["discarded_fixed50"]) / f["expected_rfc3550"])
    return g107_mos(g107_r(ie, bpl, ppl, f["burst_ratio"]))


def close(field, want, got):
    if isinstance(want, bool) or isinstance(want, (str, list)):
        return want == got
    if isinstance(want, int):
        return isinstance(got, int) and want == got
    if field.endswith("_ms"):
        return abs(want - got) <= MS_TOLERANCE
    if field.endswith("_ts"):
        return abs(want - got) <= TS_TOLERANCE
    return abs(want - got) <= RATIO_TOLERANCE


def run_seed(sipman, generator, workdir, seed, fail):
    pcap = f"{workdir}/media-{seed}.pcap"
    gen = subprocess.run([sys.executable, generator, pcap, "--seed", str(seed)], capture_output=True, text=True)
    if gen.returncode != 0:
        fail("generator", f"seed {seed}: exited {gen.returncode}: {gen.stderr.strip()}")
        return 0
    print(gen.stdout.strip())
    with open(pcap[:-5] + ".truth.json") as f:
        truth = json.load(f)
    try:
        run = subprocess.run([sipman, "media", "--json", pcap], capture_output=True, text=True)
    except OSError as e:
        fail("sipman", f"seed {seed}: cannot run {sipman}: {e}")
        return 0
    if run.returncode != 0 or "runtime error" in run.stderr or "Sanitizer" in run.stderr:
        fail("sipman", f"seed {seed}: sipman media exited {run.returncode}: {run.stderr.strip()}")
        return 0
    got = {}
    for line in run.stdout.splitlines():
        s = json.loads(line)
        got[(s["src_ip"], s["src_port"], s["dst_ip"], s["dst_port"], s["ssrc"])] = s

    checks = 0
    mos = {}
    for t in truth["streams"]:
        key = (t["src"], t["sport"], t["dst"], t["dport"], t["ssrc"])
        name = f"seed {seed} {t['scenario']} {t['src']}:{t['sport']} -> {t['dst']}:{t['dport']} {t['ssrc']}"
        s = got.pop(key, None)
        if s is None:
            fail(t["scenario"], f"{name}: stream missing from sipman media")
            continue
        for field, want in t["figures"].items():
            checks += 1
            if field not in s:
                fail(t["scenario"], f"{name}: {field} missing from sipman's JSON")
            elif not close(field, want, s[field]):
                shown = f"{want:.4f}" if isinstance(want, float) else repr(want)
                fail(t["scenario"], f"{name}: {field} expected {shown}, got {s[field]!r}")
        checks += 1
        want = expected_mos(t["figures"])
        if abs(s["mos_fixed50"] - want) > MOS_TOLERANCE:
            fail(t["scenario"], f"{name}: mos_fixed50 expected {want:.3f} (G.107), got {s['mos_fixed50']}")
        mos.setdefault(t["scenario"], []).append(s["mos_fixed50"])
    for key, s in got.items():
        fail("streams", f"seed {seed}: sipman found a stream the script never sent: {key}")

    # The tracker's counters, "name: value" lines on stderr.
    counters = {}
    for line in run.stderr.splitlines():
        name, sep, value = line.partition(": ")
        if sep and value.isdigit():
            counters[name] = int(value)
    for name, want in truth["counters"].items():
        checks += 1
        if counters.get(name) != want:
            fail("counters", f"seed {seed}: {name} expected {want}, got {counters.get(name)}")

    # Sanity of the scale, whatever the formulas: clean G.711 is good,
    # 20% loss is not.
    checks += 2
    clean, lossy = min(mos.get("clean", [0])), mos.get("loss_20pct", [5])[0]
    if clean < 4.3:
        fail("clean", f"seed {seed}: lossless G.711 MOS {clean}, expected >= 4.3")
    if not lossy < min(3.0, clean - 1.0):
        fail("loss_20pct", f"seed {seed}: 20% loss MOS {lossy}, expected under 3.0 and 1 below clean ({clean})")
    return checks


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__.strip().splitlines()[-1])
    sipman, generator, workdir, seeds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    failures = []

    def fail(scenario, text):
        failures.append(text)
        print(f"FAIL [{scenario}] {text}")

    checks = sum(run_seed(sipman, generator, workdir, int(seed), fail) for seed in seeds)
    verdict = "FAIL" if failures else "PASS"
    print(f"{verdict}: {checks} checks over seeds {' '.join(seeds)}, {len(failures)} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
