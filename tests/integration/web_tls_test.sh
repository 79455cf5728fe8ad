#!/usr/bin/env bash
# HTTPS: `sipman serve --tls-cert --tls-key` with a self-signed certificate
# made here, checked with curl and openssl s_client: /healthz, the login
# cookie (Secure, HttpOnly, SameSite=Strict), Strict-Transport-Security
# (and none over plain HTTP), /api/v1/calls equal to a plain
# HTTP server's answer on the same database, the live stream, a plain HTTP
# request to the TLS port (refused; the server keeps serving), TLS 1.1
# refused, bad certificate or key files refused at start with the file
# named, a renewed certificate reloaded on SIGHUP (and bad renewed files
# refused while the certificate in use stays); then `sipman run` with the
# same flags. Every server is killed by PID.
set -euo pipefail
sipman=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
skip() { echo "SKIP: $*"; exit 77; }
for t in openssl curl python3; do
  command -v $t >/dev/null || skip "$t missing (scripts/bootstrap installs it)"
done
"$sipman" serve --help 2>/dev/null | grep -q -- --tls-cert || skip "$sipman serve has no --tls-cert"

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
failures=0
pass() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
# wait_https PORT: up to 10 s for /healthz over HTTPS.
wait_https() {
  for _ in $(seq 100); do
    [ "$(curl -s --max-time 2 --cacert "$work/cert.pem" "https://127.0.0.1:$1/healthz")" = ok ] && return 0
    sleep 0.1
  done
  return 1
}
# login SCHEME PORT JAR: logs in as admin, keeps the cookie in JAR, prints the headers.
login() {
  curl -sS --max-time 10 --cacert "$work/cert.pem" -c "$3" -D - -o /dev/null \
    -H 'Content-Type: application/json' -d "{\"username\":\"admin\",\"password\":\"$password\"}" \
    "$1://127.0.0.1:$2/api/v1/login"
}

# A self-signed certificate for 127.0.0.1, a key that does not match it and
# a passphrase-protected copy of the key.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/other-key.pem" 2>/dev/null
openssl pkey -in "$work/key.pem" -aes256 -passout pass:secret -out "$work/encrypted-key.pem"

password=tls-test-password
echo "$password" >"$work/password"
# One call of 4000 messages (~1 KB each): its detail and pcap are answers
# of several MB, far more than the socket buffers hold, so the server's TLS
# writes must wait for a slow reader.
python3 - "$work/big.pcap" 2000 <<'EOF'
import struct, sys
out, n = sys.argv[1], int(sys.argv[2])
def checksum(b):
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
def frame(src, dst, payload):
    udp = struct.pack("!HHHH", 5060, 5060, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + ip + udp
def msg(first, cseq, method, pad=""):
    return (f"{first}\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK{cseq}{method}\r\n"
            "From: <sip:alice@10.0.0.1>;tag=a1\r\nTo: <sip:bob@10.0.0.2>;tag=b2\r\n"
            f"Call-ID: big-call@10.0.0.1\r\nCSeq: {cseq} {method}\r\n"
            f"Contact: <sip:alice@10.0.0.1>\r\nMax-Forwards: 70\r\n{pad}Content-Length: 0\r\n\r\n").encode()
pad = "X-Pad: " + "p" * 900 + "\r\n"
msgs = [msg("INVITE sip:bob@10.0.0.2 SIP/2.0", 1, "INVITE"), msg("SIP/2.0 200 OK", 1, "INVITE"),
        msg("ACK sip:bob@10.0.0.2 SIP/2.0", 1, "ACK")]
for i in range(n):
    msgs += [msg("INFO sip:bob@10.0.0.2 SIP/2.0", 2 + i, "INFO", pad),
             msg("SIP/2.0 200 OK", 2 + i, "INFO", pad)]
msgs += [msg("BYE sip:bob@10.0.0.2 SIP/2.0", n + 2, "BYE"), msg("SIP/2.0 200 OK", n + 2, "BYE")]
a, b = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
with open(out, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for k, p in enumerate(msgs):
        request = not p.startswith(b"SIP/2.0")
        fr = frame(a if request else b, b if request else a, p)
        f.write(struct.pack("<IIII", 1795000000 + k // 1000, (k % 1000) * 1000, len(fr), len(fr)) + fr)
EOF
db=$work/web.db
"$sipman" analyze --db "$db" "$root/tests/fixtures/pcaps/websocket.pcap" "$work/big.pcap" >/dev/null
sql() { python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])' "$db" "$1"; }
calls=$(sql 'SELECT COUNT(*) FROM calls')
check "the database holds calls ($calls)" [ "$calls" -gt 1 ]
big_call=$(sql "SELECT id FROM calls WHERE call_id = 'big-call@10.0.0.1'")

# The plain HTTP server first: it creates user admin; the HTTPS one reuses it.
plain_port=$(free_port)
"$sipman" serve --db "$db" --listen "127.0.0.1:$plain_port" --admin-password-file "$work/password" \
  >"$work/plain.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  [ "$(curl -s --max-time 2 "http://127.0.0.1:$plain_port/healthz")" = ok ] && break
  sleep 0.1
done
port=$(free_port)
# The HTTPS server reads copies, which the SIGHUP checks below replace.
mkdir "$work/served"
cp "$work/cert.pem" "$work/key.pem" "$work/served/"
"$sipman" serve --db "$db" --listen "127.0.0.1:$port" --admin-password-file "$work/password" \
  --tls-cert "$work/served/cert.pem" --tls-key "$work/served/key.pem" >"$work/tls.log" 2>&1 &
tls_pid=$!
pids+=($tls_pid)
check "/healthz answers over HTTPS" wait_https "$port"
check "serve prints an https:// URL" grep -q "serving https://127.0.0.1:$port/" "$work/tls.log"
for v in 1.2 1.3; do
  out=$(openssl s_client -connect "127.0.0.1:$port" -tls${v/./_} -CAfile "$work/cert.pem" \
    </dev/null 2>&1 || true)
  check "TLS $v is accepted" grep -q "^New, TLSv$v, Cipher is" <<<"$out"
done
# The client must be allowed to offer TLS 1.1 (security level 0) for the
# refusal to be the server's.
out=$(openssl s_client -connect "127.0.0.1:$port" -tls1_1 -cipher 'DEFAULT@SECLEVEL=0' \
  </dev/null 2>&1 || true)
if grep -q "no protocols available" <<<"$out"; then
  echo "note: this openssl cannot offer TLS 1.1; refusal not checked"
else
  check "TLS 1.1 is refused" grep -q "alert protocol version" <<<"$out"
fi

headers=$(login https "$port" "$work/tls.jar")
cookie=$(grep -i '^set-cookie:' <<<"$headers" | tr -d '\r' || true)
echo "$cookie"
check "login over HTTPS answers 200" grep -q '^HTTP/1.1 200' <<<"$headers"
for attr in Secure HttpOnly SameSite=Strict; do
  check "the session cookie is $attr" grep -q "; $attr\(;\|\$\)" <<<"$cookie"
done
plain_headers=$(login http "$plain_port" "$work/plain.jar")
check "the plain HTTP cookie is not Secure" \
  bash -c '! grep -i "^set-cookie:" <<<"$1" | grep -q Secure' _ "$plain_headers"
check "HTTPS answers carry Strict-Transport-Security: max-age=31536000" \
  grep -qi '^strict-transport-security: max-age=31536000' <<<"$headers"
hsts_healthz=$(curl -sS --max-time 10 --cacert "$work/cert.pem" -D - -o /dev/null "https://127.0.0.1:$port/healthz")
check "... /healthz over HTTPS too" grep -qi '^strict-transport-security: max-age=' <<<"$hsts_healthz"
hsts_head=$(curl -sS --max-time 10 --cacert "$work/cert.pem" -b "$work/tls.jar" -I "https://127.0.0.1:$port/api/v1/live")
check "... and the live stream's head (HEAD /api/v1/live: 200, no body)" \
  bash -c 'grep -q "^HTTP/1.1 200" <<<"$1" && grep -qi "^strict-transport-security:" <<<"$1"' _ "$hsts_head"
check "plain HTTP answers carry no Strict-Transport-Security" \
  bash -c '! grep -qi "^strict-transport-security:" <<<"$1"' _ "$plain_headers"

for path in "/api/v1/calls?limit=500" "/api/v1/calls/$big_call" "/api/v1/calls/$big_call/pcap"; do
  name=$(tr -c 'a-z0-9\n' _ <<<"$path")
  curl -sS --max-time 30 --cacert "$work/cert.pem" -b "$work/tls.jar" \
    "https://127.0.0.1:$port$path" -o "$work/tls$name"
  curl -sS --max-time 30 -b "$work/plain.jar" "http://127.0.0.1:$plain_port$path" -o "$work/plain$name"
  check "$path over HTTPS ($(wc -c <"$work/tls$name") bytes) equals it over HTTP" \
    bash -c '[ -s "$1" ] && cmp -s "$1" "$2"' _ "$work/tls$name" "$work/plain$name"
done
check "/api/v1/calls over HTTPS lists calls" grep -q '"calls": *\[{' "$work/tls_api_v1_calls_limit_500"
# A reader that lets the big answers wait in the socket: the server's TLS
# writes stall (WANT_WRITE) and resume; two requests on one connection.
session=$(awk '$6 == "sipman_session" {print $7}' "$work/tls.jar")
for path in "/api/v1/calls/$big_call" "/api/v1/calls/$big_call/pcap"; do
  name=$(tr -c 'a-z0-9\n' _ <<<"$path")
  check "$path over HTTPS to a slow reader, twice on one connection" \
    python3 - "$port" "$path" "$work/cert.pem" "$session" "$work/plain$name" <<'EOF'
import socket, ssl, sys, time
port, path, cafile, session, expected_file = sys.argv[1:]
expected = open(expected_file, "rb").read()
context = ssl.create_default_context(cafile=cafile)
raw = socket.create_connection(("127.0.0.1", int(port)), timeout=30)
s = context.wrap_socket(raw, server_hostname="127.0.0.1")
for _ in range(2):
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: sipman_session={session}\r\n\r\n".encode())
    time.sleep(1)  # let the server fill the socket buffers and wait
    data = bytearray()
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            sys.exit("connection closed in the head")
        data += chunk
    head, _, rest = bytes(data).partition(b"\r\n\r\n")
    length = next(int(l.split(b":")[1]) for l in head.split(b"\r\n")
                  if l.lower().startswith(b"content-length:"))
    body = bytearray(rest)
    while len(body) < length:
        chunk = s.recv(min(65536, length - len(body)))
        if not chunk:
            sys.exit(f"connection closed after {len(body)} of {length} bytes")
        body += chunk
    if not head.startswith(b"HTTP/1.1 200") or bytes(body) != expected:
        sys.exit(f"{head[:40]!r}: {len(body)} bytes differ from the plain answer")
EOF
done
# Many requests on one keep-alive TLS connection.
urls=()
for _ in $(seq 50); do urls+=("https://127.0.0.1:$port/healthz"); done
check "50 requests on one keep-alive HTTPS connection" \
  bash -c '[ "$(curl -sS --max-time 20 --cacert "$1" "${@:2}" | grep -c "^ok$")" = 50 ]' _ \
  "$work/cert.pem" "${urls[@]}"

# The live stream: the head and heartbeats arrive through TLS for 3 s.
rc=0
curl -sS -N --max-time 3 --cacert "$work/cert.pem" -b "$work/tls.jar" \
  "https://127.0.0.1:$port/api/v1/live" >"$work/live.txt" 2>/dev/null || rc=$?
check "the live stream over HTTPS ends only by the client's timeout (curl exit $rc)" [ "$rc" = 28 ]
check "the live stream over HTTPS sends retry: and events" \
  bash -c 'grep -q "^retry: 3000" "$1" && grep -q "^event: " "$1"' _ "$work/live.txt"
# The client closed: the server forgets it.
sleep 1.5
live=$(curl -sS --max-time 10 --cacert "$work/cert.pem" -b "$work/tls.jar" \
  "https://127.0.0.1:$port/metrics" | grep '^sipman_web_live_clients ' || true)
check "no live client left after it closed ($live)" [ "$live" = "sipman_web_live_clients 0" ]

# Plain HTTP and garbage to the TLS port fail; the server keeps serving.
out=$(curl -sS --max-time 5 "http://127.0.0.1:$port/api/v1/calls" 2>&1 || true)
echo "plain HTTP to the TLS port: $out"
check "plain HTTP to the TLS port gets no API answer" bash -c '! grep -q "\"id\"\|unauthorized\|\"error\"" <<<"$1"' _ "$out"
python3 - "$port" <<'EOF'
import socket, sys
port = int(sys.argv[1])
for payload in (b"", b"\x16\x03\x01\x00\x05hello", b"\x00" * 5000, b"GET / HTTP/1.1\r\n"):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:  # the server may hang up at any point
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        while s.recv(4096):
            pass
    except OSError:
        pass
    s.close()
EOF
check "HTTPS still answers after plain HTTP and garbage" wait_https "$port"
check "the HTTPS server is still running" kill -0 "$tls_pid"
grep -qi "sanitizer\|terminate\|abort" "$work/tls.log" && fail "the HTTPS server log shows a crash" || true

# A renewed certificate: SIGHUP makes new connections get it, while a
# connection opened before keeps working.
fingerprint() {  # fingerprint PORT: SHA-256 of the certificate the server shows
  openssl s_client -connect "127.0.0.1:$1" </dev/null 2>/dev/null |
    openssl x509 -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2
}
cert_fingerprint() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2; }
# wait_log FILE TEXT COUNT: up to 10 s for COUNT lines with TEXT.
wait_log() {
  for _ in $(seq 100); do
    [ "$(grep -cF -- "$2" "$1" || true)" -ge "$3" ] && return 0
    sleep 0.1
  done
  return 1
}
python3 - "$port" "$work/cert.pem" "$work/held" <<'EOF' &
import os, socket, ssl, sys, time
port, cafile, flag = sys.argv[1:]
context = ssl.create_default_context(cafile=cafile)
s = context.wrap_socket(socket.create_connection(("127.0.0.1", int(port)), timeout=30),
                        server_hostname="127.0.0.1")
def healthz():
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            return "closed"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(l.split(b":")[1]) for l in head.split(b"\r\n")
                  if l.lower().startswith(b"content-length:"))
    while len(body) < length:
        chunk = s.recv(4096)
        if not chunk:
            return "closed"
        body += chunk
    return body.decode().strip() if head.startswith(b"HTTP/1.1 200") else head.decode()
open(flag + ".opened", "w").write(healthz())
for _ in range(300):  # until the certificate is renewed, at most 30 s
    if os.path.exists(flag + ".go"):
        break
    time.sleep(0.1)
open(flag + ".result", "w").write(healthz())
EOF
held_pid=$!
pids+=($held_pid)
for _ in $(seq 100); do [ -s "$work/held.opened" ] && break; sleep 0.1; done
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$work/key2.pem" -out "$work/cert2.pem" 2>/dev/null
check "the server shows the first certificate" \
  [ "$(fingerprint "$port")" = "$(cert_fingerprint "$work/cert.pem")" ]
cp "$work/cert2.pem" "$work/served/cert.pem"
cp "$work/key2.pem" "$work/served/key.pem"
kill -HUP "$tls_pid"
check "SIGHUP: serve says it reloaded the certificate" \
  wait_log "$work/tls.log" "SIGHUP: TLS certificate $work/served/cert.pem reloaded" 1
check "new connections get the renewed certificate" \
  [ "$(fingerprint "$port")" = "$(cert_fingerprint "$work/cert2.pem")" ]
check "curl trusting only the renewed certificate gets /healthz" \
  bash -c '[ "$(curl -s --max-time 5 --cacert "$1" "https://127.0.0.1:$2/healthz")" = ok ]' _ \
  "$work/cert2.pem" "$port"
touch "$work/held.go"
wait "$held_pid" || true
check "a connection opened before the reload still answers ($(cat "$work/held.result" 2>/dev/null))" \
  [ "$(cat "$work/held.result" 2>/dev/null)" = ok ]
# Bad renewed files: the reload is refused with the reason, and the
# certificate in use stays.
cp "$work/other-key.pem" "$work/served/key.pem"
kill -HUP "$tls_pid"
check "SIGHUP with a mismatched key: refused, the files named" \
  wait_log "$work/tls.log" "does not match the certificate in --tls-cert $work/served/cert.pem" 1
check "... the server says it keeps the previous certificate" \
  grep -q "still serving the previous certificate" "$work/tls.log"
check "... new connections still get the renewed certificate" \
  [ "$(fingerprint "$port")" = "$(cert_fingerprint "$work/cert2.pem")" ]
rm "$work/served/cert.pem"
kill -HUP "$tls_pid"
check "SIGHUP with the certificate missing: refused" \
  wait_log "$work/tls.log" "still serving the previous certificate" 2
check "... and HTTPS still answers" \
  bash -c '[ "$(curl -s --max-time 5 --cacert "$1" "https://127.0.0.1:$2/healthz")" = ok ]' _ \
  "$work/cert2.pem" "$port"

kill "$tls_pid"
rc=0
for _ in $(seq 150); do kill -0 "$tls_pid" 2>/dev/null || break; sleep 0.1; done
wait "$tls_pid" || rc=$?
check "the HTTPS server exits 0 on SIGTERM (exit $rc)" [ "$rc" = 0 ]

# Bad files: serve refuses to start and names the file.
bad_start() {  # bad_start WHAT EXPECTED-TEXT ARGS...
  local what=$1 expect=$2; shift 2
  local rc=0
  timeout 20 "$sipman" serve --db "$db" --listen 127.0.0.1:0 "$@" >"$work/bad.log" 2>&1 || rc=$?
  if [ "$rc" != 0 ] && [ "$rc" != 124 ] && grep -qF -- "$expect" "$work/bad.log"; then
    pass "$what: exit $rc, $(head -c 300 "$work/bad.log")"
  else
    fail "$what: exit $rc, expected '$expect' in: $(cat "$work/bad.log")"
  fi
}
bad_start "missing certificate" "$work/missing.pem" --tls-cert "$work/missing.pem" --tls-key "$work/key.pem"
bad_start "missing key" "$work/missing-key.pem" --tls-cert "$work/cert.pem" --tls-key "$work/missing-key.pem"
bad_start "certificate not PEM" "--tls-cert $work/password" --tls-cert "$work/password" --tls-key "$work/key.pem"
bad_start "key not PEM" "--tls-key $work/cert.pem" --tls-cert "$work/cert.pem" --tls-key "$work/cert.pem"
bad_start "key of another certificate" "does not match" --tls-cert "$work/cert.pem" --tls-key "$work/other-key.pem"
bad_start "key with a passphrase" "passphrase" --tls-cert "$work/cert.pem" --tls-key "$work/encrypted-key.pem"
bad_start "certificate without key" "--tls-key" --tls-cert "$work/cert.pem"

# sipman run serves HTTPS with the same flags (HEP keeps it running).
run_port=$(free_port)
hep_port=$(free_port)
"$sipman" run --hep-listen "127.0.0.1:$hep_port" --db "$work/run.db" --stats-interval 0 \
  --listen "127.0.0.1:$run_port" --admin-password-file "$work/password" \
  --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" >"$work/run.log" 2>&1 &
run_pid=$!
pids+=($run_pid)
check "sipman run answers /healthz over HTTPS" wait_https "$run_port"
check "sipman run logs an https:// URL" grep -q "https://127.0.0.1:$run_port/" "$work/run.log"
headers=$(login https "$run_port" "$work/run.jar")
check "sipman run's login cookie is Secure" grep -qi '^set-cookie:.*; Secure' <<<"$headers"
kill -HUP "$run_pid"
check "SIGHUP: sipman run logs that it reloaded the certificate" \
  wait_log "$work/run.log" "SIGHUP: TLS certificate $work/cert.pem reloaded" 1
kill "$run_pid"
rc=0
wait "$run_pid" || rc=$?
check "sipman run exits 0 on SIGTERM (exit $rc)" [ "$rc" = 0 ]
rc=0
timeout 20 "$sipman" run --hep-listen "127.0.0.1:$hep_port" --db "$work/run.db" --stats-interval 0 \
  --listen 127.0.0.1:0 --tls-cert "$work/cert.pem" --tls-key "$work/other-key.pem" \
  >"$work/run-bad.log" 2>&1 || rc=$?
check "sipman run refuses a mismatched key (exit $rc)" \
  bash -c '[ "$1" != 0 ] && [ "$1" != 124 ] && grep -q "does not match" "$2"' _ "$rc" "$work/run-bad.log"

if [ "$failures" -gt 0 ]; then
  echo "$failures check(s) failed; HTTPS server log:"; cat "$work/tls.log"
  exit 1
fi
echo "all HTTPS checks passed"
