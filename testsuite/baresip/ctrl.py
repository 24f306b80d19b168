"""A ctrl_tcp client for one baresip, kept for the whole test run.

usage: ctrl.py PORT CMDFILE LOG SECONDS

Connects to baresip's ctrl_tcp on 127.0.0.1:PORT (retrying for 5 s), then every 50 ms reads
the lines appended to CMDFILE since the last look; each line is "command params" and is
sent as one netstring-framed JSON request (token: its line number, from 1). Every reply and
event is written to LOG as one JSON object a line, flushed at once, so the shell can wait
for a text in it; a reply's text is also written whole to CMDFILE.<token>. Stops when
baresip closes the connection, 5 s after a "quit" line was sent, or after SECONDS in all (a
bound: a test never hangs on this client).
"""
import json
import os
import socket
import sys
import time

port, cmdfile, logname, lifetime = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
end = time.time() + lifetime
log = open(logname, "a", buffering=1)


def note(obj):
    log.write(json.dumps(obj, sort_keys=True) + "\n")


deadline = time.time() + 5
while True:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=1)
        break
    except OSError:
        if time.time() > deadline:
            note({"client": "cannot connect to ctrl_tcp"})
            sys.exit(1)
        time.sleep(0.1)
note({"client": "connected"})

buf = b""
offset = 0
token = 0
quit_at = None
while time.time() < end and (quit_at is None or time.time() < quit_at + 5):
    # New command lines (only whole lines: the shell appends one line at a time).
    try:
        with open(cmdfile, "rb") as f:
            f.seek(offset)
            chunk = f.read()
    except FileNotFoundError:
        chunk = b""
    while b"\n" in chunk:
        line, _, chunk = chunk.partition(b"\n")
        offset += len(line) + 1
        token += 1
        command, _, params = line.decode().strip().partition(" ")
        if not command:
            continue
        m = json.dumps({"command": command, "params": params, "token": str(token)}).encode()
        s.sendall(str(len(m)).encode() + b":" + m + b",")
        note({"client": "sent", "command": command, "params": params, "token": str(token)})
        if command == "quit":
            quit_at = time.time()
    s.settimeout(0.05)
    try:
        d = s.recv(65536)
    except socket.timeout:
        continue
    except OSError as e:
        note({"client": "error %s" % e})
        break
    if not d:
        note({"client": "connection closed"})
        break
    buf += d
    # Netstrings: <len>:<json>,  (bounded: a length that is not a number ends the run).
    while b":" in buf:
        n, _, rest = buf.partition(b":")
        if not n.isdigit() or len(n) > 8:
            note({"client": "bad frame %r" % buf[:40]})
            sys.exit(1)
        if len(rest) < int(n) + 1:
            break
        try:
            msg = json.loads(rest[: int(n)])
        except ValueError:
            msg = {"client": "bad json %r" % rest[: int(n)][:80]}
        note(msg)
        # A reply's text also goes to CMDFILE.<token>, for the shell to read whole.
        tok = str(msg.get("token", ""))
        if msg.get("response") and tok.isdigit():
            with open("%s.%s.tmp" % (cmdfile, tok), "w") as f:
                f.write(str(msg.get("data", "")))
            os.rename("%s.%s.tmp" % (cmdfile, tok), "%s.%s" % (cmdfile, tok))
        buf = rest[int(n) + 1 :]
