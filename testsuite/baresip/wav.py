"""What a baresip heard or sent: reads the WAV file sndfile wrote and prints
"PACKETS HZ RMS": PACKETS is its length in 20 ms packets (sndfile writes every decoded
packet, so for the -dec file it is the RTP packets received), HZ the tone's frequency from
zero crossings and RMS its loudness (silence is ~0). Prints "0 0 0" when there is no file.

usage: wav.py DIR dec|enc
"""
import glob
import math
import struct
import sys
import wave

files = sorted(glob.glob("%s/dump-*-%s.wav" % (sys.argv[1], sys.argv[2])))
if not files:
    print("0 0 0")
    sys.exit(0)
with wave.open(files[-1]) as w:
    n, rate, ch, width = w.getnframes(), w.getframerate(), w.getnchannels(), w.getsampwidth()
    if width != 2 or rate <= 0 or ch <= 0:
        sys.exit("unexpected WAV format: %d bytes a sample, %d Hz, %d channels" % (width, rate, ch))
    n = min(n, rate * 600)  # a bound: ten minutes at most
    raw = w.readframes(n)
samples = struct.unpack("<%dh" % (len(raw) // 2), raw)[::ch]
seconds = len(samples) / rate
if not samples:
    print("0 0 0")
    sys.exit(0)
rms = math.sqrt(sum(x * x for x in samples) / len(samples))
crossings = sum(1 for a, b in zip(samples, samples[1:]) if (a < 0) != (b < 0))
print("%d %d %d" % (round(seconds / 0.02), round(crossings / 2 / seconds), round(rms)))
