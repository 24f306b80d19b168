#!/usr/bin/env bash
# SIPp scenarios (testsuite/sipp/) against one daemon, over UDP and TCP, on IPv4 and IPv6:
#   auth-ok            OPTIONS from an endpoint with auth=: 401, then 200 with a correct digest
#   auth-concurrent    10 such calls started within 0.2 s all get their 200
#   auth-wrong         the same with a wrong password: 401 again, and 'Failed to authenticate'
#                      is logged for that Call-ID
#   unknown-user       an unknown user's 401 has the same headers and the same WWW-Authenticate
#                      parameters as a known user's (only the nonce differs), and
#                      'No matching endpoint found' is logged for it
#   identify-username  From user = an endpoint without auth: 200
#   identify-header    without X-Tenant: 401; with 'X-Tenant: acme' (match_header): 200
#   identify-network   IPv4 only: a source inside match=127.0.1.0/24: 200
#   identify-port      IPv4 only: match=127.0.2.7:<port> gives 200 from that port, 401 from another
#   uri-416            OPTIONS foo:bar: 416
#   version-505        SIP/3.0: 505
#   ack-ignored        bare ACKs get no answer for 1 s; an OPTIONS then still gets 200
#   invite-retrans     the identical INVITE sent again gets the same final response (same
#                      status, same To-tag) and no new 100; the traffic log shows one 100 only
# Every case runs and is reported; the script fails at the end if any case failed.
# PJSIPD_BIN selects the daemon binary (default target/debug/pjsipd, built when missing).
# The TCP runs are on by default and take their cases from tcp_cases below;
# PJSIPD_TCP_TESTS=0 leaves them out (and says so).
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in sipp python3; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing (testsuite/run installs it)" >&2; exit 1; }
done
. testsuite/lib/daemon.sh
. testsuite/lib/cases.sh
started=$SECONDS

# Ports free for UDP and TCP (testsuite/lib/cases.sh), taken in order.
free_ports 160 127.0.0.1 ::1 127.0.1.5 127.0.2.7
take_port; port4=$port
take_port; port6=$port
take_port; pinport=$port

cat >"$dir/pjsip.conf" <<CONF
[global]
type=global
endpoint_identifier_order=ip,username,header

$(transports_conf "$port4" "$port6")

; Identified by From user, digest auth.
[alice-auth]
type=auth
auth_type=userpass
username=alice
password=swordfish

[alice]
type=endpoint
context=default
auth=alice-auth
identify_by=username

; Identified by From user, no auth.
[bob]
type=endpoint
context=default
identify_by=username

; Identified by source network.
[lan]
type=endpoint
context=default

[lan-identify]
type=identify
endpoint=lan
match=127.0.1.0/24

; Identified by source address and port.
[pinned]
type=endpoint
context=default

[pinned-identify]
type=identify
endpoint=pinned
match=127.0.2.7:$pinport

; Identified by a header.
[acme]
type=endpoint
context=default
identify_by=header

[acme-identify]
type=identify
endpoint=acme
match_header=X-Tenant: acme
CONF
write_settings
# OPTIONS to sip:service@... asks whether extension "service" exists in the endpoint's context.
printf '[default]\nexten => service,1,Answer()\n' >"$dir/extensions.conf"
start_daemon
# The traffic log is needed by invite-retrans and shows what happened when a case fails.
grep -q "PJSIP Logging enabled" <<<"$("$bin" --config-dir "$dir" -rx "pjsip set logger on")" \
    || { echo "FAIL: pjsip set logger on" >&2; exit 1; }

udp_cases=(auth-ok auth-concurrent auth-wrong unknown-user identify-username identify-header identify-network
    identify-port uri-416 version-505 ack-ignored invite-retrans)
tcp_cases=(auth-ok auth-concurrent auth-wrong unknown-user identify-username identify-header identify-network
    identify-port uri-416 version-505 ack-ignored invite-retrans)
v4_only=" identify-network identify-port "
transports=(udp4 udp6)
if [ "${PJSIPD_TCP_TESTS:-1}" = 0 ]; then
    echo "NOTE: TCP cases left out (PJSIPD_TCP_TESTS=0)" >&2
else
    transports+=(tcp4 tcp6)
fi
declare -A SIPP_T=([udp4]=u1 [udp6]=u1 [tcp4]=t1 [tcp6]=t1)
declare -A LOCAL=([udp4]=127.0.0.1 [udp6]=::1 [tcp4]=127.0.0.1 [tcp6]=::1)
declare -A REMOTE=([udp4]="127.0.0.1:$port4" [udp6]="[::1]:$port6" [tcp4]="127.0.0.1:$port4" [tcp6]="[::1]:$port6")


# sipp_run ID TRANSPORT SCENARIO LOCAL_IP LOCAL_PORT|auto [sipp options...]: one call; the
# Call-ID is ID-1@LOCAL_IP; files ID.{err,msg,log,out} in the temp dir.
sipp_run() {
    local id=$1 t=$2 scenario=$3 ip=$4 lport=$5 mport port
    shift 5
    if [ "$lport" = auto ]; then take_port; lport=$port; fi
    take_port; mport=$port
    timeout 30 sipp "${REMOTE[$t]}" -sf "testsuite/sipp/$scenario" -t "${SIPP_T[$t]}" \
        -i "$ip" -p "$lport" -mp "$mport" -m 1 -nostdin -timeout 20s -recv_timeout 5s -cid_str "$id-%u@%s" \
        -trace_err -error_file "$dir/$id.err" -trace_msg -message_file "$dir/$id.msg" \
        -trace_logs -log_file "$dir/$id.log" "$@" >"$dir/$id.out" 2>&1
}


# logged_messages DIRECTION CALL-ID FIRST-LINE-REGEX: how many messages of the traffic log
# ("Received" or "Transmitting") have that Call-ID and a first line matching the regex.
logged_messages() {
    awk -v dir="<--- $1 " -v cid="Call-ID: $2" -v want="$3" '
        function end() { if (inb && hit && first ~ want) n++; inb = 0 }
        { sub(/\r$/, "") }
        /^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T/ { end(); inb = index($0, dir) > 0; hit = 0; first = ""; next }
        inb && first == "" { first = $0 }
        inb && $0 == cid { hit = 1 }
        END { end(); print n + 0 }' "$dir/daemon.log"
}

# Status line and header names of the messages SIPp received, in order.
received_shape() {
    awk '/message received \[/ { inb = 1; next }
        /^-----------/ { inb = 0 }
        { sub(/\r$/, "") }
        inb && /^SIP\/2\.0 / { print $1, $2 }
        inb && /^[A-Za-z-]+:/ { sub(/:.*/, ""); print }' "$1"
}

case_auth_ok() {
    local id=auth-ok-$1
    sipp_run "$id" "$1" options-auth.xml "${LOCAL[$1]}" auto -s alice -au alice -ap swordfish \
        || sipp_failed "$id" "OPTIONS from alice with the right password did not get 401 then 200"
}

case_auth_concurrent() {
    # Several phones (here: calls from one socket) challenged in the same second must each
    # get a nonce they can use: 10 calls of options-auth.xml started within 0.2 s.
    local id=auth-concurrent-$1
    sipp_run "$id" "$1" options-auth.xml "${LOCAL[$1]}" auto -s alice -au alice -ap swordfish \
        -m 10 -l 10 -r 50 \
        || sipp_failed "$id" "$(grep -F "Successful call" "$dir/$id.out" | tail -1 | awk -F'|' '{gsub(/ /, "", $3); print $3}') of 10 concurrent OPTIONS from alice with the right password got 401 then 200 (see 'Failed to authenticate' in the daemon log)"
}

case_auth_wrong() {
    local id=auth-wrong-$1
    sipp_run "$id" "$1" options-auth-wrong.xml "${LOCAL[$1]}" auto -s alice -au alice -ap not-swordfish \
        || { sipp_failed "$id" "OPTIONS from alice with a wrong password did not get 401 then 401 again"; return; }
    if ! wait_log "(callid: $id-1@${LOCAL[$1]}) - Failed to authenticate" \
        || ! grep -F "(callid: $id-1@${LOCAL[$1]}) - Failed to authenticate" "$dir/daemon.log" \
            | grep "Request 'OPTIONS' from '<sip:alice@" >/dev/null; then
        fail "$id" "no \"Request 'OPTIONS' from '<sip:alice@...>' ... (callid: $id-1@${LOCAL[$1]}) - Failed to authenticate\" in the daemon log"
    fi
}

case_unknown_user() {
    local id=unknown-user-$1 known unknown
    sipp_run "$id-known" "$1" options-challenge.xml "${LOCAL[$1]}" auto -s alice \
        || { sipp_failed "$id-known" "OPTIONS from alice without credentials did not get 401"; return; }
    sipp_run "$id" "$1" options-challenge.xml "${LOCAL[$1]}" auto -s nobody \
        || { sipp_failed "$id" "OPTIONS from an unknown user did not get 401"; return; }
    known=$(grep -m1 '^WWW-Authenticate: ' "$dir/$id-known.log" || true)
    unknown=$(grep -m1 '^WWW-Authenticate: ' "$dir/$id.log" || true)
    local norm='s/(nonce|opaque)="[^"]*"/\1="..."/g'
    if [ -z "$known" ] || [ -z "$unknown" ]; then
        fail "$id" "no WWW-Authenticate captured (known: '$known', unknown: '$unknown')"
    elif [ "$(sed -E "$norm" <<<"$known")" != "$(sed -E "$norm" <<<"$unknown")" ]; then
        fail "$id" "the challenges differ in form: known user '$known', unknown user '$unknown'"
    elif [ "$(grep -o 'nonce="[^"]*"' <<<"$known")" = "$(grep -o 'nonce="[^"]*"' <<<"$unknown")" ]; then
        fail "$id" "both challenges carry the same nonce: '$known'"
    elif [ "$(received_shape "$dir/$id-known.msg")" != "$(received_shape "$dir/$id.msg")" ]; then
        fail "$id" "the 401s have different headers: known user [$(received_shape "$dir/$id-known.msg" | paste -sd,)], unknown user [$(received_shape "$dir/$id.msg" | paste -sd,)]"
    elif ! wait_log "(callid: $id-1@${LOCAL[$1]}) - No matching endpoint found"; then
        fail "$id" "no \"(callid: $id-1@${LOCAL[$1]}) - No matching endpoint found\" in the daemon log"
    fi
}

case_identify_username() {
    local id=identify-username-$1
    sipp_run "$id" "$1" options-user-200.xml "${LOCAL[$1]}" auto -s bob \
        || sipp_failed "$id" "OPTIONS from bob (identify_by=username, no auth) did not get 200"
}

case_identify_header() {
    local id=identify-header-$1
    sipp_run "$id" "$1" options-header.xml "${LOCAL[$1]}" auto -s guest \
        || sipp_failed "$id" "OPTIONS from guest did not get 401 without X-Tenant and 200 with 'X-Tenant: acme'"
}

case_identify_network() {
    local id=identify-network-$1
    sipp_run "$id" "$1" options-200.xml 127.0.1.5 auto -s service \
        || sipp_failed "$id" "OPTIONS from 127.0.1.5 (identify match=127.0.1.0/24) did not get 200"
}

case_identify_port() {
    local id=identify-port-$1
    sipp_run "$id" "$1" options-200.xml 127.0.2.7 "$pinport" -s service \
        || sipp_failed "$id" "OPTIONS from 127.0.2.7:$pinport (identify match=127.0.2.7:$pinport) did not get 200"
    sipp_run "$id-other" "$1" options-401.xml 127.0.2.7 auto -s service \
        || sipp_failed "$id-other" "OPTIONS from 127.0.2.7 on another port than $pinport did not get 401"
}

case_uri_416() {
    local id=uri-416-$1
    sipp_run "$id" "$1" options-416.xml "${LOCAL[$1]}" auto -s bob \
        || sipp_failed "$id" "OPTIONS foo:bar did not get 416"
}

case_version_505() {
    local id=version-505-$1
    sipp_run "$id" "$1" options-505.xml "${LOCAL[$1]}" auto -s bob \
        || sipp_failed "$id" "a SIP/3.0 request did not get 505"
}

case_ack_ignored() {
    local id=ack-ignored-$1
    sipp_run "$id" "$1" ack-ignored.xml "${LOCAL[$1]}" auto -s bob \
        || sipp_failed "$id" "a bare ACK was answered, or the OPTIONS after it did not get 200"
}

case_invite_retrans() {
    local id=invite-retrans-$1 cid invites trying sends=3
    # -nr: otherwise SIPp takes the repeated final response for a retransmission.
    sipp_run "$id" "$1" invite-retrans.xml "${LOCAL[$1]}" auto -s bob -nr \
        || { sipp_failed "$id" "the re-sent INVITE did not get the same final response (status, To-tag) without a new 100"; return; }
    cid="$id-1@${LOCAL[$1]}"
    [ "${SIPP_T[$1]}" = t1 ] && sends=2 # over TCP the INVITE is not sent after the ACK
    for _ in $(seq 1 30); do
        invites=$(logged_messages Received "$cid" '^INVITE ')
        [ "$invites" -ge "$sends" ] && break
        sleep 0.1
    done
    trying=$(logged_messages Transmitting "$cid" '^SIP/2\.0 100 ')
    if [ "$invites" -ne "$sends" ]; then
        fail "$id" "the traffic log shows $invites INVITEs with Call-ID $cid received, not $sends"
    elif [ "$trying" -ne 1 ]; then
        fail "$id" "the traffic log shows $trying '100 Trying' sent for Call-ID $cid, not 1: the INVITE was not handled exactly once"
    fi
}

total=0
for t in "${transports[@]}"; do
    if [[ $t == tcp* ]]; then cases=("${tcp_cases[@]}"); else cases=("${udp_cases[@]}"); fi
    for c in "${cases[@]}"; do
        [[ $t == *6 && $v4_only == *" $c "* ]] && continue
        total=$((total + 1))
        run_case "$c" "$t"
    done
done
finish "sipp scenarios" "$total cases passed over ${transports[*]}"
