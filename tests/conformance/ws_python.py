#!/usr/bin/python3
"""ws_python.py -- the gateway with Debian's python3-websockets as the peer:
ping/pong, a JSON round trip, a fragmented message, a clean close.
Usage: ws_python.py URL TOKEN; prints "ok" or what failed."""
import asyncio
import json
import sys

import websockets


async def main(url, token):
    async with websockets.connect(url + "?session_id=py-client",
                                  extra_headers={"Authorization": "Bearer " + token}) as ws:
        pong = await ws.ping(b"abc")
        await asyncio.wait_for(pong, 5)
        await ws.send(json.dumps({"action": "ping"}))
        ev = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert ev.get("event") == "pong", ev
        # a fragmented message: send() with an iterable sends fragments
        await ws.send(iter(['{"action":', '"ping"', '}']))
        ev = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert ev.get("event") == "pong", ev
        await ws.send("not json")
        ev = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert ev["data"]["code"] == "invalid_json", ev
        await ws.close(1000, "bye")
        assert ws.close_code == 1000, ws.close_code
    print("ok")


try:
    asyncio.run(main(sys.argv[1], sys.argv[2]))
except Exception as e:  # report, never crash the test runner
    print("failed: %r" % (e,))
