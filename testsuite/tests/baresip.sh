#!/usr/bin/env bash
# A real phone, baresip, registering with digest auth against the daemon over UDP on
# 127.0.0.1 (endpoint alice, auth=alice-auth: username alice, password swordfish; aor alice,
# max_contacts=1), driven over its ctrl_tcp interface (netstring-framed JSON):
#   register    `uanew <sip:alice@127.0.0.1:PORT>;auth_pass=swordfish`: baresip sends REGISTER,
#               gets 401, answers the challenge, gets 200 (its REGISTER_OK event and its
#               "alice@127.0.0.1: {0/UDP/v4} 200 OK" line); the daemon logs "Added contact
#               'sip:alice...@127.0.0.1:<baresip port>' to AOR 'alice'" and `pjsip show
#               contacts` lists it under alice
#   unregister  `quit`: baresip sends REGISTER with Expires: 0; the daemon logs "Removed
#               contact '<uri>' from AOR 'alice' due to request" and `pjsip show contacts`
#               no longer lists it (within 5 s)
# Every case runs and is reported; the script fails at the end if any case failed.
# PJSIPD_BIN selects the daemon binary (default target/debug/pjsipd, built when missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in baresip python3 md5sum; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing (testsuite/run installs it)" >&2; exit 1; }
done
. testsuite/lib/daemon.sh
started=$SECONDS

failures=()
fail() { # id message
    failures+=("$1: $2")
    echo "FAIL: $1: $2" >&2
}

# Ports free on 127.0.0.1 for UDP and TCP: the daemon, baresip's SIP (it listens on UDP and
# TCP at sip_listen, TLS one port up), its ctrl_tcp, and 10 for its RTP.
mapfile -t ports < <(python3 <<'PY'
import random, socket
def free(port, kinds):
    socks = []
    try:
        for kind in kinds:
            socks.append(socket.socket(socket.AF_INET, kind))
            socks[-1].bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        for s in socks:
            s.close()
both = (socket.SOCK_DGRAM, socket.SOCK_STREAM)
found = []
for base in random.sample(range(20000, 60000, 20), 200):
    if all(free(p, both) for p in range(base, base + 16)):
        found = [base, base + 1, base + 4, base + 6]
        break
print("\n".join(map(str, found)))
PY
)
((${#ports[@]} == 4)) || { echo "FAIL: could not find free ports" >&2; exit 1; }
dport=${ports[0]} bport=${ports[1]} cport=${ports[2]} rtp=${ports[3]}

cat >"$dir/pjsip.conf" <<CONF
[transport-udp]
type=transport
protocol=udp
bind=127.0.0.1:$dport

[alice]
type=endpoint
context=default
auth=alice-auth
aors=alice

[alice-auth]
type=auth
auth_type=userpass
username=alice
password=swordfish

[alice]
type=aor
max_contacts=1
CONF
write_settings

# baresip: no account at start (the account comes over ctrl_tcp, so its REGISTER_OK cannot
# be missed), SIP and ctrl_tcp on our ports, no audio devices.
mkdir -p "$dir/baresip" "$dir/home"
cat >"$dir/baresip/config" <<CONF
poll_method		epoll
sip_listen		127.0.0.1:$bport
sip_trans_def		udp
rtp_ports		$rtp-$((rtp + 9))
module_path		/usr/lib/baresip/modules
module			g711.so
module_app		account.so
module_app		menu.so
module_app		ctrl_tcp.so
ctrl_tcp_listen		127.0.0.1:$cport
CONF
: >"$dir/baresip/accounts"

start_daemon
grep -q "PJSIP Logging enabled" <<<"$(rx "pjsip set logger on")" \
    || { echo "FAIL: pjsip set logger on" >&2; exit 1; }

bpid=""
ctl_pid=""
stop_baresip() {
    local p
    for p in $ctl_pid $bpid; do
        kill "$p" 2>/dev/null || true
    done
    for p in $ctl_pid $bpid; do
        wait "$p" 2>/dev/null || true
    done
}
cleanup_hooks+=(stop_baresip)
# -s: its SIP trace goes to its log too.
HOME="$dir/home" timeout 60 baresip -n 127.0.0.1 -s -f "$dir/baresip" >"$dir/baresip.log" 2>&1 &
bpid=$!

# The ctrl_tcp client, in the background for the whole run: connects (5 s at most), creates
# the account, prints every reply and event (one JSON a line) to ctrl.log until the
# account's REGISTER_OK or REGISTER_FAIL (10 s at most); then waits for the file
# $dir/quit (30 s at most), sends quit, and reads until baresip closes the connection (5 s).
python3 - "$cport" "<sip:alice@127.0.0.1:$dport;transport=udp>;auth_pass=swordfish;regint=60" "$dir/quit" \
    >"$dir/ctrl.log" 2>&1 <<'PY' &
import json, os, socket, sys, time
port, account, go = int(sys.argv[1]), sys.argv[2], sys.argv[3]
deadline = time.time() + 5
while True:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=1)
        break
    except OSError:
        if time.time() > deadline:
            print("cannot connect to ctrl_tcp", flush=True)
            sys.exit(1)
        time.sleep(0.1)
buf = b""
closed = False
def send(command, params=""):
    m = json.dumps({"command": command, "params": params, "token": command}).encode()
    s.sendall(str(len(m)).encode() + b":" + m + b",")
def read(until, seconds):
    """Prints messages until one satisfies until(msg) (True) or the time is up (False)."""
    global buf, closed
    end = time.time() + seconds
    while True:
        while b":" in buf:
            n, _, rest = buf.partition(b":")
            if len(rest) < int(n) + 1:
                break
            msg = json.loads(rest[: int(n)])
            buf = rest[int(n) + 1 :]
            print(json.dumps(msg), flush=True)
            if until(msg):
                return True
        left = end - time.time()
        if closed or left <= 0:
            return False
        s.settimeout(left)
        try:
            d = s.recv(65536)
        except socket.timeout:
            return False
        if not d:
            print("connection closed", flush=True)
            closed = True
            return until(None)
        buf += d
reg = lambda m: m is not None and m.get("type") in ("REGISTER_OK", "REGISTER_FAIL")
send("uanew", account)
if not read(reg, 10):
    print("no registration event within 10 s", flush=True)
deadline = time.time() + 30
while not closed and not os.path.exists(go) and time.time() < deadline:
    read(lambda m: False, 0.1)
send("quit")
read(lambda m: m is None, 5)
PY
ctl_pid=$!

# wait_for FILE TEXT SECONDS: FILE has a line containing TEXT within SECONDS.
wait_for() {
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        grep -qF -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# cli_has URI: `pjsip show contacts` has a row alice/URI (cut to the column's 40
# characters) whose Hash column is the start of the MD5 of URI.
cli_has() {
    local want="alice/$1" hash
    hash=$(printf '%s' "$1" | md5sum | cut -c1-10)
    rx "pjsip show contacts" 2>/dev/null | awk -v want="$want" -v hash="$hash" '
        $1 == "Contact:" && index(want, $2) == 1 && length($2) >= 20 && $3 == hash { found = 1 }
        END { exit !found }'
}

uri=""
case_register() {
    local id=register
    wait_for "$dir/ctrl.log" '"REGISTER_' 10 \
        || { fail "$id" "no REGISTER_OK event from baresip within 10 s: $(tail -3 "$dir/ctrl.log" | paste -sd' ')"; return; }
    grep -q '"type": "REGISTER_OK"' "$dir/ctrl.log" \
        || fail "$id" "baresip's registration failed: $(grep -F '"REGISTER_' "$dir/ctrl.log" | head -1)"
    wait_for "$dir/baresip.log" "alice@127.0.0.1: {0/UDP/v4} 200 OK" 2 \
        || fail "$id" "no \"alice@127.0.0.1: {0/UDP/v4} 200 OK\" in baresip's output"
    grep -q "401 Unauthorized" "$dir/baresip.log" \
        || fail "$id" "baresip was not challenged (no 401 in its SIP trace): the endpoint has auth=alice-auth"
    # Its Contact user is alice-<pointer> in baresip 1.0.
    uri=$(grep -oE "Added contact 'sip:alice[^@']*@127\.0\.0\.1:${bport}[^']*' to AOR 'alice'" "$dir/daemon.log" \
        | head -1 | sed -E "s/^Added contact '([^']*)'.*/\1/" || true)
    [ -n "$uri" ] || { fail "$id" "no \"Added contact 'sip:alice...@127.0.0.1:$bport' to AOR 'alice'\" in the daemon log (found: $(grep -o "Added contact '[^']*' to AOR '[^']*'" "$dir/daemon.log" | paste -sd, || true))"; return; }
    cli_has "$uri" \
        || fail "$id" "pjsip show contacts has no row alice/$uri: $(rx "pjsip show contacts" 2>&1 | grep -F 'alice/' || echo none)"
}

case_unregister() {
    local id=unregister
    touch "$dir/quit"
    [ -n "$uri" ] || { fail "$id" "no contact registered"; return; }
    wait_for "$dir/daemon.log" "Removed contact '$uri' from AOR 'alice' due to request" 5 \
        || fail "$id" "no \"Removed contact '$uri' from AOR 'alice' due to request\" in the daemon log within 5 s of quit"
    if cli_has "$uri"; then
        fail "$id" "pjsip show contacts still lists alice/$uri after baresip quit"
    fi
}

cases=(register unregister)
for c in "${cases[@]}"; do
    before=${#failures[@]}
    "case_$c"
    [ "${#failures[@]}" -eq "$before" ] && echo "ok: $c"
done
kill -0 "$pid" 2>/dev/null || failures+=("daemon: it exited during the run")

if ((${#failures[@]})); then
    echo "--- baresip output (last lines):" >&2
    tail -20 "$dir/baresip.log" >&2
    echo "--- ctrl_tcp:" >&2
    cat "$dir/ctrl.log" >&2
    echo "FAIL: baresip: ${#failures[@]} failure(s) in ${#cases[@]} cases ($((SECONDS - started)) s):" >&2
    printf '  %s\n' "${failures[@]}" >&2
    exit 1
fi
echo "baresip: ${#cases[@]} cases passed in $((SECONDS - started)) s"
