#!/usr/bin/env bash
# RTP relay load: CALLS bridged G.711 calls at 50 packets/s per direction for SECONDS, on
# loopback, through the media engine's relay threads (benches/rtp_relay.rs).
# Usage: testsuite/bench/rtp_relay.sh [CALLS [SECONDS]]   (default: 2000 20)
# Environment: RTP_BENCH_THREADS (relay threads, 0 = one per CPU), RTP_BENCH_GEN_THREADS
# (load generator threads, default 1), RTP_BENCH_PORT (first RTP port, default 20000).
# Prints packets sent/relayed, loss %, latency and relay-thread CPU % per 100 calls.
set -euo pipefail
cd "$(dirname "$0")/../.."
calls=${1:-2000}
seconds=${2:-20}
exec timeout $((seconds + 300)) cargo bench --bench rtp_relay -- "$calls" "$seconds"
