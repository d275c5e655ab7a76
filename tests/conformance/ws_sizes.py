#!/usr/bin/env python3
"""ws_sizes.py -- every message size across the boundaries that matter,
sent by a raw-socket peer the way outsiders send: in one frame, in
fragments, trickled a byte (or a few) at a time, and many messages in one
write. Each message must be answered, and the connection must go on
answering after it. The gateway must run with a high rate limit and the
default --max-message (the MAX argument).
Usage: ws_sizes.py HOST PORT TOKEN MAX   (prints "ok - ..." lines and a summary)"""
import json
import os
import random
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsraw  # noqa: E402
from wsraw import check, close_code, frame, handshake, read_frame  # noqa: E402

HOST, PORT, TOKEN, MAX = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
wsraw.setup(HOST, PORT, TOKEN)
rnd = random.Random(6455)


def ping_message(n):
    """A ping action of exactly n bytes (n >= 17): JSON whitespace pads it."""
    return b'{"action":"ping"' + b" " * (n - 17) + b"}"


def answer(s):
    """The next text event's name (and error code), skipping control frames."""
    for _ in range(50):
        op, p = read_frame(s)
        if op is None:
            return None
        if op == 8:
            return "close:%d" % (struct.unpack("!H", p[:2])[0] if len(p) >= 2 else 0)
        if op == 1:
            ev = json.loads(p)
            if ev.get("event") == "error":
                return "error:" + ev["data"]["code"]
            return ev.get("event")
    return None


def fragments(msg, size):
    """msg as a text frame followed by continuation frames of size bytes."""
    parts = [msg[i:i + size] for i in range(0, len(msg), size)] or [b""]
    out = []
    for i, part in enumerate(parts):
        out.append(frame(1 if i == 0 else 0, part, fin=i == len(parts) - 1))
    return b"".join(out)


def trickle(s, data, step):
    for i in range(0, len(data), step):
        s.sendall(data[i:i + step])


SIZES = [18, 19, 124, 125, 126, 127, 1000, 4089, 4090, 4094, 4095, 4096, 4097, 4115, 5000,
         8191, 8192, 8193, 16383, 16384, 16385, 65535, 65536, 65537, MAX - 1, MAX]

# Tiny messages that are not actions still get an answer (an error event).
s, st, _ = handshake(query="session_id=sizes-small")
for n, want in [(0, "error:invalid_json"), (1, "error:invalid_json"), (2, "error:unknown_action"),
                (17, "pong")]:
    msg = b"x" if n == 1 else b"{}" if n == 2 else b"" if n == 0 else ping_message(17)
    s.sendall(frame(1, msg))
    got = answer(s)
    check(f"size {n}: answered ({want})", got == want, f"got {got}")
s.close()

# Each size: one frame, fragments, trickled; then a small ping on the same
# connection must still be answered.
for n in SIZES:
    msg = ping_message(n)
    assert len(msg) == n
    small = 1 if n <= 8193 else 1024
    modes = [("one frame", frame(1, msg), None),
             (f"fragments of {small}", fragments(msg, small), None),
             ("fragments of random sizes", None, None),
             ("one frame trickled %s" % ("bytewise" if n <= 8193 else "in 997-byte pieces"),
              frame(1, msg), 1 if n <= 8193 else 997)]
    s, st, _ = handshake(query="session_id=sizes-%d" % n, timeout=20)
    for name, data, step in modes:
        if data is None:
            parts, i = [], 0
            while i < n:
                k = rnd.randint(1, max(1, n // 3))
                parts.append(msg[i:i + k])
                i += k
            data = b"".join(frame(1 if j == 0 else 0, p, fin=j == len(parts) - 1)
                            for j, p in enumerate(parts))
        if step:
            trickle(s, data, step)
        else:
            s.sendall(data)
        got = answer(s)
        s.sendall(frame(1, ping_message(17)))
        after = answer(s)
        check(f"size {n}, {name}: answered, and the next message too",
              got == "pong" and after == "pong", f"got {got}, then {after}")
    s.close()

# Over the limit: closed with 1009 (one frame or fragments), never silence.
for name, data in [("one frame", frame(1, ping_message(MAX + 1))),
                   ("fragments of 4096", fragments(ping_message(MAX + 1), 4096))]:
    s, st, _ = handshake(query="session_id=sizes-over", timeout=20)
    s.sendall(data)
    code = close_code(s)
    check(f"size {MAX + 1} (max + 1), {name}: closed with 1009", code == 1009, f"got {code}")
    s.close()

# Many messages in one write: every one answered, in order.
for count, size in [(300, 50), (100, 4095), (40, 4097), (20, 9000), (3, 65537)]:
    s, st, _ = handshake(query="session_id=sizes-many", timeout=20)
    s.sendall(b"".join(frame(1, ping_message(size)) for _ in range(count)))
    got = [answer(s) for _ in range(count)]
    bad = [g for g in got if g != "pong"]
    check(f"{count} messages of {size} bytes in one write: all answered", not bad,
          f"{len(bad)} not answered; first {bad[:1]}")
    s.close()

# A mix of sizes and fragmentations in one write, then trickled.
s, st, _ = handshake(query="session_id=sizes-mix", timeout=20)
mix = [rnd.choice(SIZES[:-2]) for _ in range(30)]
blob = b"".join(fragments(ping_message(n), rnd.randint(1, n)) if i % 2 else frame(1, ping_message(n))
                for i, n in enumerate(mix))
s.sendall(blob)
got = [answer(s) for _ in mix]
check("30 messages of mixed sizes and fragments in one write: all answered",
      all(g == "pong" for g in got), f"got {got}")
trickle(s, blob, 4093)
got = [answer(s) for _ in mix]
check("the same bytes trickled in 4093-byte pieces: all answered",
      all(g == "pong" for g in got), f"got {got}")
s.close()

sys.exit(wsraw.summary("sizes"))
