# Shared by the scripts in testsuite/tests/: the daemon binary, a scratch configuration
# directory removed on exit, starting the daemon (bounded wait) and stopping it.
# Source it from the repository root. It sets `bin`, `dir` and `pid`; a script that starts
# more processes adds a function name to `cleanup_hooks` to stop them on exit.
# PJSIPD_BIN selects the binary (default target/debug/pjsipd, built when missing).

bin=${PJSIPD_BIN:-target/debug/pjsipd}
[ -n "${PJSIPD_BIN:-}" ] || [ -x "$bin" ] || cargo build --quiet
[ -x "$bin" ] || { echo "FAIL: $bin is not an executable" >&2; exit 1; }
dir=$(mktemp -d)
pid=""
cleanup_hooks=()
cleanup() {
    local hook
    for hook in "${cleanup_hooks[@]}"; do
        "$hook" || true
    done
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    [ -n "${KEEP_DIR:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP PIPE

# pjsipd.toml with the control socket and data directory inside $dir; $1 is appended.
write_settings() {
    printf '[daemon]\ncontrol_socket = "run/ctl"\ndata_dir = "data"\n%s' "${1:-}" >"$dir/pjsipd.toml"
}

# pjsipd -rx COMMAND against the daemon of $dir.
rx() {
    "$bin" --config-dir "$dir" -rx "$1"
}

# Starts the daemon on $dir, logging to $dir/${1:-daemon.log}, and waits (10 s at most)
# until its control socket answers.
start_daemon() {
    local log="$dir/${1:-daemon.log}"
    "$bin" --config-dir "$dir" >"$log" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do
        rx "core show version" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    cat "$log" >&2
    echo "FAIL: daemon did not start" >&2
    exit 1
}

# A port free on ADDRESS for PROTOCOL: free_port [udp|tcp] [127.0.0.1|::1].
free_port() {
    python3 - "${1:-udp}" "${2:-127.0.0.1}" <<'PY'
import socket, sys
kind = socket.SOCK_DGRAM if sys.argv[1] == "udp" else socket.SOCK_STREAM
family = socket.AF_INET6 if ":" in sys.argv[2] else socket.AF_INET
s = socket.socket(family, kind)
s.bind((sys.argv[2], 0))
print(s.getsockname()[1])
PY
}
