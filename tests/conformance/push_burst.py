#!/usr/bin/python3
"""push_burst.py -- a burst of pushes, published at once, reaches every
connection complete and in order (the gateway writes such a burst in a few
large writes per connection). Three python3-websockets connections: session
burst-a, and two connections of session burst-b. Writes READY_FILE when all
are open, then expects N events on each.
Usage: push_burst.py URL TOKEN N READY_FILE; prints "ok" or what failed."""
import asyncio
import json
import sys

import websockets


async def collect(ws, n, out):
    got = []
    while len(got) < n:
        ev = json.loads(await asyncio.wait_for(ws.recv(), 20))
        if ev.get("event") == "burst":
            got.append(ev["n"])
    out.append(got)


async def main(url, token, n, ready):
    hdr = {"Authorization": "Bearer " + token}
    conns = [await websockets.connect(url + "?session_id=" + sid, extra_headers=hdr,
                                      max_queue=None)
             for sid in ("burst-a", "burst-b", "burst-b")]
    open(ready, "w").write("ready\n")
    out = []
    await asyncio.gather(*(collect(ws, n, out) for ws in conns))
    for got in out:
        assert got == list(range(n)), "out of order or missing: %r" % (got[:20],)
    for ws in conns:
        await ws.close()
    print("ok")


try:
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]))
except Exception as e:  # report, never crash the test runner
    print("failed: %r" % (e,))
