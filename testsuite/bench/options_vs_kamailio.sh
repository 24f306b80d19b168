#!/usr/bin/env bash
# Out-of-dialog OPTIONS per second over UDP, pjsipd and Kamailio 5.6 in the same run, same
# SIPp scenario (testsuite/sipp/options-200.xml with response times recorded).
# Usage: testsuite/bench/options_vs_kamailio.sh [RATE ...]   (default: 5000 10000 15000)
# Needs: target/release/pjsipd (cargo build --release), sipp (sip-tester), kamailio.
# Loopback only; every run is bounded (10 s of load, 60 s timeout).
set -euo pipefail
cd "$(dirname "$0")/../.."
rates=("${@:-5000 10000 15000}")
[ "$#" -eq 0 ] && rates=(5000 10000 15000)
for tool in sipp kamailio python3; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done
bin=target/release/pjsipd
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 2; }
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pj_port=$(free_port); kam_port=$(free_port)

printf '[t]\ntype=transport\nprotocol=udp\nbind=127.0.0.1:%s\n[trunk]\ntype=endpoint\n[trunk-id]\ntype=identify\nendpoint=trunk\nmatch=127.0.0.2\n' "$pj_port" >"$dir/pjsip.conf"
printf '[daemon]\ncontrol_socket = "run/ctl"\ndata_dir = "data"\n[log]\nlevel = "warn"\n' >"$dir/pjsipd.toml"
printf '[default]\nexten => pbx,1,Answer()\n' >"$dir/extensions.conf"
MIMALLOC_ARENA_EAGER_COMMIT=0 "$bin" --config-dir "$dir" >"$dir/pjsipd.log" 2>&1 &
pids+=($!)
sed "s/KAMAILIO_PORT/$kam_port/" testsuite/bench/kamailio-options.cfg >"$dir/kamailio.cfg"
kamailio -f "$dir/kamailio.cfg" -DD -E -m 256 -M 32 >"$dir/kamailio.log" 2>&1 &
pids+=($!)
sleep 2
# Record response times, bucketed at 1, 2, 5 and 10 ms (for the share answered within 5 ms).
sed -e 's/recv response="200">/recv response="200" rtd="true">/' \
    -e 's#</scenario>#  <ResponseTimeRepartition value="1, 2, 5, 10"/>\n</scenario>#' \
    testsuite/sipp/options-200.xml >"$dir/opt.xml"

run() { # name port rate
    local stat="$dir/$1-$3.csv"
    timeout 60 sipp "127.0.0.1:$2" -sf "$dir/opt.xml" -i 127.0.0.2 -p 0 -s pbx -r "$3" -m $(($3 * 10)) \
        -l 50000 -buff_size 4194304 -nostdin -timeout 40s -trace_stat -stf "$stat" \
        >/dev/null 2>&1 || true
    python3 - "$1" "$3" "$stat" <<'PY'
import csv, sys
name, rate, stat = sys.argv[1:4]
rows = list(csv.reader(open(stat), delimiter=';'))
h = rows[0]
# The statistics rows are cumulative: the last one holds the totals.
buckets = {h[i]: int(v) for i, v in enumerate(rows[-1])
           if h[i].startswith("ResponseTimeRepartition1_") and v.isdigit()}
d = dict(zip(h, rows[-1]))
total = sum(buckets.values())
within5 = sum(v for k, v in buckets.items() if k.endswith(("_<1", "_<2", "_<5")))
share = f"{100.0 * within5 / total:.3f}%" if total else "n/a"
print(f"{name:9} offered {rate:>6}/s: achieved {float(d['CallRate(C)']):8.1f}/s, "
      f"{d['SuccessfulCall(C)']} ok, {d['FailedCall(C)']} failed, mean rtt {d['ResponseTime1(C)']}, "
      f"answered within 5 ms: {share}")
PY
}
for rate in "${rates[@]}"; do
    run pjsipd "$pj_port" "$rate"
    run kamailio "$kam_port" "$rate"
done
echo "pjsipd VmRSS after the runs: $(grep VmRSS /proc/${pids[0]}/status | awk '{print $2/1024 " MB"}')"
