#!/usr/bin/env python3
"""pty_run.py -- `ops/run.sh run` (what `make run` runs) on a terminal of its
own, stopped the way a person stops it: Ctrl-C typed on the terminal, or
/quit. Afterwards no process it started may be left, nor its socket, pid
files or secrets; the services stop in order (Redis last: no worker logs a
Redis error). Usage: pty_run.py RUN_DIR ctrl-c|quit   (prints ok lines)"""
import os
import pty
import select
import sys
import time

run_dir, how = sys.argv[1], sys.argv[2]
env = dict(os.environ, AA_RUN_DIR=run_dir, AA_PORT="0")
pid, fd = pty.fork()
if pid == 0:
    os.execvpe("bash", ["bash", "ops/run.sh", "run"], env)
out = b""


def read_until(token, secs):
    global out
    end = time.time() + secs
    while time.time() < end and token not in out:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                out += os.read(fd, 4096)
            except OSError:
                break
    return token in out


ok = read_until(b"connected as session", 30)
print(("ok" if ok else "not ok") + " - run (%s): the client connected" % how)
pids = {}
for name in ("gateway", "agent-worker", "tool-worker", "redis"):
    try:
        pids[name] = int(open(os.path.join(run_dir, name + ".pid")).read())
    except OSError:
        pass
print(("ok" if len(pids) == 4 else "not ok") + " - run (%s): four services started" % how)
os.write(fd, b"\x03" if how == "ctrl-c" else b"/quit\r")
done = read_until(b"agent-async is down", 20)
_, status = os.waitpid(pid, 0)
print(("ok" if done else "not ok") + " - run (%s): says it is down" % how)
alive = [n for n, p in pids.items() if os.path.exists("/proc/%d" % p)]
print(("ok" if not alive else "not ok") + " - run (%s): no process left (%s)" % (how, alive))
left = [f for f in ("redis.sock", "gateway.pid", "redis.pid", "agent-worker.pid",
                    "tool-worker.pid", "secret", "token", "env", "mcp-client", "port", "url")
        if os.path.exists(os.path.join(run_dir, f))]
print(("ok" if not left else "not ok") + " - run (%s): no socket, pid file or secret left %s"
      % (how, left))
bad = []
for name in ("agent-worker", "tool-worker", "gateway"):
    log = open(os.path.join(run_dir, name + ".log")).read()
    if "level=error" in log or "event=redis_error" in log or "event=redis_disconnected" in log:
        bad.append(name)
print(("ok" if not bad else "not ok") + " - run (%s): stopped in order, no Redis errors in %s"
      % (how, bad or "the logs"))
redis_log = open(os.path.join(run_dir, "redis.log")).read()
print(("ok" if "SIGINT" not in redis_log else "not ok") +
      " - run (%s): Ctrl-C never reached redis-server" % how)
