#!/usr/bin/python3
"""original_client.py -- the original (macOS) client's whole conversation,
with its message shapes verbatim (the seed's steps: chat with session_id,
async_callback whose content is the JSON string {"vpn_status": "..."} for
both states, 8 KB of logs in one frame), spoken by Debian's
python3-websockets, never our client. Unknown events (chat_accepted,
progress, chat_delta) are ignored, as the original ignores them.
Usage: original_client.py URL TOKEN   (prints "ok - ..." lines and a summary)"""
import asyncio
import json
import os
import sys

import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsraw  # noqa: E402  (only its checks and summary)

URL, TOKEN = sys.argv[1], sys.argv[2]
SESSION = "abc-123"


def check(name, cond, detail=""):
    wsraw.check("original client: " + name, cond, detail)


# What `vpn state` + `vpn stats` print on a troubled Cisco Secure Client,
# padded to 8 KB (the original's limit) with ordinary statistics lines.
LOGS = ("Cisco Secure Client (version 5.1.2.42).\n"
        "  >> state: Reconnecting\n"
        "  >> notice: DPD timeout, peer not responding\n"
        "  >> error: certificate verify failed: x509 untrusted issuer\n"
        "  >> notice: connection lost, reconnecting\n")
while len(LOGS) < 8192 - 40:
    LOGS += "    Bytes Sent:                 123456  Bytes Received: 654321\n"
LOGS = LOGS[:8192]


async def turn(ws, prompt, on_request=None):
    """Sends a chat as the original does; answers what the server asks with
    on_request; returns (the final text, the messages seen)."""
    await ws.send(json.dumps({"action": "chat", "prompt": prompt, "session_id": SESSION}))
    seen = []
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), 30))
        seen.append(msg)
        if msg.get("event") == "chat_response":
            return msg["data"]["text"], seen
        if msg.get("event") == "error":
            return None, seen
        if msg.get("action") in ("get_vpn_status", "request_logs") and on_request:
            await ws.send(json.dumps(on_request(msg)))


async def main():
    async with websockets.connect(URL + "?session_id=" + SESSION,
                                  extra_headers={"Authorization": "Bearer " + TOKEN},
                                  max_size=2 ** 20) as ws:
        text, seen = await turn(ws, "Help me connect to my VPN")
        pushes = [m for m in seen if m.get("event") == "client_action"]
        # the original's keys and values; one key more (who asked), which
        # the original's decoder ignores
        check("connect: the client_action push in the original's shape",
              pushes and {k: v for k, v in pushes[0]["data"].items() if k != "requested_by"}
              == {"action": "run_client_command", "command": "connect_vpn"}
              and pushes[0]["data"].get("requested_by") == "chat", str(pushes))
        check("connect: a chat_response", bool(text), str(seen[-1:]))

        for state in ("connected", "disconnected"):
            def answer(msg, state=state):
                return {"action": "async_callback", "callback_id": msg["callback_id"],
                        "content": json.dumps({"vpn_status": state})}
            text, seen = await turn(ws, "What's my VPN status?", answer)
            asks = [m for m in seen if m.get("action") == "get_vpn_status"]
            check("status %s: {action: get_vpn_status, callback_id} pushed" % state,
                  asks and asks[0]["callback_id"].startswith("cb-"), str(asks))
            check("status %s: the answer reads the state" % state,
                  text is not None and ("currently " + state) in text, str(text))
            check("status %s: the JSON string is not echoed back" % state,
                  text is not None and "vpn_status" not in text, str(text))

        def logs(msg):
            return {"action": "async_callback", "callback_id": msg["callback_id"],
                    "content": LOGS}
        text, seen = await turn(ws, "My VPN keeps dropping, check the logs", logs)
        asks = [m for m in seen if m.get("action") == "request_logs"]
        check("logs: {action: request_logs, log_type: vpn, callback_id} pushed",
              asks and asks[0]["log_type"] == "vpn", str(asks))
        check("logs: 8 KB of logs in one frame acknowledged",
              any(m.get("event") == "callback_ack" for m in seen), str(seen)[:300])
        check("logs: the analysis names what the logs show",
              text is not None and "Certificate" in text and "dead peer" in text, str(text))


try:
    asyncio.run(main())
except Exception as e:  # report, never crash the runner
    check("the conversation ran to the end", False, repr(e))
sys.exit(wsraw.summary("original"))
