"""filldb: a SIPMan SQLite database with millions of synthetic calls, made quickly.

Shared by bench/report-rate and bench/web-rate. The schema is made by sipman itself (its
migrations, so every index it creates is there). The database is then turned back into schema
version 5 (no call rollups, no migration 7 indexes), the calls go in by one INSERT ... SELECT
over a recursive counter in one transaction with the calls indexes dropped during the load and
rebuilt after (the same indexes, from sqlite_master), and sipman's next open runs migrations 6
and 7 over the loaded rows (timed: what an upgrade costs).

Call i (0-based, row id i + 1): Call-ID 'call-<i>@bench', invite_ts = T0 + i * step with the
calls spread evenly over `days` days from T0. Mix: 60% answered (duration 0-10 min), 10% busy
486, 10% no answer 480, 10% cancelled 487, 5% failed 404, 5% failed 503; caller
'u<i*7919 % 100000>', callee 'u<i*104729 % 100000>'; source IP '10.<i%250>.<i*31%250>.1'
(250 addresses: the second octet follows from the first), destination 192.0.2.1; 50 user agents.

Messages (optional): every `message_every`-th call (i % message_every == 0, all answered
calls) gets the 10 messages of an authenticated call (INVITE, 407, ACK, INVITE, 100, 180, 200,
ACK, BYE, 200), stored as plain text (compression 0) with their real key_hash.
"""
import os
import sqlite3
import struct
import subprocess
import time

T0 = 1793491200  # 2026-11-01T00:00:00Z

# Turn a fresh database back into version 5, newest migration first (UNDO below; see
# tests/store/rollups_test.cc, which does the same).
V7_UNDO = """
DROP INDEX IF EXISTS calls_caller_invite; DROP INDEX IF EXISTS calls_callee_invite;
DROP INDEX IF EXISTS calls_src_ip_invite; DROP INDEX IF EXISTS calls_dst_ip_invite;
CREATE INDEX IF NOT EXISTS calls_caller_user ON calls(caller_user);
CREATE INDEX IF NOT EXISTS calls_callee_user ON calls(callee_user);
CREATE INDEX IF NOT EXISTS calls_src_ip ON calls(src_ip);
CREATE INDEX IF NOT EXISTS calls_dst_ip ON calls(dst_ip);
DELETE FROM schema_migrations WHERE version = 7;
"""
V6_UNDO = """
DROP TRIGGER calls_rollups_delete;
DROP TABLE calls_hourly; DROP TABLE calls_values; DROP TABLE calls_daily_keys;
DROP INDEX calls_answered_duration; DROP INDEX calls_post_dial_delay; DROP INDEX calls_report;
CREATE INDEX calls_report ON calls(invite_ts, state, final_status, duration_ms, connect_ms,
  post_dial_delay_ms, disconnect_delay_ms, first_18x_ts, answer_ts, final_ts, sensor);
DELETE FROM schema_migrations WHERE version = 6;
"""

# Version 8 (traffic counters per direction) only adds columns to the stats tables.
V8_UNDO = "".join(f"ALTER TABLE {t} DROP COLUMN {c};\n"
                  for t in ("stats_second", "stats_minute", "stats_hour")
                  for c in ("in_messages", "out_messages", "in_sip_bytes", "out_sip_bytes")
                  ) + "DELETE FROM schema_migrations WHERE version = 8;\n"
# Version 9 (encrypted SIP per period) only adds columns to the stats tables.
V9_UNDO = "".join(f"ALTER TABLE {t} DROP COLUMN {c};\n"
                  for t in ("stats_second", "stats_minute", "stats_hour")
                  for c in ("tls_connections", "tls_bytes")
                  ) + "DELETE FROM schema_migrations WHERE version = 9;\n"
# Version 10: the calls natural key without end_ts.
V10_UNDO = """
DROP INDEX calls_natural_key;
CREATE UNIQUE INDEX calls_natural_key ON calls(invite_ts, call_id, sensor, end_ts);
DELETE FROM schema_migrations WHERE version = 10;
"""
UNDO = {6: V6_UNDO, 7: V7_UNDO, 8: V8_UNDO, 9: V9_UNDO, 10: V10_UNDO}

SENSOR = "bench"

# The 10 messages of a call with messages: (offset from invite_ts in ms, or 'end' for
# end_ts + offset; from caller?; method; status; cseq; text). Placeholders: %CID% Call-ID,
# %FROM% caller user, %TO% callee user, %SRC% caller IP (not in bodies, whose
# Content-Length is computed here). Lines end in CRLF.
_SDP = ("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
        "m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n")


def _request(method, cseq, uri_user, body="", extra=""):
    head = (f"{method} sip:{uri_user}@192.0.2.1 SIP/2.0\r\n"
            "Via: SIP/2.0/UDP %SRC%:5060;branch=z9hG4bK-%CID%-" + str(cseq) + method[0] + "\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:%FROM%@example.com>;tag=ft-%CID%\r\n"
            "To: <sip:%TO%@example.com>" + (";tag=tt-%CID%" if method in ("ACK", "BYE") and cseq > 1
                                            else "") + "\r\n"
            "Call-ID: %CID%\r\n"
            f"CSeq: {cseq} {method}\r\n"
            "Contact: <sip:%FROM%@%SRC%:5060>\r\n" + extra +
            "User-Agent: bench-ua/1.0\r\n")
    if body:
        head += "Content-Type: application/sdp\r\n"
    return head + f"Content-Length: {len(body)}\r\n\r\n" + body


def _response(status, reason, cseq, method, body="", extra=""):
    head = (f"SIP/2.0 {status} {reason}\r\n"
            "Via: SIP/2.0/UDP %SRC%:5060;branch=z9hG4bK-%CID%-" + str(cseq) + method[0] + "\r\n"
            "From: <sip:%FROM%@example.com>;tag=ft-%CID%\r\n"
            "To: <sip:%TO%@example.com>" + (";tag=tt-%CID%" if status > 100 else "") + "\r\n"
            "Call-ID: %CID%\r\n"
            f"CSeq: {cseq} {method}\r\n" + extra +
            "Server: bench-pbx/1.0\r\n")
    if body:
        head += "Content-Type: application/sdp\r\n"
    return head + f"Content-Length: {len(body)}\r\n\r\n" + body


MESSAGES = [
    (0, True, "INVITE", 0, 1, _request("INVITE", 1, "%TO%", _SDP)),
    (3, False, "INVITE", 407, 1, _response(407, "Proxy Authentication Required", 1, "INVITE",
                                           extra='Proxy-Authenticate: Digest realm="example.com", '
                                                 'nonce="%CID%", algorithm=MD5\r\n')),
    (4, True, "ACK", 0, 1, _request("ACK", 1, "%TO%")),
    (20, True, "INVITE", 0, 2, _request(
        "INVITE", 2, "%TO%", _SDP,
        extra='Proxy-Authorization: Digest username="%FROM%", realm="example.com", '
              'nonce="%CID%", uri="sip:%TO%@192.0.2.1", response="0123456789abcdef0123456789abcdef"\r\n')),
    (25, False, "INVITE", 100, 2, _response(100, "Trying", 2, "INVITE")),
    (900, False, "INVITE", 180, 2, _response(180, "Ringing", 2, "INVITE")),
    (2000, False, "INVITE", 200, 2, _response(200, "OK", 2, "INVITE", _SDP,
                                              extra="Contact: <sip:%TO%@192.0.2.1:5060>\r\n")),
    (2010, True, "ACK", 0, 2, _request("ACK", 2, "%TO%")),
    ("end", True, "BYE", 0, 3, _request("BYE", 3, "%TO%")),
    ("end+5", False, "BYE", 200, 3, _response(200, "OK", 3, "BYE")),
]


def _fnv_text(h, s):
    data = s.encode()
    for b in struct.pack("<Q", len(data)) + data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def _fnv_int(h, v):
    for b in struct.pack("<q", v):
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def message_key_hash(sensor, call_id, src_ip, src_port, dst_ip, dst_port, size):
    """MessageKeyHash of src/store/record_codec.cc (docs/SCHEMA.md, messages)."""
    h = 0xcbf29ce484222325
    h = _fnv_text(h, sensor)
    h = _fnv_text(h, call_id)
    h = _fnv_text(h, src_ip)
    h = _fnv_int(h, src_port)
    h = _fnv_text(h, dst_ip)
    h = _fnv_int(h, dst_port)
    h = _fnv_int(h, size)
    return h - (1 << 64) if h >= 1 << 63 else h


def step_ns(calls, days):
    return days * 86400 * 10**9 // calls


def call_id(i):
    return f"call-{i}@bench"


def invite_ts(i, calls, days):
    return T0 * 10**9 + i * step_ns(calls, days)


def fill(sipman, db, calls, days, message_every=0, log=print):
    """Rebuilds `db` with `calls` calls over `days` days (and messages for every
    `message_every`-th call when > 0); sipman's migrations 6 and later run at the end."""
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    open(db, "w").close()
    # sipman creates the schema (all migrations) on first open.
    subprocess.run([sipman, "report", "--db", db], check=True, capture_output=True)
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode = OFF")
    con.execute("PRAGMA synchronous = OFF")
    con.execute("PRAGMA cache_size = -1048576")
    version = con.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0]
    if version > max(UNDO):
        raise SystemExit(f"filldb: sipman's schema is version {version}; add the undo of "
                         f"migrations {max(UNDO) + 1}..{version} to bench/filldb.py UNDO")
    for v in range(version, 5, -1):
        con.executescript(UNDO[v])
    indexes = con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND "
                          "tbl_name = 'calls' AND sql IS NOT NULL").fetchall()
    started = time.perf_counter()
    con.execute("BEGIN")
    for name, _ in indexes:
        con.execute(f"DROP INDEX {name}")
    step = step_ns(calls, days)
    con.execute(f"""
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {calls - 1}),
k(i, kind) AS (SELECT i, i % 20 FROM n)
INSERT INTO calls(id, sensor, call_id, caller_user, callee_user, src_ip, src_port, dst_ip,
  dst_port, transport, invite_ts, first_18x_ts, answer_ts, final_ts, end_ts, duration_ms,
  connect_ms, post_dial_delay_ms, disconnect_delay_ms, final_status, state, caller_user_agent,
  message_count)
SELECT i + 1, '{SENSOR}', 'call-' || i || '@bench', 'u' || (i * 7919 % 100000),
  'u' || (i * 104729 % 100000),
  '10.' || (i % 250) || '.' || (i * 31 % 250) || '.1', 5060, '192.0.2.1', 5060, 'udp',
  {T0 * 10**9} + i * {step},
  {T0 * 10**9} + i * {step} + (i % 997) * 1000000,
  CASE WHEN kind < 12 THEN {T0 * 10**9} + i * {step} + 2000000000 ELSE 0 END,
  {T0 * 10**9} + i * {step} + 2000000000,
  {T0 * 10**9} + i * {step} + 2000000000 + CASE WHEN kind < 12 THEN (i * 7907 % 600000) * 1000000 ELSE 0 END,
  CASE WHEN kind < 12 THEN i * 7907 % 600000 ELSE 0 END,
  CASE WHEN kind < 12 THEN i * 7907 % 600000 + 10 ELSE 0 END,
  i % 997,
  CASE WHEN kind < 12 THEN i % 50 ELSE -1 END,
  CASE WHEN kind < 12 THEN 200 WHEN kind < 14 THEN 486 WHEN kind < 16 THEN 480
       WHEN kind < 18 THEN 487 WHEN kind = 18 THEN 404 ELSE 503 END,
  CASE WHEN kind < 12 THEN 'answered' WHEN kind < 14 THEN 'busy' WHEN kind < 16 THEN 'no_answer'
       WHEN kind < 18 THEN 'cancelled' ELSE 'failed' END,
  'UA-' || (i % 50),
  CASE WHEN {message_every} > 0 AND i % {max(message_every, 1)} = 0 THEN {len(MESSAGES)} ELSE 0 END
FROM k""")
    loaded = time.perf_counter()
    for _, sql in indexes:
        con.execute(sql)
    con.execute("COMMIT")
    indexed = time.perf_counter()
    n_messages = 0
    if message_every > 0:
        n_messages = _fill_messages(con, calls, days, message_every)
    messaged = time.perf_counter()
    con.close()
    subprocess.run([sipman, "report", "--db", db], check=True, capture_output=True)
    migrated = time.perf_counter()
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("ANALYZE")
    con.close()
    log(f"filled {db}: {calls:,} calls in {loaded - started:.1f} s, indexes rebuilt in "
        f"{indexed - loaded:.1f} s, {n_messages:,} messages in {messaged - indexed:.1f} s, "
        f"migrations 6 and later (rollups, web indexes) in {migrated - messaged:.1f} s; "
        f"file {os.path.getsize(db) / 2**30:.2f} GiB")


def _fill_messages(con, calls, days, every):
    con.create_function("bench_key_hash", 7, message_key_hash, deterministic=True)
    con.execute("CREATE TEMP TABLE tmpl(k INTEGER, off_ms INTEGER, at_end INTEGER, "
                "from_caller INTEGER, method TEXT, status INTEGER, cseq INTEGER, text TEXT)")
    for k, (off, from_caller, method, status, cseq, text) in enumerate(MESSAGES):
        at_end = isinstance(off, str)
        off_ms = (5 if off == "end+5" else 0) if at_end else off
        con.execute("INSERT INTO tmpl VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
                    (k, off_ms, at_end, from_caller, method, status, cseq, text))
    indexes = con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND "
                          "tbl_name = 'messages' AND sql IS NOT NULL").fetchall()
    step = step_ns(calls, days)
    con.execute("BEGIN")
    for name, _ in indexes:
        con.execute(f"DROP INDEX {name}")
    # The same expressions as the calls fill: end_ts of an answered call.
    con.execute(f"""
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + {every} FROM n WHERE i + {every} < {calls}),
c(i, cid, caller, callee, src, inv, fin) AS (
  SELECT i, 'call-' || i || '@bench', 'u' || (i * 7919 % 100000), 'u' || (i * 104729 % 100000),
    '10.' || (i % 250) || '.' || (i * 31 % 250) || '.1', {T0 * 10**9} + i * {step},
    {T0 * 10**9} + i * {step} + 2000000000 + (i * 7907 % 600000) * 1000000 FROM n),
m AS (
  SELECT c.cid, CASE WHEN t.at_end THEN c.fin ELSE c.inv END + t.off_ms * 1000000 AS ts,
    CASE WHEN t.from_caller THEN c.src ELSE '192.0.2.1' END AS s_ip,
    CASE WHEN t.from_caller THEN '192.0.2.1' ELSE c.src END AS d_ip,
    t.method, t.status, t.cseq,
    CAST(replace(replace(replace(replace(t.text, '%CID%', c.cid), '%FROM%', c.caller),
                 '%TO%', c.callee), '%SRC%', c.src) AS BLOB) AS raw
  FROM c, tmpl AS t)
INSERT INTO messages(sensor, call_id, ts, src_ip, src_port, dst_ip, dst_port, transport,
  method, status, cseq, size, compression, raw, key_hash)
SELECT '{SENSOR}', cid, ts, s_ip, 5060, d_ip, 5060, 'udp', method, status, cseq, length(raw), 0,
  raw, bench_key_hash('{SENSOR}', cid, s_ip, 5060, d_ip, 5060, length(raw)) FROM m""")
    n = con.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
    for _, sql in indexes:
        con.execute(sql)
    con.execute("COMMIT")
    return n
