#!/usr/bin/env bash
# A flood of REGISTERs with wrong passwords (SIPp, 1,000 calls/s for 6 s, each REGISTER, 401,
# REGISTER with a wrong digest, 401) runs while 100 legitimate users register with the right
# password (20/s): every legitimate registration must succeed (SIPp exits 0, no failed
# call) and every flood call must get its second 401 (never a 200 or a 403). The legitimate
# users' mean response time under the flood is printed, not asserted (timings belong to
# benchmarks).
# PJSIPD_BIN selects the daemon binary (default target/debug/pjsipd, built when missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in sipp python3; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing (testsuite/run installs it)" >&2; exit 1; }
done
. testsuite/lib/daemon.sh
started=$SECONDS
port=$(free_port udp)
flood_port=$(free_port udp)
legit_port=$(free_port udp)

python3 - "$dir" "$port" <<'PY'
import sys
d, port = sys.argv[1], sys.argv[2]
with open(f"{d}/pjsip.conf", "w") as f:
    f.write(f"[t]\ntype=transport\nprotocol=udp\nbind=127.0.0.1:{port}\n\n")
    f.write("[ep](!)\ntype=endpoint\ncontext=default\n[aor](!)\ntype=aor\nmax_contacts=1\n"
            "remove_existing=yes\n[auth](!)\ntype=auth\npassword=secret\n\n")
    for i in range(1, 201):
        u = f"u{i:03d}"
        f.write(f"[{u}](ep)\nauth={u}\naors={u}\n[{u}](aor)\n[{u}](auth)\nusername={u}\n")
with open(f"{d}/legit.csv", "w") as f:
    f.write("SEQUENTIAL\n")
    for i in range(1, 101):
        f.write(f"u{i:03d};[authentication username=u{i:03d} password=secret]\n")
with open(f"{d}/flood.csv", "w") as f:
    f.write("RANDOM\n")
    for i in range(101, 201):
        for guess in ("123456", "password", "qwerty"):
            f.write(f"u{i:03d};[authentication username=u{i:03d} password={guess}]\n")
PY
write_settings $'[log]\nlevel = "error"\n'
start_daemon

timeout 60 sipp "127.0.0.1:$port" -sf testsuite/sipp/register-bad-password.xml -inf "$dir/flood.csv" \
    -i 127.0.0.1 -p "$flood_port" -r 1000 -m 6000 -l 20000 -buff_size 4194304 -nostdin \
    -timeout 50s -trace_stat -stf "$dir/flood.csv.stat" >"$dir/flood.out" 2>&1 &
flood=$!
sleep 1
legit_rc=0
timeout 60 sipp "127.0.0.1:$port" -sf testsuite/bench/sipp-register-auth-load.xml -inf "$dir/legit.csv" \
    -i 127.0.0.1 -p "$legit_port" -r 20 -m 100 -nostdin -timeout 50s \
    -trace_stat -stf "$dir/legit.stat" -trace_err -error_file "$dir/legit.err" \
    >"$dir/legit.out" 2>&1 || legit_rc=$?
flood_rc=0
wait "$flood" || flood_rc=$?

summary() { # stat file -> "ok failed mean-rtt"
    python3 - "$1" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1]), delimiter=';'))
d = dict(zip(rows[0], rows[-1]))
print(d["SuccessfulCall(C)"], d["FailedCall(C)"], d.get("ResponseTime1(C)", "n/a"))
PY
}
reasons() { # stat file -> SIPp's failure counters that are not zero
    python3 - "$1" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1]), delimiter=';'))
d = dict(zip(rows[0], rows[-1]))
print(", ".join(f"{k[6:-3]} {v}" for k, v in d.items()
                if k.startswith("Failed") and k.endswith("(C)") and k != "FailedCall(C)" and v not in ("0", "")))
PY
}
read -r legit_ok legit_failed legit_rtt < <(summary "$dir/legit.stat")
read -r flood_ok flood_failed _ < <(summary "$dir/flood.csv.stat")
echo "legitimate: $legit_ok registered, $legit_failed failed (sipp exit $legit_rc), mean response time $legit_rtt"
echo "flood: $flood_ok wrong-password attempts answered 401 twice, $flood_failed failed (sipp exit $flood_rc)"
fail=0
if [ "$legit_rc" != 0 ] || [ "$legit_ok" != 100 ] || [ "$legit_failed" != 0 ]; then
    echo "FAIL: legitimate registrations failed under the flood ($(reasons "$dir/legit.stat"))" >&2
    tail -20 "$dir/legit.out" >&2
    if [ -f "$dir/legit.err" ]; then tail -40 "$dir/legit.err" >&2; fi
    fail=1
fi
if [ "$flood_ok" -lt 5000 ]; then
    echo "FAIL: the flood did not happen as planned ($flood_ok calls answered 401, 401)" >&2
    tail -20 "$dir/flood.out" >&2
    fail=1
fi
held=$(rx "pjsip show registrar" | awk -F: '/Contacts held/ {gsub(/ /,"",$2); print $2}')
if [ "$held" != 100 ]; then
    echo "FAIL: $held contacts held, expected the 100 legitimate ones" >&2
    fail=1
fi
[ "$fail" = 0 ] || exit 1
echo "register flood: legitimate registrations unaffected, in $((SECONDS - started)) s"
