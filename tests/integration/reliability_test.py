#!/usr/bin/env python3
"""`sipman run --pcap` interrupted at any moment, then run again, ends with
the database a clean run writes: row by row, with no duplicates.

What it proves: stopping a replay of real SIPp traffic (SIGTERM) or killing
it (SIGKILL) at a random moment, then replaying the same capture to the end
into the same database file, leaves every table exactly as one uninterrupted
replay leaves it: no call twice (an in_progress row stored at the stop beside
the complete one of the re-run), no message, registration or traffic second
lost or counted twice, the rollups consistent, active_calls empty.

1. The capture (SIPp calls with mixed outcomes and registrations, made by
   reliability_test.sh with scripts/gen-calls-pcap) is replayed once without
   interruption into clean.db: the reference. Its calls per state must equal
   SIPp's own counts (the truth file), and a second clean replay must give
   the same rows (else the comparison below would mean nothing).
2. Each case below runs on a fresh database file; after each interruption
   the whole capture is replayed to the end into the same file:
   - sigterm-early:  SIGTERM shortly after the replay started;
   - sigterm-during: SIGTERM in the middle of the replay;
   - sigterm-at-eof: SIGTERM as soon as the log says "capture ended" (the
                     end of file reached, the last calls being stored);
   - sigterm-after:  SIGTERM once the replay is stored and the web GUI keeps
                     serving it (after the end of file);
   - sigkill-write:  SIGKILL at a random moment just after the -wal file grew
                     (a write transaction under way or just committed); with
                     --active-interval 1 it leaves active_calls rows behind,
                     which the re-run must clear;
   - sequence:       SIGTERM during the replay, re-run killed by SIGKILL mid
                     write, re-run to the end.
   The moments are random, drawn from a seed printed first; RELIABILITY_SEED
   and RELIABILITY_PCAP (the capture kept by the .sh after a failure) give
   the same moments again.
3. Every table of clean.db (except schema_migrations, whose rows carry the
   wall clock, and the web GUI's web_* tables) is compared with the same
   table of each case's database as a multiset of rows without the `id`
   column (an INTEGER PRIMARY KEY numbered in insertion order; rollup rows
   whose counts are all 0 are left out, see ROLLUPS below). Calls,
   registrations and messages must also be unique by their natural keys, and
   active_calls empty.

usage: reliability_test.py SIPMAN WORKDIR PCAP   (PCAP.truth.json beside it, if any)
"""
import collections
import hashlib
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import analyze_lib as lib  # noqa: E402

SPEED = 3            # --pcap-speed: a 10 s capture replays in about 3.5 s
SENSOR = "reliability"
RUN_TIMEOUT = 120    # s: the longest any one sipman run may take
PASSWORD = "reliability-test-password"

# Tables whose rows legitimately differ between two runs.
NOT_COMPARED = {"schema_migrations"}  # applied_at_ns is the wall clock

# The call rollups (docs/SCHEMA.md). A rollup row whose counts are all 0
# counts no call: the store's own trigger leaves such rows when it subtracts
# a deleted call, so they are left out of the comparison (and counted in the
# output). Set this to False to demand them gone too.
ROLLUPS = {"calls_hourly", "calls_values", "calls_daily_keys"}
IGNORE_ZERO_ROLLUP_ROWS = True

# Natural keys (docs/SCHEMA.md, "Deduplication"); calls are one row per
# call, whatever end_ts a stop gave an unfinished one.
NATURAL_KEYS = {
    "calls": ("invite_ts", "call_id", "sensor"),
    "registrations": ("first_seen", "call_id", "sensor"),
    "messages": ("ts", "call_id", "src_ip", "src_port", "dst_ip", "dst_port", "size", "sensor"),
}


# ------------------------------------------------------------------ running sipman

class Runner:
    """Starts `sipman run --pcap` replays of one capture, each with its own log."""

    def __init__(self, sipman, work, pcap):
        self.sipman, self.work, self.pcap = sipman, work, pcap
        self.runs = 0

    def start(self, db, web=False):
        self.runs += 1
        log = os.path.join(self.work, f"{os.path.basename(db)}.{self.runs}.log")
        args = [self.sipman, "run", "--pcap", self.pcap, "--pcap-speed", str(SPEED),
                "--db", db, "--log", log, "--sensor", SENSOR, "--stats-interval", "0",
                "--active-interval", "1"]
        if web:
            password = os.path.join(self.work, "password")
            with open(password, "w") as f:
                f.write(PASSWORD + "\n")
            args += ["--listen", f"127.0.0.1:{free_port()}", "--admin-password-file", password]
        else:
            args += ["--no-web"]
        out = open(log + ".out", "w")
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        proc.db, proc.log = db, log
        proc.started = time.time()
        return proc

    def complete(self, db):
        """One replay to the end (exits by itself: no web GUI). Returns
        (exit code or None on timeout, seconds, log tail)."""
        proc = self.start(db)
        rc = wait_exit(proc, RUN_TIMEOUT)
        return rc, time.time() - proc.started, tail(proc.log)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def tail(log, n=1500):
    return (read(log) + read(log + ".out"))[-n:]


def wait_exit(proc, timeout):
    """The exit code, or None after `timeout` s (then the process is killed)."""
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None


def wait_log(proc, text, timeout):
    """True once the log holds `text`; False on timeout or once the process
    exited without writing it."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text in read(proc.log):
            return True
        if proc.poll() is not None:
            return text in read(proc.log)
        time.sleep(0.005)
    return False


def wal_size(db):
    try:
        return os.path.getsize(db + "-wal")
    except OSError:
        return -1


def fresh(work, name):
    db = os.path.join(work, name + ".db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    return db


# ------------------------------------------------------------------ interruptions
# Each returns a one-line description of what happened, for the output.

def sigterm_after_delay(proc, delay):
    """SIGTERM `delay` s after the log says the replay started."""
    if not wait_log(proc, "replaying ", 30):
        return "the replay never started"
    time.sleep(delay)
    if proc.poll() is not None:
        return f"never interrupted: it exited by itself ({proc.returncode}) first"
    wal = wal_size(proc.db)
    proc.send_signal(signal.SIGTERM)
    return f"SIGTERM {delay:.3f} s after the start (WAL {wal} bytes)"


def sigterm_at_eof(proc, delay):
    """SIGTERM `delay` s after the log says the capture ended."""
    if not wait_log(proc, "capture ended", RUN_TIMEOUT):
        return "'capture ended' never logged"
    time.sleep(delay)
    if proc.poll() is not None:  # a race by design: the last writes take ~20 ms
        return f"exited by itself ({proc.returncode}) {delay * 1000:.0f} ms after 'capture ended'"
    proc.send_signal(signal.SIGTERM)
    return f"SIGTERM {delay * 1000:.1f} ms after 'capture ended'"


def sigterm_after_stored(proc, delay):
    """SIGTERM `delay` s after "replay finished and stored" (web GUI on)."""
    if not wait_log(proc, "replay finished and stored", RUN_TIMEOUT):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        return "'replay finished and stored' never logged"
    time.sleep(delay)
    proc.send_signal(signal.SIGTERM)
    return f"SIGTERM {delay:.3f} s after 'replay finished and stored'"


def sigkill_mid_write(proc, delay):
    """SIGKILL at the first growth of the -wal file `delay` s or more after
    the replay started: the writer is in, or has just ended, a transaction."""
    if not wait_log(proc, "replaying ", 30):
        return "the replay never started"
    time.sleep(delay)
    before = wal_size(proc.db)
    deadline = time.time() + RUN_TIMEOUT
    while proc.poll() is None and time.time() < deadline:
        now = wal_size(proc.db)
        if now != before and now > 0:
            proc.send_signal(signal.SIGKILL)
            return (f"SIGKILL {time.time() - proc.started:.3f} s after the start, as the WAL "
                    f"grew from {before} to {now} bytes")
        time.sleep(0.0005)
    return f"never interrupted: it exited by itself ({proc.returncode}) before the WAL grew"


# ------------------------------------------------------------------ comparing databases

def tables(con):
    return sorted(r[0] for r in con.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        if r[0] not in NOT_COMPARED and not r[0].startswith("web_"))


def compared_columns(con, table):
    """(every column but an INTEGER PRIMARY KEY `id`, which numbers rows in
    insertion order; the columns that name a row: the natural key, else the
    primary key, else none)."""
    info = con.execute(f'PRAGMA table_info("{table}")').fetchall()
    cols = [c[1] for c in info if not (c[1] == "id" and c[5] == 1 and c[2].upper() == "INTEGER")]
    pk = [c[1] for c in sorted(info, key=lambda c: c[5]) if c[5] > 0 and c[1] in cols]
    return cols, list(NATURAL_KEYS.get(table, pk))


def rows_of(db, table, columns):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        sel = ", ".join(f'"{c}"' for c in columns)
        return collections.Counter(con.execute(f'SELECT {sel} FROM "{table}"'))
    finally:
        con.close()


def short(v):
    """A value for a failure message: raw messages and long texts abridged."""
    if isinstance(v, bytes):
        return f"<{len(v)} bytes {hashlib.sha1(v).hexdigest()[:8]}>"
    if isinstance(v, str) and len(v) > 60:
        return repr(v[:57] + "...")
    return repr(v)


def explain(cols, key, want, got, missing, extra, show):
    """Lines naming the first `show` keys whose rows differ: for a row of this
    run beside a clean row of the same key, only the columns that differ."""
    ki = [cols.index(k) for k in key]
    keyof = (lambda row: tuple(row[i] for i in ki)) if key else (lambda row: row)
    clean_by_key = collections.defaultdict(list)
    for row, n in want.items():
        clean_by_key[keyof(row)] += [row] * n
    got_by_key = collections.Counter()
    for row, n in got.items():
        got_by_key[keyof(row)] += n
    keys = sorted({keyof(r) for r in missing} | {keyof(r) for r in extra}, key=repr)
    lines = []
    for k in keys[:show]:
        name = ", ".join(f"{c}={short(v)}" for c, v in zip(key, k)) if key else "row"
        lines.append(f"  ({name}): {len(clean_by_key[k])} row(s) in the clean run, "
                     f"{got_by_key[k]} here")
        for row, n in extra.items():
            if keyof(row) != k:
                continue
            times = f" x{n}" if n > 1 else ""
            if clean_by_key[k]:
                ref = clean_by_key[k][0]
                diff = [f"{c} {short(a)} -> {short(b)}"
                        for c, a, b in zip(cols, ref, row) if a != b]
                lines.append(f"    extra row{times}, differs from the clean row in: "
                             + "; ".join(diff))
            else:
                lines.append(f"    extra row{times}: "
                             + ", ".join(f"{c}={short(v)}" for c, v in zip(cols, row)))
        if not any(keyof(r) == k for r in extra):
            for row, n in missing.items():
                if keyof(row) == k:
                    lines.append(f"    missing row{' x%d' % n if n > 1 else ''}: "
                                 + ", ".join(f"{c}={short(v)}" for c, v in zip(cols, row)))
    if len(keys) > show:
        lines.append(f"  ... and {len(keys) - show} more keys")
    return lines


def without_zero_rows(rows, cols, key):
    """(rows without those whose every column outside the key is 0, how many
    were left out)."""
    counts = [i for i, c in enumerate(cols) if c not in key]
    kept = collections.Counter({r: n for r, n in rows.items() if any(r[i] for i in counts)})
    return kept, sum(rows.values()) - sum(kept.values())


def compare(ck, label, clean_db, db, show=4):
    """One check per table: the same multiset of rows as the clean run's.
    Returns {table: (clean rows, rows, missing, extra)} for the tables that differ."""
    clean_con = sqlite3.connect(f"file:{clean_db}?mode=ro", uri=True)
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        want_tables, got_tables = tables(clean_con), tables(con)
        ck.check(f"{label}: the same tables as the clean run", want_tables == got_tables,
                 f"clean {want_tables}, got {got_tables}")
        columns = {t: compared_columns(clean_con, t) for t in want_tables}
    finally:
        clean_con.close()
        con.close()
    differing = {}
    for table in want_tables:
        if table not in got_tables:
            continue
        cols, key = columns[table]
        want, got = rows_of(clean_db, table, cols), rows_of(db, table, cols)
        if IGNORE_ZERO_ROLLUP_ROWS and table in ROLLUPS:
            want, _ = without_zero_rows(want, cols, key)
            got, zeros = without_zero_rows(got, cols, key)
            if zeros:
                print(f"     {label}: {zeros} rows of {table} whose counts are all 0 not compared")
        missing, extra = want - got, got - want
        n_want, n_got = sum(want.values()), sum(got.values())
        detail = ""
        if missing or extra:
            differing[table] = (n_want, n_got, sum(missing.values()), sum(extra.values()))
            lines = [f"clean {n_want} rows, this run {n_got}: {sum(missing.values())} rows of "
                     f"the clean run missing, {sum(extra.values())} rows not in the clean run"]
            lines += explain(cols, key, want, got, missing, extra, show)
            detail = "\n".join(lines)
        ck.check(f"{label}: {table} equals the clean run's ({n_want} rows)", not detail, detail)
    return differing


def left_behind(db):
    """What an interrupted run left in its database, for the output."""
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            n = {t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                 for t in ("calls", "active_calls", "messages", "stats_second")}
            stopped = con.execute("SELECT COUNT(*) FROM calls WHERE state = 'in_progress'")
            n["in_progress"] = stopped.fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error as e:
        return f"the database cannot be read ({e})"
    return (f"{n['calls']} calls ({n['in_progress']} in_progress), {n['active_calls']} "
            f"active_calls, {n['messages']} messages, {n['stats_second']} stats_second rows")


def check_unique(ck, label, db):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        for table, key in NATURAL_KEYS.items():
            cols = ", ".join(key)
            dup = con.execute(f"SELECT {cols}, COUNT(*) FROM {table} GROUP BY {cols} "
                              f"HAVING COUNT(*) > 1").fetchall()
            extra = sum(r[-1] - 1 for r in dup)
            ck.check(f"{label}: {table} unique by ({cols})", not dup,
                     f"{len(dup)} keys with several rows ({extra} rows too many), e.g. "
                     f"{dup[:3]}")
        calls = con.execute("SELECT state, COUNT(*) FROM calls GROUP BY state").fetchall()
        active = con.execute("SELECT COUNT(*) FROM active_calls").fetchone()[0]
    finally:
        con.close()
    ck.check(f"{label}: active_calls is empty at the end", active == 0,
             f"{active} rows left in active_calls")
    return dict(calls)


# ------------------------------------------------------------------ the test

def replay_seconds(db):
    """How long a replay lasts at SPEED, from the capture times stored (not
    from a measured run, so a seed gives the same moments again)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        first, last = con.execute("SELECT MIN(ts), MAX(ts) FROM messages").fetchone()
    finally:
        con.close()
    return max((last - first) / 1e9 / SPEED, 0.5)


def main():
    sipman, work, pcap = sys.argv[1], sys.argv[2], sys.argv[3]
    seed = int(os.environ.get("RELIABILITY_SEED") or int.from_bytes(os.urandom(4), "big"))
    rnd = random.Random(seed)
    print(f"     seed {seed} (RELIABILITY_SEED={seed} draws the same moments again)")
    ck = lib.Checks()
    runner = Runner(sipman, work, pcap)
    started = time.time()

    # --- the reference
    clean = fresh(work, "clean")
    rc, took, log = runner.complete(clean)
    if not ck.check("the clean replay exits 0", rc == 0, f"exit {rc}; {log}"):
        return ck.finish()
    print(f"     clean replay: {took:.2f} s at --pcap-speed {SPEED}")
    states = check_unique(ck, "clean", clean)
    truth_path = pcap[:-len(".pcap")] + ".truth.json"
    if os.path.exists(truth_path):
        with open(truth_path) as f:
            truth = json.load(f)["calls"]
        want = {s: n for s, n in truth.items() if n}
        ck.check(f"clean: calls per state equal SIPp's counts {want}", states == want,
                 f"stored {states}")
    clean2 = fresh(work, "clean2")
    rc, _, log = runner.complete(clean2)
    ck.check("a second clean replay exits 0", rc == 0, f"exit {rc}; {log}")
    compare(ck, "second clean replay (control)", clean, clean2)

    # --- the interruptions: each case is a list of steps (interruption,
    # its random delay, web GUI on) run in turn on one database, then a
    # replay to the end. The delays are drawn here, in a fixed order.
    span = replay_seconds(clean)
    print(f"     the capture spans {span * SPEED:.2f} s: {span:.2f} s of replay")
    cases = [
        ("sigterm-early", [(sigterm_after_delay, rnd.uniform(0.0, 0.1) * span, False)]),
        ("sigterm-during", [(sigterm_after_delay, rnd.uniform(0.3, 0.8) * span, False)]),
        ("sigterm-at-eof", [(sigterm_at_eof, rnd.uniform(0.0, 0.01), False)]),
        ("sigterm-after", [(sigterm_after_stored, rnd.uniform(0.0, 0.5), True)]),
        ("sigkill-write", [(sigkill_mid_write, rnd.uniform(0.1, 0.9) * span, False)]),
        ("sequence", [(sigterm_after_delay, rnd.uniform(0.2, 0.8) * span, False),
                      (sigkill_mid_write, rnd.uniform(0.5, 0.95) * span, False)]),
    ]
    summary = {}
    for name, steps in cases:
        db = fresh(work, name)
        for interrupt, delay, web in steps:
            proc = runner.start(db, web=web)
            what = interrupt(proc, delay)
            rc = wait_exit(proc, RUN_TIMEOUT)
            print(f"     {name}: {what}; exit {rc}; then {left_behind(db)}")
            ck.check(f"{name}: the moment to interrupt came", "never" not in what,
                     f"{what}; {tail(proc.log)}")
            ck.check(f"{name}: the interrupted run ends (bounded wait)", rc is not None,
                     tail(proc.log))
            if "SIGTERM" in what:
                ck.check(f"{name}: a SIGTERM stops it cleanly (exit 0)", rc == 0,
                         f"exit {rc}; {tail(proc.log)}")
        rc, took, log = runner.complete(db)
        ck.check(f"{name}: the re-run to the end exits 0", rc == 0, f"exit {rc}; {log}")
        check_unique(ck, name, db)
        summary[name] = compare(ck, name, clean, db)

    print("     tables that differ from the clean run (clean rows, rows, missing, extra):")
    for name, differing in summary.items():
        print(f"       {name}: " + ("none" if not differing else
                                    "; ".join(f"{t} {v}" for t, v in differing.items())))
    print(f"     {runner.runs} replays in {time.time() - started:.0f} s, seed {seed}")
    return ck.finish()


if __name__ == "__main__":
    sys.exit(main())
