#!/usr/bin/env bash
# Calls through the daemon (src/core/calls.rs, the dialplan, Dial): SIPp plays the caller
# (testsuite/sipp/call-uac-*.xml, sent to the daemon) and the callee the daemon's Dial reaches
# (testsuite/sipp/call-uas-*.xml, at the static contact= of its AOR), all against one daemon,
# over UDP on 127.0.0.1. Every case has its own caller endpoint a-CASE (identified by
# match=127.0.0.1:PORT of its SIPp), its own callee endpoint b-CASE and its own extension
# CASE in context [calls] (Dial(PJSIP/b-CASE,10), then Hangup()). Media is anchored: the
# daemon's SDP has c=IN IP4 127.0.0.1 and ports from [media] rtp_port_start/end.
#   answered     INVITE (PCMU) -> 100, 180, 200 whose SDP is the daemon's (127.0.0.1, a port
#                in the media range, a=rtpmap:0), ACK; `core show channels` shows 2 channels
#                while it lasts; the caller's BYE gets 200; the callee got an INVITE offering
#                PCMU from the daemon's media address, the ACK and the BYE
#   callee-bye   the callee sends BYE after the ACK: the caller gets BYE (answers 200)
#   busy         the callee answers 486: the caller gets 486 (and ACKs it); the caller's
#                channel runs the context's h extension, whose UserEvent logs
#                HANGUPCAUSE 17 and DIALSTATUS BUSY
#   noanswer     Dial(PJSIP/b-noanswer,2), the callee rings (180) and never answers: it gets
#                CANCEL (answers 200 + 487) about 2 s after the INVITE; the caller gets 480
#                (DIALSTATUS=NOANSWER, then Hangup())
#   cancel       the caller CANCELs after the 180: the callee gets CANCEL, the caller 200 (to
#                the CANCEL) and 487 with the same To-tag (RFC 3261 9.2, as PJSIP does)
#   decline      the callee answers 603: the caller gets 403 (CALL_REJECTED)
#   codec        the caller offers only GSM (pt 3) while its endpoint allows ulaw only: 488,
#                and no INVITE reaches the callee
#   early        the callee answers 183 with SDP, then 200: the caller gets 183 with the
#                daemon's SDP (127.0.0.1, a port in the media range), then 200 (same port)
#   hold         after the answer the caller re-INVITEs with a=sendonly: the daemon answers
#                200 a=recvonly on the same m= port itself (the callee sees no re-INVITE)
#   timer        Supported: timer, Session-Expires: 120;refresher=uac to an endpoint with
#                timers_min_se=180: "422 Session Interval Too Small" (PJSIP's phrase) with
#                Min-SE: 180 (ACKed), no INVITE to the callee
#   unknown      an extension the context lacks: 404
#   direct-media both endpoints direct_media=yes: after the answer and the caller's ACK each
#                side gets a re-INVITE whose c=/m= is the OTHER side's media address (the
#                caller's points at the callee's SDP port and vice versa), answers 200 and
#                gets the ACK; then the caller's BYE
#   direct-update the same with direct_media_method=update on both: an UPDATE each (no ACK)
#   100rel-caller the caller's INVITE has Supported: 100rel, the callee rings 1 s: the
#                caller gets 180 with Require: 100rel and RSeq: 1, its PRACK (RAck: 1 1
#                INVITE) gets 200, then the INVITE gets 200
#   100rel-callee the daemon's INVITE offers Supported: 100rel; the callee's reliable 180
#                (RSeq: 1) gets a PRACK with RAck: 1 <its INVITE's CSeq> INVITE (answered
#                200), then the callee answers the INVITE
#   dtmf-rfc4733 the caller offers telephone-event on PT 101, the callee answers it on PT 96
#                with its m= port at testsuite/sipp/rtp_listen.py; the caller plays digit 1
#                (RFC 4733, SIPp's dtmf_2833_1.pcap, from its media port) to the daemon: the
#                listener gets telephone-event packets of event 1 with PT 96 (none with 101)
#   dtmf-info    the same, the callee's answer has no telephone-event: the callee gets one
#                INFO (Content-Type: application/dtmf-relay, Signal=1), answers 200
#   bad-sdp      an INVITE whose SDP has "m=audio abc RTP/AVP 0": 400, nothing dialled
#   cli-hangup   a call is up (neither SIPp hangs up): `core show channels concise` names
#                the caller's channel PJSIP/a-cli-hangup-..., `core show channel` says it is
#                bridged to PJSIP/b-cli-hangup-... and has a media section (Local RTP in
#                the media range); `channel request hangup` of it sends both sides a BYE
#                (each answers 200) and the channels are gone (0 active, within 3 s)
#   transcode    the caller offers only PCMA (pt 8) to its endpoint allow=!all,alaw,ulaw,
#                the callee allows ulaw only: the caller's answer keeps PCMA, the callee's
#                offer has PCMU and no PCMA; the caller plays SIPp's g711a.pcap (A-law, 240
#                bytes every 30 ms) to the daemon: the callee's port
#                (testsuite/sipp/rtp_listen.py) gets PT 0 only, whose µ-law decodes to the
#                played A-law's samples (testsuite/sipp/g711_check.py)
#   playback     extension Playback(beep), Hangup(); beep.wav (1 s of 440 Hz, 8 kHz 16-bit
#                mono) is in [media] sounds_dir, which the daemon logged loading ("sounds:
#                1 loaded from DIR"); the caller (its m= port at rtp_listen.py) gets 200,
#                then a BYE about 1 s later; the listener got 40 to 60 packets of PT 0 with
#                160-byte payloads and consecutive sequence numbers
#   vanish       the callee answers and exits after the ACK, the (silent) caller's endpoint
#                has rtp_timeout=2: the caller gets BYE 2 to 3 s after the answer (answers
#                200); then `pjsip show distributor` reaches Dialogs: 0, Channels: 0 and
#                Media legs open: 0 (within 20 s: [system] timer_t1=100 makes the unanswered
#                BYE's Timer F and the ended sessions' 64*T1 short) and no UDP socket of the
#                daemon is left in the media port range (ss)
#   channels     last: `core show channels` says "0 active channels" (within 3 s)
# Every case runs and is reported; the script fails at the end if any case failed. Lines
# of the daemon log at WARN or ERROR are printed at the end (they fail nothing).
# PJSIPD_BIN selects the daemon binary (default target/debug/pjsipd, built when missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in sipp python3 timeout ss; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing (testsuite/run installs it)" >&2; exit 1; }
done
. testsuite/lib/daemon.sh
. testsuite/lib/cases.sh
started=$SECONDS

# The daemon's RTP ports: above the kernel's ephemeral ports (32768..60999), below the SIPp
# ports (quiet_ports), so a port in this range in an SDP can only be the daemon's.
rtp_start=61000
rtp_end=61200

cases=(answered callee-bye busy noanswer cancel decline codec early hold timer unknown
    direct-media direct-update 100rel-caller 100rel-callee dtmf-rfc4733 dtmf-info bad-sdp
    cli-hangup transcode playback vanish privacy)
# The RFC 4733 events the dtmf cases play (SIPp's, package sip-tester): digit 1 on PT 101.
dtmf_pcap=/usr/share/sip-tester/dtmf_2833_1.pcap
[ -r "$dtmf_pcap" ] || { echo "FAIL: $dtmf_pcap is missing (package sip-tester)" >&2; exit 1; }
# The A-law speech the transcode case plays (SIPp's too): PT 8, 240-byte payloads.
alaw_pcap=/usr/share/sip-tester/g711a.pcap
[ -r "$alaw_pcap" ] || { echo "FAIL: $alaw_pcap is missing (package sip-tester)" >&2; exit 1; }

# quiet_ports N: fills `ports` for take_port (testsuite/lib/cases.sh) with N ports from
# 62000..65500, at least 3 apart, free for UDP and TCP with port+2 free for UDP too (SIPp binds
# its media port and media port+2). Not free_ports: its range 20000..60000 holds the kernel's
# ephemeral ports (32768..60999) and the RTP ports of daemons other scripts run on the same
# machine (the calls benchmark allocates thousands a second there): a port found free there
# can be taken before SIPp binds it, seconds later.
quiet_ports() {
    mapfile -t ports < <(python3 - "$1" <<'PY'
import random, socket, sys
want = int(sys.argv[1])
def free(port):
    socks = []
    try:
        for p, kind in ((port, socket.SOCK_DGRAM), (port, socket.SOCK_STREAM), (port + 2, socket.SOCK_DGRAM)):
            socks.append(socket.socket(socket.AF_INET, kind))
            socks[-1].bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        for s in socks:
            s.close()
found = [p for p in random.sample(range(62000, 65500, 3), 4 * want) if free(p)][:want]
if len(found) < want:
    sys.exit("not enough free ports")
print("\n".join(map(str, found)))
PY
    )
    ((${#ports[@]} == $1)) || { echo "FAIL: could not find free ports" >&2; exit 1; }
    next_port=0
}
# Taken in order: the daemon, then a caller and a callee port per case; the SIPps' media
# ports (and the RTP listeners') after them.
quiet_ports $((1 + 5 * ${#cases[@]}))
take_port; dport=$port
declare -A CALLER=() CALLEE=()
for c in "${cases[@]}"; do
    take_port; CALLER[$c]=$port
    take_port; CALLEE[$c]=$port
done

# endpoint NAME OPTIONS: an endpoint of context calls allowing ulaw (unless OPTIONS set
# allow), with direct_media=no (its default is yes, as in Asterisk: the media stays
# anchored, no re-INVITE after the answer) unless OPTIONS (one per line) set direct_media
# themselves.
endpoint() {
    printf '\n[%s]\ntype=endpoint\ncontext=calls\n' "$1"
    [[ $2 == *allow=* ]] || printf 'allow=!all,ulaw\n'
    [[ $2 == *direct_media=* ]] || printf 'direct_media=no\n'
    [ -n "$2" ] && printf '%s\n' "$2"
    return 0
}

# The endpoints of case CASE: pair CASE ["CALLER OPTIONS" ["CALLEE OPTIONS"]].
pair() {
    local c=$1
    endpoint "a-$c" "${2:-}"
    printf '\n[a-%s]\ntype=identify\nendpoint=a-%s\nmatch=127.0.0.1:%s\n' "$c" "$c" "${CALLER[$c]}"
    endpoint "b-$c" "$(printf 'aors=b-%s\n%s' "$c" "${3:-}")"
    printf '\n[b-%s]\ntype=aor\ncontact=sip:b-%s@127.0.0.1:%s\n' "$c" "$c" "${CALLEE[$c]}"
}

{
    # T1 100 ms: Timer F of a BYE nobody answers and the 64*T1 an ended session is kept
    # last 6.4 s (vanish), not 32 s.
    printf '[system]\ntype=system\ntimer_t1=100\ntimer_b=6400\n\n'
    printf '[transport-udp]\ntype=transport\nprotocol=udp\nbind=127.0.0.1:%s\n' "$dport"
    for c in "${cases[@]}"; do
        case $c in
            timer) pair "$c" "timers_min_se=180" ;;
            direct-media) pair "$c" "direct_media=yes" "direct_media=yes" ;;
            direct-update)
                pair "$c" "$(printf 'direct_media=yes\ndirect_media_method=update')" \
                    "$(printf 'direct_media=yes\ndirect_media_method=update')"
                ;;
            vanish) pair "$c" "rtp_timeout=2" ;;
            transcode) pair "$c" "allow=!all,alaw,ulaw" ;;
            privacy) pair "$c" "trust_id_inbound=yes" "$(printf 'trust_id_outbound=yes\nsend_pai=yes')" ;;
            *) pair "$c" ;;
        esac
    done
} >"$dir/pjsip.conf"
{
    echo "[calls]"
    # Run when a caller's channel hangs up (Asterisk's h extension).
    # shellcheck disable=SC2016
    echo 'exten => h,1,UserEvent(CallEnded,Channel: ${CHANNEL},Cause: ${HANGUPCAUSE},Status: ${DIALSTATUS})'
    for c in "${cases[@]}"; do
        [ "$c" = unknown ] && continue
        if [ "$c" = playback ]; then
            printf 'exten => %s,1,Playback(beep)\n same => n,Hangup()\n' "$c"
            continue
        fi
        dial_timeout=10
        [ "$c" = noanswer ] && dial_timeout=2
        printf 'exten => %s,1,NoOp(case %s)\n same => n,Dial(PJSIP/b-%s,%s)\n same => n,Hangup()\n' \
            "$c" "$c" "$c" "$dial_timeout"
    done
} >"$dir/extensions.conf"
# The sound of the playback case: 1 s of a 440 Hz sine, 8 kHz mono 16-bit PCM.
mkdir "$dir/sounds"
python3 - "$dir/sounds/beep.wav" <<'PY'
import math, struct, sys, wave
with wave.open(sys.argv[1], "wb") as w:
    w.setnchannels(1)
    w.setsampwidth(2)
    w.setframerate(8000)
    w.writeframes(b"".join(struct.pack("<h", int(12000 * math.sin(2 * math.pi * 440 * i / 8000)))
                           for i in range(8000)))
PY
write_settings "$(printf '\n[media]\nrtp_port_start = %s\nrtp_port_end = %s\nsounds_dir = "%s"\n' \
    "$rtp_start" "$rtp_end" "$dir/sounds")"
start_daemon
# The traffic log shows what happened when a case fails.
rx "pjsip set logger on" | grep "PJSIP Logging enabled" >/dev/null \
    || { echo "FAIL: pjsip set logger on" >&2; exit 1; }

# Background SIPps (callees, and a caller that must be watched while it runs) by id: their
# pids, stopped on exit.
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

# sipp_cmd ID PORT SCENARIO [sipp options...]: the SIPp command line of ID on
# 127.0.0.1:PORT (15 s at most, 5 s per message), files ID.{err,msg,log,out} in the temp dir;
# its media port (-mp, the m= port of its SDP) in MEDIA_PORT[ID].
declare -A MEDIA_PORT=()
sipp_cmd() {
    local id=$1 p=$2 scenario=$3
    shift 3
    take_port
    MEDIA_PORT[$id]=$port
    cmd=(timeout 15 sipp -sf "testsuite/sipp/$scenario" -i 127.0.0.1 -p "$p" -mp "$port" -m 1
        -nostdin -timeout 12s -recv_timeout 5s -cid_str "$id-%u@%s"
        -trace_err -error_file "$dir/$id.err" -trace_msg -message_file "$dir/$id.msg"
        -trace_logs -log_file "$dir/$id.log" "$@")
}

# callee_start CASE SCENARIO [sipp options...]: the callee SIPp of CASE (id CASE-callee) in
# the background, on its port; returns once SIPp has bound it (2 s at most; a SIPp that
# did not start is reported by sipp_wait).
callee_start() {
    local c=$1 scenario=$2
    shift 2
    sipp_cmd "$c-callee" "${CALLEE[$c]}" "$scenario" "$@"
    "${cmd[@]}" >"$dir/$c-callee.out" 2>&1 &
    SIPP_PID[$c-callee]=$!
    wait_bound "${CALLEE[$c]}" 20 || true
}

# caller CASE SCENARIO [sipp options...]: the caller SIPp of CASE (id CASE-caller) calls
# extension CASE and runs to its end; true when it exited with 0.
caller() {
    local c=$1 scenario=$2
    shift 2
    sipp_cmd "$c-caller" "${CALLER[$c]}" "$scenario" -s "$c" "$@"
    "${cmd[@]}" "127.0.0.1:$dport" >"$dir/$c-caller.out" 2>&1
}

# sipp_wait ID SECONDS: waits (bounded) for background SIPp ID to exit; true when it exited
# with 0. Stopped when it is still running after SECONDS.
sipp_wait() {
    local p=${SIPP_PID[$1]} i n=$(($2 * 10))
    for ((i = 0; i < n; i++)); do
        if ! kill -0 "$p" 2>/dev/null; then
            wait "$p"
            return
        fi
        sleep 0.1
    done
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    return 1
}

# logged ID TEXT: the value SIPp ID logged after "TEXT " (its <log> actions), or nothing.
logged() {
    sed -n "s/^$2 //p" "$dir/$1.log" 2>/dev/null | head -1
}

# in_media_range ID TEXT WHAT: the port SIPp ID logged as "TEXT N" is within
# rtp_start..rtp_end, else a failure of case ID%%-* about WHAT.
in_media_range() {
    local p
    p=$(logged "$1" "$2")
    if ! [[ $p =~ ^[0-9]+$ ]] || ((p < rtp_start || p > rtp_end)); then
        fail "${1%-*}" "$3 has m= port '${p:-none}', not one of the daemon's ($rtp_start..$rtp_end)"
    fi
}

# final ID: the final response SIPp ID logged (call-uac-final.xml), or "none".
final() {
    local s
    s=$(logged "$1" "final response:")
    printf '%s' "${s:-none}"
}

# sip_lines ID PATTERN: lines of SIPp ID's message trace matching the extended regex
# PATTERN (CRs removed).
sip_lines() {
    tr -d '\r' <"$dir/$1.msg" 2>/dev/null | grep -E -- "$2" || true
}

# reached_callee CASE: something reached the callee port of CASE (the daemon log shows a
# request transmitted to it).
reached_callee() {
    grep -F "Transmitting SIP request" "$dir/daemon.log" | grep -F "127.0.0.1:${CALLEE[$1]} " >/dev/null
}

case_answered() {
    local c=answered n=""
    callee_start "$c" call-uas-answer.xml
    # The call lasts 1.5 s: channels are counted meanwhile.
    sipp_cmd "$c-caller" "${CALLER[$c]}" call-uac-answer.xml -s "$c" -d 1500
    "${cmd[@]}" "127.0.0.1:$dport" >"$dir/$c-caller.out" 2>&1 &
    SIPP_PID[$c-caller]=$!
    for _ in $(seq 1 15); do
        n=$(rx "core show channels" 2>&1 | grep -E '^[0-9]+ active channels?$' || true)
        [ "$n" = "2 active channels" ] && break
        sleep 0.1
    done
    [ "$n" = "2 active channels" ] \
        || fail "$c" "while the call was up, core show channels said '${n:-nothing}', not '2 active channels'"
    sipp_wait "$c-caller" 10 \
        || sipp_failed "$c-caller" "INVITE (PCMU) did not get 180 then 200 with c=IN IP4 127.0.0.1 and a=rtpmap:0 PCMU/8000, or the BYE did not get 200"
    sipp_wait "$c-callee" 5 \
        || sipp_failed "$c-callee" "the callee did not get an INVITE offering PCMU (a=rtpmap:0) from c=IN IP4 127.0.0.1, then ACK and BYE"
    in_media_range "$c-caller" "answer port" "the 200 to the caller"
    in_media_range "$c-callee" "offer port" "the INVITE to the callee"
}

case_callee_bye() {
    local c=callee-bye
    callee_start "$c" call-uas-bye.xml
    caller "$c" call-uac-remote-bye.xml \
        || sipp_failed "$c-caller" "after the answer the caller did not get a BYE when the callee hung up"
    sipp_wait "$c-callee" 5 \
        || sipp_failed "$c-callee" "the callee's BYE did not get 200"
}

# reject CASE STATUS REASON WANT: the callee answers STATUS REASON (call-uas-STATUS.xml),
# the caller must get WANT.
reject() {
    local c=$1 got
    callee_start "$c" "call-uas-$2.xml"
    caller "$c" call-uac-final.xml -key pt 0 -key codec PCMU/8000 \
        || sipp_failed "$c-caller" "the INVITE did not get a final response >= 300 (the callee answered $2)"
    got=$(final "$c-caller")
    [ "$got" = "$4" ] || fail "$c" "the callee answered $2 $3, the caller got $got, not $4"
    sipp_wait "$c-callee" 5 \
        || sipp_failed "$c-callee" "the callee's $2 was not ACKed"
}

case_busy() {
    reject busy 486 "Busy Here" 486
    # The caller's channel ran the h extension with the dial's outcome.
    local i
    for ((i = 0; i < 20; i++)); do
        grep -E 'UserEvent CallEnded Channel: PJSIP/a-busy-[0-9a-f]{8}, Cause: 17, Status: BUSY' \
            "$dir/daemon.log" >/dev/null && return
        sleep 0.1
    done
    fail busy "the h extension did not log UserEvent CallEnded with Cause: 17, Status: BUSY"
}

case_decline() {
    reject decline 603 Decline 403
}

case_noanswer() {
    local c=noanswer got t0 ms
    callee_start "$c" call-uas-noanswer.xml
    t0=$(date +%s%N)
    caller "$c" call-uac-final.xml -key pt 0 -key codec PCMU/8000 \
        || sipp_failed "$c-caller" "the INVITE did not get a final response >= 300 after the Dial timeout"
    ms=$((($(date +%s%N) - t0) / 1000000))
    got=$(final "$c-caller")
    [ "$got" = 480 ] || fail "$c" "no answer within Dial's 2 s: the caller got $got, not 480"
    ((ms >= 1800 && ms <= 4000)) \
        || fail "$c" "the final response came $ms ms after the INVITE, not about 2 s (Dial timeout 2)"
    sipp_wait "$c-callee" 5 \
        || sipp_failed "$c-callee" "the ringing callee did not get a CANCEL (answered 200 + 487, then ACK)"
}

case_cancel() {
    local c=cancel
    callee_start "$c" call-uas-noanswer.xml
    caller "$c" call-uac-cancel.xml \
        || sipp_failed "$c-caller" "INVITE, 180, CANCEL did not get 200 (CANCEL) and 487 (INVITE) with the same To-tag (To-tags: $(logged "$c-caller" "To-tags:"))"
    sipp_wait "$c-callee" 5 \
        || sipp_failed "$c-callee" "the callee did not get a CANCEL (answered 200 + 487, then ACK) when the caller cancelled"
}

case_codec() {
    local c=codec got
    caller "$c" call-uac-final.xml -key pt 3 -key codec GSM/8000 \
        || sipp_failed "$c-caller" "an INVITE offering only GSM did not get a final response >= 300"
    got=$(final "$c-caller")
    [ "$got" = 488 ] || fail "$c" "an offer of GSM only to an endpoint with allow=!all,ulaw got $got, not 488"
    if reached_callee "$c"; then
        fail "$c" "the daemon dialled b-$c although the caller's offer had no common codec"
    fi
}

case_early() {
    local c=early
    callee_start "$c" call-uas-early.xml
    caller "$c" call-uac-early.xml \
        || sipp_failed "$c-caller" "the caller did not get 183 with SDP (c=IN IP4 127.0.0.1, a=rtpmap:0), then 200 with the same m= port, or the BYE did not get 200"
    sipp_wait "$c-callee" 5 \
        || sipp_failed "$c-callee" "the callee (183 with SDP, then 200) did not get the ACK and the BYE"
    in_media_range "$c-caller" "early port" "the 183 to the caller"
}

case_hold() {
    local c=hold
    callee_start "$c" call-uas-answer.xml
    caller "$c" call-uac-hold.xml \
        || sipp_failed "$c-caller" "a re-INVITE with a=sendonly did not get 200 with a=recvonly on the same m= port, or the BYE did not get 200"
    sipp_wait "$c-callee" 5 \
        || sipp_failed "$c-callee" "the callee did not get INVITE, ACK, BYE only (a re-INVITE reaching it fails it)"
    in_media_range "$c-caller" "hold answer port" "the 200 to the hold re-INVITE"
}

case_timer() {
    local c=timer
    caller "$c" call-uac-timer.xml \
        || sipp_failed "$c-caller" "Session-Expires: 120 to an endpoint with timers_min_se=180 did not get \"422 Session Interval Too Small\" (PJSIP's phrase) with Min-SE: 180 (got: $(sip_lines "$c-caller" '^SIP/2\.0 [1-6]|^Min-SE:' | paste -sd,))"
    if reached_callee "$c"; then
        fail "$c" "the daemon dialled b-$c although it had to refuse the session interval"
    fi
}

case_unknown() {
    local c=unknown got
    caller "$c" call-uac-final.xml -key pt 0 -key codec PCMU/8000 \
        || sipp_failed "$c-caller" "an INVITE to an extension [calls] lacks did not get a final response >= 300"
    got=$(final "$c-caller")
    [ "$got" = 404 ] || fail "$c" "an INVITE to an extension [calls] lacks got $got, not 404"
}

# direct CASE METHOD: both sides get a direct-media offer by METHOD (INVITE or UPDATE) whose
# c=/m= is the other side's media address, answer it, and the call ends with the caller's BYE.
direct() {
    local c=$1 method=$2 who other got want answered="answered 200"
    [ "$method" = INVITE ] && answered="answered 200, then ACK"
    callee_start "$c" call-uas-direct.xml
    caller "$c" call-uac-direct.xml \
        || sipp_failed "$c-caller" "after its ACK the caller did not get a direct-media $method with SDP ($answered), or its BYE did not get 200"
    sipp_wait "$c-callee" 5 \
        || sipp_failed "$c-callee" "after its ACK the callee did not get a direct-media $method with SDP ($answered), then the BYE"
    for who in caller callee; do
        other=$([ "$who" = caller ] && echo callee || echo caller)
        got=$(logged "$c-$who" "direct offer:")
        want="$method 127.0.0.1 ${MEDIA_PORT[$c-$other]}"
        [ "$got" = "$want" ] \
            || fail "$c" "the $who's direct-media offer was '${got:-none}', not '$want' (method, then the $other's SDP address and port)"
    done
}

case_direct_media() {
    direct direct-media INVITE
}

case_direct_update() {
    direct direct-update UPDATE
}

case_100rel_caller() {
    local c=100rel-caller
    callee_start "$c" call-uas-ring.xml -d 1000
    caller "$c" call-uac-100rel.xml \
        || sipp_failed "$c-caller" "INVITE with Supported: 100rel did not get 180 with Require: 100rel and RSeq: 1, then 200 to its PRACK (CSeq 2 PRACK), then 200 to the INVITE (got: $(sip_lines "$c-caller" '^SIP/2\.0 [1-6]|^(Require|RSeq|CSeq):' | paste -sd,))"
    sipp_wait "$c-callee" 5 \
        || sipp_failed "$c-callee" "the callee (180, 200 a second later) did not get the ACK and the BYE"
}

case_100rel_callee() {
    local c=100rel-callee cseq rack
    callee_start "$c" call-uas-100rel.xml
    caller "$c" call-uac-answer.xml \
        || sipp_failed "$c-caller" "the caller did not get 180 then 200 (the callee's 180 was reliable), or its BYE did not get 200"
    sipp_wait "$c-callee" 5 \
        || sipp_failed "$c-callee" "the daemon's INVITE lacked Supported: 100rel, or the reliable 180 (RSeq: 1) got no PRACK, or the 200 no ACK, or no BYE came (got: $(sip_lines "$c-callee" '^[A-Z]+ sip:|^(Supported|RAck|CSeq):' | paste -sd,))"
    cseq=$(logged "$c-callee" "INVITE CSeq:")
    rack=$(logged "$c-callee" "RAck:" | sed 's/^ *//; s/ *$//')
    if [ -z "$cseq" ] || [ "$rack" != "1 $cseq INVITE" ]; then
        fail "$c" "the PRACK had RAck: '${rack:-none}', not '1 ${cseq:-?} INVITE'"
    fi
}

# rtp_listen CASE SECONDS [payload]: testsuite/sipp/rtp_listen.py in the background (id
# CASE-rtp) on a port of its own, in `lport`, recording to CASE-rtp.out for SECONDS (with
# the payload bytes when told).
rtp_listen() {
    take_port
    lport=$port
    python3 testsuite/sipp/rtp_listen.py "$lport" "$2" ${3:+"$3"} >"$dir/$1-rtp.out" 2>&1 &
    SIPP_PID[$1-rtp]=$!
    wait_bound "$lport" || true
}

case_dtmf_rfc4733() {
    local c=dtmf-rfc4733 lport events got
    rtp_listen "$c" 5
    callee_start "$c" call-uas-dtmf.xml -key rtp_port "$lport"
    caller "$c" call-uac-dtmf.xml \
        || sipp_failed "$c-caller" "an INVITE offering telephone-event (PT 101) did not get 200 with telephone-event, or its BYE did not get 200"
    sipp_wait "$c-callee" 5 \
        || sipp_failed "$c-callee" "the daemon's INVITE did not offer telephone-event, or the callee got no ACK and BYE"
    sipp_wait "$c-rtp" 7 || fail "$c" "the RTP listener failed: $(tail -3 "$dir/$c-rtp.out")"
    events=$(grep -E '^pt=96 .* event=1 ' "$dir/$c-rtp.out" || true)
    [ -n "$events" ] \
        || fail "$c" "no telephone-event packet of digit 1 with the callee's PT 96 reached the callee's port; it got: $(head -5 "$dir/$c-rtp.out" | paste -sd'|')"
    grep -E ' event=1 end=1 ' <<<"$events" >/dev/null \
        || fail "$c" "no end packet (E bit) of digit 1 reached the callee with PT 96"
    got=$( (grep -Ev '^pt=96 ' "$dir/$c-rtp.out" || true) | head -3 | paste -sd'|')
    [ -z "$got" ] || fail "$c" "the callee got packets other than PT 96 (the caller's PT 101 not rewritten?): $got"
}

case_dtmf_info() {
    local c=dtmf-info got
    callee_start "$c" call-uas-info.xml
    caller "$c" call-uac-dtmf.xml \
        || sipp_failed "$c-caller" "an INVITE offering telephone-event (PT 101) did not get 200 with telephone-event, or its BYE did not get 200"
    sipp_wait "$c-callee" 5 \
        || sipp_failed "$c-callee" "the callee without telephone-event did not get exactly one INFO (Content-Type: application/dtmf-relay, Signal=1) between the ACK and the BYE (got: $(sip_lines "$c-callee" '^[A-Z]+ sip:|^Content-Type:|^Signal' | paste -sd,))"
    got=$(logged "$c-callee" "INFO signal:")
    [ "$got" = 1 ] || fail "$c" "the INFO said Signal=${got:-nothing}, not 1 (the caller pressed 1)"
}

case_bad_sdp() {
    local c=bad-sdp got
    caller "$c" call-uac-bad-sdp.xml \
        || sipp_failed "$c-caller" "an INVITE with \"m=audio abc RTP/AVP 0\" did not get a final response >= 300 (after at most a 100)"
    got=$(final "$c-caller")
    [ "$got" = 400 ] || fail "$c" "an INVITE with \"m=audio abc RTP/AVP 0\" got $got, not 400"
    if reached_callee "$c"; then
        fail "$c" "the daemon dialled b-$c although the caller's SDP was malformed"
    fi
}

# channel_named PREFIX: the first channel `core show channels concise` lists whose name
# starts with PREFIX (within 3 s), or nothing.
channel_named() {
    local name=""
    for _ in $(seq 1 30); do
        name=$(rx "core show channels concise" 2>/dev/null | cut -d'!' -f1 | grep -F -- "$1" | head -1 || true)
        [[ $name == "$1"* ]] && break
        name=""
        sleep 0.1
    done
    printf '%s' "$name"
}

# zero_channels CASE WHEN: `core show channels` says "0 active channels" within 3 s, else a
# failure of CASE saying WHEN.
zero_channels() {
    local out=""
    for _ in $(seq 1 30); do
        out=$(rx "core show channels" 2>&1) || true
        grep -x "0 active channels" <<<"$out" >/dev/null && return
        sleep 0.1
    done
    fail "$1" "$2, core show channels said: $(paste -sd'|' <<<"$out")"
}

case_cli_hangup() {
    local c=cli-hangup name out bridged local_rtp p
    callee_start "$c" call-uas-answer.xml
    # Neither side hangs up: each waits (5 s at most) for the BYE the command makes.
    sipp_cmd "$c-caller" "${CALLER[$c]}" call-uac-remote-bye.xml -s "$c"
    "${cmd[@]}" "127.0.0.1:$dport" >"$dir/$c-caller.out" 2>&1 &
    SIPP_PID[$c-caller]=$!
    name=$(channel_named "PJSIP/a-$c-")
    if [ -z "$name" ]; then
        fail "$c" "core show channels concise never listed a channel PJSIP/a-$c-...: $(rx "core show channels concise" 2>&1 | paste -sd'|')"
    else
        # The callee's channel is bridged once the 200 is relayed: wait for it.
        for _ in $(seq 1 30); do
            out=$(rx "core show channel $name" 2>&1) || true
            bridged=$(sed -n 's/^ *Bridged to: *//p' <<<"$out")
            [[ $bridged == PJSIP/b-$c-* ]] && break
            sleep 0.1
        done
        [[ $bridged == PJSIP/b-$c-* ]] \
            || fail "$c" "core show channel $name says 'Bridged to: ${bridged:-nothing}', not PJSIP/b-$c-...: $(paste -sd'|' <<<"$out")"
        local_rtp=$(sed -n 's/^ *Local RTP: *//p' <<<"$out")
        p=${local_rtp##*:}
        if ! grep -F -- "-- Media --" <<<"$out" >/dev/null || ! [[ $p =~ ^[0-9]+$ ]] \
            || ((p < rtp_start || p > rtp_end)); then
            fail "$c" "core show channel $name has no media section with a Local RTP in $rtp_start..$rtp_end: $(paste -sd'|' <<<"$out")"
        fi
        out=$(rx "channel request hangup $name" 2>&1) \
            || fail "$c" "channel request hangup $name failed: $out"
    fi
    sipp_wait "$c-caller" 8 \
        || sipp_failed "$c-caller" "the caller did not get a BYE (answered 200) after channel request hangup of its channel"
    sipp_wait "$c-callee" 5 \
        || sipp_failed "$c-callee" "the callee did not get a BYE (answered 200) after channel request hangup of the caller's channel"
    zero_channels "$c" "3 s after the hangup"
}

case_transcode() {
    local c=transcode lport got offer
    rtp_listen "$c" 5 payload
    callee_start "$c" call-uas-listen.xml -key rtp_port "$lport"
    caller "$c" call-uac-transcode.xml \
        || sipp_failed "$c-caller" "an INVITE offering PCMA only did not get 200 with a=rtpmap:8 PCMA/8000, or its BYE did not get 200 (answer: $(logged "$c-caller" answer))"
    sipp_wait "$c-callee" 5 \
        || sipp_failed "$c-callee" "the callee did not get an INVITE from c=IN IP4 127.0.0.1, then ACK and BYE"
    offer=$(logged "$c-callee" offer)
    fmts="$(awk '{ for (i = 4; i <= NF; i++) printf " %s", $i }' <<<"$offer") "
    [[ $fmts == *" 0 "* && $fmts != *" 8 "* ]] \
        || fail "$c" "the callee (allow=!all,ulaw) was offered '${offer:-nothing}', not PCMU (0) without PCMA (8)"
    sipp_wait "$c-rtp" 7 || fail "$c" "the RTP listener failed: $(tail -3 "$dir/$c-rtp.out")"
    got=$( (grep -Ev '^pt=0 ' "$dir/$c-rtp.out" || true) | cut -c1-60 | head -3 | paste -sd'|')
    [ -z "$got" ] || fail "$c" "the callee got packets other than PT 0 (PCMU): $got"
    got=$(python3 testsuite/sipp/g711_check.py "$alaw_pcap" "$dir/$c-rtp.out" 2>&1) \
        || fail "$c" "the callee's PCMU is not the caller's A-law transcoded: $got ($(grep -c '^pt=0 ' "$dir/$c-rtp.out") PT 0 packets, lengths $(grep -o ' len=[0-9]*' "$dir/$c-rtp.out" | sort | uniq -c | tr -s ' ' | paste -sd,))"
}

case_playback() {
    local c=playback lport t0 ms n bad got
    grep -F "sounds: 1 loaded from $dir/sounds" "$dir/daemon.log" >/dev/null \
        || fail "$c" "the daemon did not log 'sounds: 1 loaded from $dir/sounds' at start: $(grep -F 'sounds:' "$dir/daemon.log" | head -3 | paste -sd'|')"
    rtp_listen "$c" 4
    t0=$(date +%s%N)
    caller "$c" call-uac-listen.xml -key rtp_port "$lport" \
        || sipp_failed "$c-caller" "Playback(beep) then Hangup(): the caller did not get 200 (PCMU, c=IN IP4 127.0.0.1), then a BYE"
    ms=$((($(date +%s%N) - t0) / 1000000))
    ((ms >= 900 && ms <= 2500)) \
        || fail "$c" "the BYE came $ms ms after the INVITE, not about 1 s (a 1 s sound, then Hangup())"
    sipp_wait "$c-rtp" 6 || fail "$c" "the RTP listener failed: $(tail -3 "$dir/$c-rtp.out")"
    n=$(grep -c '^pt=0 seq=[0-9]* marker=[01] len=160$' "$dir/$c-rtp.out" || true)
    ((n >= 40 && n <= 60)) \
        || fail "$c" "the caller's port got $n packets of PT 0 with 160 bytes, not 40 to 60 (1 s of 20 ms packets); it got $(wc -l <"$dir/$c-rtp.out") packets: $(head -3 "$dir/$c-rtp.out" | paste -sd'|')"
    got=$( (grep -Ev '^pt=0 seq=[0-9]* marker=[01] len=160$' "$dir/$c-rtp.out" || true) | head -3 | paste -sd'|')
    [ -z "$got" ] || fail "$c" "the caller's port got packets other than PT 0 with 160 bytes: $got"
    bad=$(awk '{ split($2, a, "="); s = a[2] + 0; if (NR > 1 && s != (prev + 1) % 65536) print NR ": " prev " then " s; prev = s }' \
        "$dir/$c-rtp.out" | head -3 | paste -sd'|')
    [ -z "$bad" ] || fail "$c" "the sequence numbers are not consecutive: packet $bad"
}

# drained OUTPUT: `pjsip show distributor`'s OUTPUT says no dialog, channel or media leg is
# left.
drained() {
    awk '/^(Dialogs:|Channels:|Media legs open \(2 ports each\):)/ { n++; if ($NF != "0") bad = 1 }
        END { exit !(n == 3 && !bad) }' <<<"$1"
}

case_vanish() {
    local c=vanish t0 ms out deadline left
    callee_start "$c" call-uas-vanish.xml
    t0=$(date +%s%N)
    caller "$c" call-uac-remote-bye.xml \
        || sipp_failed "$c-caller" "the caller (silent, rtp_timeout=2) did not get a BYE after the callee vanished"
    ms=$((($(date +%s%N) - t0) / 1000000))
    # Asterisk hangs up once its whole-second clock says 2 s passed: 2 to 3 s after the
    # answer (which comes within milliseconds here).
    ((ms >= 1800 && ms <= 3500)) \
        || fail "$c" "the caller got the BYE $ms ms after its INVITE, not 2 to 3 s after the answer (rtp_timeout=2)"
    sipp_wait "$c-callee" 5 \
        || sipp_failed "$c-callee" "the callee did not get the ACK of its 200"
    deadline=$((SECONDS + 20))
    while :; do
        out=$(rx "pjsip show distributor" 2>&1) || true
        drained "$out" && break
        if ((SECONDS >= deadline)); then
            fail "$c" "20 s after the calls, pjsip show distributor said: $(grep -E '^(Dialogs|Channels|Media legs)' <<<"$out" | tr -s ' ' | paste -sd'|')"
            break
        fi
        sleep 0.2
    done
    left=$(ss -uanpH | awk -v pid="pid=$pid," -v lo="$rtp_start" -v hi="$rtp_end" '
        index($0, pid) { n = split($4, a, ":"); p = a[n] + 0; if (p >= lo && p <= hi) print $4 }' | paste -sd' ')
    [ -z "$left" ] || fail "$c" "the daemon still has UDP sockets in its media range: $left"
}

# A trusted caller's private P-Asserted-Identity (trust_id_inbound) reaches a callee
# trusted with it (trust_id_outbound, send_pai) asserted and marked private, behind an
# anonymous From (RFC 3323, RFC 3325), as res_pjsip_caller_id does.
case_privacy() {
    local c=privacy
    callee_start "$c" call-uas-answer.xml
    caller "$c" call-uac-privacy.xml \
        || sipp_failed "$c-caller" "the call with a private P-Asserted-Identity was not answered, or its BYE did not get 200"
    sipp_wait "$c-callee" 5 \
        || sipp_failed "$c-callee" "the callee did not get the INVITE, ACK and BYE"
    [ -n "$(sip_lines "$c-callee" '^From: "Anonymous" <sip:anonymous@anonymous\.invalid>;tag=')" ] \
        || fail "$c" "the callee's INVITE did not have From: \"Anonymous\" <sip:anonymous@anonymous.invalid>"
    [ -n "$(sip_lines "$c-callee" '^P-Asserted-Identity: "Desk" <sip:5550199@127\.0\.0\.1:[0-9]+>$')" ] \
        || fail "$c" "the callee's INVITE did not assert \"Desk\" <sip:5550199@...>"
    [ -n "$(sip_lines "$c-callee" '^Privacy: id$')" ] \
        || fail "$c" "the callee's INVITE did not have Privacy: id"
}

case_channels() {
    zero_channels channels "after every call ended"
}

for c in "${cases[@]}" channels; do
    run_case "$c"
done
if grep -E '^[^ ]+ +(WARN|ERROR) ' "$dir/daemon.log" >"$dir/warnings"; then
    echo "NOTE: the daemon logged $(wc -l <"$dir/warnings") WARN/ERROR line(s):" >&2
    head -20 "$dir/warnings" >&2
fi
finish "sipp calls" "$((${#cases[@]} + 1)) cases passed"
