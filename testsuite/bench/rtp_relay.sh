#!/usr/bin/env bash
# RTP relay load: CALLS bridged G.711 calls at 50 packets/s per direction for SECONDS, on
# loopback, through the media engine's relay threads (benches/rtp_relay.rs).
# Usage: testsuite/bench/rtp_relay.sh [CALLS [SECONDS]]   (default: 2000 20)
# Environment: RTP_BENCH_THREADS (relay threads, 0 = one per CPU), RTP_BENCH_GEN_THREADS
# (load generator threads, default 1), RTP_BENCH_PORT (first RTP port, default 20000),
# RTP_BENCH_WARMUP (seconds of load not counted, default 0).
# MODE=kernel: `[media] kernel_forwarding` (nftables NAT), run as root in a network namespace
# of its own with IP forwarding on; MODE=direct: the phones send to each other (what the load
# generator alone costs); MODE=user (default): the relay threads relay everything.
# Prints packets sent/relayed, loss %, latency, relay-thread and whole-process CPU.
set -euo pipefail
cd "$(dirname "$0")/../.."
calls=${1:-2000}
seconds=${2:-20}
mode=${MODE:-user}
cargo bench --bench rtp_relay --no-run >/dev/null 2>&1 || cargo bench --bench rtp_relay --no-run
run=(timeout $((seconds + ${RTP_BENCH_WARMUP:-0} + 300)) cargo bench --bench rtp_relay -- "$calls" "$seconds")
case "$mode" in
user) exec "${run[@]}" ;;
direct) RTP_BENCH_DIRECT=1 exec "${run[@]}" ;;
kernel)
    ns=pjsipd-rtpbench-$$
    ip netns add "$ns"
    trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
    ip netns exec "$ns" ip link set lo up
    ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
    RTP_BENCH_KERNEL=1 ip netns exec "$ns" "${run[@]}"
    ;;
*) echo "MODE must be user, kernel or direct" >&2; exit 2 ;;
esac
