#!/usr/bin/env bash
# SIP over TLS with a real TLS client: openssl s_client verifies the daemon's certificate
# against a CA made here and carries an OPTIONS; the answer must be 200 on the same
# connection. TLS 1.2 and 1.3 are both offered by default; method=tlsv1_2 is checked by
# tests/transports.rs.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v openssl >/dev/null || { echo "FAIL: openssl is missing (apt-get install openssl)" >&2; exit 1; }
. testsuite/lib/daemon.sh

# A CA, and a server certificate for 127.0.0.1 signed by it.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=pjsipd test CA" \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$dir/san.ext"
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
    -days 2 -extfile "$dir/san.ext" -out "$dir/server.pem" 2>/dev/null

port=$(free_port tcp 127.0.0.1)
cat >"$dir/pjsip.conf" <<CONF
[transport-tls]
type=transport
protocol=tls
bind=127.0.0.1:$port
cert_file=server.pem
priv_key_file=server.key

[trunk]
type=endpoint

[trunk-identify]
type=identify
endpoint=trunk
match=127.0.0.1
CONF
write_settings
: >"$dir/extensions.conf"
start_daemon log

request() { printf 'OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS client.invalid;rport;branch=z9hG4bKssl1\r\nMax-Forwards: 70\r\nFrom: <sip:tester@127.0.0.1>;tag=ssl1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: ssl1@test\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n'; }
# The client keeps the connection open 2 s after sending, for the answer to come back.
answer=$( (request; sleep 2) | timeout 15 openssl s_client -connect "127.0.0.1:$port" \
    -CAfile "$dir/ca.pem" -verify_return_error -verify_ip 127.0.0.1 -quiet 2>"$dir/s_client.err" || true)
grep -q '^SIP/2.0 200 OK' <<<"$answer" || {
    cat "$dir/s_client.err" "$dir/log" >&2
    printf 'got: %s\n' "$answer" >&2
    echo "FAIL: no 200 over TLS" >&2
    exit 1
}
grep -q 'Via: SIP/2.0/TLS client.invalid;rport=[0-9]*;branch=z9hG4bKssl1;received=127.0.0.1' <<<"$answer" || {
    printf 'got: %s\n' "$answer" >&2
    echo "FAIL: Via not stamped with rport/received" >&2
    exit 1
}
# A client that does not trust the daemon's CA refuses the handshake (the certificate is
# really checked above).
if (sleep 1) | timeout 10 openssl s_client -connect "127.0.0.1:$port" -verify_return_error -quiet \
    -CAfile /dev/null >/dev/null 2>&1; then
    echo "FAIL: an untrusted certificate was accepted by the client" >&2
    exit 1
fi
echo "TLS with openssl s_client: verified certificate, OPTIONS answered 200 with received/rport: ok"
