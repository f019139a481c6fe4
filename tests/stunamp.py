#!/usr/bin/env python3
"""tests/stunamp.py - STUN Binding requests of each kind at a mediator
(tests/medattack.bats): what each draws back, from an address that never
showed a cookie.

    stunamp.py ADDR PORT

One request per case, from a fresh socket; every reply that comes back
within QUIET seconds of the last is counted, on that socket and (for
RESPONSE-PORT) on the port the request names. Prints one line a case,
"case NAME request BYTES replies N max BYTES mapped 0|1 other 0|1 addr
A:P" (A:P the first reply's XOR-MAPPED-ADDRESS, or -), then "over N":
the replies longer than their request. IPv4 or IPv6 by ADDR.
"""
import socket
import struct
import sys
import time
import zlib

QUIET = 0.4
COOKIE = 0x2112A442


def attr(t, v):
    pad = (4 - len(v) % 4) % 4
    return struct.pack("!HH", t, len(v)) + v + b"\0" * pad


def request(txid, attrs=b"", fingerprint=False):
    """A Binding request; FINGERPRINT last, over the rest (RFC 8489 14.7)."""
    n = len(attrs) + (8 if fingerprint else 0)
    m = struct.pack("!HHI", 0x0001, n, COOKIE) + txid + attrs
    if fingerprint:
        crc = (zlib.crc32(m) ^ 0x5354554E) & 0xFFFFFFFF
        m += attr(0x8028, struct.pack("!I", crc))
    return m


def attrs_of(m):
    """The attributes of a reply: type -> value."""
    out, off = {}, 20
    while off + 4 <= len(m):
        t, n = struct.unpack("!HH", m[off:off + 4])
        out[t] = m[off + 4:off + 4 + n]
        off += 4 + n + (4 - n % 4) % 4
    return out


def mapped(m):
    """XOR-MAPPED-ADDRESS of reply m as ADDR:PORT, or "-"."""
    v = attrs_of(m).get(0x0020)
    if v is None or len(v) < 8:
        return "-"
    port = struct.unpack("!H", v[2:4])[0] ^ (COOKIE >> 16)
    key = struct.pack("!I", COOKIE) + m[8:20]
    a = bytes(x ^ key[i] for i, x in enumerate(v[4:]))
    fam = socket.AF_INET if v[1] == 1 else socket.AF_INET6
    return "%s:%d" % (socket.inet_ntop(fam, a), port)


def collect(socks, deadline):
    got = []
    last = time.monotonic()
    while time.monotonic() - last < QUIET and time.monotonic() < deadline:
        for s in socks:
            try:
                d = s.recv(2048)
            except (BlockingIOError, ConnectionRefusedError):
                continue
            got.append(d)
            last = time.monotonic()
        time.sleep(0.01)
    return got


def main():
    addr, port = sys.argv[1], int(sys.argv[2])
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    change = lambda f: attr(0x0003, struct.pack("!I", f))
    padding = lambda n: attr(0x0026, b"\0" * n)
    over = 0
    cases = [
        ("bare", lambda rp: request(TX())),
        ("fingerprint", lambda rp: request(TX(), fingerprint=True)),
        ("change-port", lambda rp: request(TX(), change(0x02))),
        ("change-ip", lambda rp: request(TX(), change(0x04))),
        ("change-both", lambda rp: request(TX(), change(0x06))),
        ("change-port-fingerprint",
         lambda rp: request(TX(), change(0x02), True)),
        ("response-port",
         lambda rp: request(TX(), attr(0x0027, struct.pack("!HH", rp, 0)))),
        ("padded-64", lambda rp: request(TX(), padding(40))),
        ("padded-64-fingerprint", lambda rp: request(TX(), padding(32), True)),
        ("padded-64-change-port",
         lambda rp: request(TX(), change(0x02) + padding(32))),
        ("padded-100", lambda rp: request(TX(), padding(76))),
        ("padded-100-change-both-fingerprint",
         lambda rp: request(TX(), change(0x06) + padding(64), True)),
        ("padded-100-response-port",
         lambda rp: request(TX(), attr(0x0027, struct.pack("!HH", rp, 0)) +
                            padding(68))),
    ]
    n = [0]

    def TX():
        n[0] += 1
        return struct.pack("!III", 0x5354, 0x554E, n[0])

    for name, make in cases:
        s = socket.socket(fam, socket.SOCK_DGRAM)
        r = socket.socket(fam, socket.SOCK_DGRAM)	# RESPONSE-PORT's aim
        s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", 0))
        r.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", 0))
        s.setblocking(False)
        r.setblocking(False)
        m = make(r.getsockname()[1])
        s.sendto(m, (addr, port))
        got = collect([s, r], time.monotonic() + 3)
        big = max((len(d) for d in got), default=0)
        over += sum(1 for d in got if len(d) > len(m))
        a = set()
        for d in got:
            a |= set(attrs_of(d))
        print("case %s request %d replies %d max %d mapped %d other %d "
              "addr %s" % (name, len(m), len(got), big, 0x0020 in a,
                           0x802C in a, mapped(got[0]) if got else "-"))
        s.close()
        r.close()
    print("over %d" % over)


main()
