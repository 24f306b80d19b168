#!/usr/bin/env bash
# SIPVicious svwar (extension enumeration) against the daemon over UDP: it must find nothing,
# because a known user and an unknown user get the same 401 challenge.
#
# svwar first sends a request for a random extension to learn what "no such user" looks like,
# then walks its dictionary and reports every name whose response differs. Against a server
# that challenges unknown users like known ones it gives up: without --force at once ("replied
# with an authentication request for an unknown extension"), with --force at the first name
# whose response equals the random extension's ("We got an unknown response"). So:
#   - default mode, REGISTER, OPTIONS and INVITE, a dictionary of 1,000 names holding the real
#     ones: svwar must give up that way and find nothing;
#   - --force, each method, each real user (6001, 6002, alice) first in the dictionary: svwar
#     must get that user's 401 (it quotes it), find it the same as the unknown extension's
#     and find nothing, while the daemon identified the user (no 'No matching endpoint found'
#     for it) and logged 'No matching endpoint found' for the random extension;
#   - control: an endpoint without auth ('leaky', OPTIONS gets 200) first in the dictionary
#     is reported by svwar, which shows this svwar can find a user when the answers differ.
# Every svwar run must have reached the daemon: the daemon logs 'No matching endpoint found'
# for its random extension from svwar's source port. PJSIPD_BIN selects the daemon binary.
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in svwar python3; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing (testsuite/run installs it)" >&2; exit 1; }
done
. testsuite/lib/daemon.sh
runs=()
stop_scans() {
    for p in "${runs[@]}"; do
        kill "$p" 2>/dev/null || true
    done
}
cleanup_hooks+=(stop_scans)
started=$SECONDS

# Free UDP ports on 127.0.0.1: the daemon's, then one source port per svwar run.
mapfile -t ports < <(python3 - 20 <<'PY'
import random, socket, sys
want = int(sys.argv[1])
found = []
for port in random.sample(range(20000, 60000), 20 * want):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", port))
        found.append(port)
    except OSError:
        pass
    finally:
        s.close()
    if len(found) == want:
        break
print("\n".join(map(str, found)))
PY
)
((${#ports[@]} == 20)) || { echo "FAIL: could not find free ports" >&2; exit 1; }
port=${ports[0]}

real=(6001 6002 alice)
{
    cat <<CONF
[transport-udp]
type=transport
protocol=udp
bind=127.0.0.1:$port

; For the control run only: no auth, so OPTIONS from 'leaky' gets 200.
[leaky]
type=endpoint
context=default
identify_by=username
CONF
    for u in "${real[@]}"; do
        cat <<CONF

[$u]
type=endpoint
context=default
auth=$u-auth
identify_by=username

[$u-auth]
type=auth
auth_type=userpass
username=$u
password=secret-$u-$RANDOM$RANDOM
CONF
    done
} >"$dir/pjsip.conf"
write_settings
# svwar's OPTIONS goes to sip:<name>@...: the control endpoint's extension exists (200).
printf '[default]\nexten => leaky,1,Answer()\n' >"$dir/extensions.conf"
start_daemon

# 1,000 names: the real ones spread among 997 made-up ones (numbers and common names).
python3 - "$dir/names.txt" "${real[@]}" <<'PY'
import sys
path, real = sys.argv[1], sys.argv[2:]
words = ["admin", "test", "user", "guest", "office", "sales", "support", "reception",
         "bob", "carol", "dave", "eve", "frank", "grace", "heidi", "ivan", "mallory"]
names = words + [str(n) for n in range(1000, 1000 + 997 - len(words))]
for i, r in enumerate(real):
    names.insert(200 + 300 * i, r)
assert len(names) == 1000 and len(set(names)) == 1000
open(path, "w").write("\n".join(names) + "\n")
PY
[ "$(wc -l <"$dir/names.txt")" -eq 1000 ] || { echo "FAIL: the dictionary does not have 1000 names" >&2; exit 1; }
# With a given name first (for the --force runs).
first_dict() {
    { echo "$1"; grep -vxF "$1" "$dir/names.txt"; } >"$dir/names-$1.txt"
}

# Every run in parallel (svwar waits 3 s for late answers at the end of each).
next=1
declare -A RUN_PORT=()
start_run() { # id method dictionary [svwar options...]
    local id=$1 method=$2 dict=$3 p=${ports[next]}
    shift 3
    next=$((next + 1))
    RUN_PORT[$id]=$p
    HOME="$dir" timeout 60 svwar -d "$dict" -m "$method" -P "$p" -b 127.0.0.1 -vv "$@" \
        "udp://127.0.0.1:$port" >"$dir/$id.out" 2>&1 &
    runs+=($!)
}
methods=(REGISTER OPTIONS INVITE)
for m in "${methods[@]}"; do
    start_run "default-$m" "$m" "$dir/names.txt"
    for u in "${real[@]}"; do
        first_dict "$u"
        start_run "force-$m-$u" "$m" "$dir/names-$u.txt" --force
    done
done
first_dict leaky
start_run control OPTIONS "$dir/names-leaky.txt" --force
for p in "${runs[@]}"; do
    wait "$p" || true
done
runs=()

failures=()
fail() { # id message
    failures+=("$1: $2")
    echo "FAIL: svwar $1: $2" >&2
    grep -v ':DEBUG:\|^DEBUG' "$dir/$1.out" 2>/dev/null | tail -c 1500 >&2 || true
    return 0
}
# What svwar reported, without its debug lines.
report() { grep -v 'DEBUG' "$dir/$1.out" || true; }

# The run reached the daemon: its random extension was handled as an unknown user.
reached() { # id method
    grep -F "Request '$2' from '<sip:" "$dir/daemon.log" \
        | grep -F "' failed for '127.0.0.1:${RUN_PORT[$1]}' (callid: " \
        | grep -- ") - No matching endpoint found$" >/dev/null
}

for m in "${methods[@]}"; do
    id=default-$m
    out=$(report "$id")
    if ! reached "$id" "$m"; then
        fail "$id" "no 'No matching endpoint found' for a $m from 127.0.0.1:${RUN_PORT[$id]}: svwar did not reach the daemon"
    elif ! grep -q "SIP server replied with an authentication request for an unknown extension" <<<"$out"; then
        fail "$id" "svwar did not see the challenge for its random extension"
    elif grep -q "extension '.*' exists\|we have [0-9]* extensions" <<<"$out" || ! grep -q "found nothing" <<<"$out"; then
        fail "$id" "svwar found extensions"
    fi
    for u in "${real[@]}"; do
        id=force-$m-$u
        out=$(report "$id")
        if ! reached "$id" "$m"; then
            fail "$id" "no 'No matching endpoint found' for a $m from 127.0.0.1:${RUN_PORT[$id]}: svwar did not reach the daemon"
        elif grep -q "extension '.*' exists\|we have [0-9]* extensions" <<<"$out" || ! grep -q "found nothing" <<<"$out"; then
            fail "$id" "svwar found extensions: the answer for '$u' differs from the answer for an unknown user"
        elif ! grep -q "Ok SIP device found" <<<"$out" \
            || ! grep -E "Response: 'SIP/2.0 (401 Unauthorized|100 Trying)\\\\r\\\\n" <<<"$out" | grep -F "From: \"$u\"<sip:$u@" >/dev/null; then
            # (an INVITE's 100 Trying may be the answer svwar quotes: it comes first)
            fail "$id" "svwar did not get a 401 for '$u' equal to the unknown extension's; svwar said: $out"
        elif grep -F "Request '$m' from '<sip:$u@" "$dir/daemon.log" \
            | grep -F "' failed for '127.0.0.1:${RUN_PORT[$id]}' " >/dev/null; then
            fail "$id" "the daemon did not identify '$u' (it logged a failure for it)"
        fi
    done
done
out=$(report control)
if ! reached control OPTIONS; then
    fail control "no 'No matching endpoint found' for an OPTIONS from 127.0.0.1:${RUN_PORT[control]}: svwar did not reach the daemon"
elif ! grep -q "extension 'leaky' .*exists" <<<"$out"; then
    fail control "svwar did not report the endpoint without auth: this svwar cannot find anything, so its 'found nothing' proves nothing"
fi
kill -0 "$pid" 2>/dev/null || failures+=("daemon: it exited during the scans")

total=$((${#methods[@]} * (1 + ${#real[@]}) + 1))
if ((${#failures[@]})); then
    echo "FAIL: svwar: ${#failures[@]} failure(s) in $total runs:" >&2
    printf '  %s\n' "${failures[@]}" >&2
    exit 1
fi
echo "svwar: found nothing in $((total - 1)) scans (${methods[*]}; 1,000 names; 6001, 6002, alice challenged like unknown users), found the endpoint without auth in the control scan, in $((SECONDS - started)) s"
