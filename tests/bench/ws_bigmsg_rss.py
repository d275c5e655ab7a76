#!/usr/bin/env python3
"""ws_bigmsg_rss.py -- the gateway's resident memory with N connections open
before and after each of them has sent one message of SIZE bytes in one
frame (and got its answer): a connection must give back what a large
message needed. Usage: ws_bigmsg_rss.py HOST PORT TOKEN GATEWAY_PID [N] [SIZE]"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conformance"))
import wsraw  # noqa: E402
from wsraw import frame, handshake, read_frame  # noqa: E402

host, port, token, pid = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
n = int(sys.argv[5]) if len(sys.argv) > 5 else 2000
size = int(sys.argv[6]) if len(sys.argv) > 6 else 65536
wsraw.setup(host, port, token)


def rss_kib():
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])


base = rss_kib()
socks = []
for i in range(n):
    s, st, _ = handshake(query="session_id=rss-%d" % i, timeout=30)
    assert st == 101, st
    socks.append(s)
idle = rss_kib()
msg = b'{"action":"ping"' + b" " * (size - 17) + b"}"
answered = 0
for s in socks:
    s.sendall(frame(1, msg))
    while True:
        op, p = read_frame(s)
        if op in (None, 8):
            break
        if op == 1 and b'"pong"' in p:
            answered += 1
            break
after = rss_kib()
print("connections %d, each sent %d bytes in one frame, answered %d" % (n, size, answered))
print("gateway RSS: %d KiB at start, %d KiB with %d idle connections (%.1f KiB each), "
      "%d KiB after the messages (%.1f KiB each)" % (base, idle, n, (idle - base) / n, after,
                                                    (after - base) / n))
for s in socks:
    s.close()
