#!/usr/bin/env python3
"""Checks that the µ-law RTP a listener recorded is the A-law of a pcap, transcoded
(testsuite/tests/sipp_calls.sh, case transcode).

Usage: g711_check.py PCAP LISTENED

PCAP: the RTP (A-law, PT 8) a caller played, as a libpcap file of Ethernet/IPv4/UDP frames.
LISTENED: what testsuite/sipp/rtp_listen.py printed with its "payload" argument; only its
lines of PT 0 count. Both sides are decoded to linear samples (G.711, no audioop: Python
3.13 has none) and the received stream is aligned on the played one (by its loudest 20 ms,
at a 1 ms step); every received sample must then be within the quantisation error of the
played one. Exits 0 and prints "ok: N samples match at offset O", else exits 1 saying why.
"""
import struct
import sys

MAX_PCAP_BYTES = 10_000_000


def alaw_to_linear(a):
    a ^= 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    if seg == 0:
        t += 8
    else:
        t = (t + 0x108) << (seg - 1)
    return t if a & 0x80 else -t


def ulaw_to_linear(u):
    u = ~u & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return 0x84 - t if u & 0x80 else t - 0x84


def pcap_payloads(path):
    with open(path, "rb") as f:
        data = f.read(MAX_PCAP_BYTES)
    if len(data) < 24 or struct.unpack("<I", data[:4])[0] != 0xA1B2C3D4:
        sys.exit("%s: not a little-endian libpcap file" % path)
    out = bytearray()
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack("<I", data[off + 8:off + 12])[0]
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        ip = frame[14:]
        if len(ip) < 20:
            continue
        rtp = ip[(ip[0] & 0x0F) * 4 + 8:]
        if len(rtp) > 12 and rtp[1] & 0x7F == 8:
            out += rtp[12 + 4 * (rtp[0] & 0x0F):]
    return bytes(out)


def listened_payloads(path):
    out = bytearray()
    with open(path) as f:
        for line in f:
            fields = dict(x.split("=", 1) for x in line.split() if "=" in x)
            if fields.get("pt") == "0" and "payload" in fields:
                out += bytes.fromhex(fields["payload"])
    return bytes(out)


def mismatches(played, got, offset):
    bad = 0
    for i, g in enumerate(got):
        want = played[offset + i]
        if abs(g - want) > max(32, abs(want) // 8):
            bad += 1
    return bad


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    played_bytes = pcap_payloads(sys.argv[1])
    played = [alaw_to_linear(b) for b in played_bytes]
    got_bytes = listened_payloads(sys.argv[2])
    got = [ulaw_to_linear(b) for b in got_bytes]
    if len(got) < 1600:
        print("only %d PCMU samples received (want at least 1600, 200 ms)" % len(got))
        sys.exit(1)
    # Aligned on the loudest 20 ms received: silence would match anywhere.
    start = max(range(0, len(got) - 159, 160), key=lambda i: sum(abs(x) for x in got[i:i + 160]))
    window = got[start:start + 160]
    best = None
    for offset in range(0, len(played) - len(got) + 1, 8):
        bad = mismatches(played, window, offset + start)
        if best is None or bad < best[0]:
            best = (bad, offset)
        if bad == 0:
            break
    if best is None:
        print("received %d samples, more than the %d played" % (len(got), len(played)))
        sys.exit(1)
    offset = best[1]
    bad = mismatches(played, got, offset)
    if bad > len(got) // 100:
        same = " (the bytes are the A-law ones)" if got_bytes[:160] in played_bytes else ""
        print("%d of %d samples differ from the played A-law at the best offset %d%s"
              % (bad, len(got), offset, same))
        sys.exit(1)
    print("ok: %d samples match at offset %d" % (len(got), offset))


if __name__ == "__main__":
    main()
