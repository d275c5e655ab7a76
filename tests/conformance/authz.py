#!/usr/bin/env python3
"""authz.py -- who may do what, as a matrix: subjects (alice, bob, an admin,
OAuth clients acting for alice or bob) x scopes x routes (/ws, the
WebSocket async_callback, the REST completions, /mcp tools/call, MCP
sessions, tasks and cancellation) x another subject's ids. Every cell is
asserted, and a refused request must change nothing. Then the
defects that were found from outside, one check each.
The gateway runs with --node authz and the MCP clients of authz.sh; alice's
desktop client (aa-client, session alice-s, a status that takes 2 s) is
connected. Tokens are minted with aa-ctl (AA_TOKEN_SECRET in the environment).
Usage: authz.py HOST PORT REDIS BINDIR   (prints "ok - ..." and a summary)"""
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsraw  # noqa: E402
from wsraw import check, frame, handshake, read_frame  # noqa: E402

HOST, PORT, REDIS, BINDIR = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
wsraw.setup(HOST, PORT, "")
cases = held = 0
FAR = "99999999999999"
REST = "/2025-12-01/durable-execution-callbacks"


def cell(name, cond, detail=""):
    global cases, held
    cases += 1
    held += bool(cond)
    check("matrix: " + name, cond, detail)


def rcli(*args):
    """redis-cli on REDIS, the programs' address (unix:/path, host:port, cluster:...)."""
    if REDIS.startswith("unix:"):
        where = ["-s", REDIS[5:]]
    else:
        seed = REDIS[len("cluster:"):].split(",")[0] if REDIS.startswith("cluster:") else REDIS
        where = (["-c"] if REDIS.startswith("cluster:") else []) + \
            ["-h", seed.rsplit(":", 1)[0], "-p", seed.rsplit(":", 1)[1]]
    return subprocess.run(["redis-cli", *where, *args], capture_output=True,
                          text=True).stdout.strip()


def key(*args):
    """A Redis name of the product, in its cell (aa-ctl key)."""
    return subprocess.run([BINDIR + "/aa-ctl", "key", *args, "--redis", REDIS],
                          capture_output=True, text=True, check=True).stdout.strip()


def mint(sub, scope="client", session=""):
    cmd = [BINDIR + "/aa-ctl", "token", "--sub", sub, "--scope", scope, "--ttl-s", "600"]
    if session:
        cmd += ["--session", session]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()


def new_callback(session, n=[0]):
    """A pending callback record of session, as the runtime makes them."""
    cell = key("session", session, "owner").split("session:")[0]
    while True:  # in the session's cell, as the runtime makes them
        n[0] += 1
        cbid = "cb-authz%04d" % n[0]
        name = key("cb", cbid)
        if name.split("cb:")[0] == cell:
            break
    rcli("HSET", name, "session", session, "status", "pending", "deadline_ms", FAR,
         "next_deadline_ms", FAR)
    return cbid


def req(method, path, body=b"", headers=None):
    c = http.client.HTTPConnection(HOST, PORT, timeout=15)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    return r.status, hdrs, data


def ws_status(token, session, extra=""):
    s, st, _ = handshake(query="session_id=%s%s" % (session, extra), token=token or False)
    return s, st


def events(s, want, limit=30):
    """Text events until one named want (or the connection ends)."""
    got = []
    for _ in range(limit):
        op, p = read_frame(s)
        if op is None or op == 8:
            break
        if op == 1:
            ev = json.loads(p)
            got.append(ev)
            if ev.get("event") == want or ev.get("data", {}).get("code") == want:
                break
    return got


# ---- setup: alice owns alice-s (her desktop is connected), bob owns bob-s ----
rcli("XADD", key("outbox", "alice-s"), "*", "e", '{"event":"alice_private","data":{}}')
bob_tok = mint("bob")
s, st = ws_status(bob_tok, "bob-s")
s.close()
check("setup: bob owns bob-s", rcli("GET", key("session", "bob-s", "owner")) == "bob")
check("setup: alice owns alice-s (her desktop connected first)",
      rcli("GET", key("session", "alice-s", "owner")) == "alice")

# ---- /ws: subjects x scopes x alice's session ----
ws_cases = [
    ("alice, scope client", mint("alice"), 101),
    ("alice, client bound to alice-s", mint("alice", session="alice-s"), 101),
    ("alice, client bound to bob-s", mint("alice", session="bob-s"), 403),
    ("alice, scope callbacks", mint("alice", "callbacks"), 403),
    ("alice, scope mcp", mint("alice", "mcp"), 403),
    ("alice, no scope", mint("alice", ""), 403),
    ("bob, scope client", bob_tok, 403),
    ("bob, client bound to alice-s", mint("bob", session="alice-s"), 403),
    ("bob, all scopes but admin", mint("bob", "client callbacks mcp"), 403),
    ("an admin (admin client)", mint("root", "admin client"), 101),
    ("admin without client", mint("root", "admin"), 403),
    ("no token", None, 401),
]
for name, tok, want in ws_cases:
    s, st = ws_status(tok, "alice-s", "&last_event_id=0-0")
    leaked = False
    if st == 101:
        s.sendall(frame(1, b'{"action":"ping"}'))
        leaked = any(e.get("event") == "alice_private" for e in events(s, "pong"))
    s.close()
    cell("/ws alice-s, %s: %d" % (name, want), st == want, "got %d" % st)
    if want != 101:
        cell("/ws alice-s, %s: alice's outbox not replayed" % name, not leaked)
s, st = ws_status(None, "alice-s", "&access_token=" + mint("alice"))
s.close()
cell("/ws alice-s, alice's token as ?access_token: 101", st == 101, "got %d" % st)
s, st = ws_status(None, "alice-s", "&access_token=" + bob_tok)
s.close()
cell("/ws alice-s, bob's token as ?access_token: 403", st == 403, "got %d" % st)
check("/ws: refused connections did not change the owner",
      rcli("GET", key("session", "alice-s", "owner")) == "alice")
r = subprocess.run([BINDIR + "/aa-ctl", "token", "--sub", "x", "--session", "*"],
                   capture_output=True, text=True)
cell("aa-ctl token --session '*' is refused (no wildcard)", r.returncode == 2, r.stderr)

# ---- WebSocket async_callback: bob's connection answers alice's callback ----
s, st = ws_status(bob_tok, "bob-s")
cb = new_callback("alice-s")
s.sendall(frame(1, json.dumps({"action": "async_callback", "callback_id": cb,
                               "content": "connected"}).encode()))
got = events(s, "callback_not_found")
s.close()
cell("ws async_callback, bob on bob-s, alice's callback: callback_not_found",
     any(e.get("data", {}).get("code") == "callback_not_found" for e in got), str(got))
cell("ws async_callback, bob: alice's callback still pending",
     rcli("HGET", key("cb", cb), "status") == "pending")
s, st = ws_status(mint("alice"), "alice-s")
s.sendall(frame(1, json.dumps({"action": "async_callback", "callback_id": cb,
                               "content": "connected"}).encode()))
got = events(s, "callback_ack")
s.close()
cell("ws async_callback, alice on alice-s, her callback: callback_ack",
     any(e.get("event") == "callback_ack" for e in got), str(got))

# ---- REST completions: subjects x scopes x alice's callback ----
rest_cases = [
    ("alice, scope callbacks", mint("alice", "callbacks"), 200),
    ("alice, callbacks bound to alice-s", mint("alice", "callbacks", "alice-s"), 200),
    ("alice, callbacks bound to bob-s", mint("alice", "callbacks", "bob-s"), 404),
    ("alice, scope client", mint("alice"), 403),
    ("alice, scope mcp", mint("alice", "mcp"), 403),
    ("alice, no scope", mint("alice", ""), 403),
    ("bob, scope callbacks", mint("bob", "callbacks"), 404),
    ("bob, callbacks bound to alice-s", mint("bob", "callbacks", "alice-s"), 404),
    ("an admin (admin callbacks)", mint("root", "admin callbacks"), 200),
    ("no token", None, 401),
]
for name, tok, want in rest_cases:
    for op, body in [("succeed", b"connected"), ("heartbeat", b""),
                     ("fail", b'{"ErrorType":"X","ErrorMessage":"y"}')]:
        cb = new_callback("alice-s")
        hdr = {"Authorization": "Bearer " + tok} if tok else {}
        st, _, _ = req("POST", "%s/%s/%s" % (REST, cb, op), body, hdr)
        cell("REST %s alice's callback, %s: %d" % (op, name, want), st == want, "got %d" % st)
        if want != 200:
            cell("REST %s, %s: the callback is unchanged" % (op, name),
                 rcli("HGET", key("cb", cb), "status") == "pending")

# ---- MCP: OAuth clients acting for alice or bob ----


def oauth(cid, secret):
    st, _, body = req("POST", "/oauth2/token", b"grant_type=client_credentials",
                       {"Content-Type": "application/x-www-form-urlencoded",
                        "Authorization": "Basic " + __import__("base64").b64encode(
                            ("%s:%s" % (cid, secret)).encode()).decode()})
    return json.loads(body).get("access_token") if st == 200 else None


class Mcp:
    def __init__(self, token):
        self.token, self.sess, self.n = token, "", 0

    def post(self, msg, sess=None):
        h = {"Authorization": "Bearer " + self.token, "Content-Type": "application/json",
             "Accept": "application/json, text/event-stream",
             "MCP-Protocol-Version": "2025-06-18"}
        if sess or self.sess:
            h["Mcp-Session-Id"] = sess or self.sess
        return req("POST", "/mcp", json.dumps(msg).encode(), h)

    def init(self):
        st, hdrs, _ = self.post({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                                 "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                                            "clientInfo": {"name": "authz", "version": "1"}}})
        self.sess = hdrs.get("mcp-session-id", "")
        self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return self

    def call(self, name, args, sess=None, rid=None):
        self.n += 1
        st, _, body = self.post({"jsonrpc": "2.0", "id": rid or self.n, "method": "tools/call",
                                 "params": {"name": name, "arguments": args}}, sess)
        return st, (json.loads(body) if body else {})


def tool_text(reply):
    res = reply.get("result", {})
    return res.get("isError", False), (res.get("content") or [{}])[0].get("text", "")


agent_a = Mcp(oauth("agent-a", "secret-a")).init()
agent_b = Mcp(oauth("agent-b", "secret-b")).init()
agent_a1 = Mcp(oauth("agent-a1", "secret-a1")).init()
mcp_cases = [
    ("agent-a (for alice)", agent_a, "alice-s", True),
    ("agent-a1 (for alice, bound to alice-s)", agent_a1, "alice-s", True),
    ("agent-a1 (bound to alice-s) on bob-s", agent_a1, "bob-s", False),
    ("agent-b (for bob)", agent_b, "alice-s", False),
    ("a minted mcp token of bob", Mcp(mint("bob", "mcp")).init(), "alice-s", False),
    ("a minted admin mcp token", Mcp(mint("root", "admin mcp")).init(), "alice-s", True),
]
for name, m, sess, allowed in mcp_cases:
    before = rcli("XLEN", key("outbox", sess))
    st, rep = m.call("run_client_command", {"command": "connect_vpn", "session_id": sess})
    err, text = tool_text(rep)
    ok = (not err and "sent_to_client" in text) if allowed else (err and "may not" in text
                                                                  or "bound to" in text)
    cell("MCP tools/call on %s, %s: %s" % (sess, name, "sent" if allowed else "refused"),
         st == 200 and ok, "%d %s" % (st, text[:120]))
    if not allowed:
        cell("MCP tools/call on %s, %s: nothing pushed" % (sess, name),
             rcli("XLEN", key("outbox", sess)) == before)
st, _, _ = Mcp(mint("alice", "client")).post({"jsonrpc": "2.0", "id": 1, "method": "ping"})
cell("MCP, a token of alice with scope client: 403", st == 403, "got %d" % st)
st, _, _ = req("POST", "/mcp?access_token=" + agent_a.token,
                json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"}).encode(),
                {"Content-Type": "application/json", "Accept": "application/json"})
cell("MCP, the token as ?access_token (not in Authorization): 401", st == 401, "got %d" % st)

# another client's MCP session: every method, the GET stream and DELETE are 404
for method, params in [("ping", {}), ("tools/list", {}), ("tasks/list", {}),
                       ("tools/call", {"name": "get_vpn_status",
                                       "arguments": {"query": "vpn_status",
                                                     "session_id": "alice-s"}})]:
    st, _, _ = agent_b.post({"jsonrpc": "2.0", "id": 9, "method": method, "params": params},
                            agent_a.sess)
    cell("MCP %s on agent-a's session by agent-b: 404" % method, st == 404, "got %d" % st)
st, _, _ = agent_b.post({"jsonrpc": "2.0", "method": "notifications/cancelled",
                         "params": {"requestId": 1}}, agent_a.sess)
cell("MCP notifications/cancelled on agent-a's session by agent-b: 404", st == 404, "got %d" % st)

# a call of agent-a in flight (alice's status takes 2 s) is not cancelled by agent-b
result = {}


def slow_call():
    result["reply"] = agent_a.call("get_vpn_status", {"query": "vpn_status",
                                                      "session_id": "alice-s"}, rid=4242)


t = threading.Thread(target=slow_call)
t.start()
time.sleep(0.5)
st, _, _ = agent_b.post({"jsonrpc": "2.0", "method": "notifications/cancelled",
                         "params": {"requestId": 4242, "reason": "hijack"}}, agent_a.sess)
t.join(20)
err, text = tool_text(result.get("reply", (0, {}))[1])
cell("MCP: agent-b's cancel of agent-a's call in flight is refused (404)", st == 404,
     "got %d" % st)
cell("MCP: and agent-a's call ends with the answer", not err and "connected" in text, text)

# tasks belong to their client
st, rep = agent_a.post({"jsonrpc": "2.0", "id": 50, "method": "tools/call",
                        "params": {"name": "get_vpn_status", "task": {"ttl": 60000},
                                   "arguments": {"query": "vpn_status",
                                                 "session_id": "alice-s"}}})[0:3:2]
tid = json.loads(rep).get("result", {}).get("task", {}).get("taskId", "")
check("setup: agent-a made a task", bool(tid), rep[:200].decode(errors="replace"))
for method in ["tasks/get", "tasks/result", "tasks/cancel"]:
    st, _, body = agent_b.post({"jsonrpc": "2.0", "id": 51, "method": method,
                                "params": {"taskId": tid}})
    e = json.loads(body).get("error", {}) if body else {}
    cell("MCP %s of agent-a's task by agent-b: an error" % method, e.get("code") == -32602,
         body[:200].decode(errors="replace"))
st, _, body = agent_b.post({"jsonrpc": "2.0", "id": 52, "method": "tasks/list"})
cell("MCP tasks/list of agent-b does not show agent-a's task", tid not in body.decode())

# ---- defects found from outside ----
s, st = ws_status(mint("alice"), "alice-s")
for cbid, code in [("deadlines", "invalid_callback_id"), ("completed", "invalid_callback_id"),
                   ("cb-x:y", "invalid_callback_id")]:
    s.sendall(frame(1, json.dumps({"action": "async_callback", "callback_id": cbid,
                                   "content": "x"}).encode()))
    got = events(s, code)
    check("defect: callback_id %r is %s (not a Redis error)" % (cbid, code),
          any(e.get("data", {}).get("code") == code for e in got), str(got))
cb = new_callback("alice-s")
s.sendall(frame(1, json.dumps({"action": "async_callback", "callback_id": cb,
                               "content": None}).encode()))
got = events(s, "invalid_content")
check("defect: content null is refused (invalid_content)",
      any(e.get("data", {}).get("code") == "invalid_content" for e in got), str(got))
check("defect: content null: the callback is unchanged",
      rcli("HGET", key("cb", cb), "status") == "pending")
s.close()
cbtok = mint("alice", "callbacks")
for what, body in [("non-UTF-8", b"\xff\xfeconnected"), ("a NUL byte", b"conn\x00ected"),
                   ("a lone surrogate", b"\xed\xa0\x80")]:
    st, _, _ = req("POST", "%s/%s/succeed" % (REST, cb), body,
                    {"Authorization": "Bearer " + cbtok})
    check("defect: REST succeed with %s is 400" % what, st == 400, "got %d" % st)
check("defect: and the callback is unchanged", rcli("HGET", key("cb", cb), "status") == "pending")
for cbid in ["deadlines", "completed"]:
    st, _, _ = req("POST", "%s/%s/succeed" % (REST, cbid), b"x",
                    {"Authorization": "Bearer " + cbtok})
    check("defect: REST callback id %r is 400" % cbid, st == 400, "got %d" % st)
# last_event_id in the future: refused with an error event, delivery goes on
s, st = ws_status(mint("alice"), "alice-s", "&last_event_id=99999999999999-0")
got = events(s, "last_event_id_ahead", 5)
check("defect: last_event_id in the future gets last_event_id_ahead",
      any(e.get("data", {}).get("code") == "last_event_id_ahead" for e in got), str(got))
eid = rcli("XADD", key("outbox", "alice-s"), "*", "e", '{"event":"later","data":{}}')
push_ch = key("in", "alice-s", "aa:push:authz")  # sharded per cell when there are cells
rcli("PUBLISH" if push_ch == "aa:push:authz" else "SPUBLISH", push_ch,
     "alice-s\n%s\n{\"event\":\"later\",\"data\":{}}" % eid)
got = events(s, "later", 10)
check("defect: and a later event is still delivered", any(e.get("event") == "later" for e in got),
      str(got))
s.close()
# Origin compared whole
for origin, want in [("http://localhost.evil.example", 403), ("http://127.0.0.1.evil", 403),
                     ("http://localhost:9/x", 403), ("null", 403), ("http://localhost:3000", 200),
                     ("http://127.0.0.1:%d" % PORT, 200)]:
    st, _, _ = req("POST", "/mcp", json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"}).encode(),
                    {"Authorization": "Bearer " + agent_a.token, "Origin": origin,
                     "Content-Type": "application/json", "Accept": "application/json, text/event-stream",
                     "Mcp-Session-Id": agent_a.sess, "Host": "127.0.0.1:%d" % PORT})
    check("defect: Origin %s is %d" % (origin, want), st == want, "got %d" % st)
# wrong client secrets are throttled (and logged), even for the right one after
codes = [req("POST", "/oauth2/token", b"grant_type=client_credentials&client_id=agent-b"
              b"&client_secret=wrong%d" % i,
              {"Content-Type": "application/x-www-form-urlencoded"})[0] for i in range(30)]
check("defect: wrong secrets get 401, then 429", codes[0] == 401 and codes[-1] == 429, str(codes))
st, hdrs, _ = req("POST", "/oauth2/token", b"grant_type=client_credentials&client_id=agent-b"
                   b"&client_secret=secret-b", {"Content-Type": "application/x-www-form-urlencoded"})
check("defect: after a burst of wrong secrets the right one waits too (429, Retry-After)",
      st == 429 and int(hdrs.get("retry-after", "0")) > 0, "got %d %s" % (st, hdrs))
st, _, _ = req("POST", "/oauth2/token", b"grant_type=client_credentials&client_id=agent-a"
                b"&client_secret=secret-a", {"Content-Type": "application/x-www-form-urlencoded",
                                             "X-Note": "same address"})
check("defect: the same address is throttled for other clients too", st == 429, "got %d" % st)
# slowloris: a head trickled a byte every 300 ms is cut at the header timeout (1 s)
sk = socket.create_connection((HOST, PORT), timeout=5)
t0 = time.time()
closed = False
for ch in b"GET /ws?session_id=slow HTTP/1.1\r\nHost: x\r\n" * 3:
    try:
        sk.sendall(bytes([ch]))
    except OSError:
        closed = True
        break
    time.sleep(0.3)
    if time.time() - t0 > 6:
        break
took = time.time() - t0
check("defect: a trickled request head is closed within the header timeout (+1 s)",
      closed and took < 3, "closed=%s after %.1fs" % (closed, took))
sk.close()

print("# authorization matrix: %d cases tried, %d held" % (cases, held))
sys.exit(wsraw.summary("authz"))
