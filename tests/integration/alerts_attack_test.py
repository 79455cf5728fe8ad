#!/usr/bin/env python3
"""SIPVicious against Kamailio while `sipman run` watches (started by
alerts_attack_test.sh, as root, once it has made the namespaces, the
nftables table and started Kamailio and the SIPp UAS in srv).

Phase 1, the built-in rules without actions. From atk (10.77.0.2), in turn:
  svmap 10.77.0.1            1 OPTIONS, User-Agent friendly-scanner -> 200
  svwar -e100-150            52 REGISTERs (a random user first) -> 42 404
                             and 10 401 (users 100-109 exist)
  svcrack -u100 -r4250-4350  74 REGISTERs (one unauthenticated, then a
                             guessed password each, in order) -> 73 401,
                             then 200 for 4321 (Kamailio's), in about 0.4 s
while cli (10.77.0.3) makes SIPp calls through Kamailio. sip-scanner,
extension-scan and password-guessing must each fire for key 10.77.0.2
within LATENCY_S seconds of the start of the tool that trips it (and not
before it started); nothing fires for the caller; no action is taken.

Phase 2, sipman restarted with the sip-scanner rule's action "block": svmap
puts 10.77.0.2 into the nftables set inet sipman blocklist; then svmap and
svwar again: the rule's counter counts their packets dropped, they get no
answer, and sipman (whose libpcap sees packets before the input hook) stores
their requests with no response. The caller sends one OPTIONS with a
scanner's User-Agent: the rule fires for 10.77.0.3 too, which is on the
allow list, so it stays out of the set; its SIPp calls keep completing.

usage: alerts_attack_test.py --sipman SIPMAN --work DIR --srv NS --atk NS --cli NS --iface IF
       alerts_attack_test.py probe SRC DST USER_AGENT   (run inside a namespace: one OPTIONS)
"""
import argparse
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import analyze_lib as lib  # noqa: E402

SRV, ATK, CLI = "10.77.0.1", "10.77.0.2", "10.77.0.3"
LATENCY_S = 10          # each rule fires within this many seconds of its tool's start
CALLS, RATE = 24, 2     # SIPp calls per phase from the caller, calls per second
PASSWORD = "4321"       # alerts_kamailio.cfg's
SCANNER_UA = "friendly-scanner"

BASE_CONFIG = f"""[alerts]
allow = ["{CLI}/32"]
nft_set = "inet sipman blocklist"
block_timeout = 600
"""
BLOCK_RULE = """
[[rule]]
name = "sip-scanner"
metric = "scanner"
by = "src_ip"
window = 60
fire = 1
resolve = 0
action = "block"
"""


def probe(src, dst, user_agent):
    """One OPTIONS from SRC to DST:5060; prints the status line of the
    answer, exit 0 on a 200 (1 s to answer)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    port = s.getsockname()[1]
    tag = os.urandom(4).hex()
    msg = (f"OPTIONS sip:{dst} SIP/2.0\r\n"
           f"Via: SIP/2.0/UDP {src}:{port};branch=z9hG4bK-{tag};rport\r\n"
           f"Max-Forwards: 70\r\nFrom: <sip:probe@{src}>;tag={tag}\r\nTo: <sip:{dst}>\r\n"
           f"Call-ID: probe-{tag}@{src}\r\nCSeq: 1 OPTIONS\r\nUser-Agent: {user_agent}\r\n"
           f"Contact: <sip:probe@{src}:{port}>\r\nContent-Length: 0\r\n\r\n")
    s.sendto(msg.encode(), (dst, 5060))
    s.settimeout(1)
    try:
        data = s.recv(65535).decode(errors="replace")
    except socket.timeout:
        print("no answer")
        return 1
    line = data.split("\r\n", 1)[0]
    print(line)
    return 0 if line.startswith("SIP/2.0 200") else 1


class Test:
    def __init__(self, a):
        self.a = a
        self.ck = lib.Checks()
        self.procs = []

    # Processes in a namespace. `ip netns exec` execs the command, so the
    # Popen's PID is the command's own.
    def popen(self, ns, argv, name):
        log = open(os.path.join(self.a.work, name + ".log"), "w")
        p = subprocess.Popen(["ip", "netns", "exec", ns] + argv, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def run(self, ns, argv, name, timeout):
        """Runs a command to its end (killed after `timeout` s): (start ns,
        seconds taken, output)."""
        start = time.time_ns()
        p = self.popen(ns, argv, name)
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            lib.stop(p, signal.SIGKILL)
        took = (time.time_ns() - start) / 1e9
        return start, took, open(os.path.join(self.a.work, name + ".log"), errors="replace").read()

    def probe(self, ns, src, ua, name):
        _, _, out = self.run(ns, [sys.executable, os.path.abspath(__file__), "probe", src, SRV, ua], name, 10)
        return out.strip()

    def nft(self, *args):
        out = subprocess.run(["ip", "netns", "exec", self.a.srv, "nft"] + list(args),
                             capture_output=True, text=True, timeout=20)
        return out.stdout + out.stderr

    def drop_counter(self):
        """Packets counted by the drop rule of chain inet sipman input."""
        try:
            doc = json.loads(self.nft("-j", "list", "chain", "inet", "sipman", "input"))
        except ValueError:
            return -1
        for item in doc.get("nftables", []):
            for expr in item.get("rule", {}).get("expr", []):
                if "counter" in expr:
                    return expr["counter"]["packets"]
        return -1

    def blocklist(self):
        """Addresses in set inet sipman blocklist."""
        text = self.nft("list", "set", "inet", "sipman", "blocklist")
        m = re.search(r"elements = \{([^}]*)\}", text)
        return set(re.findall(r"\d+\.\d+\.\d+\.\d+", m.group(1))) if m else set()

    def start_sipman(self, phase, config):
        cfg = os.path.join(self.a.work, f"{phase}.toml")
        with open(cfg, "w") as f:
            f.write(config)
        db = os.path.join(self.a.work, f"{phase}.db")
        log = os.path.join(self.a.work, f"{phase}.sipman.log")
        p = self.popen(self.a.srv, [self.a.sipman, "run", "-i", self.a.iface, "--db", db, "--no-web",
                                    "--config", cfg, "--stats-interval", "0", "--log", log],
                       f"{phase}.sipman.out")
        ok = lib.wait_for(log, r"capturing on " + re.escape(self.a.iface), 15)
        time.sleep(0.5)
        ok = ok and p.poll() is None
        text = open(log, errors="replace").read() if os.path.exists(log) else ""
        self.ck.check(f"{phase}: sipman run -i {self.a.iface} --config {os.path.basename(cfg)} starts", ok,
                      text[-2000:] + open(os.path.join(self.a.work, f"{phase}.sipman.out.log"),
                                          errors="replace").read()[-2000:])
        return p, db, log, ok

    def stop_sipman(self, phase, p, log):
        lib.stop(p, signal.SIGTERM, 60)
        out = open(os.path.join(self.a.work, f"{phase}.sipman.out.log"), errors="replace").read()
        self.ck.check(f"{phase}: sipman run stops on SIGTERM with exit status 0", p.returncode == 0,
                      f"exit status {p.returncode}: {out[-1500:]} {open(log, errors='replace').read()[-1500:]}")

    def start_calls(self, phase):
        """SIPp calls from the caller through Kamailio to the UAS, CALLS of
        them at RATE a second, in the background."""
        stat = os.path.join(self.a.work, f"{phase}.calls.csv")
        p = self.popen(self.a.cli, ["sipp", "-sn", "uac", f"{SRV}:5060", "-s", "200", "-i", CLI,
                                    "-p", "5061", "-m", str(CALLS), "-r", str(RATE), "-nostdin",
                                    "-timeout", "120s", "-trace_stat", "-stf", stat, "-fd", "1"],
                       f"{phase}.calls")
        return p, stat

    def finish_calls(self, phase, p, stat, what):
        try:
            p.wait(timeout=CALLS / RATE + 60)
        except subprocess.TimeoutExpired:
            lib.stop(p, signal.SIGKILL)
        n = lib.successful_calls(stat)
        log = open(os.path.join(self.a.work, f"{phase}.calls.log"), errors="replace").read()
        self.ck.check(f"{phase}: all {CALLS} SIPp calls from {CLI} through Kamailio completed {what}",
                      p.returncode == 0 and n == CALLS,
                      f"SIPp exit status {p.returncode}, {n} successful; {log[-1500:]}")

    def alerts(self, phase, db):
        rows, ok, detail = lib.stored_alerts(self.a.sipman, db)
        self.ck.check(f"{phase}: sipman alerts --db --json prints one JSON object per line", ok, detail)
        print(f"     {phase} alerts:")
        for r in rows:
            print(f"       {r.get('rule')} {r.get('key')} {r.get('state')} at {r.get('fired_at_time')}: "
                  f"{r.get('kind')} {r.get('value')} (threshold {r.get('threshold')}) "
                  f"action {r.get('action')!r} -> {r.get('action_result')!r}; "
                  f"evidence {(r.get('evidence') or [])[:3]}")
        return rows

    def check_fired(self, phase, rows, rule, kind, start_ns, tool):
        mine = [r for r in rows if r.get("rule") == rule and r.get("key") == ATK]
        if not self.ck.check(f"{phase}: {rule} fired for the attacker {ATK} ({tool})", len(mine) == 1,
                             f"{len(mine)} alerts: {mine}"):
            return None
        r = mine[0]
        latency = (int(r.get("fired_at") or 0) - start_ns) / 1e9
        print(f"     {rule}: fired {latency:.3f} s after {tool} started "
              f"(value {r.get('value')}, threshold {r.get('threshold')})")
        self.ck.check(f"{phase}: {rule} fired within {LATENCY_S} s of the start of {tool}, not before",
                      0 <= latency <= LATENCY_S, f"{latency:.3f} s: {r}")
        self.ck.check(f"{phase}: {rule} is a {kind} alert with its value past the threshold and evidence",
                      r.get("kind") == kind and r.get("state") in ("firing", "resolved")
                      and float(r.get("value", 0)) >= float(r.get("threshold", 1)) > 0
                      and isinstance(r.get("evidence"), list) and r.get("evidence"), r)
        return r

    def wait_kamailio(self):
        out = ""
        for _ in range(40):
            out = self.probe(self.a.cli, CLI, "alerts-attack-test", "kamailio-probe")
            if out.startswith("SIP/2.0 200"):
                break
            time.sleep(0.5)
        return self.ck.check(f"Kamailio answers OPTIONS on {SRV}:5060", out.startswith("SIP/2.0 200"), out)

    def phase1(self):
        print("== phase 1: the rules fire (no action)")
        p, db, log, ok = self.start_sipman("phase1", BASE_CONFIG)
        if not ok:
            return
        calls, stat = self.start_calls("phase1")
        time.sleep(1)
        t_map, took, out = self.run(self.a.atk, ["svmap", SRV], "phase1.svmap", 60)
        print(f"     svmap took {took:.1f} s")
        self.ck.check("svmap finds Kamailio (its OPTIONS answered 200)", f"{SRV}:5060" in out
                      and "kamailio" in out.lower(), out[-1500:])
        t_war, took, out = self.run(self.a.atk, ["svwar", "-e100-150", "-m", "REGISTER", SRV], "phase1.svwar", 60)
        print(f"     svwar took {took:.1f} s")
        found = sorted(set(re.findall(r"\|\s*(\d+)\s*\|\s*reqauth", out)))
        self.ck.check("svwar finds exactly extensions 100-109 (401), the other 41 answered 404",
                      found == [str(n) for n in range(100, 110)], out[-2000:])
        t_crack, took, out = self.run(self.a.atk, ["svcrack", "-u100", "-r4250-4350", SRV], "phase1.svcrack", 60)
        print(f"     svcrack took {took:.1f} s")
        self.ck.check(f"svcrack finds user 100's password ({PASSWORD}) after the wrong guesses 4250-4320",
                      re.search(r"\|\s*100\s*\|\s*" + PASSWORD + r"\s*\|", out) is not None, out[-1500:])
        self.finish_calls("phase1", calls, stat, "during the attack")
        time.sleep(1)
        self.stop_sipman("phase1", p, log)

        rows = self.alerts("phase1", db)
        self.check_fired("phase1", rows, "sip-scanner", "scanner", t_map, "svmap")
        self.check_fired("phase1", rows, "extension-scan", "not_found_share", t_war, "svwar")
        self.check_fired("phase1", rows, "password-guessing", "register_failures", t_crack, "svcrack")
        mine = [r for r in rows if r.get("key") == CLI]
        self.ck.check(f"phase1: no alert for the legitimate caller {CLI}", not mine, mine)
        acted = [r for r in rows if r.get("action") or r.get("action_result")]
        self.ck.check("phase1: no rule has an action, none was taken", not acted, acted)
        self.ck.check("phase1: the blocklist is still empty", not self.blocklist(), self.blocklist())

    def phase2(self):
        print("== phase 2: sip-scanner blocks the attacker")
        p, db, log, ok = self.start_sipman("phase2", BASE_CONFIG + BLOCK_RULE)
        if not ok:
            return
        calls, stat = self.start_calls("phase2")
        time.sleep(1)
        before = self.drop_counter()
        # svmap in the background while the set is watched.
        t_map = time.time_ns()
        svmap = self.popen(self.a.atk, ["svmap", SRV], "phase2.svmap1")
        blocked_at = None
        deadline = t_map + LATENCY_S * 10**9
        while time.time_ns() < deadline:
            if ATK in self.blocklist():
                blocked_at = time.time_ns()
                break
            time.sleep(0.05)
        try:
            svmap.wait(timeout=60)
        except subprocess.TimeoutExpired:
            lib.stop(svmap, signal.SIGKILL)
        out = open(os.path.join(self.a.work, "phase2.svmap1.log"), errors="replace").read()
        print(f"     svmap (the first, before the block) took {(time.time_ns() - t_map) / 1e9:.1f} s; "
              f"its OPTIONS answered: {f'{SRV}:5060' in out}")
        if blocked_at is not None:
            print(f"     {ATK} in the nftables set {(blocked_at - t_map) / 1e9:.3f} s after svmap started")
        self.ck.check(f"phase2: {ATK} is in set inet sipman blocklist within {LATENCY_S} s of svmap's start",
                      blocked_at is not None,
                      f"{self.nft('list', 'set', 'inet', 'sipman', 'blocklist')} "
                      f"{open(log, errors='replace').read()[-1500:]}")
        dropped0 = self.drop_counter()
        self.ck.check("phase2: nothing was dropped before the block", before == 0 and dropped0 == 0,
                      f"counter {before} before svmap, {dropped0} after the block")
        _, took, out = self.run(self.a.atk, ["svmap", SRV], "phase2.svmap2", 60)
        print(f"     svmap (blocked) took {took:.1f} s")
        self.ck.check("phase2: svmap after the block gets no answer", f"{SRV}:5060" not in out
                      and "found nothing" in out, out[-1500:])
        _, took, out = self.run(self.a.atk, ["svwar", "-e100-150", "-m", "REGISTER", SRV], "phase2.svwar", 60)
        print(f"     svwar (blocked) took {took:.1f} s")
        # svwar sends one REGISTER for a random user and gives up when no
        # answer comes within 3 s ("socket error: timed out").
        self.ck.check("phase2: svwar after the block gets no answer", "reqauth" not in out
                      and "found nothing" in out, out[-1500:])
        dropped = self.drop_counter()
        print(f"     nftables drop counter: {dropped0} after the block, {dropped} after svmap and svwar")
        self.ck.check("phase2: the nftables rule counted the attacker's later packets dropped",
                      dropped > dropped0 >= 0, f"{dropped0} -> {dropped}")
        t_probe = time.time_ns()
        out = self.probe(self.a.cli, CLI, SCANNER_UA, "phase2.allowed-probe")
        self.ck.check(f"phase2: {CLI} (allow-listed) sending User-Agent {SCANNER_UA} is answered 200",
                      out.startswith("SIP/2.0 200"), out)
        time.sleep(1.5)  # the notifier acts on its own thread
        self.finish_calls("phase2", calls, stat, "before, during and after the block")
        held = self.blocklist()
        self.ck.check(f"phase2: set inet sipman blocklist holds {ATK} and not {CLI}",
                      ATK in held and CLI not in held, held)
        self.stop_sipman("phase2", p, log)

        rows = self.alerts("phase2", db)
        r = self.check_fired("phase2", rows, "sip-scanner", "scanner", t_map, "svmap")
        if r is not None:
            self.ck.check("phase2: the attacker's alert says it was blocked with nft",
                          r.get("action") == "block" and ATK in (r.get("action_result") or "")
                          and "nft: added" in (r.get("action_result") or ""), r)
        mine = [x for x in rows if x.get("rule") == "sip-scanner" and x.get("key") == CLI]
        self.ck.check(f"phase2: sip-scanner fired for {CLI} too, and was not acted on (allow list)",
                      len(mine) == 1 and mine[0].get("fired_at", 0) >= t_probe
                      and "allow list" in (mine[0].get("action_result") or ""), mine)
        self.check_after_block(db, blocked_at, dropped)

    def check_after_block(self, db, blocked_at, dropped):
        """sipman's own capture: after the block, requests from the attacker
        and no response to it."""
        if blocked_at is None:
            return
        con = sqlite3.connect(db, timeout=10)
        try:
            # All requests: the attacker's tools answer nothing.
            requests = con.execute("SELECT COUNT(*) FROM messages WHERE src_ip = ? AND ts > ?",
                                   (ATK, blocked_at)).fetchone()[0]
            answers = con.execute("SELECT COUNT(*) FROM messages WHERE dst_ip = ? AND ts > ?",
                                  (ATK, blocked_at)).fetchone()[0]
        finally:
            con.close()
        print(f"     stored after the block: {requests} requests from {ATK}, {answers} messages to it; "
              f"nftables dropped {dropped}")
        self.ck.check(f"phase2: sipman still saw the attacker's requests after the block, as many as "
                      f"nftables dropped, and no answer to them", requests == dropped and answers == 0,
                      f"{requests} requests stored, {dropped} dropped, {answers} answers")

    def main(self):
        try:
            if self.wait_kamailio():
                self.phase1()
                self.phase2()
        finally:
            for p in self.procs:
                lib.stop(p, signal.SIGKILL, 5)
        return self.ck.finish()


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "probe":
        return probe(*sys.argv[2:5])
    ap = argparse.ArgumentParser()
    for name in ("sipman", "work", "srv", "atk", "cli", "iface"):
        ap.add_argument("--" + name, required=True)
    return Test(ap.parse_args()).main()


if __name__ == "__main__":
    sys.exit(main())
