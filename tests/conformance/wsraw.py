"""wsraw.py -- a raw-socket WebSocket peer for the gateway's conformance
scripts (no WebSocket library): handshake, masked frames, frame reading,
close codes, events, and TAP-like checks with a summary.
Call setup(host, port, token) first."""
import base64
import json
import os
import socket
import struct

HOST, PORT, TOKEN = "127.0.0.1", 0, ""
passed = failed = 0


def setup(host, port, token):
    global HOST, PORT, TOKEN
    HOST, PORT, TOKEN = host, int(port), token


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok - " + name)
    else:
        failed += 1
        print("not ok - " + name + (("\n#   " + detail) if detail else ""))


def handshake(query="session_id=conf", headers=None, token=True, method="GET", version="13",
              key=None, timeout=5):
    s = socket.create_connection((HOST, PORT), timeout=timeout)
    key = key if key is not None else base64.b64encode(os.urandom(16)).decode()
    h = [f"{method} /ws?{query} HTTP/1.1", f"Host: {HOST}", "Upgrade: websocket",
         "Connection: Upgrade", f"Sec-WebSocket-Version: {version}"]
    if key:
        h.append(f"Sec-WebSocket-Key: {key}")
    if token:
        h.append(f"Authorization: Bearer {TOKEN if token is True else token}")
    h += headers or []
    s.sendall(("\r\n".join(h) + "\r\n\r\n").encode())
    resp = b""
    while b"\r\n\r\n" not in resp:
        chunk = s.recv(4096)
        if not chunk:
            break
        resp += chunk
    status = int(resp.split(b" ", 2)[1]) if resp.startswith(b"HTTP/1.1 ") else 0
    head, _, rest = resp.partition(b"\r\n\r\n")
    return Conn(s, rest), status, head + b"\r\n\r\n"


class Conn:
    """The socket, with the bytes that came after the handshake's head
    (frames the server sent at once) served first."""

    def __init__(self, sock, early):
        self.sock, self.early = sock, early

    def recv(self, n):
        if self.early:
            out, self.early = self.early[:n], self.early[n:]
            return out
        return self.sock.recv(n)

    def __getattr__(self, name):
        return getattr(self.sock, name)


def frame(opcode, payload=b"", fin=True, mask=True, rsv=0):
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        hdr = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return hdr + payload
    key = os.urandom(4)
    return hdr + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def read_frame(s):
    """Returns (opcode, payload) or (None, b'') at EOF."""
    def need(n):
        buf = b""
        while len(buf) < n:
            c = s.recv(n - len(buf))
            if not c:
                raise EOFError
            buf += c
        return buf
    try:
        b0, b1 = need(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", need(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", need(8))[0]
        return b0 & 0x0F, need(n)
    except (EOFError, ConnectionResetError, socket.timeout):
        return None, b""


def read_until(s, pred, limit=20):
    for _ in range(limit):
        op, p = read_frame(s)
        if op is None or pred(op, p):
            return op, p
    return None, b""


def close_code(s):
    """The code of the server's close frame; 0 for a close without a code."""
    op, p = read_until(s, lambda op, p: op == 8)
    if op != 8:
        return None
    return struct.unpack("!H", p[:2])[0] if len(p) >= 2 else 0


def event(s, name):
    op, p = read_until(s, lambda op, p: op == 1 and json.loads(p).get("event") == name)
    return json.loads(p) if op == 1 else None




def summary(label):
    print(f"{label}: {passed} passed, {failed} failed")
    return 1 if failed else 0
