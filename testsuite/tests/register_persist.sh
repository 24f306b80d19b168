#!/usr/bin/env bash
# Registered contacts survive the daemon (the contact database, <data_dir>/contacts.db),
# over UDP on 127.0.0.1, with the SIPp scenarios of testsuite/sipp/:
#   survives-kill     a contact registered with Expires: 300 is back after `kill -9` and a
#                     restart on the same directory: a query REGISTER lists it with
#                     ;expires <= 300 (and `pjsip show contacts` does, once it lists
#                     registered contacts)
#   expired-in-death  a contact registered with Expires: 5 (minimum_expiration=1), the daemon
#                     killed with -9, restarted 6 s later: the contact is gone
#   corrupt-database  the daemon stopped, garbage written over data/contacts.db: the daemon
#                     starts, logs a warning or error naming contacts.db, and serves REGISTER
#   config-removal    the endpoint and AOR of a registered contact removed from pjsip.conf:
#                     `pjsip reload` removes the contact, and it is not back after a restart
# Every case runs and is reported; the script fails at the end if any case failed.
# PJSIPD_BIN selects the daemon binary (default target/debug/pjsipd, built when missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in sipp python3; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing (testsuite/run installs it)" >&2; exit 1; }
done
. testsuite/lib/daemon.sh
. testsuite/lib/cases.sh
started=$SECONDS

# Ports free for UDP and TCP (testsuite/lib/cases.sh), taken in order.
free_ports 12
sip_port=${ports[0]}
p_pers=${ports[1]} p_short=${ports[2]} p_corrupt=${ports[3]} next_media=4

cat >"$dir/pjsip.conf" <<CONF
[transport-udp]
type=transport
protocol=udp
bind=127.0.0.1:$sip_port

[rpers]
type=endpoint
context=default
identify_by=username
aors=rpers

[rpers]
type=aor
max_contacts=1

[rshort]
type=endpoint
context=default
identify_by=username
aors=rshort

[rshort]
type=aor
max_contacts=1
minimum_expiration=1

[rcorrupt]
type=endpoint
context=default
identify_by=username
aors=rcorrupt

[rcorrupt]
type=aor
max_contacts=1
CONF
write_settings
start_daemon daemon-1.log
log=$dir/daemon-1.log


# sipp_run ID SCENARIO LOCAL_PORT [sipp options...]: one call from 127.0.0.1:LOCAL_PORT.
sipp_run() {
    local id=$1 scenario=$2 lport=$3 mport=${ports[next_media]}
    shift 3
    next_media=$((next_media + 1))
    timeout 30 sipp "127.0.0.1:$sip_port" -sf "testsuite/sipp/$scenario" -t u1 -i 127.0.0.1 \
        -p "$lport" -mp "$mport" -m 1 -nostdin -timeout 20s -recv_timeout 5s -cid_str "$id-%u@%s" \
        -trace_err -error_file "$dir/$id.err" -trace_msg -message_file "$dir/$id.msg" "$@" >"$dir/$id.out" 2>&1
}


# kill_daemon: kill -9, and reap it.
kill_daemon() {
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
}

# stop_daemon: SIGTERM, bounded wait (10 s), then -9.
stop_daemon() {
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill_daemon
}

# --- survives-kill and expired-in-death: register both, kill -9, restart 6 s after the
# short one was registered.
pers_uri="sip:rpers@127.0.0.1:$p_pers;transport=UDP"
sipp_run pers-register register-bind.xml "$p_pers" -s rpers -key expires 300 \
    || sipp_failed pers-register "survives-kill: REGISTER with Expires: 300 did not get 200"
short_at=$SECONDS
sipp_run short-register register-bind.xml "$p_short" -s rshort -key expires 5 \
    || sipp_failed short-register "expired-in-death: REGISTER with Expires: 5 did not get 200"
# Durable once the 200 is sent (the database commits within milliseconds): wait until the
# CLI shows the contact, or 1 s when the CLI does not list registered contacts.
cli_saw=no
for _ in $(seq 1 10); do
    if cli_lists rpers "$pers_uri"; then cli_saw=yes; break; fi
    sleep 0.1
done
[ "$cli_saw" = yes ] || echo "NOTE: pjsip show contacts does not list rpers/$pers_uri; going on after 1 s" >&2
kill_daemon
while ((SECONDS - short_at < 7)); do sleep 0.2; done # more than 6 s after it was registered
start_daemon daemon-2.log
log=$dir/daemon-2.log

before=${#failures[@]}
sipp_run pers-query register-query-bind.xml "$p_pers" -s rpers \
    || sipp_failed pers-query "survives-kill: after kill -9 and a restart, a query does not list sip:rpers@127.0.0.1:$p_pers;transport=UDP with ;expires <= 300"
if [ "$cli_saw" = yes ] && ! cli_lists rpers "$pers_uri"; then
    fail survives-kill "after kill -9 and a restart, pjsip show contacts does not list rpers/$pers_uri"
fi
[ "${#failures[@]}" -eq "$before" ] && echo "ok: survives-kill"

before=${#failures[@]}
sipp_run short-query register-query-none.xml "$p_short" -s rshort \
    || sipp_failed short-query "expired-in-death: a contact registered for 5 s before kill -9 is listed after a restart 6 s later"
if grep -qF "rshort/" <<<"$(rx "pjsip show contacts" 2>/dev/null)"; then
    fail expired-in-death "pjsip show contacts lists an rshort contact after it expired"
fi
[ "${#failures[@]}" -eq "$before" ] && echo "ok: expired-in-death"

# --- corrupt-database
before=${#failures[@]}
stop_daemon
if [ ! -e "$dir/data/contacts.db" ]; then
    fail corrupt-database "there is no $dir/data/contacts.db after registrations and a stop (the daemon writes no contact database)"
fi
rm -f "$dir/data/contacts.db-wal" "$dir/data/contacts.db-shm"
head -c 4096 /dev/urandom >"$dir/data/contacts.db"
printf 'this is not an SQLite database\n' >>"$dir/data/contacts.db"
start_daemon daemon-3.log
log=$dir/daemon-3.log
found=no
for _ in $(seq 1 30); do
    if grep -E ' (WARN|ERROR) ' "$log" | grep -F "contacts.db" >/dev/null; then found=yes; break; fi
    sleep 0.1
done
[ "$found" = yes ] || fail corrupt-database "no WARN or ERROR line naming contacts.db in the log of a start on a corrupt database"
sipp_run corrupt-register register-bind.xml "$p_corrupt" -s rcorrupt -key expires 300 \
    || sipp_failed corrupt-register "after a start on a corrupt database, REGISTER did not get 200"
sipp_run corrupt-query register-query-bind.xml "$p_corrupt" -s rcorrupt \
    || sipp_failed corrupt-query "after a start on a corrupt database, a query did not list the contact just registered"
[ "${#failures[@]}" -eq "$before" ] && echo "ok: corrupt-database"

# --- config-removal: the rcorrupt endpoint and AOR leave pjsip.conf; a reload removes the
# contact registered above (from memory and from the database: it is not back after a
# restart).
before=${#failures[@]}
python3 - "$dir/pjsip.conf" <<'PY'
import re, sys
p = sys.argv[1]
text = open(p).read()
text = re.sub(r"\[rcorrupt\]\n(?:[^\[\n][^\n]*\n|\n)*", "", text)
open(p, "w").write(text)
PY
if grep -q rcorrupt "$dir/pjsip.conf"; then
    fail config-removal "could not remove rcorrupt from pjsip.conf"
fi
rx "pjsip reload" >/dev/null || fail config-removal "pjsip reload failed"
removed=no
for _ in $(seq 1 30); do
    if grep -qF "from AOR 'rcorrupt' due to configuration change" "$log"; then removed=yes; break; fi
    sleep 0.1
done
[ "$removed" = yes ] || fail config-removal "no 'Removed contact ... from AOR 'rcorrupt' due to configuration change' line after the reload"
if grep -qF "rcorrupt/" <<<"$(rx "pjsip show contacts" 2>/dev/null)"; then
    fail config-removal "pjsip show contacts still lists an rcorrupt contact after its AOR was removed"
fi
stop_daemon
start_daemon daemon-4.log
log=$dir/daemon-4.log
if grep -qF "rcorrupt/" <<<"$(rx "pjsip show contacts" 2>/dev/null)"; then
    fail config-removal "the removed AOR's contact is back after a restart"
fi
[ "${#failures[@]}" -eq "$before" ] && echo "ok: config-removal"

finish "register persistence" "4 cases passed"
