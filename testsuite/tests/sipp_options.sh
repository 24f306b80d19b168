#!/usr/bin/env bash
# SIPp against the daemon over UDP: OPTIONS from an identified endpoint gets 200 (Allow,
# Accept), OPTIONS from an unknown user gets a digest 401, and a burst of garbage datagrams
# does not stop it answering.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v sipp >/dev/null || { echo "FAIL: sipp is missing (apt-get install sip-tester)" >&2; exit 1; }
. testsuite/lib/daemon.sh

port=$(free_port udp 127.0.0.1)
port6=$(free_port udp ::1)
cat >"$dir/pjsip.conf" <<CONF
[transport-udp]
type=transport
protocol=udp
bind=127.0.0.1:$port

[transport-udp6]
type=transport
protocol=udp
bind=[::1]:$port6

[trunk]
type=endpoint
context=from-trunk

[trunk-identify]
type=identify
endpoint=trunk
match=127.0.0.2
match=::1
CONF
# max_files (asterisk.conf's maxfiles) below any hard limit, so it applies unprivileged.
write_settings $'max_files = 1000\n'
# OPTIONS to sip:pbx@... asks whether extension "pbx" exists in the endpoint's context.
printf '[from-trunk]\nexten => pbx,1,Answer()\n' >"$dir/extensions.conf"
start_daemon log

limit=$(awk '/^Max open files/ {print $4}' "/proc/$pid/limits")
[ "$limit" = 1000 ] || { echo "FAIL: max_files = 1000 gave an open files limit of $limit" >&2; exit 1; }
echo "max_files: open files limit set to 1000: ok"

# The digest nonce key is kept (owner-only) so nonces survive a restart.
[ "$(stat -c %a "$dir/data/nonce.key" 2>/dev/null)" = "600" ] && [ "$(stat -c %s "$dir/data/nonce.key")" = "32" ] \
    || { echo "FAIL: data/nonce.key missing or not 0600/32 bytes" >&2; exit 1; }

# The live socket is listed under the configured transports.
grep -Eq "^  transport-udp +udp +127\.0\.0\.1:$port\$" <<<"$("$bin" --config-dir "$dir" -rx "pjsip show transports")" \
    || { "$bin" --config-dir "$dir" -rx "pjsip show transports" >&2; echo "FAIL: listener not shown" >&2; exit 1; }

run_sipp() { # scenario local-ip [remote]
    timeout 30 sipp "${3:-127.0.0.1:$port}" -sf "testsuite/sipp/$1" -i "$2" -p 0 -s pbx -m 1 \
        -nostdin -timeout 10s -trace_err -error_file "$dir/sipp-$1.err" >/dev/null 2>&1 || {
        cat "$dir/sipp-$1.err" "$dir/log" >&2 2>/dev/null
        echo "FAIL: $1 from $2" >&2
        exit 1
    }
}
grep -q "PJSIP Logging enabled" <<<"$("$bin" --config-dir "$dir" -rx "pjsip set logger on")"
run_sipp options-200.xml 127.0.0.2
grep -q "<--- Received SIP request ([0-9]* bytes) from UDP:127.0.0.2:" "$dir/log" \
    && grep -q "<--- Transmitting SIP response ([0-9]* bytes) to UDP:127.0.0.2:" "$dir/log" \
    || { cat "$dir/log" >&2; echo "FAIL: pjsip set logger on printed no traffic" >&2; exit 1; }
"$bin" --config-dir "$dir" -rx "pjsip set logger off" >/dev/null
run_sipp options-401.xml 127.0.0.3
run_sipp options-200.xml ::1 "[::1]:$port6"
grep -q "Request 'OPTIONS' from '<sip:nobody@127.0.0.3:[0-9]*>' failed for '127.0.0.3:[0-9]*' (callid: .*) - No matching endpoint found" "$dir/log" \
    || { cat "$dir/log" >&2; echo "FAIL: no security log line for the unknown user" >&2; exit 1; }

# A flood of garbage at ten times the legitimate rate, during the legitimate traffic:
# SIPp sends 200 OPTIONS/s for 5 s while 2,000 garbage datagrams/s arrive; every OPTIONS
# must be answered 200 (no failed call), and the garbage is counted as malformed.
python3 - "$port" <<'PY' &
import os, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.monotonic() + 6
while time.monotonic() < end:
    for _ in range(200):
        s.sendto(os.urandom(200), ("127.0.0.1", int(sys.argv[1])))
    time.sleep(0.1)
PY
flood=$!
timeout 30 sipp "127.0.0.1:$port" -sf testsuite/sipp/options-200.xml -i 127.0.0.2 -p 0 -s pbx \
    -r 200 -m 1000 -nostdin -timeout 20s -trace_stat -stf "$dir/flood.csv" >/dev/null 2>&1 || true
wait "$flood"
python3 - "$dir/flood.csv" <<'PY' || { cat "$dir/flood.csv" >&2; echo "FAIL: OPTIONS failed during the garbage flood" >&2; exit 1; }
import csv, sys
rows = list(csv.reader(open(sys.argv[1]), delimiter=';'))
d = dict(zip(rows[0], rows[-1]))
ok, failed = int(d["SuccessfulCall(C)"]), int(d["FailedCall(C)"])
print(f"during the flood: {ok} OPTIONS answered, {failed} failed")
sys.exit(0 if ok == 1000 and failed == 0 else 1)
PY
malformed=$(rx "pjsip show distributor" | awk '/^Malformed/ {print $NF}')
[ "${malformed:-0}" -ge 10000 ] || { rx "pjsip show distributor" >&2; echo "FAIL: garbage not counted" >&2; exit 1; }
echo "sipp OPTIONS over UDP (IPv4 and IPv6): 200 identified, 401 unknown, survives a garbage flood at 10x the legitimate rate: ok"
