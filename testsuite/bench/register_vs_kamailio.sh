#!/usr/bin/env bash
# REGISTER with a digest challenge (REGISTER, 401, REGISTER with credentials, 200), one
# distinct user per call, per second over UDP: pjsipd and Kamailio 5.6 in the same run, same
# SIPp scenario (testsuite/bench/sipp-register-auth-load.xml, users from an injection file).
# pjsipd gets USERS endpoints with their aor and auth (password "secret"); Kamailio checks
# the same password for every user (its bench config), so it does less work per request.
# Part 2: 100,000 contacts registered (CONTACTS=...) on a daemon with 10,000 endpoints of
# max_contacts=10, its RSS, then kill -9 and a restart timed until every contact is back
# from the database.
# Usage: testsuite/bench/register_vs_kamailio.sh [RATE ...]   (default: 2000 5000 8000)
#        USERS=100000 (default) distinct users; each run registers RATE*10 of them (the
#        next ones each run, wrapping around).
# Needs: target/release/pjsipd (cargo build --release), sipp (sip-tester), kamailio.
# Loopback only; every run is bounded (10 s of load, 90 s timeout).
set -euo pipefail
cd "$(dirname "$0")/../.."
rates=("$@")
[ "$#" -eq 0 ] && rates=(2000 5000 8000)
users=${USERS:-100000}
for tool in sipp kamailio python3; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done
bin=$(pwd)/target/release/pjsipd
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 2; }
dir=$(mktemp -d)
pids=()
# SIGTERM first: Kamailio's main process then stops its workers (-9 would orphan them).
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 1
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    rm -rf "$dir"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pj_port=$(free_port); kam_port=$(free_port)

python3 - "$dir" "$pj_port" "$users" <<'PY'
import sys
d, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(f"{d}/pjsip.conf", "w") as f:
    f.write(f"[t]\ntype=transport\nprotocol=udp\nbind=127.0.0.1:{port}\n\n")
    f.write("[ep](!)\ntype=endpoint\ncontext=default\n[aor](!)\ntype=aor\nmax_contacts=1\n"
            "remove_existing=yes\nmaximum_expiration=3600\n[auth](!)\ntype=auth\npassword=secret\n\n")
    for i in range(1, n + 1):
        u = f"u{i:07d}"
        f.write(f"[{u}](ep)\nauth={u}\naors={u}\n[{u}](aor)\n[{u}](auth)\nusername={u}\n")
with open(f"{d}/users.csv", "w") as f:
    f.write("SEQUENTIAL\n")
    for i in range(1, n + 1):
        u = f"u{i:07d}"
        f.write(f"{u};[authentication username={u} password=secret]\n")
PY
printf '[daemon]\ncontrol_socket = "run/ctl"\ndata_dir = "data"\n[log]\nlevel = "warn"\n' >"$dir/pjsipd.toml"
start_pjsipd() {
    MIMALLOC_ARENA_EAGER_COMMIT=0 "$bin" --config-dir "$dir" >>"$dir/pjsipd.log" 2>&1 &
    pj_pid=$!
    pids+=($pj_pid)
}
start_pjsipd
sed -e "s/^listen=.*/listen=udp:127.0.0.1:$kam_port/" -e "s/^alias=.*/alias=\"127.0.0.1:$kam_port\"/" \
    -e 's/modparam("registrar", "max_contacts", 1)/modparam("registrar", "max_contacts", 1)\nmodparam("usrloc", "timer_interval", 600)/' \
    testsuite/bench/kamailio-register.cfg >"$dir/kamailio.cfg"
kamailio -f "$dir/kamailio.cfg" -A WITH_AUTH -DD -E -m 1024 -M 32 >"$dir/kamailio.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do "$bin" --config-dir "$dir" -rx "core show version" >/dev/null 2>&1 && break; sleep 0.1; done
sleep 1

offset=0
run() { # name port rate
    local stat="$dir/$1-$3.csv" count=$(($3 * 10))
    # Each run takes the next users (a fresh registration each time, not a refresh).
    python3 - "$dir/users.csv" "$offset" "$count" >"$dir/users-run.csv" <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines()[1:]
off, n = int(sys.argv[2]), int(sys.argv[3])
print("SEQUENTIAL")
print("\n".join(lines[off % len(lines):][:n]))
PY
    timeout 90 sipp "127.0.0.1:$2" -sf testsuite/bench/sipp-register-auth-load.xml -inf "$dir/users-run.csv" \
        -i 127.0.0.1 -p 0 -r "$3" -m "$count" -l 50000 -buff_size 4194304 -nostdin -timeout 60s \
        -trace_stat -stf "$stat" >/dev/null 2>&1 || true
    python3 - "$1" "$3" "$stat" <<'PY'
import csv, sys
name, rate, stat = sys.argv[1:4]
rows = list(csv.reader(open(stat), delimiter=';'))
d = dict(zip(rows[0], rows[-1]))
print(f"{name:9} offered {rate:>6}/s: achieved {float(d['CallRate(C)']):8.1f}/s, "
      f"{d['SuccessfulCall(C)']} ok, {d['FailedCall(C)']} failed, mean rtt {d['ResponseTime1(C)']}")
PY
}
for rate in "${rates[@]}"; do
    run pjsipd "$pj_port" "$rate"
    run kamailio "$kam_port" "$rate"
    offset=$((offset + rate * 10))
done

kill -9 "$pj_pid" 2>/dev/null || true

# Part 2: 100,000 registered contacts held by one daemon (10,000 endpoints with
# max_contacts=10 by default, PER_AOR=N to change: the configuration's own memory, about
# 7 kB per endpoint+aor+auth, would otherwise hide the contacts'), its RSS, then kill -9
# and a restart timed until every contact is back. Every 200 OK lists all the AOR's
# bindings, and over UDP its transaction keeps it 32 s (Timer J): PER_AOR=100 at 2,000/s
# holds some 64,000 such answers of ~7 kB at the peak.
contacts=${CONTACTS:-100000}
per_user=${PER_AOR:-10}
nusers=$(( (contacts + per_user - 1) / per_user ))
rm -rf "$dir/data" "$dir/run"
python3 - "$dir" "$pj_port" "$nusers" "$per_user" <<'PY'
import sys
d, port, n, per = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
with open(f"{d}/pjsip.conf", "w") as f:
    f.write(f"[t]\ntype=transport\nprotocol=udp\nbind=127.0.0.1:{port}\n\n")
    f.write(f"[ep](!)\ntype=endpoint\ncontext=default\n[aor](!)\ntype=aor\nmax_contacts={per}\n"
            "maximum_expiration=3600\n[auth](!)\ntype=auth\npassword=secret\n\n")
    for i in range(1, n + 1):
        u = f"u{i:07d}"
        f.write(f"[{u}](ep)\nauth={u}\naors={u}\n[{u}](aor)\n[{u}](auth)\nusername={u}\n")
with open(f"{d}/fill.csv", "w") as f:
    f.write("SEQUENTIAL\n")
    for k in range(per):
        for i in range(1, n + 1):
            u = f"u{i:07d}"
            f.write(f"{u};[authentication username={u} password=secret];{k}\n")
PY
# One contact per call: the Contact user names the call.
sed 's#Contact: <sip:\[field0\]@#Contact: <sip:[field0]-[field2]@#' \
    testsuite/bench/sipp-register-auth-load.xml >"$dir/fill.xml"
start_pjsipd
for _ in $(seq 1 300); do "$bin" --config-dir "$dir" -rx "core show version" >/dev/null 2>&1 && break; sleep 0.1; done
echo "pjsipd VmRSS with $nusers endpoints and no contact: $(grep VmRSS /proc/$pj_pid/status | awk '{print $2/1024 " MB"}')"
timeout 150 sipp "127.0.0.1:$pj_port" -sf "$dir/fill.xml" -inf "$dir/fill.csv" -i 127.0.0.1 -p 0 \
    -r "${FILL_RATE:-2000}" -m "$contacts" -l 50000 -buff_size 4194304 -nostdin -timeout 110s >/dev/null 2>&1 || true
held() { "$bin" --config-dir "$dir" -rx "pjsip show registrar" 2>/dev/null | awk -F: '/Contacts held/ {gsub(/ /,"",$2); print $2}'; }
"$bin" --config-dir "$dir" -rx "pjsip show registrar"
echo "pjsipd VmRSS with $(held) contacts, right after the load: $(grep VmRSS /proc/$pj_pid/status | awk '{print $2/1024 " MB"}')"
# Transactions of the load end after Timer J (32 s over UDP).
sleep 40
echo "pjsipd VmRSS with $(held) contacts, 40 s later: $(grep VmRSS /proc/$pj_pid/status | awk '{print $2/1024 " MB"}')"
# Let the database writer catch up, then kill -9 and time the restart.
for _ in $(seq 1 100); do
    pending=$("$bin" --config-dir "$dir" -rx "pjsip show registrar" | awk -F: '/Database pending/ {gsub(/ /,"",$2); print $2}')
    [ "${pending:-1}" = 0 ] && break; sleep 0.1
done
before=$(held)
kill -9 "$pj_pid"; wait "$pj_pid" 2>/dev/null || true
t0=$(date +%s.%N)
start_pjsipd
for _ in $(seq 1 600); do
    n=$(held || true)
    [ -n "$n" ] && [ "$n" -ge "$before" ] && break
    sleep 0.02
done
t1=$(date +%s.%N)
echo "restart after kill -9: $(held) of $before contacts back, serving after $(python3 -c "print(f'{$t1-$t0:.2f}')") s"
echo "pjsipd VmRSS after restart: $(grep VmRSS /proc/$pj_pid/status | awk '{print $2/1024 " MB"}')"
