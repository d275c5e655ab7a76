#!/usr/bin/env python3
"""client_tty.py -- aa-client on a terminal of its own, typed at as a person
types: a 5 KB question, then short ones, each answered without typing the
next; an action that changes the machine asked about inline (denied, then
allowed once); lines typed together with /quit all sent before it leaves.
Usage: client_tty.py GW_LOG -- AA-CLIENT ARGS...   (prints ok lines)"""
import os
import pty
import re
import select
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsraw  # noqa: E402  (the shared ok/not ok checks)

gw_log = sys.argv[1]
cmd = sys.argv[sys.argv.index("--") + 1:]


def check(name, ok, detail=""):
    wsraw.check("tty: " + name, ok, detail)


pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
out = b""


def pump(secs):
    global out
    end = time.time() + secs
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], min(0.1, max(0, end - time.time())))
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                return False
            if not data:
                return False
            out += data
        else:
            return True
    return True


def wait(pred, secs):
    global out
    end = time.time() + secs
    while time.time() < end:
        if pred(out):
            return True
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            out += data
    return pred(out)


def answers(b):
    return len(re.findall(rb"agent> ", b))


def type_(text):
    os.write(fd, text.encode())


def gw_chats(session):
    try:
        log = open(gw_log).read()
    except OSError:
        return []
    return [int(m) for m in re.findall(r"event=chat conn=\S+ session=%s turn=\S+ trace=\S+ bytes=(\d+)"
                                       % re.escape(session), log)]


session = cmd[cmd.index("--session") + 1]
check("connected", wait(lambda b: b"connected as session" in b, 20))
check("says which actions it runs", b"actions: " in out)

# 1. A 5 KB question, then short ones: each is sent when Enter is pressed.
type_("please read this " + "x" * 5000 + "\r")
check("5 KB line answered", wait(lambda b: answers(b) >= 1, 20), "answers=%d" % answers(out))
check("5 KB line arrived whole", wait(lambda b: 5017 in gw_chats(session), 5),
      str(gw_chats(session)))
t0 = time.time()
type_("what's my vpn status?\r")
ok = wait(lambda b: answers(b) >= 2 and b"currently connected" in b, 10)
check("next line answered without typing another", ok, "%.1f s" % (time.time() - t0))
check("status shown", b"VPN status: connected" in out)
type_("hello\r")
check("third line answered at once", wait(lambda b: answers(b) >= 3, 10))

# 2. connect: asked inline with the exact command; denied, the agent is told.
n = answers(out)
type_("connect my vpn\r")
check("approval asked with the command line",
      wait(lambda b: b"wants to connect the VPN" in b and b"Allow it?" in b, 15))
check("the question names the command", b"action.sh connect_vpn" in out)
type_("n\r")
check("denial shown", wait(lambda b: b"denied: the user denied it" in b, 10))
check("the agent hears of the denial",
      wait(lambda b: b"did not run on this computer: the user denied it" in b and answers(b) >= n + 2,
           15))
type_("connect my vpn\r")
check("asked again", wait(lambda b: out.count(b"Allow it?") >= 2, 15))
type_("y\r")
check("allowed once: it ran", wait(lambda b: b"connect the VPN: done (exit status 0)" in b, 10))

# 3. Lines typed together with /quit are all sent before the client leaves.
before = len(gw_chats(session))
type_("first of two\rsecond of two\r/quit\r")
end = time.time() + 15
status = None
while time.time() < end:
    pump(0.2)
    p, st = os.waitpid(pid, os.WNOHANG)
    if p:
        status = st
        break
check("/quit exits", status is not None and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0,
      str(status))
chats = gw_chats(session)
check("lines typed before /quit were sent", len(chats) - before == 2 and chats[-2:] == [12, 13],
      str(chats[before:]))
if status is None:
    os.kill(pid, 9)
sys.exit(wsraw.summary("tty"))
