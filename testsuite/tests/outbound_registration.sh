#!/usr/bin/env bash
# Outbound registration (type=registration) end to end: SIPp plays the registrar, one UAS
# scenario (testsuite/sipp/outreg-*.xml) per registration, each on its own port, all started
# before the daemon (or before the `pjsip reload` that adds the registration), all against
# one daemon; then Kamailio as a real registrar. Every registration has
# max_random_initial_delay=1, retry_interval=2 and expiration=30, so the first REGISTERs come
# 1 s after the start and the cases run side by side in about 15 s.
#   200            Expires: 30, Contact <sip:s@127.0.0.1:PORT>, From/To = client_uri, the
#                  Request-URI = server_uri, the first REGISTER 1 s after the daemon started;
#                  a 200 granting ;expires=12 is refreshed 2 s later (12 - 10), same Call-ID,
#                  higher CSeq; `pjsip show registrations` says Registered
#   dns            server_uri=sip:localhost:PORT: the name resolved at load, the REGISTER
#                  goes to 127.0.0.1 with Request-URI sip:localhost:PORT; 200, refreshed
#   tcp            transport=transport-tcp, server_uri ;transport=tcp: the daemon connects to a
#                  SIPp registrar over TCP, TCP Via, Contact ;transport=tcp; refreshed over
#                  the same connection 2 s later
#   auth           401 with a fixed nonce (realm test.example.com, no qop): the REGISTER is
#                  sent again at once with username="alice", that nonce, uri = Request-URI
#                  and the exact digest response (computed here); then 200, Registered
#   auth-loop      the authenticated REGISTER is challenged again: the daemon gives up (no
#                  REGISTER for 5 s), Rejected
#   403            403 without forbidden_retry_interval: no REGISTER for 5 s, Rejected
#   403-retry      403 with forbidden_retry_interval=2: REGISTER again 2 s later; 200
#   503-retry      503 (temporal) with retry_interval=2: REGISTER again 2 s later; 200
#   retry-after    503 with Retry-After: 4: REGISTER again 4 s later (not 2); 200
#   423            423 with Min-Expires: 120: REGISTER again at once with Expires: 120; 200
#   unregister     `pjsip send unregister`: REGISTER Expires: 0, then nothing for 3 s
#                  (Unregistered); `pjsip send register`: REGISTER Expires: 30 (Registered)
#   reload         the registration removed from pjsip.conf + `pjsip reload`: REGISTER
#                  Expires: 0 and nothing after, gone from the CLI; a registration added by
#                  the same reload registers; the unchanged ones are not restarted (the log
#                  says none changed, and the SIPp scenarios still waiting see no REGISTER)
#   kamailio       against Kamailio (testsuite/kamailio/registrar.cfg, grants 12 s): Registered
#                  with a qop=auth digest, refreshed (challenged again) every 2 s, and
#                  Kamailio lists the daemon's Contact (a SIPp query, REGISTER without
#                  Contact); Kamailio logs no ERROR
#   shutdown       SIGTERM: the registered registrations send REGISTER Expires: 0 (once: the
#                  daemon reads the 200 and does not retransmit), the daemon exits 0 within
#                  5 s, and Kamailio no longer lists the binding
# Every case runs and is reported; the script fails at the end if any case failed.
# PJSIPD_BIN selects the daemon binary (default target/debug/pjsipd, built when missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in sipp python3 ss; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing (testsuite/run installs it)" >&2; exit 1; }
done
kamailio=$(command -v kamailio || echo /usr/sbin/kamailio)
[ -x "$kamailio" ] || { echo "FAIL: kamailio is missing (testsuite/run installs it)" >&2; exit 1; }
. testsuite/lib/daemon.sh
. testsuite/lib/cases.sh
started=$SECONDS

# Ports free for UDP on 127.0.0.1, with port+2 free too (SIPp binds its media port and media
# port+2), at least 3 apart; taken in order.
want_ports=40
# Ports free for UDP and TCP (testsuite/lib/cases.sh), taken in order.
free_ports "$want_ports"
take_port; dport=$port # the daemon's UDP transport
take_port; kport=$port # Kamailio


# Background processes, stopped by the cleanup hook if still running.
declare -A SIPP_PID=() SIPP_PORT=()
kam_pid=""
stop_helpers() {
    local id
    for id in "${!SIPP_PID[@]}"; do
        kill "${SIPP_PID[$id]}" 2>/dev/null || true
    done
    if [ -n "$kam_pid" ]; then
        kill "$kam_pid" 2>/dev/null || true
        wait "$kam_pid" 2>/dev/null || true
        kam_pid=""
    fi
}
cleanup_hooks+=(stop_helpers)

# sipp_uas ID SCENARIO [sipp options...]: SIPp as the registrar of registration ID (its
# [service]) on a fresh port (SIPP_PORT[ID]), in the background, until it has bound its
# port; the daemon's port is [dport]; files ID.{err,msg,log,out} in the temp dir.
sipp_uas() {
    local id=$1 scenario=$2 mport
    shift 2
    take_port; SIPP_PORT[$id]=$port
    take_port; mport=$port
    timeout 90 sipp -sf "testsuite/sipp/$scenario" -i 127.0.0.1 -p "${SIPP_PORT[$id]}" -mp "$mport" \
        -m 1 -nostdin -recv_timeout 60000 -s "$id" -key dport "$dport" \
        -trace_err -error_file "$dir/$id.err" -trace_msg -message_file "$dir/$id.msg" \
        -trace_logs -log_file "$dir/$id.log" "$@" >"$dir/$id.out" 2>&1 &
    SIPP_PID[$id]=$!
    wait_bound "${SIPP_PORT[$id]}" || { cat "$dir/$id.out" >&2; echo "FAIL: SIPp for $id did not start" >&2; exit 1; }
}

# sipp_done ID MESSAGE: waits for the SIPp of ID (bounded by its timeout); fails with
# MESSAGE unless it passed. Returns its status.
sipp_done() {
    local rc=0
    wait "${SIPP_PID[$1]}" || rc=$?
    unset "SIPP_PID[$1]"
    ((rc == 0)) && return 0
    sipp_failed "$1" "$2 (SIPp exit status $rc)"
    return 1
}

# sent_once ID: fails ID unless the un-REGISTER (Expires: 0) reached SIPp once: the daemon
# read the 200 and did not retransmit it.
sent_once() {
    local n
    n=$(grep -c '^Expires: *0\s*$' "$dir/$1.msg" 2>/dev/null || true)
    [ "${n:-0}" -le 1 ] && return 0
    fail "$1" "the un-REGISTER was sent $n times: the daemon did not read the 200 SIPp answered at once"
}

# reg_status NAME: the Status column of NAME's row in `pjsip show registrations`, or
# "absent".
reg_status() {
    rx "pjsip show registrations" 2>/dev/null \
        | awk -v n="$1/" 'index($1, n) == 1 { s = $3 } END { print (s == "" ? "absent" : s) }'
}

# wait_status NAME STATUS [SECONDS]: NAME's status becomes STATUS (within 5 s by default).
wait_status() {
    local deadline=$((SECONDS + ${3:-5}))
    while :; do
        [ "$(reg_status "$1")" = "$2" ] && return 0
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

# check_status CASE NAME STATUS: fails CASE unless NAME's status becomes STATUS.
check_status() {
    wait_status "$2" "$3" || fail "$1" "pjsip show registrations: $2 is $(reg_status "$2"), not $3"
}

# log_has CASE TEXT: fails CASE unless the daemon log has a line containing TEXT.
log_has() {
    grep -qF -- "$2" "$dir/daemon.log" || fail "$1" "no \"$2\" in the daemon log"
}
# The warning Asterisk logs: logged_fatal CASE NAME CODE.
logged_fatal() {
    log_has "$1" "Fatal response '$3' received from 'sip:127.0.0.1:${SIPP_PORT[$2]}' on registration attempt to 'sip:$2@example.com', stopping outbound registration"
}

# The configuration: pjsip.conf with the registrations of the first load ("initial") or
# after the reload ("reloaded": outreg-removed gone, outreg-added there).
reg() { # NAME [EXTRA OPTIONS]: a registration to the SIPp of NAME
    printf '\n[%s]\ntype=registration\nserver_uri=sip:127.0.0.1:%s\nclient_uri=sip:%s@example.com\n' \
        "$1" "${SIPP_PORT[$1]}" "$1"
    printf 'max_random_initial_delay=1\nretry_interval=2\nexpiration=30\n'
    [ -n "${2:-}" ] && printf '%s\n' "$2"
    return 0
}
write_conf() {
    {
        cat <<CONF
[transport-udp]
type=transport
protocol=udp
bind=127.0.0.1:$dport

[transport-tcp]
type=transport
protocol=tcp
bind=127.0.0.1:$dport

[alice]
type=auth
auth_type=userpass
username=alice
password=swordfish

[outreg-kamailio]
type=registration
server_uri=sip:127.0.0.1:$kport
client_uri=sip:alice@127.0.0.1:$kport
outbound_auth=alice
max_random_initial_delay=1
retry_interval=2
expiration=30
CONF
        reg outreg-200
        reg outreg-dns | sed "s#^server_uri=sip:127.0.0.1:#server_uri=sip:localhost:#"
        reg outreg-tcp "transport=transport-tcp" | sed 's#^server_uri=.*#&\\;transport=tcp#'
        reg outreg-auth "outbound_auth=alice"
        reg outreg-auth-loop "outbound_auth=alice"
        reg outreg-403
        reg outreg-403-retry "forbidden_retry_interval=2"
        reg outreg-503-retry
        reg outreg-retry-after
        reg outreg-423
        reg outreg-unregister
        if [ "$1" = initial ]; then
            reg outreg-removed
        else
            reg outreg-added
        fi
    } >"$dir/pjsip.conf"
}

# Kamailio first, as the registrar of outreg-kamailio.
sed "s/@PORT@/$kport/g" testsuite/kamailio/registrar.cfg >"$dir/kamailio.cfg"
"$kamailio" -f "$dir/kamailio.cfg" -DD -E -m 64 -M 8 >"$dir/kamailio.log" 2>&1 &
kam_pid=$!
wait_bound "$kport" || { cat "$dir/kamailio.log" >&2; echo "FAIL: Kamailio did not start" >&2; exit 1; }

# The registrars, then the daemon.
nonce=4e6f6e63652d666978656430303031 # the fixed nonce of outreg-auth.xml
sipp_uas outreg-200 outreg-200.xml
sipp_uas outreg-dns outreg-dns.xml
sipp_uas outreg-tcp outreg-tcp.xml -t t1
# The digest depends on outreg-auth's port: the one sipp_uas takes next.
response=$(python3 - "sip:127.0.0.1:${ports[next_port]}" "$nonce" <<'PY'
import hashlib, sys
md5 = lambda s: hashlib.md5(s.encode()).hexdigest()
uri, nonce = sys.argv[1:]
print(md5(md5("alice:test.example.com:swordfish") + ":" + nonce + ":" + md5("REGISTER:" + uri)))
PY
)
sipp_uas outreg-auth outreg-auth.xml -key response "$response"
sipp_uas outreg-auth-loop outreg-auth-loop.xml
sipp_uas outreg-403 outreg-403.xml
sipp_uas outreg-403-retry outreg-403-retry.xml
sipp_uas outreg-503-retry outreg-503-retry.xml
sipp_uas outreg-retry-after outreg-retry-after.xml
sipp_uas outreg-423 outreg-423.xml
sipp_uas outreg-unregister outreg-unregister.xml
sipp_uas outreg-removed outreg-unregistered.xml
write_conf initial
write_settings
start_daemon
# The traffic log shows what happened when a case fails.
grep -q "PJSIP Logging enabled" <<<"$(rx "pjsip set logger on")" || { echo "FAIL: pjsip set logger on" >&2; exit 1; }

case_reload() {
    wait_status outreg-removed Registered ||
        { fail reload "outreg-removed did not register: $(reg_status outreg-removed)"; return; }
    sipp_uas outreg-added outreg-unregistered.xml
    write_conf reloaded
    rx "pjsip reload" >/dev/null || fail reload "pjsip reload failed"
    sipp_done outreg-removed "removed from pjsip.conf + pjsip reload: no REGISTER with Expires: 0, or a REGISTER after it" &&
        sent_once outreg-removed
    check_status reload outreg-removed absent
    check_status reload outreg-added Registered
    log_has reload "Outbound registration 'outreg-removed' removed"
    if grep -F "changed: starting it again" "$dir/daemon.log" >&2; then
        fail reload "pjsip reload restarted the unchanged registrations above"
    fi
}

case_unregister() {
    wait_status outreg-unregister Registered ||
        { fail unregister "outreg-unregister did not register: $(reg_status outreg-unregister)"; return; }
    rx "pjsip send unregister outreg-unregister" >/dev/null || fail unregister "pjsip send unregister failed"
    check_status unregister outreg-unregister Unregistered
    # SIPp allows no REGISTER for 3 s after its 200 to the un-REGISTER.
    sleep 3.5
    rx "pjsip send register outreg-unregister" >/dev/null || fail unregister "pjsip send register failed"
    sipp_done outreg-unregister "pjsip send unregister: no REGISTER with Expires: 0, or a REGISTER within 3 s after it; or pjsip send register: no REGISTER with Expires: 30" &&
        sent_once outreg-unregister
    check_status unregister outreg-unregister Registered
}

case_200() {
    sipp_done outreg-200 "REGISTER (Expires: 30, Contact <sip:s@127.0.0.1:$dport>, From/To sip:outreg-200@example.com) then, after a 200 granting 12 s, the refresh 2 s later in the same Call-ID with a higher CSeq" || return 0
    check_status 200 outreg-200 Registered
    # The first REGISTER: 1 s after the daemon is ready (max_random_initial_delay=1), as
    # SIPp saw it.
    local first ready
    first=$(grep -oE 'first REGISTER at [0-9.]+ [0-9.]+' "$dir/outreg-200.log" | awk '{ printf "%.0f", ($4 + $5 / 1e6) * 1000 }')
    ready=$(grep -m1 -oE '^[0-9T:.-]+Z .* ready: ' "$dir/daemon.log" | cut -d' ' -f1)
    if [ -z "$first" ] || [ -z "$ready" ]; then
        fail 200 "no 'first REGISTER at' line in SIPp's log, or no 'ready:' line in the daemon's"
        return 0
    fi
    local ms=$((first - $(date -d "$ready" +%s%3N)))
    ((ms >= 900 && ms <= 2000)) || fail 200 "the first REGISTER came ${ms} ms after the daemon was ready; want 1000..2000"
}

case_dns() {
    sipp_done outreg-dns "no REGISTER with Request-URI sip:localhost:${SIPP_PORT[outreg-dns]} reached 127.0.0.1 (server_uri with a host name), or no refresh after the 200" || return 0
    check_status dns outreg-dns Registered
}

case_tcp() {
    sipp_done outreg-tcp "no REGISTER over TCP (TCP Via, Contact ;transport=tcp, Expires: 30), or no refresh over the same connection after the 200" || return 0
    check_status tcp outreg-tcp Registered
}

case_auth() {
    sipp_done outreg-auth "after 401 (realm test.example.com, nonce $nonce) no REGISTER within 1 s with Authorization username=\"alice\", that nonce, uri=\"sip:127.0.0.1:${SIPP_PORT[outreg-auth]}\", response=\"$response\"" || return 0
    check_status auth outreg-auth Registered
}

case_auth_loop() {
    sipp_done outreg-auth-loop "a REGISTER came after the authenticated REGISTER was challenged again (or pjsip reload restarted the registration)" || return 0
    check_status auth-loop outreg-auth-loop Rejected
    logged_fatal auth-loop outreg-auth-loop 401
}

case_403() {
    sipp_done outreg-403 "after 403 without forbidden_retry_interval a REGISTER came within 5 s (or pjsip reload restarted the registration)" || return 0
    check_status 403 outreg-403 Rejected
    logged_fatal 403 outreg-403 403
}

case_403_retry() {
    sipp_done outreg-403-retry "after 403 with forbidden_retry_interval=2 no REGISTER 2 s later (1.5..3.5 s)" || return 0
    check_status 403-retry outreg-403-retry Registered
    log_has 403-retry "403 Forbidden fatal response received from 'sip:127.0.0.1:${SIPP_PORT[outreg-403-retry]}' on registration attempt to 'sip:outreg-403-retry@example.com', retrying in '2' seconds"
}

case_503_retry() {
    sipp_done outreg-503-retry "after 503 with retry_interval=2 no REGISTER 2 s later (1.5..3.5 s)" || return 0
    check_status 503-retry outreg-503-retry Registered
    log_has 503-retry "Temporal response '503' received from 'sip:127.0.0.1:${SIPP_PORT[outreg-503-retry]}' on registration attempt to 'sip:outreg-503-retry@example.com', retrying in '2'"
}

case_retry_after() {
    sipp_done outreg-retry-after "after 503 with Retry-After: 4 no REGISTER 4 s later (3.5..5.5 s)" || return 0
    check_status retry-after outreg-retry-after Registered
    log_has retry-after "Temporal response '503' received from 'sip:127.0.0.1:${SIPP_PORT[outreg-retry-after]}' on registration attempt to 'sip:outreg-retry-after@example.com', retrying in '4'"
}

case_423() {
    sipp_done outreg-423 "after 423 with Min-Expires: 120 no REGISTER within 1 s asking Expires: 120" || return 0
    check_status 423 outreg-423 Registered
}

# kamailio_query ID SCENARIO: SIPp asks Kamailio for alice's bindings.
kamailio_query() {
    local lport mport
    take_port; lport=$port
    take_port; mport=$port
    timeout 30 sipp "127.0.0.1:$kport" -sf "testsuite/sipp/$2" -i 127.0.0.1 -p "$lport" -mp "$mport" \
        -m 1 -nostdin -timeout 20s -recv_timeout 5s -s alice -au alice -ap swordfish -key dport "$dport" \
        -trace_err -error_file "$dir/$1.err" -trace_msg -message_file "$dir/$1.msg" >"$dir/$1.out" 2>&1
}

# saved_count: how many REGISTERs of the daemon Kamailio saved (its "SAVED" log lines).
saved_count() {
    grep -c "SAVED sip:alice@127.0.0.1:$kport contact <sip:s@127.0.0.1:$dport>" "$dir/kamailio.log" || true
}

case_kamailio() {
    check_status kamailio outreg-kamailio Registered
    # Kamailio grants 12 s: a refresh (challenged again) 2 s after each 200.
    local n=0
    for _ in $(seq 1 60); do
        n=$(saved_count)
        ((n >= 2)) && break
        sleep 0.1
    done
    ((n >= 2)) || fail kamailio "Kamailio saved the daemon's binding $n time(s) in 6 s; want a refresh every 2 s"
    grep -qE '^Authorization: Digest .*qop=auth' "$dir/daemon.log" ||
        fail kamailio "the daemon sent no Authorization with qop=auth (Kamailio's challenge asks for it)"
    kamailio_query kamailio-bound outreg-kamailio-bound.xml ||
        sipp_failed kamailio-bound "Kamailio does not list <sip:s@127.0.0.1:$dport> for alice"
    if grep -E '^ *[0-9]+\([0-9]+\) (ERROR|CRITICAL|ALERT)' "$dir/kamailio.log" >&2; then
        fail kamailio "Kamailio logged the errors above"
    fi
}

case_shutdown() {
    local t0=$SECONDS rc=0
    kill -TERM "$pid"
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        fail shutdown "the daemon did not exit within 10 s of SIGTERM"
    else
        wait "$pid" || rc=$?
        pid=""
        ((rc == 0)) || fail shutdown "the daemon exited with status $rc"
        ((SECONDS - t0 <= 5)) || fail shutdown "the daemon took $((SECONDS - t0)) s to exit"
    fi
    # At once: the binding (12 s, refreshed every 2 s) must be gone, not expired.
    kamailio_query kamailio-none outreg-kamailio-none.xml ||
        sipp_failed kamailio-none "after SIGTERM Kamailio still lists a binding for alice (the un-REGISTER did not complete its digest exchange)"
    sipp_done outreg-added "SIGTERM: no REGISTER with Expires: 0, or a REGISTER after it" && sent_once outreg-added
    return 0
}

cases=(reload unregister 200 dns tcp auth auth-loop 403 403-retry 503-retry retry-after 423 kamailio shutdown)
for c in "${cases[@]}"; do
    run_case "$c"
done
finish "outbound registration" "${#cases[@]} cases passed"
