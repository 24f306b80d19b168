#!/usr/bin/env bash
# contrib/fail2ban/filter.d/pjsipd.conf bans the sources of the security lines pjsipd logs in
# Asterisk's wording, over IPv4 and IPv6, and leaves other lines alone.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v fail2ban-regex >/dev/null || { echo "FAIL: fail2ban-regex is missing (apt-get install fail2ban)" >&2; exit 1; }

log=$(mktemp)
trap 'rm -f "$log"' EXIT
ts='2026-11-22T07:40:54.798088Z'
cat >"$log" <<LOG
$ts  WARN pjsipd::distributor: Request 'REGISTER' from '<sip:1000@pbx.example>' failed for '192.0.2.7:5060' (callid: a84b4c76e66710) - No matching endpoint found
$ts  WARN pjsipd::distributor: Request 'INVITE' from '"Bob" <sip:bob@pbx.example>' failed for '192.0.2.8:5062' (callid: 1-2@host) - Failed to authenticate
$ts  WARN pjsipd::distributor: Request 'OPTIONS' from '<sip:x@y>' failed for '[2001:db8::7]:5060' (callid: z) - Not match Endpoint ACL
$ts  WARN pjsipd::distributor: Request 'INVITE' from '<sip:x@y>' failed for '198.51.100.9:5060' (callid: q) - No matching endpoint found after 5 tries in 3.125 ms
$ts  WARN pjsipd::acl: Incoming SIP message from 203.0.113.5:5060 did not pass ACL test
$ts  INFO pjsipd::daemon: Reloaded pjsip.conf: 0 created, 1 updated, 0 deleted (generation 3)
$ts  INFO pjsipd::registrar: Added contact 'sip:1000@192.0.2.7:5060' to AOR '1000'
LOG

out=$(fail2ban-regex --print-all-matched "$log" contrib/fail2ban/filter.d/pjsipd.conf 2>&1) || {
    printf '%s\n' "$out" >&2
    echo "FAIL: fail2ban-regex refused the filter" >&2
    exit 1
}
matched=$(printf '%s\n' "$out" | sed -n 's/^Lines: [0-9]* lines, [0-9]* ignored, \([0-9]*\) matched.*/\1/p')
if [ "$matched" != "5" ]; then
    printf '%s\n' "$out" >&2
    echo "FAIL: expected 5 matched lines, got '${matched}'" >&2
    exit 1
fi
for host in 192.0.2.7 192.0.2.8 2001:db8::7 198.51.100.9 203.0.113.5; do
    # A here-string, not a pipe: grep -q leaves at its first match, and with pipefail the
    # writer's SIGPIPE would fail a line that was found.
    grep -qF "$host" <<<"$out" || { echo "FAIL: $host not found by the filter" >&2; exit 1; }
done
echo "fail2ban: 5 of 7 lines matched, 2 left alone: ok"
