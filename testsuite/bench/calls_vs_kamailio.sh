#!/usr/bin/env bash
# Calls per second over UDP, no media, three ways in the same run with the same SIPp
# scenarios (testsuite/bench/calls/uac.xml, uas.xml):
#   sipp      SIPp uac -> SIPp uas directly (the load tools' own ceiling)
#   kamailio  SIPp uac -> Kamailio 5.6 stateful proxy (calls/kamailio-proxy.cfg, 2 workers,
#             fixed forward to the uas) -> SIPp uas
#   pjsipd    SIPp uac -> pjsipd (endpoint "uac" identified by the uac's IP:port, context
#             bench: Dial(PJSIP/uas)) -> SIPp uas (aor "uas" with a static contact);
#             direct_media=no and timers=no, so each call is INVITE/200/ACK and BYE/200 on
#             both legs, with the daemon's relay allocating media ports for both legs.
# Every measurement has its own ports and a freshly started server (stopped afterwards):
# requests a server still retransmits for the previous measurement's failed calls must not
# reach the next measurement's uas.
# A call: INVITE with a PCMU offer, (100,) 200, ACK, a hold of HOLD_MS, BYE, 200. The uas
# answers 200 at once. Each rate gets RATE*DURATION calls on each of the three paths.
# Usage: testsuite/bench/calls_vs_kamailio.sh [RATE ...]   (default: 1000 2000 3000 4000)
#   DURATION=60   seconds of load per rate and path
#   HOLD_MS=500   how long each call lasts between ACK and BYE (concurrency = RATE*HOLD)
#   PJSIPD=...    the daemon binary (default target/release/pjsipd)
#   KEEP_DIR=1    keep the scratch directory (SIPp statistics and error traces, logs)
#   ONLY="pjsipd kamailio"   measure only these paths (sipp, kamailio, pjsipd)
#   EXTRA_TOML='[sip]\nqueue_threads = 1'   appended to pjsipd.toml (\n for line breaks)
# Needs: a release build of pjsipd, sipp (sip-tester), kamailio, python3. Loopback only;
# every SIPp run is bounded (stopped DURATION + 120 s after its start).
# Per path and rate it prints SIPp's achieved rate, successful/failed calls (with SIPp's
# failure reasons), retransmissions seen by uac and uas, mean INVITE->200 and BYE->200
# times, the CPU of the server under test, of both SIPps and of everything else on the
# machine over the run (in % of one core: "other" above 0 means the run was disturbed),
# the server's wake-ups per call (voluntary context switches of all its threads), and for
# pjsipd its peak RSS, channels and open files during the load and the active
# channels left afterwards (must be 0; calls still being torn down get 45 s).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=testsuite/bench/calls/pjsip-conf.sh
. testsuite/bench/calls/pjsip-conf.sh
rates=("$@")
[ "$#" -eq 0 ] && rates=(1000 2000 3000 4000)
duration=${DURATION:-60}
hold=${HOLD_MS:-500}
only=${ONLY:-sipp kamailio pjsipd}
for tool in sipp kamailio python3; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done
bin=${PJSIPD:-target/release/pjsipd}
[ -x "$bin" ] || { echo "build first: cargo build --release (or PJSIPD=binary)" >&2; exit 2; }
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
dir=$(mktemp -d)
# The processes of the measurement under way (started by this script).
server_pid="" uac_pid="" uas_pid=""
cleanup() {
    local p
    for p in $uac_pid $uas_pid; do kill "$p" 2>/dev/null || true; done
    [ -z "$server_pid" ] || stop "$server_pid"
    if [ -n "${KEEP_DIR:-}" ]; then echo "kept: $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
rx() { "$bin" --config-dir "$dir" -rx "$1"; }

# stop PID: SIGTERM (Kamailio's main process then stops its workers; -9 would orphan
# them), then SIGKILL after 5 s.
stop() {
    local i st
    kill "$1" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true)
        [ -z "$st" ] || [ "$st" = Z ] && break
        sleep 0.1
    done
    kill -9 "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# Every measurement gets fresh ports and a fresh server: a server still retransmitting
# requests of the previous measurement (its failed calls) would otherwise send them to the
# next measurement's uas, whose calls then fail ("unexpected BYE").
# start_pjsipd PORT UAC_PORT UAS_PORT LOG
start_pjsipd() {
    # The relay takes an RTP/RTCP pair per leg, two legs per call: 20000-60000 holds
    # 10,000 calls at once. Ports of the range already bound (the SIPps') are skipped.
    bench_pjsip_conf "$dir" "$1" "$2" "$3"
    cat >"$dir/pjsipd.toml" <<'TOML'
[daemon]
control_socket = "run/ctl"
data_dir = "data"
# Four sockets per call (RTP and RTCP on each leg): the VM's default 20,000 open files
# is reached by some 4,500 calls in progress (asterisk.conf's maxfiles does the same).
max_files = 200000  # (only when allowed: this VM caps it at 20,000)
[log]
level = "warn"
[media]
rtp_port_start = 20000
rtp_port_end = 60000
TOML
    printf '%b\n' "${EXTRA_TOML:-}" >>"$dir/pjsipd.toml"
    MIMALLOC_ARENA_EAGER_COMMIT=0 "$bin" --config-dir "$dir" >"$4" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 300); do rx "core show version" >/dev/null 2>&1 && break; sleep 0.1; done
    rx "core show version" >/dev/null || { cat "$4" >&2; echo "pjsipd did not start" >&2; exit 1; }
    sleep 0.5
}
# start_kamailio PORT UAS_PORT LOG
start_kamailio() {
    sed -e "s/15070/$1/g" -e "s/15080/$2/g" testsuite/bench/calls/kamailio-proxy.cfg >"$dir/kamailio.cfg"
    kamailio -f "$dir/kamailio.cfg" -DD -E -m 1024 -M 32 >"$3" 2>&1 &
    server_pid=$!
    sleep 1.5
    kill -0 "$server_pid" 2>/dev/null || { cat "$3" >&2; echo "kamailio did not start" >&2; exit 1; }
}

hz=$(getconf CLK_TCK)
# ticks PID...: user+system CPU ticks of these processes (all their threads).
ticks() {
    local p t=0 s
    for p in "$@"; do
        s=$(cut -d')' -f2- "/proc/$p/stat" 2>/dev/null) || continue
        # shellcheck disable=SC2086 # the fields of /proc/PID/stat, split on purpose
        set -- $s
        t=$((t + ${12} + ${13}))
    done
    echo "$t"
}
# switches PID...: voluntary context switches of these processes' threads (a thread that
# sleeps and is woken: a hand-off between threads costs one each time).
switches() {
    local p
    for p in "$@"; do cat /proc/"$p"/task/*/status 2>/dev/null; done \
        | awk '/^voluntary_ctxt_switches/ {n += $2} END {print n + 0}'
}
# The busy ticks of the whole machine (all cores).
machine_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
# shellcheck disable=SC2046 # one PID a word
kam_procs() { echo "$1" $(ps -o pid= --ppid "$1"); }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
active_channels() { rx "core show channels count" 2>/dev/null | sed -n 's/^\([0-9]*\) active channels\{0,1\}$/\1/p'; }

run() { # name rate
    local name=$1 rate=$2 count=$(($2 * duration)) tag="$1-$2"
    local t0 m0 s0 s1 m1 t1 w0 w1 u_uac=0 u_uas=0 x rss=0 left="" i chans=0 fds=0
    local uac_port uas_port port server=() log="$dir/$1-$2.log"
    uac_port=$(free_port); uas_port=$(free_port); port=$uas_port
    server_pid=""
    # shellcheck disable=SC2207 # PIDs, one a word
    case $name in
        pjsipd) port=$(free_port); start_pjsipd "$port" "$uac_port" "$uas_port" "$log"; server=("$server_pid") ;;
        kamailio) port=$(free_port); start_kamailio "$port" "$uas_port" "$log"; server=($(kam_procs "$server_pid")) ;;
    esac
    sipp -sf testsuite/bench/calls/uas.xml -i 127.0.0.1 -p "$uas_port" -m "$count" \
        -buff_size 4194304 -nostdin -trace_stat -stf "$dir/uas-$tag.csv" -fd 1 \
        -trace_err -error_file "$dir/uas-$tag-err.log" >/dev/null 2>&1 &
    uas_pid=$!
    sleep 0.5
    t0=$(date +%s.%N); m0=$(machine_ticks); s0=$(ticks "${server[@]}"); w0=$(switches "${server[@]}")
    sipp "127.0.0.1:$port" -sf testsuite/bench/calls/uac.xml -i 127.0.0.1 -p "$uac_port" -s 1000 \
        -r "$rate" -m "$count" -d "$hold" -l 10000 -buff_size 4194304 -nostdin \
        -trace_stat -stf "$dir/uac-$tag.csv" -fd 1 -trace_err -error_file "$dir/uac-$tag-err.log" \
        >/dev/null 2>&1 &
    uac_pid=$!
    # Sample until the uac is done (bounded): the SIPps' CPU, the daemon's peak RSS.
    local end=$((SECONDS + duration + 120))
    for ((i = 0; SECONDS < end; i++)); do
        kill -0 "$uac_pid" 2>/dev/null || break
        x=$(ticks "$uac_pid"); [ "$x" -gt 0 ] && u_uac=$x
        x=$(ticks "$uas_pid"); [ "$x" -gt 0 ] && u_uas=$x
        if [ "$name" = pjsipd ]; then
            x=$(rss_kb "$server_pid"); [ "$x" -gt "$rss" ] && rss=$x
            if ((i % 4 == 0)); then # once a second: channels and open files
                x=$(active_channels); [ "${x:-0}" -gt "$chans" ] && chans=$x
                x=$(find "/proc/$server_pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l); [ "$x" -gt "$fds" ] && fds=$x
            fi
        fi
        sleep 0.25
    done
    kill "$uac_pid" 2>/dev/null || true
    wait "$uac_pid" 2>/dev/null || true
    t1=$(date +%s.%N); m1=$(machine_ticks); s1=$(ticks "${server[@]}"); w1=$(switches "${server[@]}")
    # The uas ends by itself once it saw every call's BYE; a call lost on the way keeps it.
    for ((i = 0; i < 40; i++)); do kill -0 "$uas_pid" 2>/dev/null || break; sleep 0.25; done
    kill "$uas_pid" 2>/dev/null || true
    wait "$uas_pid" 2>/dev/null || true
    if [ "$name" = pjsipd ]; then
        # Calls the daemon still sets up or tears down end within SIP's 32 s timeouts.
        for ((i = 0; i < 450; i++)); do left=$(active_channels); [ "$left" = 0 ] && break; sleep 0.1; done
        if [ "$left" != 0 ]; then
            # What is left, and the first 20 in detail (their SIP Call-IDs, to find them
            # in the SIPp traces).
            rx "core show channels" >"$dir/channels-left-$tag.txt" 2>&1 || true
            for ch in $(awk '/^PJSIP\// {print $1}' "$dir/channels-left-$tag.txt" | head -20); do
                rx "core show channel $ch" >>"$dir/channels-left-$tag.txt" 2>&1 || true
            done
        fi
    fi
    local line
    line=$(python3 - "$name" "$rate" "$count" "$dir/uac-$tag.csv" "$dir/uas-$tag.csv" \
        "$t0" "$t1" "$hz" "$((s1 - s0))" "$u_uac" "$u_uas" "$((m1 - m0))" "$rss" "$left" "$((w1 - w0))" <<'PY'
import csv, sys
name, rate, count, uac, uas, t0, t1, hz, srv, cuac, cuas, mach, rss, left, sw = sys.argv[1:16]
def last(path):
    try:
        rows = list(csv.reader(open(path), delimiter=';'))
        return dict(zip(rows[0], rows[-1])) if len(rows) > 1 else {}
    except OSError:
        return {}
def ms(v):  # SIPp writes durations as HH:MM:SS:microseconds
    try:
        h, m, s, us = (int(x) for x in v.split(':'))
        return f"{(h * 3600 + m * 60 + s) * 1000 + us / 1000:.1f}"
    except (ValueError, AttributeError):
        return "?"
a, b = last(uac), last(uas)
def within(n, limit="5"):  # share of response times n under limit ms (SIPp's buckets)
    pre = f"ResponseTimeRepartition{n}_"
    bk = {k[len(pre):]: int(v) for k, v in a.items() if k.startswith(pre) and v.isdigit()}
    tot = sum(bk.values())
    return f"{100.0 * bk.get('<' + limit, 0) / tot:.1f}%" if tot else "?"
el = float(t1) - float(t0)
pct = lambda t: f"{100.0 * int(t) / int(hz) / el:.0f}%"
reasons = ", ".join(f"{k[6:-3]} {v}" for k, v in a.items()
                    if k.startswith("Failed") and k.endswith("(C)") and k != "FailedCall(C)" and v not in ("0", ""))
srv_cpu = pct(srv) if name != "sipp" else "-"
other = int(mach) - int(srv if name != "sipp" else 0) - int(cuac) - int(cuas)
print(f"{name:8} offered {rate:>5}/s: achieved {float(a.get('CallRate(C)', 0)):7.1f}/s, "
      f"{a.get('SuccessfulCall(C)', '?')}/{count} ok, {a.get('FailedCall(C)', '?')} failed"
      + (f" ({reasons})" if reasons else "")
      + f", retrans uac {a.get('Retransmissions(C)', '?')} uas {b.get('Retransmissions(C)', '?')}"
      f", uas failed {b.get('FailedCall(C)', '?')}"
      f", INVITE->200 mean {ms(a.get('ResponseTime1(C)'))} ms ({within(1)} < 5 ms), BYE->200 mean {ms(a.get('ResponseTime2(C)'))} ms"
      f", CPU server {srv_cpu} sipp uac {pct(cuac)} uas {pct(cuas)} other {pct(max(other, 0))}"
      + (f", server wake-ups {int(sw) / max(int(count), 1):.1f}/call" if name != "sipp" else "")
      + (f", RSS peak {int(rss) / 1024:.0f} MB, channels left {left or '?'} (waited up to 45 s)" if name == "pjsipd" else ""))
PY
)
    echo "$line"
    if [ "$name" = pjsipd ]; then
        echo "  pjsipd VmRSS after the load and the wait $(($(rss_kb "$server_pid") / 1024)) MB, peak (VmHWM) $(awk '/^VmHWM/ {print int($2/1024)}' "/proc/$server_pid/status") MB; during the load at most $chans channels, $fds open files (limit $(awk '/open files/ {print $4}' "/proc/$server_pid/limits"))"
        if [ -s "$log" ]; then
            echo "  pjsipd logged $(wc -l <"$log") lines, first ones:"
            head -3 "$log" | cut -c1-300 | sed 's/^/    /'
        fi
    fi
    [ -z "$server_pid" ] || stop "$server_pid"
    server_pid="" uac_pid="" uas_pid=""
    sleep 1
}

echo "$(date -u +%FT%TZ) DURATION=$duration s HOLD_MS=$hold, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for rate in "${rates[@]}"; do
    for path in $only; do
        case $path in
            sipp | kamailio | pjsipd) run "$path" "$rate" ;;
            *) echo "unknown path in ONLY: $path" >&2; exit 2 ;;
        esac
    done
done
