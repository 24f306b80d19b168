# Running baresip instances in a test: configuration, start (optionally inside a network
# namespace), commands over ctrl_tcp and waits for its events, statistics, and stop.
# Source it after testsuite/lib/daemon.sh (it uses `dir` and `cleanup_hooks`).
#
# Each instance NAME lives in $dir/bs-NAME/ (config, accounts, home), logs its output (with
# the SIP trace, -s) to $dir/bs-NAME.log and its ctrl_tcp traffic (one JSON a line, see
# ctrl.py) to $dir/bs-NAME.ctrl; commands are lines appended to $dir/bs-NAME.cmd.

for tool in baresip python3 timeout; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing (testsuite/run installs it)" >&2; exit 1; }
done
[ -d /usr/lib/baresip/modules ] || { echo "FAIL: /usr/lib/baresip/modules is missing (baresip package)" >&2; exit 1; }
BS_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
declare -A bs_pid=() bs_ctl_pid=() bs_ctrl=()

# port_blocks N SIZE HOST...: fills `blocks` with N base ports; each base..base+SIZE-1 is
# free for UDP and TCP on every HOST (the current namespace only). One python3 run.
port_blocks() {
    local n=$1 size=$2
    shift 2
    mapfile -t blocks < <(python3 - "$n" "$size" "${@:-127.0.0.1}" <<'PY'
import random, socket, sys
n, size, hosts = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
def free(port):
    socks = []
    try:
        for host in hosts:
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                socks.append(socket.socket(socket.AF_INET, kind))
                socks[-1].bind((host, port))
        return True
    except OSError:
        return False
    finally:
        for s in socks:
            s.close()
found = []
step = size + (size % 2)          # even bases: RTP ports are even
for base in random.sample(range(20000, 60000 - step, step), 400):
    if all(free(p) for p in range(base, base + size)):
        found.append(base)
        if len(found) == n:
            break
print("\n".join(map(str, found)))
PY
    )
    ((${#blocks[@]} == n)) || { echo "FAIL: could not find $n blocks of $size free ports" >&2; exit 1; }
}

# bs_setup NAME ADDRESS BASE: configuration of instance NAME bound to ADDRESS, using the
# ports BASE (SIP UDP/TCP; TLS takes BASE+1), BASE+2 (ctrl_tcp, on 127.0.0.1) and
# BASE+4..BASE+13 (RTP). Audio: a 440 Hz tone from ausine (48 kHz stereo, the only format it
# accepts), ALSA's null device as the player, and the sndfile filter writing what is sent
# and received to $dir/bs-NAME/snd/*-{enc,dec}.wav (the phone-side proof of audio; baresip
# 1.0.0's `callstat` stops before its RTP counters, and its RTCP figures cannot see relayed
# packets). No account: add it with `bs_cmd NAME uanew ...`.
bs_setup() {
    local name=$1 addr=$2 base=$3 d="$dir/bs-$1"
    mkdir -p "$d/home" "$d/snd"
    cat >"$d/config" <<CONF
poll_method		epoll
sip_listen		$addr:$base
sip_trans_def		udp
rtp_ports		$((base + 4))-$((base + 13))
audio_player		alsa,null
audio_alert		alsa,null
audio_source		ausine,440
ausrc_srate		48000
auplay_srate		48000
ausrc_channels		2
auplay_channels		2
module_path		/usr/lib/baresip/modules
module			g711.so
module			alsa.so
module			ausine.so
module_app		account.so
module_app		menu.so
module_app		ctrl_tcp.so
module_app		rtcpsummary.so
ctrl_tcp_listen		127.0.0.1:$((base + 2))
module			sndfile.so
snd_path		$d/snd
CONF
    : >"$d/accounts"
    : >"$dir/bs-$name.cmd"
    : >"$dir/bs-$name.ctrl"
    bs_ctrl[$name]=$((base + 2))
}

# bs_start NAME ADDRESS [NETNS]: starts instance NAME (interface address ADDRESS, so its SDP
# and Contact carry it) and its ctrl_tcp client, inside network namespace NETNS when given.
# Both end by themselves after 180 s at most; bs_stop_all (a cleanup hook) stops them sooner.
bs_start() {
    local name=$1 addr=$2 ns=${3:-}
    local -a pre=()
    [ -n "$ns" ] && pre=(ip netns exec "$ns")
    HOME="$dir/bs-$name/home" timeout 180 "${pre[@]}" baresip -n "$addr" -s -f "$dir/bs-$name" \
        >"$dir/bs-$name.log" 2>&1 </dev/null &
    bs_pid[$name]=$!
    timeout 180 "${pre[@]}" python3 "$BS_LIB/ctrl.py" "${bs_ctrl[$name]}" "$dir/bs-$name.cmd" \
        "$dir/bs-$name.ctrl" 170 </dev/null >/dev/null 2>&1 &
    bs_ctl_pid[$name]=$!
    bs_wait "$name" '"client": "connected"' 8 \
        || { echo "FAIL: ctrl_tcp of baresip $name did not answer: $(tail -3 "$dir/bs-$name.log")" >&2; exit 1; }
}

# bs_cmd NAME COMMAND [PARAMS]: sends a ctrl_tcp command; `bs_token` is its token (the
# line number in the command file).
bs_cmd() {
    printf '%s\n' "$2${3:+ $3}" >>"$dir/bs-$1.cmd"
    bs_token=$(wc -l <"$dir/bs-$1.cmd")
}

# bs_ask NAME COMMAND [PARAMS]: sends a command and prints its reply's text; fails when
# none came within 5 s.
bs_ask() {
    local i
    bs_cmd "$@"
    for ((i = 0; i < 50; i++)); do
        [ -f "$dir/bs-$1.cmd.$bs_token" ] && { cat "$dir/bs-$1.cmd.$bs_token"; return 0; }
        sleep 0.1
    done
    return 1
}

# bs_wait NAME TEXT SECONDS: the ctrl log of NAME has TEXT within SECONDS.
bs_wait() {
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        grep -qF -- "$2" "$dir/bs-$1.ctrl" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# bs_events NAME TYPE: how many events of TYPE NAME's ctrl log has.
bs_events() {
    grep -cF "\"type\": \"$2\"" "$dir/bs-$1.ctrl" || true
}

# bs_stop NAME: quits instance NAME (ctrl_tcp `quit`: it un-REGISTERs), kills it if still
# there after 3 s, and stops its ctrl_tcp client.
bs_stop() {
    local i p
    [ -n "${bs_pid[$1]:-}" ] || return 0
    bs_cmd "$1" quit 2>/dev/null || true
    for ((i = 0; i < 30; i++)); do
        kill -0 "${bs_pid[$1]}" 2>/dev/null || break
        sleep 0.1
    done
    for p in "${bs_pid[$1]}" "${bs_ctl_pid[$1]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    unset "bs_pid[$1]" "bs_ctl_pid[$1]"
}

# bs_stop_all: bs_stop for every instance still running (a cleanup hook).
bs_stop_all() {
    local name
    for name in "${!bs_pid[@]}"; do
        bs_cmd "$name" quit 2>/dev/null || true
    done
    for name in "${!bs_pid[@]}"; do
        bs_stop "$name"
    done
}
cleanup_hooks+=(bs_stop_all)

# bs_heard NAME [dec|enc]: "PACKETS HZ RMS" of what NAME received (dec, default) or sent
# (enc), from the WAV files of its sndfile filter (see wav.py). Complete once its call ended.
bs_heard() {
    python3 "$BS_LIB/wav.py" "$dir/bs-$1/snd" "${2:-dec}"
}

# heard ID NAME EXT [MIN_PACKETS [DAEMON_TX]]: records a failure of case ID unless NAME's
# received audio (sndfile's -dec.wav, complete once the call ended) is at least MIN_PACKETS
# (default 100) 20 ms packets, at least 90% of DAEMON_TX (the TX count the daemon showed for
# its channel earlier, when given), a 440 Hz tone (the other phone's ausine) and not silence.
heard() {
    local packets hz rms min=${4:-100} tx=${5:-0}
    read -r packets hz rms < <(bs_heard "$2")
    ((packets >= min && packets * 10 >= tx * 9)) \
        || fail "$1" "$3 received $packets packets of audio (its sndfile record), want >= $min${5:+ and >= 90% of the $tx the daemon sent it}"
    ((hz >= 400 && hz <= 480 && rms >= 1000)) \
        || fail "$1" "$3 did not hear the other phone's 440 Hz tone: ${hz} Hz, RMS $rms"
}

# The daemon's channels, through its CLI (`rx` of daemon.sh).
# channels: the names of the daemon's channels, one a line.
channels() {
    rx "core show channels concise" 2>/dev/null | cut -d'!' -f1 | grep '^PJSIP/' || true
}

# channel_of ENDPOINT: the name of the daemon's channel of ENDPOINT (waits 3 s at most;
# empty when there is none).
channel_of() {
    local i c
    for ((i = 0; i < 30; i++)); do
        c=$(channels | grep "^PJSIP/$1-" | head -1)
        [ -n "$c" ] && { echo "$c"; return 0; }
        sleep 0.1
    done
}

# field CHANNEL LABEL: the value of "LABEL: value" in `core show channel CHANNEL`.
field() {
    rx "core show channel $1" 2>/dev/null | sed -n "s/^ *$2: *//p" | head -1
}

# no_channels_left ID SECONDS: records a failure of case ID unless the daemon has
# "0 active channels" within SECONDS.
no_channels_left() {
    local i n=""
    for ((i = 0; i < $2 * 10; i++)); do
        n=$(rx "core show channels" 2>/dev/null | sed -n 's/^\([0-9]*\) active channels\{0,1\}$/\1/p')
        [ "$n" = 0 ] && return 0
        sleep 0.1
    done
    fail "$1" "the daemon still has '$n' active channels $2 s after the hangup: $(rx "core show channels" 2>&1 | paste -sd'|')"
}

# bs_more NAME TYPE BEFORE SECONDS: NAME has more than BEFORE events of TYPE within SECONDS.
bs_more() {
    local i
    for ((i = 0; i < $4 * 10; i++)); do
        (($(bs_events "$1" "$2") > $3)) && return 0
        sleep 0.1
    done
    return 1
}

# phone_endpoints [EXTRA]: pjsip.conf sections of the phones 6001 and 6002: endpoint
# (context internal, ulaw, direct_media=no so RTP goes through the relay; EXTRA lines on
# 6001's), auth (password secret<ext>) and aor (max_contacts=1).
phone_endpoints() {
    local ext
    for ext in 6001 6002; do
        printf '\n[%s]\ntype=endpoint\ncontext=internal\ndisallow=all\nallow=ulaw\nauth=%s-auth\naors=%s\ndirect_media=no\n' \
            "$ext" "$ext" "$ext"
        [ "$ext" = 6001 ] && [ -n "${1:-}" ] && printf '%s\n' "$1"
        printf '\n[%s-auth]\ntype=auth\nauth_type=userpass\nusername=%s\npassword=secret%s\n' "$ext" "$ext" "$ext"
        printf '\n[%s]\ntype=aor\nmax_contacts=1\n' "$ext"
    done
}
