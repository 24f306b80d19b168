#!/usr/bin/env python3
"""Generates the pjsipd benchmark pjsip.conf: N endpoints, each with its aor and auth, built
from templates, plus three transports and a wizard trunk.

The text is byte for byte the one benches/config_load.rs generates (check with
`cargo bench --bench config_load -- --write-config FILE` and diff).

    gen_config.py [--endpoints N] [--change ID] [--endpoint-option NAME=VALUE ...] [-o FILE]

--change ID gives endpoint ID its own `context=changed-by-reload` line (a reload that changes
exactly one object). Endpoints are numbered from 6000; the benchmarks change 6000 + N/2.
"""

import argparse
import os
import sys

FIRST = 6000


def generate(endpoints, changed=None, extra=()):
    out = []
    w = out.append
    w(f"; pjsipd benchmark configuration: {endpoints} endpoints with aor and auth, from templates.\n"
      "; Generated; do not edit.\n\n")
    w("[global]\ntype=global\n\n")
    for name, protocol, bind in (
        ("transport-udp", "udp", "127.0.0.1:0"),
        ("transport-tcp", "tcp", "127.0.0.1:0"),
        ("transport-udp6", "udp", "[::1]:0"),
    ):
        w(f"[{name}]\ntype=transport\nprotocol={protocol}\nbind={bind}\n\n")
    w("[endpoint-tpl](!)\n"
      "type=endpoint\n"
      "context=from-internal\n"
      "disallow=all\n"
      "allow=ulaw,alaw,g722\n"
      "dtmf_mode=rfc4733\n"
      "transport=transport-udp\n"
      "identify_by=username,auth_username\n"
      "direct_media=no\n"
      "rtp_symmetric=yes\n"
      "force_rport=yes\n"
      "rewrite_contact=yes\n"
      "callerid_privacy=allowed_not_screened\n")
    for name, value in extra:
        w(f"{name}={value}\n")
    w("\n[aor-tpl](!)\n"
      "type=aor\n"
      "max_contacts=1\n"
      "qualify_frequency=60\n\n"
      "[auth-tpl](!)\n"
      "type=auth\n"
      "auth_type=userpass\n"
      "realm=pjsipd.example.com\n\n")
    for i in range(endpoints):
        ident = FIRST + i
        w(f"[{ident}](endpoint-tpl)\nauth={ident}\naors={ident}\n")
        if changed == ident:
            w("context=changed-by-reload\n")
        w(f"\n[{ident}](aor-tpl)\n\n[{ident}](auth-tpl)\nusername={ident}\n"
          f"password=pw{ident}x{(ident * 7919) % 100000}\n\n")
    w("[trunk]\n"
      "type=wizard\n"
      "transport=transport-udp\n"
      "remote_hosts=sip.provider.example.com:5060\n"
      "sends_auth=yes\n"
      "sends_registrations=yes\n"
      "outbound_auth/username=trunkuser\n"
      "outbound_auth/password=trunkpass\n"
      "endpoint/context=from-trunk\n"
      "endpoint/disallow=all\n"
      "endpoint/allow=ulaw\n"
      "aor/qualify_frequency=30\n")
    return "".join(out)


def option(text):
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name.strip(), value.strip()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--endpoints", type=int, default=10000, help="number of endpoints (default 10000)")
    p.add_argument("--change", type=int, metavar="ID",
                   help="endpoint whose context is changed (e.g. 11000)")
    p.add_argument("--endpoint-option", type=option, action="append", default=[],
                   metavar="NAME=VALUE", help="extra option in the endpoint template (repeatable)")
    p.add_argument("-o", "--output", help="file to write (default: standard output); written "
                   "to a temporary name and renamed, so a reader never sees half a file")
    args = p.parse_args()
    if args.endpoints < 0:
        p.error("--endpoints must be >= 0")
    text = generate(args.endpoints, args.change, args.endpoint_option)
    if args.output is None:
        sys.stdout.write(text)
        return
    tmp = f"{args.output}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, args.output)


if __name__ == "__main__":
    main()
