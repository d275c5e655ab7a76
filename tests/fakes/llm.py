#!/usr/bin/env python3
"""llm.py -- a scripted stand-in for the model providers, speaking their real
wire formats: Anthropic Messages (POST /v1/messages), OpenAI chat completions
(POST /v1/chat/completions) and Bedrock Converse (POST /model/{id}/converse).
It picks a tool from clear words in the prompt, answers with a summary once
a tool result comes back, and records every request (path, headers, body) as
one JSON line in the log file. FAIL_FIRST=N answers the first N requests
with 429 and Retry-After: 1; FAIL_STATUS changes that status (e.g. 500);
MALFORMED=1 answers every request with a body that is not JSON.
Usage: llm.py PORT LOGFILE"""
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, LOG = int(sys.argv[1]), sys.argv[2]
lock = threading.Lock()
state = {"n": 0}


def intent(text):
    t = text.lower()
    if any(w in t for w in ("log", "drop", "keeps")):
        return "analyze_logs", {"log_type": "vpn"}
    if "status" in t:
        return "get_vpn_status", {"query": "vpn_status"}
    if "connect" in t:
        return "run_client_command", {"command": "connect_vpn"}
    return None, None


def summary(tool_text):
    try:
        mcp = json.loads(tool_text)
        payload = json.loads(mcp["content"][0]["text"])
    except Exception:
        return "The tool result was unreadable."
    if "log_data" in payload:
        return "Model analysis of your logs: " + payload["log_data"][:120]
    return "Model says: status=%s" % payload.get("status")


class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, status, obj=None, raw=None, headers=()):
        body = raw if raw is not None else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n)
        try:
            req = json.loads(raw)
        except Exception:
            req = None
        with lock:
            state["n"] += 1
            k = state["n"]
            with open(LOG, "a") as f:
                f.write(json.dumps({"path": self.path, "headers": dict(self.headers.items()),
                                    "body": req}) + "\n")
        if k <= int(os.environ.get("FAIL_FIRST", "0")):
            return self.reply(int(os.environ.get("FAIL_STATUS", "429")),
                              {"error": {"message": "slow down"}}, headers=[("Retry-After", "1")])
        if os.environ.get("MALFORMED"):
            return self.reply(200, raw=b"this is not json")
        if req is None:
            return self.reply(400, {"error": {"message": "bad json"}})
        if self.path == "/v1/messages":
            return self.anthropic(req, k)
        if self.path == "/v1/chat/completions":
            return self.openai(req, k)
        if self.path.startswith("/model/") and self.path.endswith("/converse"):
            return self.bedrock(req, k)
        self.reply(404, {"error": {"message": "no route " + self.path}})

    def anthropic(self, req, k):
        last = req["messages"][-1]
        if isinstance(last["content"], list) and last["content"] and \
                last["content"][0].get("type") == "tool_result":
            text = summary(last["content"][0]["content"])
            return self.reply(200, {"id": "msg_%d" % k, "type": "message", "role": "assistant",
                                    "content": [{"type": "text", "text": text}],
                                    "stop_reason": "end_turn",
                                    "usage": {"input_tokens": 50, "output_tokens": 10}})
        name, args = intent(last["content"] if isinstance(last["content"], str) else "")
        if not name:
            return self.reply(200, {"content": [{"type": "text", "text": "How can I help?"}],
                                    "stop_reason": "end_turn", "usage": {}})
        self.reply(200, {"id": "msg_%d" % k, "type": "message", "role": "assistant",
                         "content": [{"type": "text", "text": "Let me check."},
                                     {"type": "tool_use", "id": "toolu_%d" % k, "name": name,
                                      "input": args}],
                         "stop_reason": "tool_use",
                         "usage": {"input_tokens": 40, "output_tokens": 20}})

    def openai(self, req, k):
        last = req["messages"][-1]
        if last["role"] == "tool":
            msg = {"role": "assistant", "content": summary(last["content"])}
        else:
            name, args = intent(last.get("content") or "")
            msg = {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_%d" % k, "type": "function",
                 "function": {"name": name, "arguments": json.dumps(args)}}]} if name else \
                {"role": "assistant", "content": "How can I help?"}
        self.reply(200, {"id": "chatcmpl-%d" % k, "object": "chat.completion",
                         "choices": [{"index": 0, "message": msg, "finish_reason": "stop"}],
                         "usage": {"prompt_tokens": 30, "completion_tokens": 7}})

    def bedrock(self, req, k):
        last = req["messages"][-1]
        c = last["content"][0]
        if "toolResult" in c:
            content = [{"text": summary(c["toolResult"]["content"][0]["text"])}]
            stop = "end_turn"
        else:
            name, args = intent(c.get("text", ""))
            content = [{"toolUse": {"toolUseId": "tooluse_%d" % k, "name": name, "input": args}}] \
                if name else [{"text": "How can I help?"}]
            stop = "tool_use" if name else "end_turn"
        self.reply(200, {"output": {"message": {"role": "assistant", "content": content}},
                         "stopReason": stop, "usage": {"inputTokens": 20, "outputTokens": 5}})


ThreadingHTTPServer(("127.0.0.1", PORT), H).serve_forever()
