#!/usr/bin/env bash
# A call between two real phones through the daemon: two baresip instances, 6001 and 6002,
# each with its own configuration and ports on 127.0.0.1, register with digest auth
# (endpoints 6001/6002 with auth and an aor of max_contacts=1, direct_media=no so the RTP
# goes through the daemon's relay, context internal). 6001 dials sip:6002@<daemon>; the
# dialplan runs Dial(PJSIP/6002,20); 6002 answers by itself (answermode=auto). Both send a
# 440 Hz tone (ausine) as PCMU.
#   register  both get REGISTER_OK, and the daemon added a contact to each AOR
#   call      6001 and 6002 get CALL_ESTABLISHED (6002 an incoming one); the daemon
#             lists 2 channels (PJSIP/6001-..., PJSIP/6002-...) bridged to each other
#   media     after ~3 s of call: each channel's `core show channel` shows RX and TX packets
#             (>= 50 each way: 20 ms packets give ~150), so the relay got RTP from both
#             phones and sent RTP to both; each baresip's `callstat` shows it received
#             packets (its RX count > 50), so audio reached both ends
#   hangup    6001 hangs up (BYE): both phones get CALL_CLOSED, and within 5 s the daemon
#             has "0 active channels"
# Every case runs and is reported; the script fails at the end if any case failed.
# KERNEL=1 (testsuite/tests/baresip_kernel_call.sh): the same call with `[media]
# kernel_forwarding = true`, in a network namespace of its own with IP forwarding on; then
#   media     also: both channels say "Relayed by: kernel" (the relay thread handed the pair
#             to nftables), and the packet counts (kernel counters added) still hold
#   hangup    also: the kernel forwarding table has no flow left and conntrack no entry for
#             the relay's ports
#   stop      SIGTERM: the daemon exits and its nftables table is gone
# PJSIPD_BIN selects the daemon binary (default target/debug/pjsipd, built when missing);
# KEEP_DIR=1 keeps the scratch directory (logs) for a look afterwards.
set -euo pipefail
cd "$(dirname "$0")/../.."
kernel=${KERNEL:-0}
if [ "$kernel" = 1 ] && [ -z "${PJSIPD_NETNS:-}" ]; then
    ns=pjsipd-kf-$$
    ip netns add "$ns"
    trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
    ip netns exec "$ns" ip link set lo up
    ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
    rc=0
    PJSIPD_NETNS=$ns ip netns exec "$ns" bash "$0" "$@" || rc=$?
    exit "$rc"
fi
. testsuite/lib/daemon.sh
. testsuite/lib/cases.sh
. testsuite/baresip/lib.sh
started=$SECONDS

# Ports: the daemon's SIP, each phone's block (SIP, ctrl_tcp, RTP) and the relay's RTP range.
port_blocks 4 20 127.0.0.1
dport=${blocks[0]} a_base=${blocks[1]} b_base=${blocks[2]} relay=${blocks[3]}

cat >"$dir/pjsip.conf" <<CONF
[transport-udp]
type=transport
protocol=udp
bind=127.0.0.1:$dport
$(phone_endpoints)
CONF
cat >"$dir/extensions.conf" <<'CONF'
[internal]
exten => _600X,1,NoOp(Call to ${EXTEN})
 same => n,Dial(PJSIP/${EXTEN},20)
 same => n,Hangup()
CONF
write_settings "
[media]
rtp_port_start = $relay
rtp_port_end = $((relay + 19))
kernel_forwarding = $([ "$kernel" = 1 ] && echo true || echo false)
"
start_daemon
rx "pjsip set logger on" | grep -F "PJSIP Logging enabled" >/dev/null \
    || { echo "FAIL: pjsip set logger on" >&2; exit 1; }

bs_setup a 127.0.0.1 "$a_base"
bs_setup b 127.0.0.1 "$b_base"
bs_start a 127.0.0.1
bs_start b 127.0.0.1
account() { # EXT
    echo "<sip:$1@127.0.0.1:$dport;transport=udp>;auth_pass=secret$1;regint=60;answermode=auto"
}

case_register() {
    local id=register ext name
    bs_cmd a uanew "$(account 6001)"
    bs_cmd b uanew "$(account 6002)"
    for name in a b; do
        ext=$([ $name = a ] && echo 6001 || echo 6002)
        bs_wait $name '"REGISTER_' 10 \
            || { fail "$id" "$ext: no REGISTER_OK event within 10 s"; continue; }
        (($(bs_events $name REGISTER_OK) > 0)) \
            || fail "$id" "$ext: registration failed: $(grep -F '"REGISTER_' "$dir/bs-$name.ctrl" | head -1)"
        wait_log "to AOR '$ext'" \
            || fail "$id" "$ext: no \"Added contact ... to AOR '$ext'\" in the daemon log"
    done
}

# in_range ADDRESS BASE: ADDRESS is 127.0.0.1:P with P in the RTP ports of the phone whose
# port block starts at BASE (BASE+4..BASE+13, see bs_setup).
in_range() {
    local p=${1##*:}
    [ "${1%:*}" = 127.0.0.1 ] && [[ "$p" =~ ^[0-9]+$ ]] && ((p >= $2 + 4 && p <= $2 + 13))
}

chan_a="" chan_b=""
case_call() {
    local id=call
    bs_cmd a dial "sip:6002@127.0.0.1:$dport"
    bs_wait a '"type": "CALL_ESTABLISHED"' 10 \
        || { fail "$id" "6001 got no CALL_ESTABLISHED within 10 s: $(grep -oE '"type": "CALL_[A-Z_]*"' "$dir/bs-a.ctrl" | paste -sd' ')"; return; }
    # With answermode=auto baresip 1.0.0 sends no CALL_INCOMING: the call is established.
    bs_wait b '"direction": "incoming", "event": true, "id": ' 5 \
        && bs_wait b '"type": "CALL_ESTABLISHED"' 5 \
        || fail "$id" "6002 got no incoming CALL_ESTABLISHED: $(grep -oE '"type": "CALL_[A-Z_]*"' "$dir/bs-b.ctrl" | paste -sd' ')"
    chan_a=$(channel_of 6001)
    chan_b=$(channel_of 6002)
    [ -n "$chan_a" ] && [ -n "$chan_b" ] \
        || { fail "$id" "the daemon does not list a PJSIP/6001 and a PJSIP/6002 channel: $(rx "core show channels" 2>&1 | paste -sd'|')"; chan_a=""; return; }
    [ "$(field "$chan_a" State)" = Up ] || fail "$id" "$chan_a is in state '$(field "$chan_a" State)', not Up"
    [ "$(field "$chan_b" State)" = Up ] || fail "$id" "$chan_b is in state '$(field "$chan_b" State)', not Up"
}

# The daemon's own view of the bridge: each channel names the other (its "Bridged to" line,
# the last field of the concise list), and the two channels are 1 call.
case_bridge() {
    local id=bridge out
    [ -n "$chan_a" ] || { fail "$id" "no call"; return; }
    [ "$(field "$chan_a" "Bridged to")" = "$chan_b" ] \
        || fail "$id" "core show channel $chan_a: Bridged to is '$(field "$chan_a" "Bridged to")', not $chan_b"
    [ "$(field "$chan_b" "Bridged to")" = "$chan_a" ] \
        || fail "$id" "core show channel $chan_b: Bridged to is '$(field "$chan_b" "Bridged to")', not $chan_a"
    out=$(rx "core show channels" 2>&1)
    grep -x "2 active channels" <<<"$out" >/dev/null && grep -x "1 active call" <<<"$out" >/dev/null \
        || fail "$id" "core show channels does not end with \"2 active channels\" / \"1 active call\": $(tail -2 <<<"$out" | paste -sd'|')"
}

# Daemon side after ~3 s: RX and TX packets of both channels, each phone's SDP address as the
# remote RTP. Kept for the phone-side check in case_hangup.
tx_a="" tx_b=""
case_media() {
    local id=media c n what base
    [ -n "$chan_a" ] || { fail "$id" "no call"; return; }
    # Kernel counters reach the channels once a second: one more second for them.
    sleep $((kernel == 1 ? 4 : 3))
    for c in "$chan_a" "$chan_b"; do
        rx "core show channel $c" >"$dir/channel-${c//\//_}.txt" 2>&1 || true
        for what in "RX packets" "TX packets"; do
            n=$(field "$c" "$what")
            [[ "$n" =~ ^[0-9]+$ ]] && ((n >= 100)) \
                || fail "$id" "$c: $what is '$n' after 3 s of call (want >= 100 of 20 ms packets): $(sed -n '/Media/,$p' "$dir/channel-${c//\//_}.txt" | paste -sd'|')"
        done
        if [ "$kernel" = 1 ]; then
            n=$(rx "pjsip show distributor" 2>&1 | sed -n 's/^ *Media legs forwarded by the kernel: *//p')
            [ "$n" = 2 ] || fail "$id" "pjsip show distributor: '$n' media legs forwarded by the kernel, want 2"
            [ "$(field "$c" "Relayed by")" = "kernel (loss not measured)" ] \
                || fail "$id" "$c: Relayed by is '$(field "$c" "Relayed by")', not the kernel: $(grep -F "kernel" "$dir/daemon.log" | head -3 | paste -sd'|')"
        fi
        base=$([ "$c" = "$chan_a" ] && echo "$a_base" || echo "$b_base")
        in_range "$(field "$c" "Remote RTP")" "$base" \
            || fail "$id" "$c: Remote RTP is '$(field "$c" "Remote RTP")', not the phone's SDP address (127.0.0.1:$((base + 4))-$((base + 13)))"
    done
    tx_a=$(field "$chan_a" "TX packets")
    tx_b=$(field "$chan_b" "TX packets")
}

case_hangup() {
    local id=hangup
    [ -n "$chan_a" ] || { fail "$id" "no call"; return; }
    bs_cmd a hangup
    bs_wait a '"type": "CALL_CLOSED"' 5 || fail "$id" "6001 got no CALL_CLOSED within 5 s of its hangup"
    bs_wait b '"type": "CALL_CLOSED"' 5 || fail "$id" "6002 got no CALL_CLOSED within 5 s of 6001's hangup"
    no_channels_left "$id" 5
    # The phones' own records of the audio (complete now that the call is over).
    heard "$id" a 6001 100 "$tx_a"
    heard "$id" b 6002 100 "$tx_b"
    if [ "$kernel" = 1 ]; then
        local i left=""
        for ((i = 0; i < 30; i++)); do
            left=$(nft -n list set inet "pjsipd_$relay" counted4 2>&1 | grep -c "counter packets" || true)
            [ "$left" = 0 ] && [ "$(ct_in_range)" = 0 ] && break
            sleep 0.1
        done
        [ "$left" = 0 ] || fail "$id" "$left kernel flows left after the call: $(nft -n list set inet "pjsipd_$relay" counted4 2>&1 | paste -sd' ')"
        [ "$(ct_in_range)" = 0 ] || fail "$id" "conntrack entries left for the relay's ports: $(grep -c . /proc/net/nf_conntrack)"
    fi
}

# Conntrack entries whose destination port is in the relay's range.
ct_in_range() {
    awk -v lo="$relay" -v hi="$((relay + 19))" '{ for (i = 1; i <= NF; i++) if ($i ~ /^dport=/) { p = substr($i, 7) + 0; if (p >= lo && p <= hi) { n++; break } } } END { print n + 0 }' /proc/net/nf_conntrack
}

# Kernel forwarding only: the daemon removes its table when it stops.
case_stop() {
    local id=stop
    kill -TERM "$pid"
    wait "$pid" || fail "$id" "the daemon exited with status $? on SIGTERM"
    pid=""
    ! grep -qx "table inet pjsipd_$relay" <<<"$(nft list tables 2>&1)" \
        || fail "$id" "table inet pjsipd_$relay is still there after the daemon stopped"
}

cases=(register call bridge media hangup)
[ "$kernel" = 1 ] && cases+=(stop)
for c in "${cases[@]}"; do
    run_case "$c"
done
finish "baresip_call$([ "$kernel" = 1 ] && echo " (kernel forwarding)")" "${#cases[@]} cases passed"
