#!/usr/bin/env bash
# Instructions the daemon executes per call, counted by valgrind's callgrind: unlike the
# CPU time of calls_vs_kamailio.sh, the count does not depend on what else the machine is
# doing, so it shows a change of the per-call cost of a few percent.
# Two runs of the same length under callgrind: one idle, one with CALLS calls (SIPp uac ->
# pjsipd Dial(PJSIP/uas) -> SIPp uas, the calls of calls_vs_kamailio.sh, 100 ms each, at
# RATE/s); per call = (calls run - idle run) / CALLS. Transactions still in their 64*T1
# wait when the run ends are not freed within it, as they would be in a long run.
# Usage: testsuite/bench/call_instructions.sh [CALLS [RATE]]   (default 300 30)
#   PJSIPD=...   the daemon binary (default target/release/pjsipd)
#   KEEP_DIR=1   keep the scratch directory (callgrind.out.* for callgrind_annotate)
# Needs: valgrind, sipp, python3. Prints instructions per call and the top functions.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=testsuite/bench/calls/pjsip-conf.sh
. testsuite/bench/calls/pjsip-conf.sh
calls=${1:-300}
rate=${2:-30}
for tool in sipp valgrind callgrind_annotate python3; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done
bin=${PJSIPD:-target/release/pjsipd}
[ -x "$bin" ] || { echo "build first: cargo build --release (or PJSIPD=binary)" >&2; exit 2; }
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
dir=$(mktemp -d)
pids=()
cleanup() {
    cleanup_measure
    if [ -n "${KEEP_DIR:-}" ]; then echo "kept: $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT
cleanup_measure() {
    local p
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
}
free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# Long enough for valgrind's start, the calls and their BYEs.
span=$((calls / rate + 25))

# measure NAME CALLS: prints the instructions of one run under callgrind. Runs in a
# command substitution, a subshell: what it starts is stopped by its own EXIT trap (the
# script's trap never sees these PIDs), so a failed run leaves no daemon under valgrind
# loading the machine for later measurements.
measure() {
    local name=$1 n=$2 port uac uas cfg="$dir/$1" pid i
    trap cleanup_measure EXIT
    port=$(free_port); uac=$(free_port); uas=$(free_port)
    mkdir -p "$cfg"
    bench_pjsip_conf "$cfg" "$port" "$uac" "$uas"
    printf '[daemon]\ncontrol_socket = "run/ctl"\ndata_dir = "data"\n[log]\nlevel = "warn"\n[media]\nrtp_port_start = 30000\nrtp_port_end = 40000\nthreads = 1\n' >"$cfg/pjsipd.toml"
    valgrind --tool=callgrind --callgrind-out-file="$cfg/callgrind.out" \
        "$bin" --config-dir "$cfg" >"$cfg/daemon.log" 2>&1 &
    pid=$!
    pids+=("$pid")
    for ((i = 0; i < 600; i++)); do
        "$bin" --config-dir "$cfg" -rx "core show version" >/dev/null 2>&1 && break
        sleep 0.1
    done
    "$bin" --config-dir "$cfg" -rx "core show version" >/dev/null || { cat "$cfg/daemon.log" >&2; exit 1; }
    local t0=$SECONDS
    if [ "$n" -gt 0 ]; then
        timeout 120 sipp -sf testsuite/bench/calls/uas.xml -i 127.0.0.1 -p "$uas" -m "$n" \
            -nostdin -trace_err -error_file "$cfg/uas-err.log" >/dev/null 2>&1 &
        pids+=("$!")
        sleep 0.3
        timeout 120 sipp "127.0.0.1:$port" -sf testsuite/bench/calls/uac.xml -i 127.0.0.1 \
            -p "$uac" -s 1000 -r "$rate" -m "$n" -d 100 -l 1000 -nostdin -trace_stat \
            -stf "$cfg/uac.csv" -trace_err -error_file "$cfg/uac-err.log" >/dev/null 2>&1 \
            || { echo "$name: SIPp uac failed ($(tail -1 "$cfg/uac.csv" 2>/dev/null | cut -d';' -f 16-18))" >&2; exit 1; }
    fi
    # Same length for both runs, so the idle work (timers, runtime) cancels out.
    while ((SECONDS - t0 < span)); do sleep 0.5; done
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
    awk '/^(summary|totals):/ {print $2; exit}' "$cfg/callgrind.out"*
}

idle=$(measure idle 0)
busy=$(measure calls "$calls")
echo "instructions: idle run $idle, run with $calls calls $busy"
echo "per call: $(((busy - idle) / calls)) instructions"
callgrind_annotate --inclusive=no "$dir/calls/callgrind.out"* 2>/dev/null | sed -n '/^Ir/,$p' | sed -n 3,32p
