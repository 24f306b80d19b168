#!/usr/bin/env bash
# The two-baresip call of baresip_call.sh with `[media] kernel_forwarding = true`, in a
# network namespace of its own: the relay hands the bridged RTP to the kernel (nftables
# NAT) and takes it back at hangup. See baresip_call.sh for the cases.
KERNEL=1 exec bash "$(dirname "$0")/baresip_call.sh" "$@"
