# Shared by the SIPp scenario scripts of testsuite/tests/: free ports, and the bookkeeping of
# cases that all run and are reported before the script fails. Source it after daemon.sh.
#
# Convention: no `grep -q` at the end of a pipeline whose input may be large (logs, SIPp
# traces). grep -q exits at the first match, the writer then dies of SIGPIPE, and under
# `set -o pipefail` the pipeline fails although it matched (an intermittent false FAIL);
# write `grep PATTERN >/dev/null` instead.

# free_ports N HOST...: fills `ports` with N ports, at least 3 apart, free for UDP and TCP on
# every HOST (default 127.0.0.1), with port+2 free for UDP too (SIPp binds its media port
# and media port+2); exits with FAIL when there are not enough. One python3 run: starting
# it is slow on a busy machine.
free_ports() {
    local want=$1
    shift
    mapfile -t ports < <(python3 - "$want" "${@:-127.0.0.1}" <<'PY'
import random, socket, sys
want, hosts = int(sys.argv[1]), sys.argv[2:]
def free(port):
    socks = []
    try:
        for host in hosts:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            for p, kind in ((port, socket.SOCK_DGRAM), (port, socket.SOCK_STREAM), (port + 2, socket.SOCK_DGRAM)):
                socks.append(socket.socket(family, kind))
                socks[-1].bind((host, p))
        return True
    except OSError:
        return False
    finally:
        for s in socks:
            s.close()
candidates = random.sample(range(20000, 60000, 3), 4 * want)
found = [p for p in candidates if free(p)][:want]
if len(found) < want:
    sys.exit("not enough free ports")
print("\n".join(map(str, found)))
PY
    )
    ((${#ports[@]} == want)) || { echo "FAIL: could not find free ports" >&2; exit 1; }
    next_port=0
}

# take_port: the next port of `ports` into `port`.
take_port() {
    ((next_port < ${#ports[@]})) || { echo "FAIL: out of free ports" >&2; exit 1; }
    port=${ports[next_port]}
    next_port=$((next_port + 1))
}

failures=()
# fail CASE MESSAGE: records a failed check (the script goes on, and fails at the end).
fail() {
    failures+=("$1: $2")
    echo "FAIL: $1: $2" >&2
}

# sipp_failed ID MESSAGE: fail, with what SIPp reported (its error file $dir/ID.err and the
# errors it printed in $dir/ID.out, not its statistics screen).
sipp_failed() {
    fail "$1" "$2"
    [ -s "$dir/$1.err" ] && { echo "--- SIPp errors ($1):" >&2; tail -c 1500 "$dir/$1.err" >&2; echo >&2; }
    grep -E '^[0-9]{4}-[0-9]{2}-[0-9]{2}' "$dir/$1.out" 2>/dev/null | tail -5 >&2
    return 0
}

# transports_conf PORT4 PORT6: pjsip.conf sections for UDP and TCP on 127.0.0.1:PORT4 and
# [::1]:PORT6 (transport-udp, transport-udp6, transport-tcp, transport-tcp6).
transports_conf() {
    local port4=$1 port6=$2
    cat <<CONF
[transport-udp]
type=transport
protocol=udp
bind=127.0.0.1:$port4

[transport-udp6]
type=transport
protocol=udp
bind=[::1]:$port6

[transport-tcp]
type=transport
protocol=tcp
bind=127.0.0.1:$port4

[transport-tcp6]
type=transport
protocol=tcp
bind=[::1]:$port6
CONF
}

# run_case CASE [TRANSPORT]: runs the function case_CASE (dashes as underscores) with
# TRANSPORT, and says "ok: CASE [over TRANSPORT]" when it recorded no failure.
run_case() {
    local c=$1 before=${#failures[@]}
    shift
    "case_${c//-/_}" "$@"
    [ "${#failures[@]}" -eq "$before" ] && echo "ok: $c${1:+ over $1}"
    return 0
}

# finish TITLE SUMMARY: fails with every recorded failure (a daemon that died or panicked
# counts; one the script stopped on purpose has an empty `pid`), else prints
# "TITLE: SUMMARY in N s". Needs `started` (SECONDS at the start).
finish() {
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
        failures+=("daemon: it exited during the run")
    fi
    if grep -qsF "panicked" "$dir"/*.log; then
        failures+=("daemon: it panicked (see its log)")
    fi
    if ((${#failures[@]})); then
        echo "FAIL: $1: ${#failures[@]} failure(s) ($((SECONDS - started)) s):" >&2
        printf '  %s\n' "${failures[@]}" >&2
        exit 1
    fi
    echo "$1: $2 in $((SECONDS - started)) s"
}

# wait_log TEXT: the daemon log ($dir/daemon.log) has a line containing TEXT (within 3 s).
wait_log() {
    for _ in $(seq 1 30); do
        grep -qF -- "$1" "$dir/daemon.log" && return 0
        sleep 0.1
    done
    return 1
}

# cli_lists AOR URI: `pjsip show contacts` has a row for that contact: its Aor/ContactUri
# column is AOR/URI (cut to the column's width, as Asterisk does) and its Hash column is the
# start of the MD5 of URI.
cli_lists() {
    local want="$1/$2" hash
    hash=$(printf '%s' "$2" | md5sum | cut -c1-10)
    rx "pjsip show contacts" 2>/dev/null | awk -v want="$want" -v hash="$hash" '
        $1 == "Contact:" && length($2) >= 20 && index(want, $2) == 1 && $3 == hash { found = 1 }
        END { exit !found }'
}

# wait_bound PORT [TENTHS]: something listens on 127.0.0.1:PORT over UDP (or TCP), within
# TENTHS tenths of a second (default 50).
wait_bound() {
    local tries=${2:-50}
    for _ in $(seq 1 "$tries"); do
        [ -n "$(ss -Hlntu "sport = :$1")" ] && return 0
        sleep 0.1
    done
    return 1
}
