#!/usr/bin/env bash
# The registrar's rules, one SIPp scenario (testsuite/sipp/register-*.xml) per case, against
# one daemon, over UDP and TCP, on IPv4 and IPv6. Every case has its own endpoints and AORs
# for each of the 4 runs (users <prefix>-udp4, -udp6, -tcp4, -tcp6), so runs never meet.
#   authed           REGISTER from an endpoint with auth=: 401, then with the digest 200 whose
#                    Contact is <sip:user@ip:port;transport=...>;expires=25..30
#                    (default_expiration=30, no Expires sent), with a Date header
#   expiration       ;expires=15 + Expires: 20 raised to minimum_expiration 30; ;expires=120 +
#                    Expires: 300 lowered to maximum_expiration 60; the Contact parameter wins
#                    over the header; Expires alone; neither: default_expiration
#   reject-short     aor reject_short_expiration=yes: 423 with Min-Expires: 30, judged per
#                    contact (;expires=45 + Expires: 20 is fine); ;expires=0 never 423
#   max-contacts     two Contacts to max_contacts=1: 403 and nothing stored; max_contacts=0: 403
#   remove-existing  max_contacts=3, remove_existing=yes: the 4th contact evicts the first; 4
#                    Contacts in one REGISTER: 403; remove one + add two evicts the soonest
#   unregister       ;expires=0, Expires: 0, Contact: * with Expires: 0 (200 without Contact);
#                    Contact: * without Expires: 0 (or not alone): 400
#   query            REGISTER without Contact: 200 listing the bindings
#   wrong-password   a digest from a wrong password: a second 401 (not 403), then the right
#                    one: 200; 'Failed to authenticate' is logged for that Call-ID
#   path             support_path=yes: Path + Supported: path 200, Path alone 420, Path: <sip:
#                    400; an AOR without support_path ignores Path (200)
#   instance         +sip.instance: a new URI with an existing binding's instance replaces it
#   rewrite-contact  rewrite_contact=yes: a Contact on 192.0.2.1:5999 is stored as the packet's
#                    source (daemon log 'Added contact ...'; over UDP `pjsip show contacts` too)
#   absurd           Expires: 99999999999999 clamped to maximum_expiration (200); Expires: abc,
#                    Expires: -1, ;expires=abc: 400; 300 Contact headers to max_contacts=5: 403
#                    and nothing stored
#   tcp-close        TCP only: contacts that point at the connection's far end (Contact =
#                    source, or rewrite_contact=yes) go when SIPp's connection closes ('due to
#                    connection closed', and a query from a new connection lists nothing); a
#                    contact elsewhere (192.0.2.1:5999, no rewrite) stays
# Contact persistence across restarts is tested by testsuite/tests/register_persist.sh.
# Every case runs and is reported; the script fails at the end if any case failed.
# PJSIPD_BIN selects the daemon binary (default target/debug/pjsipd, built when missing).
# PJSIPD_TCP_TESTS=0 leaves the TCP runs out (and says so).
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in sipp python3; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing (testsuite/run installs it)" >&2; exit 1; }
done
. testsuite/lib/daemon.sh
. testsuite/lib/cases.sh
started=$SECONDS

# Ports free for UDP and TCP on 127.0.0.1 and ::1, with port+2 free for UDP too (SIPp binds
# its media port and media port+2), at least 3 apart; taken in order.
want_ports=200
# Ports free for UDP and TCP (testsuite/lib/cases.sh), taken in order.
free_ports "$want_ports" 127.0.0.1 ::1
take_port; port4=$port
take_port; port6=$port

transports=(udp4 udp6)
if [ "${PJSIPD_TCP_TESTS:-1}" = 0 ]; then
    echo "NOTE: TCP runs left out (PJSIPD_TCP_TESTS=0)" >&2
else
    transports+=(tcp4 tcp6)
fi

# An endpoint identified by its name as From user, and its AOR of the same name:
# user NAME "ENDPOINT OPTIONS" "AOR OPTIONS" (options one per line). With auth=NAME-auth in
# the endpoint options, an auth object NAME-auth (password swordfish) is written too.
user() {
    printf '\n[%s]\ntype=endpoint\ncontext=default\nidentify_by=username\naors=%s\n' "$1" "$1"
    [ -n "$2" ] && printf '%s\n' "$2"
    printf '\n[%s]\ntype=aor\n' "$1"
    [ -n "$3" ] && printf '%s\n' "$3"
    if [[ $2 == *"auth=$1-auth"* ]]; then
        printf '\n[%s-auth]\ntype=auth\nauth_type=userpass\nusername=%s\npassword=swordfish\n' "$1" "$1"
    fi
}

{
    cat <<CONF
[global]
type=global
endpoint_identifier_order=username,ip,header

$(transports_conf "$port4" "$port6")
CONF
    for t in udp4 udp6 tcp4 tcp6; do
        user "rauth-$t" "auth=rauth-$t-auth" $'max_contacts=1\nminimum_expiration=5\ndefault_expiration=30'
        user "rexp-$t" "" $'max_contacts=1\nminimum_expiration=30\nmaximum_expiration=60\ndefault_expiration=45'
        user "rrej-$t" "" $'max_contacts=1\nminimum_expiration=30\nreject_short_expiration=yes'
        user "rmax-$t" "" $'max_contacts=1'
        user "rzero-$t" "" $'max_contacts=0'
        user "rrex-$t" "" $'max_contacts=3\nremove_existing=yes\nminimum_expiration=10'
        user "runreg-$t" "" $'max_contacts=5\nminimum_expiration=10'
        user "rquery-$t" "" $'max_contacts=5\nminimum_expiration=10'
        user "rwrong-$t" "auth=rwrong-$t-auth" $'max_contacts=1'
        user "rpath-$t" "" $'max_contacts=1\nsupport_path=yes'
        user "rnopath-$t" "" $'max_contacts=1'
        user "rinst-$t" "" $'max_contacts=3\nminimum_expiration=10'
        user "rrw-$t" "rewrite_contact=yes" $'max_contacts=1'
        user "rabs-$t" "" $'max_contacts=5\nminimum_expiration=10\nmaximum_expiration=60'
        user "rclose-$t" "" $'max_contacts=1'
        user "rclosrw-$t" "rewrite_contact=yes" $'max_contacts=1'
        user "rkeep-$t" "" $'max_contacts=1'
    done
} >"$dir/pjsip.conf"
write_settings
start_daemon
# The traffic log shows what happened when a case fails.
grep -q "PJSIP Logging enabled" <<<"$("$bin" --config-dir "$dir" -rx "pjsip set logger on")" \
    || { echo "FAIL: pjsip set logger on" >&2; exit 1; }

udp_cases=(authed expiration reject-short max-contacts remove-existing unregister query wrong-password
    path instance rewrite-contact absurd)
tcp_cases=("${udp_cases[@]}" tcp-close)
declare -A SIPP_T=([udp4]=u1 [udp6]=u1 [tcp4]=t1 [tcp6]=t1)
declare -A LOCAL=([udp4]=127.0.0.1 [udp6]=::1 [tcp4]=127.0.0.1 [tcp6]=::1)
declare -A HOST=([udp4]=127.0.0.1 [udp6]="[::1]" [tcp4]=127.0.0.1 [tcp6]="[::1]")
declare -A REMOTE=([udp4]="127.0.0.1:$port4" [udp6]="[::1]:$port6" [tcp4]="127.0.0.1:$port4" [tcp6]="[::1]:$port6")


# sipp_run ID TRANSPORT SCENARIO [sipp options...]: one call from LOCAL[TRANSPORT] on a
# fresh port (left in $lport); the Call-ID is ID-1@LOCAL_IP; files ID.{err,msg,log,out} in
# the temp dir.
sipp_run() {
    local id=$1 t=$2 scenario=$3 mport port
    shift 3
    take_port; lport=$port
    take_port; mport=$port
    timeout 30 sipp "${REMOTE[$t]}" -sf "testsuite/sipp/$scenario" -t "${SIPP_T[$t]}" \
        -i "${LOCAL[$t]}" -p "$lport" -mp "$mport" -m 1 -nostdin -timeout 20s -recv_timeout 5s \
        -cid_str "$id-%u@%s" -trace_err -error_file "$dir/$id.err" -trace_msg -message_file "$dir/$id.msg" \
        -trace_logs -log_file "$dir/$id.log" "$@" >"$dir/$id.out" 2>&1
}


case_authed() {
    local id=authed-$1
    sipp_run "$id" "$1" register-authed.xml -s "rauth-$1" -au "rauth-$1" -ap swordfish \
        || sipp_failed "$id" "REGISTER with the right password did not get 401, then 200 listing <sip:rauth-$1@${HOST[$1]}:$lport;transport=...>;expires=25..30 with a Date header"
}

case_expiration() {
    local id=expiration-$1
    sipp_run "$id" "$1" register-expiration.xml -s "rexp-$1" \
        || sipp_failed "$id" "expiries were not clamped into minimum_expiration 30 .. maximum_expiration 60, or the Contact's expires parameter did not win over the Expires header"
}

case_reject_short() {
    local id=reject-short-$1
    sipp_run "$id" "$1" register-423.xml -s "rrej-$1" \
        || sipp_failed "$id" "reject_short_expiration=yes: not 423 with Min-Expires: 30 for ;expires=15, or not 200 for ;expires=45 with Expires: 20 (the header must not count for a contact with its own expires), or not 200 for ;expires=0"
}

case_max_contacts() {
    local id=max-contacts-$1
    sipp_run "$id" "$1" register-max-contacts.xml -s "rmax-$1" \
        || sipp_failed "$id" "two Contacts to max_contacts=1 did not get 403 with nothing stored, or one Contact then did not get 200"
    sipp_run "$id-zero" "$1" register-forbidden.xml -s "rzero-$1" \
        || sipp_failed "$id-zero" "REGISTER to an AOR with max_contacts=0 did not get 403"
}

case_remove_existing() {
    local id=remove-existing-$1
    sipp_run "$id" "$1" register-remove-existing.xml -s "rrex-$1" \
        || sipp_failed "$id" "remove_existing with max_contacts=3 did not evict the soonest-expiring binding, or 4 Contacts in one REGISTER did not get 403 with nothing changed"
    wait_log "Removed contact 'sip:re1@${HOST[$1]}:$lport;transport=" \
        || fail "$id" "no \"Removed contact 'sip:re1@${HOST[$1]}:$lport;transport=...' from AOR 'rrex-$1' due to remove existing\" in the daemon log"
}

case_unregister() {
    local id=unregister-$1
    sipp_run "$id" "$1" register-unregister.xml -s "runreg-$1" \
        || sipp_failed "$id" "un-REGISTER (;expires=0, Expires: 0, Contact: * with Expires: 0) did not remove the bindings, or a bad Contact: * did not get 400"
}

case_query() {
    local id=query-$1
    sipp_run "$id" "$1" register-query.xml -s "rquery-$1" \
        || sipp_failed "$id" "a REGISTER without Contact did not get 200 listing the bindings"
}

case_wrong_password() {
    local id=wrong-password-$1
    sipp_run "$id" "$1" register-wrong-password.xml -s "rwrong-$1" -au "rwrong-$1" -ap swordfish \
        || { sipp_failed "$id" "a wrong password did not get a second 401, or the right one then did not get 200"; return; }
    wait_log "(callid: $id-1@${LOCAL[$1]}) - Failed to authenticate" \
        || fail "$id" "no \"... (callid: $id-1@${LOCAL[$1]}) - Failed to authenticate\" in the daemon log"
}

case_path() {
    local id=path-$1
    sipp_run "$id" "$1" register-path.xml -s "rpath-$1" \
        || sipp_failed "$id" "support_path=yes: Path with Supported: path not 200, Path alone not 420, or a malformed Path not 400"
    sipp_run "$id-ignored" "$1" register-path-ignored.xml -s "rnopath-$1" \
        || sipp_failed "$id-ignored" "an AOR without support_path did not ignore a Path header (200)"
}

case_instance() {
    local id=instance-$1
    sipp_run "$id" "$1" register-instance.xml -s "rinst-$1" \
        || sipp_failed "$id" "a new URI with the +sip.instance of an existing binding did not replace it"
}

# The URI rewrite_contact makes of a Contact without parameters, for a REGISTER from
# LOCAL[t]:PORT: rewritten_uri T USER PORT (TCP adds ;transport=tcp).
rewritten_uri() {
    local uri="sip:$2@${HOST[$1]}:$3"
    [[ $1 == tcp* ]] && uri+=";transport=tcp"
    printf '%s' "$uri"
}


case_rewrite_contact() {
    local id=rewrite-contact-$1 u=rrw-$1 uri
    sipp_run "$id" "$1" register-rewrite.xml -s "$u" \
        || { sipp_failed "$id" "REGISTER of sip:$u@192.0.2.1:5999 did not get 200 listing it"; return; }
    uri=$(rewritten_uri "$1" "$u" "$lport")
    wait_log "Added contact '$uri' to AOR '$u'" \
        || fail "$id" "rewrite_contact=yes: no \"Added contact '$uri' to AOR '$u'\" in the daemon log (found: $(grep -F "to AOR '$u'" "$dir/daemon.log" | grep -o "Added contact '[^']*'" | paste -sd,))"
    # Over TCP the rewritten contact went with SIPp's connection (see tcp-close): only the
    # log shows it.
    if [[ $1 == udp* ]] && ! cli_lists "$u" "$uri"; then
        fail "$id" "pjsip show contacts has no row $u/$uri (hash $(printf '%s' "$uri" | md5sum | cut -c1-10)): $(rx "pjsip show contacts" 2>&1 | grep -F "$u/" || echo none)"
    fi
}

case_absurd() {
    local id=absurd-$1
    sipp_run "$id-expires" "$1" register-absurd-expires.xml -s "rabs-$1" \
        || sipp_failed "$id-expires" "Expires: 99999999999999 (or ;expires=99999999999999999999) did not get 200 clamped to maximum_expiration 60"
    sipp_run "$id-invalid" "$1" register-absurd-invalid.xml -s "rabs-$1" \
        || sipp_failed "$id-invalid" "Expires: abc, Expires: -1 or ;expires=abc did not get 400"
    sipp_run "$id-contacts" "$1" register-absurd-contacts.xml -s "rabs-$1" \
        || sipp_failed "$id-contacts" "300 Contact headers to max_contacts=5 did not get 403 with nothing stored"
}

case_tcp_close() {
    local id=tcp-close-$1 lp_bound lp_rw
    # Bound to the connection: Contact = the source; a fake Contact with rewrite_contact=yes.
    sipp_run "$id-source" "$1" register-bind.xml -s "rclose-$1" -key expires 300 \
        || { sipp_failed "$id-source" "REGISTER of SIPp's own address did not get 200"; return; }
    lp_bound=$lport
    sipp_run "$id-rewrite" "$1" register-rewrite.xml -s "rclosrw-$1" \
        || { sipp_failed "$id-rewrite" "REGISTER (rewrite_contact=yes) did not get 200"; return; }
    lp_rw=$lport
    # Not bound: a Contact elsewhere, without rewrite_contact.
    sipp_run "$id-elsewhere" "$1" register-rewrite.xml -s "rkeep-$1" \
        || { sipp_failed "$id-elsewhere" "REGISTER of sip:rkeep-$1@192.0.2.1:5999 did not get 200"; return; }
    # SIPp has exited: its connections are closed.
    wait_log "from AOR 'rclose-$1' due to connection closed" \
        || fail "$id" "no \"Removed contact 'sip:rclose-$1@${HOST[$1]}:$lp_bound;transport=TCP' from AOR 'rclose-$1' due to connection closed\" in the daemon log"
    wait_log "from AOR 'rclosrw-$1' due to connection closed" \
        || fail "$id" "no \"Removed contact '$(rewritten_uri "$1" "rclosrw-$1" "$lp_rw")' from AOR 'rclosrw-$1' due to connection closed\" in the daemon log"
    sipp_run "$id-query-source" "$1" register-query-none.xml -s "rclose-$1" \
        || sipp_failed "$id-query-source" "after the connection closed, a query from a new connection still lists the contact registered with the source address"
    sipp_run "$id-query-rewrite" "$1" register-query-none.xml -s "rclosrw-$1" \
        || sipp_failed "$id-query-rewrite" "after the connection closed, a query from a new connection still lists the rewritten contact"
    sipp_run "$id-query-elsewhere" "$1" register-query-fake.xml -s "rkeep-$1" \
        || sipp_failed "$id-query-elsewhere" "a contact on 192.0.2.1:5999 (no rewrite_contact) was removed when the connection it was registered over closed"
    if grep -F "from AOR 'rkeep-$1' due to connection closed" "$dir/daemon.log"; then
        fail "$id" "the contact of rkeep-$1 (192.0.2.1:5999) was removed with the connection"
    fi
}

total=0
for t in "${transports[@]}"; do
    if [[ $t == tcp* ]]; then cases=("${tcp_cases[@]}"); else cases=("${udp_cases[@]}"); fi
    for c in "${cases[@]}"; do
        total=$((total + 1))
        run_case "$c" "$t"
    done
done
finish "sipp register" "$total cases passed over ${transports[*]}"
