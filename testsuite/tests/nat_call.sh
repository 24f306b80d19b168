#!/usr/bin/env bash
# Calls from a phone behind a real NAT (network namespaces, see testsuite/nat/lib.sh): baresip
# 6001 on the private 10.201.1.2 behind a masquerading router (public 10.201.2.1) registers
# with digest auth to the daemon on 10.201.2.2 and calls baresip 6002 (public side, on the
# daemon's host, answermode=auto) through the dialplan (Dial(PJSIP/${EXTEN},8)); both send a 440 Hz
# tone. 6001's Via, Contact and SDP carry its private address; the daemon sees it as
# 10.201.2.1:<mapped port>. Run twice, each time with a fresh daemon, configuration and phones:
#
# nat-on: endpoint 6001 has force_rport=yes rewrite_contact=yes rtp_symmetric=yes
#   direct_media=no.
#   on-register  the contact is stored as the packet source: "Added contact
#                'sip:6001...@10.201.2.1:<port>' to AOR '6001'" (the router's address)
#   on-call      6001 dials 6002: both get CALL_ESTABLISHED; after ~3 s each channel shows
#                >= 100 RX and TX packets, and 6001's channel shows "Latched:
#                10.201.2.1:<port>" (the relay latched on to where the RTP really comes from)
#   on-hangup    6002 hangs up: the daemon's BYE to 6001 goes to the rewritten contact, through
#                the NAT, so 6001 gets CALL_CLOSED; 0 channels are left; each phone received
#                >= 100 packets of the other's 440 Hz tone (sndfile records)
#   on-call-in   6002 dials 6001: the INVITE goes to the rewritten contact and reaches the
#                NATed phone, which answers (both CALL_ESTABLISHED); 6002 hangs up
# nat-off: the same endpoint with rewrite_contact=no rtp_symmetric=no (force_rport stays yes,
#   the default, so responses still find the phone).
#   off-register the contact keeps the private address: "Added contact
#                'sip:6001...@10.201.1.2:<port>'"
#   off-call     6001 dials 6002: the signalling works (responses go to the Via's received/rport
#                and 6001 sends its ACK and BYE itself), both get CALL_ESTABLISHED. But media
#                fails one-sidedly on the daemon, both ways for the phones: 6001's RTP comes
#                from 10.201.2.1:<mapped port>, not the SDP's 10.201.1.2:<port>, and without
#                rtp_symmetric the relay drops it: 6001's channel shows RX packets < 10 and
#                "Unexpected src" >= 100, Latched (none); the relay sends 6001's audio to the
#                SDP's private address, which the router drops (no route into the LAN for a
#                packet that is no reply to a NAT binding)
#   off-hangup   6001 hangs up: 0 channels are left; 6001 received < 10 packets and 6002 < 10
#                (nothing it sent reached 6001 either), per their sndfile records
#   off-call-in  6002 dials 6001: as in Asterisk, the daemon sends the INVITE to the contact's
#                (private) address, which the router drops: the daemon log shows it
#                "Transmitting SIP request ... to UDP:10.201.1.2:<port>", 6001 sees no call
#                within 10 s, and 6002's call ends unanswered (CALL_CLOSED) when Dial's 8 s
#                run out; 0 channels are left
# Needs root (ip netns), iproute2 and nftables. Every case runs and is reported; the script
# fails at the end if any case failed. PJSIPD_BIN selects the daemon binary; KEEP_DIR=1 keeps
# the scratch directory (daemon-MODE.log with the SIP trace, bs-*.log, bs-*.ctrl).
set -euo pipefail
cd "$(dirname "$0")/../.."
. testsuite/lib/daemon.sh
. testsuite/lib/cases.sh
. testsuite/baresip/lib.sh
. testsuite/nat/lib.sh
started=$SECONDS
nat_setup

# Ports: each namespace is a host of its own, so fixed ports cannot clash with other runs.
sip_port=5060 phone_base=40000

# conf MODE: pjsip.conf, extensions.conf and pjsipd.toml of MODE (on|off).
conf() {
    local nat
    if [ "$1" = on ]; then
        nat="force_rport=yes
rewrite_contact=yes
rtp_symmetric=yes"
    else
        nat="force_rport=yes
rewrite_contact=no
rtp_symmetric=no"
    fi
    cat >"$dir/pjsip.conf" <<CONF
[transport-udp]
type=transport
protocol=udp
bind=$daemon_ip:$sip_port
$(phone_endpoints "$nat")
CONF
    cat >"$dir/extensions.conf" <<'CONF'
[internal]
exten => _600X,1,NoOp(Call to ${EXTEN})
 same => n,Dial(PJSIP/${EXTEN},8)
 same => n,Hangup()
CONF
    # A data directory per mode: no contact of the other run is restored.
    printf '[daemon]\ncontrol_socket = "run/ctl"\ndata_dir = "data-%s"\n\n[media]\nrtp_port_start = 30000\nrtp_port_end = 30039\n' \
        "$1" >"$dir/pjsipd.toml"
}

# up MODE: the daemon of MODE and its two phones, registered (exits with FAIL when that
# cannot be set up: every case of the mode would fail). Sets a and b (the phones' names).
up() {
    a=a-$1 b=b-$1
    conf "$1"
    start_daemon_in_wan "daemon-$1.log"
    rx "pjsip set logger on" | grep -F "PJSIP Logging enabled" >/dev/null \
        || { echo "FAIL: pjsip set logger on" >&2; exit 1; }
    bs_setup "$a" "$lan_ip" "$phone_base"
    bs_setup "$b" "$wan_phone_ip" "$phone_base"
    bs_start "$a" "$lan_ip" "$ns_lan"
    bs_start "$b" "$wan_phone_ip" "$ns_wan"
    bs_cmd "$a" uanew "<sip:6001@$daemon_ip:$sip_port;transport=udp>;auth_pass=secret6001;regint=60;answermode=auto"
    bs_cmd "$b" uanew "<sip:6002@$daemon_ip:$sip_port;transport=udp>;auth_pass=secret6002;regint=60;answermode=auto"
}

# down: the phones and the daemon of the current mode stop.
down() {
    bs_stop "$a"
    bs_stop "$b"
    stop_daemon
}

# registered ID EXT NAME HOST: NAME registered, and the daemon stored its contact at HOST.
registered() {
    local log="$dir/daemon-$mode.log"
    bs_wait "$3" '"type": "REGISTER_' 10 && (($(bs_events "$3" REGISTER_OK) > 0)) \
        || { fail "$1" "$2 did not register: $(grep -oE '"type": "REGISTER_[A-Z]*"[^}]*' "$dir/bs-$3.ctrl" | paste -sd' ')"; return 1; }
    grep -E "Added contact 'sip:$2[^@']*@${4//./\\.}:[0-9]+[^']*' to AOR '$2'" "$log" >/dev/null \
        || { fail "$1" "no \"Added contact 'sip:$2...@$4:<port>' to AOR '$2'\" in the daemon log: $(grep -o "Added contact '[^']*' to AOR '$2'" "$log" | paste -sd, || true)"; return 1; }
}

# established ID EXT NAME: NAME's call is established within 10 s.
established() {
    bs_wait "$3" '"type": "CALL_ESTABLISHED"' 10 \
        || { fail "$1" "$2 got no CALL_ESTABLISHED within 10 s: $(grep -oE '"type": "CALL_[A-Z_]*"[^}]*"param": "[^"]*"' "$dir/bs-$3.ctrl" | paste -sd' ')"; return 1; }
}

# counts ID CHANNEL: "RX TX UNEXPECTED LATCHED" of CHANNEL (saved to $dir for a look).
counts() {
    local f="$dir/channel-$mode-${2//\//_}.txt"
    rx "core show channel $2" >"$f" 2>&1 || true
    printf '%s %s %s %s\n' "$(sed -n 's/^ *RX packets: *//p' "$f")" "$(sed -n 's/^ *TX packets: *//p' "$f")" \
        "$(sed -n 's/^ *Unexpected src: *//p' "$f")" "$(sed -n 's/^ *Latched: *//p' "$f")"
}

chan_a="" chan_b=""
# call ID: 6001 dials 6002; both established; sets chan_a and chan_b.
call() {
    chan_a="" chan_b=""
    bs_cmd "$a" dial "sip:6002@$daemon_ip:$sip_port"
    established "$1" 6001 "$a" || return 1
    established "$1" 6002 "$b" || return 1
    chan_a=$(channel_of 6001)
    chan_b=$(channel_of 6002)
    [ -n "$chan_a" ] && [ -n "$chan_b" ] \
        || { fail "$1" "the daemon does not list a PJSIP/6001 and a PJSIP/6002 channel: $(rx "core show channels" 2>&1 | paste -sd'|')"; return 1; }
    sleep 3
}

case_on_register() {
    registered on-register 6002 "$b" "$wan_phone_ip" || true
    registered on-register 6001 "$a" "$rtr_wan_ip" || true
}

case_on_call() {
    local id=on-call c rxn txn unexp latched
    call "$id" || return 0
    for c in "$chan_a" "$chan_b"; do
        read -r rxn txn unexp latched < <(counts "$id" "$c")
        [[ "$rxn" =~ ^[0-9]+$ && "$txn" =~ ^[0-9]+$ ]] && ((rxn >= 100 && txn >= 100)) \
            || fail "$id" "$c: RX packets '$rxn', TX packets '$txn' after 3 s of call (want >= 100 each)"
    done
    read -r rxn txn unexp latched < <(counts "$id" "$chan_a")
    [[ "$latched" == "$rtr_wan_ip":* ]] \
        || fail "$id" "$chan_a: Latched is '$latched', not the router's public address $rtr_wan_ip:<port>"
}

case_on_hangup() {
    local id=on-hangup
    [ -n "$chan_a" ] || { fail "$id" "no call"; return 0; }
    bs_cmd "$b" hangup
    bs_wait "$b" '"type": "CALL_CLOSED"' 5 || fail "$id" "6002 got no CALL_CLOSED within 5 s of its hangup"
    bs_wait "$a" '"type": "CALL_CLOSED"' 5 \
        || fail "$id" "6001 (NATed) got no CALL_CLOSED within 5 s of 6002's hangup: the daemon's BYE did not reach it ($(grep -E '^BYE sip:' "$dir/daemon-$mode.log" | tail -1 || true))"
    no_channels_left "$id" 5
    heard "$id" "$a" 6001
    heard "$id" "$b" 6002
}

case_on_call_in() {
    local id=on-call-in before
    before=$(bs_events "$a" CALL_ESTABLISHED)
    bs_cmd "$b" dial "sip:6001@$daemon_ip:$sip_port"
    bs_more "$a" CALL_ESTABLISHED "$before" 10 \
        || { fail "$id" "6001 (NATed) did not get the call from 6002 within 10 s"; bs_cmd "$b" hangup; return 0; }
    bs_cmd "$b" hangup
    no_channels_left "$id" 5
}

case_off_register() {
    registered off-register 6002 "$b" "$wan_phone_ip" || true
    registered off-register 6001 "$a" "$lan_ip" || true
}

case_off_call() {
    local id=off-call rxn txn unexp latched
    call "$id" || return 0
    read -r rxn txn unexp latched < <(counts "$id" "$chan_a")
    [[ "$rxn" =~ ^[0-9]+$ && "$unexp" =~ ^[0-9]+$ ]] && ((rxn < 10 && unexp >= 100)) \
        || fail "$id" "$chan_a: RX packets '$rxn', Unexpected src '$unexp' (want < 10 and >= 100: RTP from the NAT's address dropped without rtp_symmetric)"
    [ "$latched" = "(none)" ] || fail "$id" "$chan_a: Latched is '$latched', not (none) (rtp_symmetric=no)"
    read -r rxn txn unexp latched < <(counts "$id" "$chan_b")
    [[ "$rxn" =~ ^[0-9]+$ ]] && ((rxn >= 100)) \
        || fail "$id" "$chan_b: RX packets '$rxn' (want >= 100: 6002 is not NATed)"
}

# silent ID NAME EXT: NAME received fewer than 10 packets of audio.
silent() {
    local packets hz rms
    read -r packets hz rms < <(bs_heard "$2")
    ((packets < 10)) || fail "$1" "$3 received $packets packets of audio (${hz} Hz), want < 10: media should fail without rtp_symmetric"
}

case_off_hangup() {
    local id=off-hangup
    [ -n "$chan_a" ] || { fail "$id" "no call"; return 0; }
    bs_cmd "$a" hangup
    bs_wait "$a" '"type": "CALL_CLOSED"' 5 || fail "$id" "6001 got no CALL_CLOSED within 5 s of its hangup"
    bs_wait "$b" '"type": "CALL_CLOSED"' 5 || fail "$id" "6002 got no CALL_CLOSED within 5 s of 6001's hangup"
    no_channels_left "$id" 5
    silent "$id" "$a" 6001
    silent "$id" "$b" 6002
}

case_off_call_in() {
    local id=off-call-in before_a before_b
    before_a=$(grep -c '"type": "CALL_' "$dir/bs-$a.ctrl" || true)
    before_b=$(bs_events "$b" CALL_CLOSED)
    bs_cmd "$b" dial "sip:6001@$daemon_ip:$sip_port"
    bs_more "$b" CALL_CLOSED "$before_b" 15 \
        || { fail "$id" "6002's call to 6001 did not end within 15 s (Dial's timeout is 8 s)"; bs_cmd "$b" hangup; }
    (($(grep -c '"type": "CALL_' "$dir/bs-$a.ctrl" || true) == before_a)) \
        || fail "$id" "6001 got call events although its contact is private: $(grep -oE '"type": "CALL_[A-Z_]*"' "$dir/bs-$a.ctrl" | tail -3 | paste -sd' ')"
    # The transport destination of the daemon's INVITE to 6001 (the line before it).
    local dest
    dest=$(grep -B1 -E "^INVITE sip:6001" "$dir/daemon-$mode.log" | grep -oE "Transmitting SIP request \([0-9]+ bytes\) to UDP:[0-9.:]+" | tail -1 || true)
    [[ "$dest" == *"to UDP:$lan_ip:"* ]] \
        || fail "$id" "the daemon sent its INVITE to 6001 ${dest:+(${dest#Transmitting SIP request }) }not to the contact's address $lan_ip (rewrite_contact=no)"
    if ! (($(bs_events "$b" CALL_CLOSED) > before_b)); then
        # It got through: end it on both sides (bounded; the ACK and BYE may not arrive).
        bs_cmd "$a" hangup
        bs_wait "$a" '"type": "CALL_CLOSED"' 5 || true
    fi
    no_channels_left "$id" 5
}

for mode in on off; do
    up "$mode"
    for c in register call hangup call-in; do
        run_case "$mode-$c"
    done
    down
done
finish nat_call "8 cases passed"
