#!/usr/bin/env bash
# Daemon-level benchmark: start target/release/pjsipd on the generated 10,000-endpoint
# pjsip.conf, print its memory once loaded, time a SIGHUP reload that changes one endpoint
# (and a `pjsip reload` through the control socket), stop it with SIGTERM, clean up.
#
# Usage: testsuite/bench/daemon_rss.sh        (after `cargo build --release`)
# Environment: PJSIPD=path/to/pjsipd (default target/release/pjsipd), ENDPOINTS=N (10000),
#              STARTUP_TIMEOUT=seconds (60), RELOAD_TIMEOUT=seconds (60).
# Exit status: 0 measured; 1 the daemon misbehaved; 2 nothing to measure (no binary).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${PJSIPD:-$root/target/release/pjsipd}
endpoints=${ENDPOINTS:-10000}
startup_timeout=${STARTUP_TIMEOUT:-60}
reload_timeout=${RELOAD_TIMEOUT:-60}
changed=$((6000 + endpoints / 2))

if [[ ! -x $bin ]]; then
    echo "daemon_rss: $bin not found; run 'cargo build --release' first" >&2
    exit 2
fi
if ((endpoints < 1)); then
    echo "daemon_rss: ENDPOINTS must be at least 1" >&2
    exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pjsipd-bench.XXXXXX")
pid=""

cleanup() {
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "daemon_rss: pjsipd $pid ignored SIGTERM; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
    echo "daemon_rss: $*" >&2
    if [[ -f $tmp/daemon.log ]]; then
        echo "--- last lines of the daemon's output ---" >&2
        tail -n 20 "$tmp/daemon.log" >&2
    fi
    exit 1
}

now_ns() { date +%s%N; }
elapsed_ms() { awk -v a="$1" -v b="$(now_ns)" 'BEGIN { printf "%.1f", (b - a) / 1e6 }'; }

# Memory of $pid, in MB: "VmRSS VmHWM".
memory() {
    awk '/^VmRSS:/ { rss = $2 } /^VmHWM:/ { hwm = $2 }
         END { printf "%.1f %.1f\n", rss / 1024, hwm / 1024 }' "/proc/$pid/status"
}

cli() { "$bin" --config-dir "$tmp" -rx "$1"; }

python3 "$here/gen_config.py" --endpoints "$endpoints" -o "$tmp/pjsip.conf"
cat >"$tmp/pjsipd.toml" <<EOF
[daemon]
control_socket = "$tmp/pjsipd.ctl"
data_dir = "$tmp/data"

[log]
level = "warn"
EOF
echo "config: $endpoints endpoints, $(wc -c <"$tmp/pjsip.conf") bytes, in $tmp"

start=$(now_ns)
"$bin" --config-dir "$tmp" >"$tmp/daemon.log" 2>&1 &
pid=$!

# Wait (bounded) until the control socket answers.
deadline=$((SECONDS + startup_timeout))
until version=$(cli "core show version" 2>/dev/null); do
    kill -0 "$pid" 2>/dev/null || { pid=""; fail "pjsipd exited during start-up"; }
    ((SECONDS < deadline)) || fail "pjsipd did not answer within ${startup_timeout}s"
    sleep 0.05
done
echo "started and answering in $(elapsed_ms "$start") ms: $version"

read -r rss hwm < <(memory)
echo "daemon VmRSS after load: $rss MB (peak VmHWM $hwm MB; target < 100 MB)"

# The changed endpoint is visible through the CLI once the reload is applied.
shows_change() { cli "pjsip show endpoint $changed" 2>/dev/null | grep -q changed-by-reload; }
wait_for() { # wait_for <want: 0 visible / 1 gone> <what>
    local deadline=$((SECONDS + reload_timeout))
    while true; do
        if shows_change; then [[ $1 == 0 ]] && return 0; else [[ $1 == 1 ]] && return 0; fi
        kill -0 "$pid" 2>/dev/null || { pid=""; fail "pjsipd exited during $2"; }
        ((SECONDS < deadline)) || fail "$2 not visible within ${reload_timeout}s"
        sleep 0.01
    done
}
shows_change && fail "endpoint $changed already changed before the reload"

# SIGHUP reload: edit one endpoint, signal, poll the CLI until the change shows.
python3 "$here/gen_config.py" --endpoints "$endpoints" --change "$changed" -o "$tmp/pjsip.conf"
start=$(now_ns)
kill -HUP "$pid"
wait_for 0 "SIGHUP reload"
echo "SIGHUP reload of 1 changed endpoint: $(elapsed_ms "$start") ms until visible (includes CLI polling)"
read -r rss hwm < <(memory)
echo "daemon VmRSS after reload: $rss MB (peak VmHWM $hwm MB)"

# `pjsip reload` through the control socket answers when done, with a summary.
python3 "$here/gen_config.py" --endpoints "$endpoints" -o "$tmp/pjsip.conf"
start=$(now_ns)
summary=$(cli "pjsip reload") || fail "pjsip reload failed: $summary"
echo "pjsip reload (change reverted): $(elapsed_ms "$start") ms: $(echo "$summary" | tr '\n' ' ')"
wait_for 1 "reverted reload"

# Stop with SIGTERM; it must exit (status 0) and remove its socket.
start=$(now_ns)
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=""
echo "stopped by SIGTERM in $(elapsed_ms "$start") ms, exit status $status"
((status == 0)) || fail "pjsipd exited with status $status after SIGTERM"
[[ ! -e $tmp/pjsipd.ctl ]] || fail "control socket left behind"
