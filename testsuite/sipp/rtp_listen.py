#!/usr/bin/env python3
"""Records the RTP packets reaching 127.0.0.1:PORT for SECONDS (testsuite/tests/sipp_calls.sh).

Usage: rtp_listen.py PORT SECONDS [payload]

Prints one line per packet, in arrival order:
    pt=PT seq=SEQ marker=M len=N [event=E end=0|1 volume=V duration=D] [payload=HEX]
The event fields are there for 4-byte payloads (an RFC 4733 telephone-event, whatever the
payload type: the script decides which PT it expects); payload=HEX (the payload bytes) when
the third argument is "payload". Packets that are not RTP version 2
print "not-rtp len=N". At most 2000 packets are recorded; the run never exceeds SECONDS.
"""
import socket
import struct
import sys
import time

MAX_PACKETS = 2000


def describe(data, with_payload):
    if len(data) < 12 or data[0] >> 6 != 2:
        return "not-rtp len=%d" % len(data)
    cc = data[0] & 0x0F
    marker = data[1] >> 7
    pt = data[1] & 0x7F
    seq = struct.unpack("!H", data[2:4])[0]
    payload = data[12 + 4 * cc:]
    line = "pt=%d seq=%d marker=%d len=%d" % (pt, seq, marker, len(payload))
    if len(payload) == 4:
        event, flags, duration = struct.unpack("!BBH", payload)
        line += " event=%d end=%d volume=%d duration=%d" % (
            event, flags >> 7, flags & 0x3F, duration)
    if with_payload:
        line += " payload=" + payload.hex()
    return line


def main():
    if len(sys.argv) not in (3, 4) or sys.argv[3:] not in ([], ["payload"]):
        sys.exit(__doc__)
    port, seconds = int(sys.argv[1]), float(sys.argv[2])
    with_payload = sys.argv[3:] == ["payload"]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", port))
    deadline = time.monotonic() + seconds
    count = 0
    while count < MAX_PACKETS:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            data = sock.recv(2048)
        except socket.timeout:
            break
        print(describe(data, with_payload), flush=True)
        count += 1


if __name__ == "__main__":
    main()
