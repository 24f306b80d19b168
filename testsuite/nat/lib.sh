# A real NAT in network namespaces for a test: a phone host `lan` (10.201.1.2/24) behind a
# router `rtr` (10.201.1.1 inside, 10.201.2.1 outside) that masquerades what it forwards to
# the public side `wan` (10.201.2.0/24: the daemon on 10.201.2.2, and a second phone on the
# same host and address: a phone on another address of the same namespace would send from
# the daemon's address, the kernel's source for a local destination) and, like a home router, forwards from wan to lan only what belongs to a
# connection the lan side opened (conntrack). wan's default route points at the router, so a
# packet for a private 10.201.1.x address is dropped there silently, as on the Internet.
# Source it after testsuite/lib/daemon.sh. Needs root, ip (iproute2) and nft (nftables).
# The addresses exist only inside the namespaces; the namespace names carry the shell's pid
# and a random number, so parallel runs do not clash, and they are deleted on exit.

[ "$(id -u)" -eq 0 ] || { echo "FAIL: this test needs root (network namespaces)" >&2; exit 1; }
for tool in ip nft; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing (packages iproute2, nftables)" >&2; exit 1; }
done
nat_id="$$-$RANDOM"
ns_lan="pjsipd-lan-$nat_id" ns_rtr="pjsipd-rtr-$nat_id" ns_wan="pjsipd-wan-$nat_id"
lan_ip=10.201.1.2 rtr_lan_ip=10.201.1.1 rtr_wan_ip=10.201.2.1 daemon_ip=10.201.2.2 wan_phone_ip=10.201.2.2
nat_made=()

# nat_teardown: stops the daemon (it runs inside wan) and deletes the namespaces. A cleanup
# hook; run after bs_stop_all (hooks run in order).
nat_teardown() {
    local ns
    if [ -n "${pid:-}" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    for ns in "${nat_made[@]}"; do
        ip netns del "$ns" 2>/dev/null || true
    done
}
cleanup_hooks+=(nat_teardown)

# nat_setup: creates the three namespaces, their links, addresses, routes and the router's
# nftables rules; exits with FAIL when any step fails.
nat_setup() {
    local ns
    for ns in "$ns_lan" "$ns_rtr" "$ns_wan"; do
        ip netns add "$ns" || { echo "FAIL: ip netns add $ns" >&2; exit 1; }
        nat_made+=("$ns")
        ip -n "$ns" link set lo up
    done
    {
        ip link add lan0 netns "$ns_lan" type veth peer name in0 netns "$ns_rtr" &&
            ip link add wan0 netns "$ns_wan" type veth peer name out0 netns "$ns_rtr" &&
            ip -n "$ns_lan" addr add "$lan_ip/24" dev lan0 &&
            ip -n "$ns_lan" link set lan0 up &&
            ip -n "$ns_lan" route add default via "$rtr_lan_ip" &&
            ip -n "$ns_rtr" addr add "$rtr_lan_ip/24" dev in0 &&
            ip -n "$ns_rtr" addr add "$rtr_wan_ip/24" dev out0 &&
            ip -n "$ns_rtr" link set in0 up &&
            ip -n "$ns_rtr" link set out0 up &&
            ip -n "$ns_wan" addr add "$daemon_ip/24" dev wan0 &&
            ip -n "$ns_wan" link set wan0 up &&
            ip -n "$ns_wan" route add default via "$rtr_wan_ip" &&
            ip netns exec "$ns_rtr" sysctl -qw net.ipv4.ip_forward=1 &&
            ip netns exec "$ns_rtr" nft -f - <<'NFT'
table ip nat {
    chain masq {
        type nat hook postrouting priority 100; policy accept;
        oifname "out0" masquerade
    }
}
table ip filter {
    chain lan_guard {
        type filter hook forward priority 0; policy drop;
        ct state established,related accept
        iifname "in0" oifname "out0" accept
    }
}
NFT
    } || { echo "FAIL: could not set up the NAT namespaces" >&2; exit 1; }
}

# start_daemon_in_wan [LOG]: start_daemon, but inside the wan namespace (the control socket
# is a file in $dir, so `rx` works from here).
start_daemon_in_wan() {
    local log="$dir/${1:-daemon.log}"
    ip netns exec "$ns_wan" "$bin" --config-dir "$dir" >"$log" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do
        rx "core show version" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    cat "$log" >&2
    echo "FAIL: daemon did not start" >&2
    exit 1
}

# stop_daemon: stops the daemon (a later start_daemon_in_wan starts a new one).
stop_daemon() {
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
}
