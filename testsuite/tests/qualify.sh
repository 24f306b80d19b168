#!/usr/bin/env bash
# Qualify end to end (src/core/qualify.rs): SIPp plays the contacts the daemon sends OPTIONS
# to (testsuite/sipp/qualify-*.xml), all against one daemon, over UDP on 127.0.0.1. The
# contacts live side by side, each under its own AOR, so the cases run at the same time.
#   reachable    static contact= at a SIPp answering 200 (qualify_frequency=1): "Contact
#                qreach/<uri> is now Reachable.  RTT: N msec", `pjsip show contacts` Avail with
#                a numeric RTT, and SIPp gets (and answers) 3 OPTIONS within 5 s: one a second
#   unreachable  static contact= at a UDP port nobody listens on (qualify_timeout=0.5): "is
#                now Unreachable", Unavail with RTT nan, and never Reachable
#   late         a SIPp answering 200 800 ms after each OPTIONS, qualify_timeout=0.5: every
#                probe is a miss (Unreachable, Unavail, never Reachable), though SIPp answered
#   hysteresis   a SIPp that answers OPTIONS 1, 2, 4, 7, 9, 10 and leaves 3, 5, 6, 8 unanswered
#                (qualify-uas-flap.xml): the first result decides (Reachable), afterwards a
#                status changes only on 2 agreeing results in a row, so the log has exactly
#                Reachable, Unreachable, Reachable for it (a single miss or a single answer
#                changes nothing)
#   registered   a SIPp registers Contact <sip:qreg@127.0.0.1:P> with P a port nobody listens
#                on (qualify-register.xml) to an endpoint with rewrite_contact=yes, answering
#                the OPTIONS out of call on the socket it registered from: the contact is
#                stored as the REGISTER's source (sip:qreg@127.0.0.1:<SIPp's port>), and the
#                OPTIONS go there; Reachable and Avail. (Without rewrite_contact a UDP contact
#                is probed at its Contact URI, as Asterisk does: src/core/qualify_tests.rs.)
#   tcp-static   static contact=...;transport=tcp at a SIPp over TCP: the daemon opens the
#                connection (its first TCP transport) and the contact is Reachable
#   2xx-only     a SIPp answering 404: qualify_2xx_only=yes makes it Unreachable (Unavail),
#                without it a 404 is an answer (Reachable, Avail)
#   command      qualify_frequency=300 (no periodic probe after the first): `pjsip qualify
#                <endpoint>` makes the daemon send an OPTIONS at once (SIPp gets it within 2.5 s)
#   qualify-off  last, `pjsip reload` with qreach's qualify_frequency=0: its contact is NonQual
#                (RTT nan) again, not left Avail
# Every case runs and is reported; the script fails at the end if any case failed.
# PJSIPD_BIN selects the daemon binary (default target/debug/pjsipd, built when missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in sipp python3 md5sum; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing (testsuite/run installs it)" >&2; exit 1; }
done
. testsuite/lib/daemon.sh
. testsuite/lib/cases.sh
started=$SECONDS

# UDP ports free on 127.0.0.1 with port+2 free too (SIPp binds its media port and media
# port+2), at least 3 apart; taken in order.
want_ports=20
# Ports free for UDP and TCP (testsuite/lib/cases.sh), taken in order.
free_ports "$want_ports"
take_port; dport=$port       # the daemon
take_port; p_reach=$port     # SIPp: reachable
take_port; p_dead=$port      # nobody
take_port; p_flap=$port      # SIPp: hysteresis
take_port; p_404=$port       # SIPp: 2xx-only
take_port; p_cmd=$port       # SIPp: command
take_port; p_reg=$port       # SIPp: registered (its socket)
take_port; p_regc=$port      # nobody: the registered Contact's port
take_port; p_late=$port      # SIPp: late
take_port; p_tcp=$port       # SIPp over TCP: tcp-static


# Background SIPps by id: their pids, stopped on exit.
declare -A SIPP_PID=()
stop_sipps() {
    local p
    for p in "${SIPP_PID[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${SIPP_PID[@]}"; do
        wait "$p" 2>/dev/null || true
    done
}
cleanup_hooks+=(stop_sipps)

# sipp_start ID PORT SCENARIO [sipp options...]: a SIPp on 127.0.0.1:PORT in the background
# (30 s at most), files ID.{err,msg,out} in the temp dir.
sipp_start() {
    local id=$1 p=$2 scenario=$3 mport
    shift 3
    take_port; mport=$port
    timeout 30 sipp -sf "testsuite/sipp/$scenario" -i 127.0.0.1 -p "$p" -mp "$mport" -nostdin \
        -timeout 25s -trace_err -error_file "$dir/$id.err" -trace_msg -message_file "$dir/$id.msg" \
        "$@" >"$dir/$id.out" 2>&1 &
    SIPP_PID[$id]=$!
}

# sipp_wait ID SECONDS: waits (bounded) for SIPp ID to exit; true when it exited with 0.
sipp_wait() {
    local p=${SIPP_PID[$1]} i n
    n=$(awk -v s="$2" 'BEGIN { print int(s * 10) }')
    for ((i = 0; i < n; i++)); do
        if ! kill -0 "$p" 2>/dev/null; then
            wait "$p"
            return
        fi
        sleep 0.1
    done
    return 1
}

# sipp_running ID: SIPp ID has not exited.
sipp_running() {
    kill -0 "${SIPP_PID[$1]}" 2>/dev/null
}

# calls ID: how many OPTIONS (distinct Call-IDs) SIPp ID got.
calls() {
    tr -d '\r' <"$dir/$1.msg" 2>/dev/null | grep -E '^Call-ID: qualify-' | sort -u | wc -l
}


# status_lines AOR URI: the daemon's status changes of that contact, one word each
# (Reachable/Unreachable), oldest first.
status_lines() {
    grep -F "Contact $1/$2 is now " "$dir/daemon.log" | sed -E 's/.* is now ([A-Za-z]+).*/\1/'
}

# wait_status AOR URI STATUS SECONDS: the daemon logged "Contact AOR/URI is now STATUS" (and,
# for Reachable, ".  RTT: N msec" after it) within SECONDS.
wait_status() {
    local i re
    re="Contact $(printf '%s' "$1/$2" | sed 's/[.[\*^$]/\\&/g') is now $3"
    [ "$3" = Reachable ] && re+="\.  RTT: [0-9]+\.[0-9]{3} msec$"
    [ "$3" = Unreachable ] && re+="$"
    for ((i = 0; i < $4 * 10; i++)); do
        grep -qE -- "$re" "$dir/daemon.log" && return 0
        sleep 0.1
    done
    return 1
}

# cli_row AOR URI: "STATUS RTT" of that contact in `pjsip show contacts` (its Aor/ContactUri
# column is AOR/URI cut to 40 characters, its Hash column the start of the MD5 of URI).
cli_row() {
    local want="$1/$2" hash
    hash=$(printf '%s' "$2" | md5sum | cut -c1-10)
    rx "pjsip show contacts" 2>/dev/null | awk -v want="$want" -v hash="$hash" '
        $1 == "Contact:" && index(want, $2) == 1 && length($2) >= 20 && $3 == hash { print $4, $5; exit }'
}

# cli_is AOR URI STATUS RTT-REGEX: the row of that contact shows STATUS and an RTT matching.
cli_is() {
    local row
    row=$(cli_row "$1" "$2")
    [[ $row =~ ^$3\ $4$ ]] && return 0
    echo "  pjsip show contacts: ${row:-no row for $1/$2}" >&2
    return 1
}

# An endpoint identified by username NAME with the AOR NAME: endpoint NAME
endpoint() {
    printf '\n[%s]\ntype=endpoint\ncontext=default\nidentify_by=username\naors=%s\n' "$1" "$1"
}

u_reach="sip:uas@127.0.0.1:$p_reach"
u_dead="sip:nobody@127.0.0.1:$p_dead"
u_flap="sip:flap@127.0.0.1:$p_flap"
u_404="sip:any@127.0.0.1:$p_404"
u_2xx="sip:only2xx@127.0.0.1:$p_404"
u_cmd="sip:cmd@127.0.0.1:$p_cmd"
u_reg="sip:qreg@127.0.0.1:$p_reg"
u_late="sip:late@127.0.0.1:$p_late"
u_tcp="sip:tcp@127.0.0.1:$p_tcp;transport=tcp"
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

[qtcp]
type=aor
contact=${u_tcp/;/\\;}
qualify_frequency=1

[qreach]
type=aor
contact=$u_reach
qualify_frequency=1

[qdead]
type=aor
contact=$u_dead
qualify_frequency=1
qualify_timeout=0.5

[qlate]
type=aor
contact=$u_late
qualify_frequency=1
qualify_timeout=0.5

[qflap]
type=aor
contact=$u_flap
qualify_frequency=1
qualify_timeout=0.5

[q404]
type=aor
contact=$u_404
qualify_frequency=1

[q2xx]
type=aor
contact=$u_2xx
qualify_frequency=1
qualify_2xx_only=yes
CONF
    endpoint qcmd
    printf '\n[qcmd]\ntype=aor\ncontact=%s\nqualify_frequency=300\n' "$u_cmd"
    endpoint qreg
    printf 'rewrite_contact=yes\n\n[qreg]\ntype=aor\nmax_contacts=1\nqualify_frequency=1\n'
} >"$dir/pjsip.conf"
write_settings

# The contacts answer before the daemon starts: its first probe must find them.
sipp_start reachable "$p_reach" qualify-uas-200.xml
sipp_start hysteresis "$p_flap" qualify-uas-flap.xml -m 10
sipp_start 2xx-only "$p_404" qualify-uas-404.xml
sipp_start command "$p_cmd" qualify-uas-200.xml -m 2
sipp_start late "$p_late" qualify-uas-late.xml
sipp_start tcp-static "$p_tcp" qualify-uas-200.xml -t t1
for _ in $(seq 1 50); do
    [ -n "$(ss -Hlnt "sport = :$p_tcp")" ] && break
    sleep 0.1
done
[ -n "$(ss -Hlnt "sport = :$p_tcp")" ] || { cat "$dir/tcp-static.out" >&2; echo "FAIL: SIPp did not listen on TCP 127.0.0.1:$p_tcp" >&2; exit 1; }
for p in "$p_reach" "$p_flap" "$p_404" "$p_cmd" "$p_late"; do
    wait_bound "$p" || { for id in "${!SIPP_PID[@]}"; do cat "$dir/$id.out" >&2; done; echo "FAIL: SIPp did not bind 127.0.0.1:$p" >&2; exit 1; }
done
start_daemon
# The traffic log shows what happened when a case fails.
grep -q "PJSIP Logging enabled" <<<"$(rx "pjsip set logger on")" \
    || { echo "FAIL: pjsip set logger on" >&2; exit 1; }
# The registration starts at once too (it lasts 6 s).
sipp_start registered "$p_reg" qualify-register.xml -oocsf testsuite/sipp/qualify-uas-200.xml \
    -m 1 -s qreg -key contact_port "$p_regc" "127.0.0.1:$dport"

case_reachable() {
    local id=reachable
    wait_status qreach "$u_reach" Reachable 5 \
        || { fail "$id" "no \"Contact qreach/$u_reach is now Reachable.  RTT: N.NNN msec\" in the daemon log within 5 s"; return; }
    cli_is qreach "$u_reach" Avail '[0-9]+\.[0-9]+' \
        || fail "$id" "pjsip show contacts does not show qreach/$u_reach Avail with a numeric RTT"
    # One probe a second: 3 within 5 s (each a call of its own).
    for _ in $(seq 1 50); do
        (($(calls "$id") >= 3)) && return
        sleep 0.1
    done
    sipp_failed "$id" "SIPp got $(calls "$id") OPTIONS (Call-IDs) in 5 s with qualify_frequency=1, not 3"
}

case_tcp_static() {
    local id=tcp-static
    wait_status qtcp "$u_tcp" Reachable 5 \
        || { fail "$id" "no \"Contact qtcp/$u_tcp is now Reachable\" in the daemon log within 5 s"; return; }
    grep -q "TCP message received" "$dir/$id.msg" \
        || fail "$id" "SIPp got no OPTIONS over TCP"
}

case_unreachable() {
    local id=unreachable
    wait_status qdead "$u_dead" Unreachable 5 \
        || { fail "$id" "no \"Contact qdead/$u_dead is now Unreachable\" in the daemon log within 5 s"; return; }
    cli_is qdead "$u_dead" Unavail nan \
        || fail "$id" "pjsip show contacts does not show qdead/$u_dead Unavail with RTT nan"
    if grep -q Reachable <<<"$(status_lines qdead "$u_dead")"; then
        fail "$id" "a contact where nobody listens was Reachable: $(status_lines qdead "$u_dead" | paste -sd,)"
    fi
}

case_late() {
    local id=late
    wait_status qlate "$u_late" Unreachable 5 \
        || { fail "$id" "answers 800 ms late with qualify_timeout=0.5 did not make qlate/$u_late Unreachable within 5 s: $(status_lines qlate "$u_late" | paste -sd,)"; return; }
    cli_is qlate "$u_late" Unavail nan \
        || fail "$id" "pjsip show contacts does not show qlate/$u_late Unavail with RTT nan"
    # SIPp did answer (late).
    for _ in $(seq 1 20); do
        tr -d '\r' <"$dir/$id.msg" | grep '^SIP/2.0 200 OK$' >/dev/null && break
        sleep 0.1
    done
    tr -d '\r' <"$dir/$id.msg" | grep '^SIP/2.0 200 OK$' >/dev/null \
        || sipp_failed "$id" "SIPp sent no (late) 200"
    if grep -q Reachable <<<"$(status_lines qlate "$u_late")"; then
        fail "$id" "an answer after qualify_timeout counted: $(grep -F "Contact qlate/" "$dir/daemon.log" | head -3)"
    fi
}

case_hysteresis() {
    local id=hysteresis got
    # 10 probes, one a second.
    sipp_wait "$id" 20 \
        || { sipp_failed "$id" "SIPp did not get 10 OPTIONS within 20 s"; return; }
    # The answer to 10 may still be on its way; the misses after SIPp's exit take 2 s to
    # change anything.
    for _ in $(seq 1 10); do
        (($(status_lines qflap "$u_flap" | wc -l) >= 3)) && break
        sleep 0.1
    done
    got=$(status_lines qflap "$u_flap" | paste -sd,)
    [ "$got" = "Reachable,Unreachable,Reachable" ] \
        || fail "$id" "answers 1,2 / miss 3 / answer 4 / miss 5,6 / answer 7 / miss 8 / answer 9,10 logged status changes '$got', not 'Reachable,Unreachable,Reachable' (first result decides, then 2 in a row)"
}

case_registered() {
    local id=registered
    wait_status qreg "$u_reg" Reachable 5 \
        || { fail "$id" "no \"Contact qreg/$u_reg is now Reachable.  RTT: N.NNN msec\" in the daemon log within 5 s of the REGISTER (Added contact: $(grep -c "Added contact '$u_reg'" "$dir/daemon.log"))"; sipp_wait "$id" 10 || true; return; }
    cli_is qreg "$u_reg" Avail '[0-9]+\.[0-9]+' \
        || fail "$id" "pjsip show contacts does not show qreg/$u_reg Avail with a numeric RTT"
    sipp_wait "$id" 10 \
        || sipp_failed "$id" "REGISTER, 4 s, un-REGISTER did not get 200, 200"
    # Nobody listens at the registered Contact's port: the OPTIONS went to the source.
    tr -d '\r' <"$dir/$id.msg" | grep -xF "OPTIONS $u_reg SIP/2.0" >/dev/null \
        || fail "$id" "SIPp (127.0.0.1:$p_reg, the registration's source) got no \"OPTIONS $u_reg SIP/2.0\": $(grep -E '^OPTIONS ' "$dir/$id.msg" | sort -u | paste -sd, || true)"
}

case_2xx_only() {
    local id=2xx-only
    wait_status q404 "$u_404" Reachable 5 \
        || fail "$id" "without qualify_2xx_only, a 404 did not make q404/$u_404 Reachable within 5 s"
    wait_status q2xx "$u_2xx" Unreachable 5 \
        || fail "$id" "with qualify_2xx_only=yes, a 404 did not make q2xx/$u_2xx Unreachable within 5 s"
    cli_is q404 "$u_404" Avail '[0-9]+\.[0-9]+' \
        || fail "$id" "pjsip show contacts does not show q404/$u_404 Avail"
    cli_is q2xx "$u_2xx" Unavail nan \
        || fail "$id" "pjsip show contacts does not show q2xx/$u_2xx Unavail"
    if grep -q Reachable <<<"$(status_lines q2xx "$u_2xx")"; then
        fail "$id" "with qualify_2xx_only=yes a 404 made q2xx Reachable"
    fi
}

case_command() {
    local id=command t0 out
    wait_status qcmd "$u_cmd" Reachable 5 \
        || { fail "$id" "no first probe of qcmd/$u_cmd (Reachable) within 5 s"; return; }
    # qualify_frequency=300: nothing more comes by itself.
    sleep 1.5
    sipp_running "$id" \
        || { fail "$id" "with qualify_frequency=300 SIPp got a second OPTIONS within 1.5 s of the first"; return; }
    t0=$(date +%s%N)
    out=$(rx "pjsip qualify qcmd" 2>&1) \
        || { fail "$id" "pjsip qualify qcmd failed: $out"; return; }
    sipp_wait "$id" 2.5 \
        || { sipp_failed "$id" "pjsip qualify qcmd ('$out') did not make SIPp get an OPTIONS within 2.5 s"; return; }
    echo "  command: OPTIONS $(( ($(date +%s%N) - t0) / 1000000 )) ms after pjsip qualify"
}

case_qualify_off() {
    local id=qualify-off out
    cli_is qreach "$u_reach" Avail '[0-9]+\.[0-9]+' \
        || { fail "$id" "qreach/$u_reach is not Avail before the reload"; return; }
    sed -i '/^contact=sip:uas@/{n;s/^qualify_frequency=1$/qualify_frequency=0/}' "$dir/pjsip.conf"
    grep -qx "qualify_frequency=0" <<<"$(grep -A1 "^contact=$u_reach\$" "$dir/pjsip.conf")" \
        || { fail "$id" "could not turn qualify off in pjsip.conf"; return; }
    out=$(rx "pjsip reload" 2>&1) || { fail "$id" "pjsip reload failed: $out"; return; }
    for _ in $(seq 1 30); do
        [ "$(cli_row qreach "$u_reach")" = "NonQual nan" ] && return
        sleep 0.1
    done
    cli_is qreach "$u_reach" NonQual nan \
        || fail "$id" "after pjsip reload with qualify_frequency=0 ('$out'), qreach/$u_reach is not NonQual within 3 s"
}

# In the order their windows close: the registration lasts 6 s, the hysteresis SIPp 10.
cases=(registered reachable tcp-static unreachable late 2xx-only command hysteresis qualify-off)
for c in "${cases[@]}"; do
    run_case "$c"
done
finish "qualify" "${#cases[@]} cases passed"
