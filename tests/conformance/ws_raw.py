#!/usr/bin/env python3
"""ws_raw.py -- RFC 6455 conformance of the gateway with raw sockets (no
WebSocket library): handshakes, framing, fragmentation with interleaved
control frames, reserved bits, opcodes, close codes, UTF-8, sizes, masking,
rate limit, idle and header timeouts, many connections dropped at once.
Usage: ws_raw.py HOST PORT TOKEN   (prints "ok - ..." lines and a summary)"""
import json
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsraw  # noqa: E402
from wsraw import check, close_code, event, frame, handshake, read_frame, read_until  # noqa: E402

HOST, PORT, TOKEN = sys.argv[1], int(sys.argv[2]), sys.argv[3]
wsraw.setup(HOST, PORT, TOKEN)


# ---- handshakes ----
for (desc, kw, want) in [
    ("valid handshake gets 101", {}, 101),
    ("version 8 gets 426", {"version": "8"}, 426),
    ("POST gets 405", {"method": "POST"}, 405),
    ("no key gets 400", {"key": ""}, 400),
    ("malformed key gets 400", {"key": "abc"}, 400),
    ("no session_id gets 400", {"query": "x=1"}, 400),
    ("bad session_id gets 400", {"query": "session_id=a%20b"}, 400),
    ("no token gets 401", {"token": False}, 401),
]:
    s, st, resp = handshake(**kw)
    check("handshake: " + desc, st == want, f"got {st}")
    if want == 101:
        import hashlib
        k = [l for l in resp.split(b"\r\n") if l.lower().startswith(b"sec-websocket-accept:")]
        check("handshake: accept header present", len(k) == 1)
    s.close()

# ---- framing ----
s, st, _ = handshake()
s.sendall(frame(1, b'{"action":"ping"}'))
check("text message answered", event(s, "pong") is not None)
s.sendall(frame(9, b"hello"))
op, p = read_until(s, lambda op, p: op == 10)
check("ping answered with pong and the same payload", op == 10 and p == b"hello")
# fragmented message with a ping between the fragments
msg = b'{"action":"ping","pad":"' + b"x" * 300 + b'"}'
s.sendall(frame(1, msg[:100], fin=False) + frame(9, b"mid") + frame(0, msg[100:200], fin=False) +
          frame(0, msg[200:], fin=True))
op, p = read_until(s, lambda op, p: op == 10)
check("control frame between fragments answered", op == 10 and p == b"mid")
check("fragmented message reassembled", event(s, "pong") is not None)
s.sendall(frame(2, b"\x00\x01"))
e = event(s, "error")
check("binary message refused with an error event", e and e["data"]["code"] == "binary_not_supported")
s.sendall(frame(1, b"{not json"))
e = event(s, "error")
check("invalid JSON refused, connection open", e and e["data"]["code"] == "invalid_json")
s.sendall(frame(1, json.dumps({"action": "ping", "t": "é✓"}).encode()))
check("UTF-8 text accepted", event(s, "pong") is not None)
s.sendall(frame(8, struct.pack("!H", 1000) + b"bye"))
check("close 1000 echoed", close_code(s) == 1000)
s.close()

for (desc, data, want) in [
    ("unmasked frame closes with 1002", frame(1, b'{"action":"ping"}', mask=False), 1002),
    ("reserved bit closes with 1002", frame(1, b'{"action":"ping"}', rsv=4), 1002),
    ("reserved opcode closes with 1002", frame(3, b"x"), 1002),
    ("continuation without start closes with 1002", frame(0, b"x"), 1002),
    ("fragmented ping closes with 1002", frame(9, b"x", fin=False), 1002),
    ("control frame over 125 bytes closes with 1002", frame(9, b"x" * 126), 1002),
    ("fragmented close closes with 1002", frame(8, struct.pack("!H", 1000), fin=False), 1002),
    ("invalid UTF-8 closes with 1007", frame(1, b'{"a":"\xff\xfe"}'), 1007),
    ("invalid UTF-8 across fragments closes with 1007",
     frame(1, b'{"a":"\xe2', fin=False) + frame(0, b'\x28"}'), 1007),
    ("message over the limit closes with 1009", frame(1, b"x" * (140 * 1024)), 1009),
    ("close code 999 closes with 1002", frame(8, struct.pack("!H", 999)), 1002),
    ("close code 1005 on the wire closes with 1002", frame(8, struct.pack("!H", 1005)), 1002),
    ("close with a 1-byte payload closes with 1002", frame(8, b"\x03"), 1002),
    ("close with invalid UTF-8 reason closes with 1007",
     frame(8, struct.pack("!H", 1000) + b"\xff"), 1007),
]:
    s, st, _ = handshake()
    s.sendall(data)
    code = close_code(s)
    check("framing: " + desc, code in want if isinstance(want, tuple) else code == want,
          f"got {code}")
    s.close()

# ---- rate limit: over the bucket, error events, then 1008 ----
s, st, _ = handshake(query="session_id=conf-rate")
burst = b"".join(frame(1, b'{"action":"ping"}') for _ in range(120))
s.sendall(burst)
codes, closed, pongs = [], None, 0
for _ in range(400):
    op, p = read_frame(s)
    if op is None:
        break
    if op == 1:
        ev = json.loads(p)
        pongs += ev.get("event") == "pong"
        codes.append(ev.get("data", {}).get("code"))
    if op == 8:
        closed = struct.unpack("!H", p[:2])[0]
        break
check("rate limit: error events over the limit", "rate_limited" in codes)
check("rate limit: then closed with 1008", closed == 1008, f"got {closed}")
check("rate limit: every message within the burst answered first", pongs >= 40, f"got {pongs}")
s.close()

# ---- slowloris: headers that never end are cut at the header timeout ----
s = socket.create_connection((HOST, PORT), timeout=10)
s.sendall(b"GET /ws?session_id=slow HTTP/1.1\r\nHost: x\r\n")
t0 = time.time()
try:
    data = s.recv(100)
except (ConnectionResetError, socket.timeout):
    data = b""
check("slowloris: connection closed at the header timeout", data == b"" and time.time() - t0 < 5,
      f"after {time.time() - t0:.1f}s got {data!r}")
s.close()

# ---- idle timeout: closes with 1001 ----
s, st, _ = handshake(query="session_id=conf-idle")
s.settimeout(10)
check("idle timeout: closes with 1001", close_code(s) == 1001)
s.close()

# ---- many connections dropped at once ----
n = int(os.environ.get("CONF_CONNS", "1000"))
socks = []
for i in range(n):
    s, st, _ = handshake(query=f"session_id=many-{i % 50}")
    if st == 101:
        socks.append(s)
check(f"{n} connections accepted", len(socks) == n, f"got {len(socks)}")
for s in socks:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # reset
    s.close()
s, st, _ = handshake(query="session_id=after")
s.sendall(frame(1, b'{"action":"ping"}'))
check("after dropping them all, a new connection works", event(s, "pong") is not None)
s.close()

sys.exit(wsraw.summary("conformance"))
