#!/usr/bin/env python3
"""llm.py -- a scripted stand-in for the model providers, speaking their real
wire formats: Anthropic Messages (POST /v1/messages), OpenAI chat completions
(POST /v1/chat/completions) and Bedrock Converse (POST /model/{id}/converse).
It picks a tool from clear words in the prompt, answers with a summary once
a tool result comes back, and records every request (path, headers, body) as
one JSON line in the log file (the body parsed, and raw as sent, for
checking signatures). FAIL_FIRST=N answers the first N requests
with 429 and Retry-After: 1; FAIL_STATUS changes that status (e.g. 500);
MALFORMED=1 answers every request with a body that is not JSON; OLLAMA=1
streams chat completions as Ollama's OpenAI-compatible endpoint does. A request
that asks for streaming ("stream": true, or Bedrock's converse-stream) gets
the provider's stream format: server-sent events for Anthropic and OpenAI,
AWS event-stream messages for Bedrock, the text in several pieces.
Usage: llm.py PORT LOGFILE"""
import binascii
import json
import os
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, LOG = int(sys.argv[1]), sys.argv[2]
lock = threading.Lock()
state = {"n": 0}


OFFERED = set()  # the tool names the current request offers


def offered(req):
    """Tool names in a request, in each provider's shape."""
    names = set()
    for t in (req or {}).get("tools") or []:
        names.add(t.get("name") or (t.get("function") or {}).get("name"))
    for t in ((req or {}).get("toolConfig") or {}).get("tools") or []:
        names.add((t.get("toolSpec") or {}).get("name"))
    return names


def intent(text):
    t = text.lower()
    # a catalog tool, when the agent offers it (tests/e2e/catalog.sh)
    if "dns" in t and "flush_dns" in OFFERED:
        return "flush_dns", {}
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
    if "output" in payload:
        return "Model read the output: " + payload["output"][:120]
    return "Model says: status=%s" % payload.get("status")


def pieces(text):
    n = max(1, len(text) // 3)
    return [text[i:i + n] for i in range(0, len(text), n)]


def aws_event(event_type, payload):
    """One AWS event-stream message (prelude, string headers, payload, CRCs)."""
    headers = b""
    for k, v in ((":event-type", event_type), (":content-type", "application/json"),
                 (":message-type", "event")):
        headers += bytes([len(k)]) + k.encode() + b"\x07" + struct.pack("!H", len(v)) + v.encode()
    body = json.dumps(payload).encode()
    total = 12 + len(headers) + len(body) + 4
    prelude = struct.pack("!II", total, len(headers))
    prelude += struct.pack("!I", binascii.crc32(prelude) & 0xFFFFFFFF)
    msg = prelude + headers + body
    return msg + struct.pack("!I", binascii.crc32(msg) & 0xFFFFFFFF)


class H(BaseHTTPRequestHandler):
    def stream(self, chunks, ctype="text/event-stream"):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.end_headers()
        for c in chunks:
            self.wfile.write(c)
            self.wfile.flush()
        self.close_connection = True

    def sse(self, events, named=False):
        """Server-sent events; named: an "event: <type>" line before each (Anthropic)."""
        def one(e):
            if isinstance(e, str):
                return ("data: %s\n\n" % e).encode()
            head = "event: %s\n" % e["type"] if named else ""
            return ("%sdata: %s\n\n" % (head, json.dumps(e))).encode()
        self.stream([one(e) for e in events])

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
                                    "body": req, "raw": raw.decode("utf-8", "replace")}) + "\n")
        if k <= int(os.environ.get("FAIL_FIRST", "0")):
            return self.fail(int(os.environ.get("FAIL_STATUS", "429")))
        if os.environ.get("MALFORMED"):
            return self.reply(200, raw=b"this is not json")
        if req is None:
            return self.reply(400, {"error": {"message": "bad json"}})
        OFFERED.clear()
        OFFERED.update(offered(req))
        if self.path == "/v1/messages":
            return self.anthropic(req, k)
        if self.path == "/v1/chat/completions":
            return self.openai(req, k)
        if self.path.startswith("/model/") and self.path.endswith("/converse"):
            return self.bedrock(req, k)
        if self.path.startswith("/model/") and self.path.endswith("/converse-stream"):
            return self.bedrock_stream(req, k)
        self.reply(404, {"error": {"message": "no route " + self.path}})

    def fail(self, status):
        """The vendor's own error body and headers for a refusal."""
        limited = status == 429
        if self.path == "/v1/messages":
            body = {"type": "error", "error": {"type": "rate_limit_error" if limited else "api_error",
                                               "message": "slow down" if limited else "overloaded"}}
            hdrs = [("Retry-After", "1"), ("request-id", "req_test")]
        elif self.path == "/v1/chat/completions":
            body = {"error": {"message": "slow down" if limited else "server error",
                              "type": "requests" if limited else "server_error", "param": None,
                              "code": "rate_limit_exceeded" if limited else None}}
            hdrs = [("Retry-After", "1"), ("x-request-id", "req_test")]
        else:
            body = {"message": "Too many requests, please wait before trying again."
                    if limited else "The service is unavailable."}
            hdrs = [("Retry-After", "1"), ("x-amzn-ErrorType", "ThrottlingException"
                                           if limited else "ServiceUnavailableException")]
        return self.reply(status, body, headers=hdrs)

    def message(self, k, content, stop):
        """A whole Anthropic Messages reply."""
        return {"id": "msg_%d" % k, "type": "message", "role": "assistant",
                "model": "claude-sonnet-4-20250514", "content": content, "stop_reason": stop,
                "stop_sequence": None, "usage": {"input_tokens": 40, "output_tokens": 20}}

    def anthropic(self, req, k):
        last = req["messages"][-1]
        if req.get("stream"):
            return self.anthropic_stream(req, k, last)
        if isinstance(last["content"], list) and last["content"] and \
                last["content"][0].get("type") == "tool_result":
            text = summary(last["content"][0]["content"])
            return self.reply(200, self.message(k, [{"type": "text", "text": text}], "end_turn"))
        name, args = intent(last["content"] if isinstance(last["content"], str) else "")
        if not name:
            return self.reply(200, self.message(k, [{"type": "text", "text": "How can I help?"}],
                                                "end_turn"))
        self.reply(200, self.message(k, [{"type": "text", "text": "Let me check."},
                                         {"type": "tool_use", "id": "toolu_%d" % k, "name": name,
                                          "input": args}], "tool_use"))

    def anthropic_stream(self, req, k, last):
        start = self.message(k, [], None)
        start["usage"] = {"input_tokens": 40, "output_tokens": 1}
        ev = [{"type": "message_start", "message": start}]
        stop = "end_turn"
        if isinstance(last["content"], str) and "both" in last["content"]:
            # two tool uses in one turn: the agent runs them in parallel
            for i, (name, args) in enumerate((("get_vpn_status", {"query": "vpn_status"}),
                                              ("analyze_logs", {"log_type": "vpn"}))):
                ev.append({"type": "content_block_start", "index": i,
                           "content_block": {"type": "tool_use", "id": "toolu_%d_%d" % (k, i),
                                             "name": name, "input": {}}})
                ev.append({"type": "content_block_delta", "index": i,
                           "delta": {"type": "input_json_delta", "partial_json": json.dumps(args)}})
                ev.append({"type": "content_block_stop", "index": i})
            stop = "tool_use"
        elif isinstance(last["content"], list) and len(last["content"]) > 1:
            text = " | ".join(summary(b["content"]) for b in last["content"])
            ev.append({"type": "content_block_start", "index": 0,
                       "content_block": {"type": "text", "text": ""}})
            ev.append({"type": "content_block_delta", "index": 0,
                       "delta": {"type": "text_delta", "text": text}})
            ev.append({"type": "content_block_stop", "index": 0})
        elif isinstance(last["content"], list) and last["content"][0].get("type") == "tool_result":
            text = summary(last["content"][0]["content"])
            ev.append({"type": "content_block_start", "index": 0,
                       "content_block": {"type": "text", "text": ""}})
            ev += [{"type": "content_block_delta", "index": 0,
                    "delta": {"type": "text_delta", "text": p}} for p in pieces(text)]
            ev.append({"type": "content_block_stop", "index": 0})
        elif not intent(last["content"] if isinstance(last["content"], str) else "")[0]:
            ev.append({"type": "content_block_start", "index": 0,
                       "content_block": {"type": "text", "text": ""}})
            ev.append({"type": "content_block_delta", "index": 0,
                       "delta": {"type": "text_delta", "text": "How can I help?"}})
            ev.append({"type": "content_block_stop", "index": 0})
        else:
            name, args = intent(last["content"] if isinstance(last["content"], str) else "")
            ev.append({"type": "content_block_start", "index": 0,
                       "content_block": {"type": "tool_use", "id": "toolu_%d" % k, "name": name,
                                         "input": {}}})
            a = json.dumps(args)
            ev += [{"type": "content_block_delta", "index": 0,
                    "delta": {"type": "input_json_delta", "partial_json": p}} for p in pieces(a)]
            ev.append({"type": "content_block_stop", "index": 0})
            stop = "tool_use"
        ev += [{"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": 12}}, {"type": "message_stop"}]
        self.sse(ev, named=True)

    def ollama_stream(self, req, k, last):
        """Ollama's OpenAI-compatible stream: the role in every chunk, a tool
        call whole in one delta (arguments complete), content "" beside it,
        system_fingerprint fp_ollama, no usage chunk."""
        def chunk(delta, finish=None):
            return {"id": "chatcmpl-%d" % k, "object": "chat.completion.chunk",
                    "created": 1764316800, "model": req.get("model", "llama3.1"),
                    "system_fingerprint": "fp_ollama",
                    "choices": [{"index": 0, "delta": dict(role="assistant", **delta),
                                 "finish_reason": finish}]}
        if last["role"] == "tool":
            ev = [chunk({"content": p}) for p in pieces(summary(last["content"]))]
            ev.append(chunk({"content": ""}, "stop"))
        else:
            name, args = intent(last.get("content") or "")
            ev = [chunk({"content": "", "tool_calls": [
                {"id": "call_%d" % k, "index": 0, "type": "function",
                 "function": {"name": name, "arguments": json.dumps(args)}}]})]
            ev.append(chunk({"content": ""}, "tool_calls"))
        return self.sse(ev + ["[DONE]"])

    def openai(self, req, k):
        last = req["messages"][-1]
        if req.get("stream") and os.environ.get("OLLAMA"):
            return self.ollama_stream(req, k, last)
        if req.get("stream"):
            if last["role"] == "tool":
                ev = [{"choices": [{"index": 0, "delta": {"content": p}}]}
                      for p in pieces(summary(last["content"]))]
            else:
                name, args = intent(last.get("content") or "")
                a = json.dumps(args)
                ev = [{"choices": [{"index": 0, "delta": {"tool_calls": [
                    {"index": 0, "id": "call_%d" % k, "type": "function",
                     "function": {"name": name, "arguments": ""}}]}}]}]
                ev += [{"choices": [{"index": 0, "delta": {"tool_calls": [
                    {"index": 0, "function": {"arguments": p}}]}}]} for p in pieces(a)]
            ev[0]["choices"][0]["delta"]["role"] = "assistant"  # the first chunk names the role
            # the last choice chunk says why it ended, then usage (include_usage)
            ev.append({"choices": [{"index": 0, "delta": {}, "finish_reason":
                                    "stop" if last["role"] == "tool" else "tool_calls"}]})
            ev.append({"choices": [], "usage": {"prompt_tokens": 30, "completion_tokens": 7,
                                                "total_tokens": 37}})
            for e in ev:
                e.update({"id": "chatcmpl-%d" % k, "object": "chat.completion.chunk",
                          "created": 1764316800, "model": req.get("model", "gpt-4o")})
            return self.sse(ev + ["[DONE]"])
        if last["role"] == "tool":
            msg = {"role": "assistant", "content": summary(last["content"])}
        else:
            name, args = intent(last.get("content") or "")
            msg = {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_%d" % k, "type": "function",
                 "function": {"name": name, "arguments": json.dumps(args)}}]} if name else \
                {"role": "assistant", "content": "How can I help?"}
        self.reply(200, {"id": "chatcmpl-%d" % k, "object": "chat.completion",
                         "created": 1764316800, "model": req.get("model", "gpt-4o"),
                         "choices": [{"index": 0, "message": msg, "finish_reason":
                                      "tool_calls" if msg.get("tool_calls") else "stop"}],
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


    def bedrock_stream(self, req, k):
        c = req["messages"][-1]["content"][0]
        msgs = [aws_event("messageStart", {"role": "assistant"})]
        if "toolResult" in c:
            text = summary(c["toolResult"]["content"][0]["text"])
            msgs += [aws_event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": p}})
                     for p in pieces(text)]
        else:
            name, args = intent(c.get("text", ""))
            msgs.append(aws_event("contentBlockStart", {"contentBlockIndex": 0, "start": {
                "toolUse": {"toolUseId": "tooluse_%d" % k, "name": name}}}))
            msgs += [aws_event("contentBlockDelta", {"contentBlockIndex": 0,
                                                     "delta": {"toolUse": {"input": p}}})
                     for p in pieces(json.dumps(args))]
        msgs += [aws_event("contentBlockStop", {"contentBlockIndex": 0}),
                 aws_event("messageStop", {"stopReason": "end_turn"}),
                 aws_event("metadata", {"usage": {"inputTokens": 20, "outputTokens": 5}})]
        self.stream(msgs, "application/vnd.amazon.eventstream")


ThreadingHTTPServer(("127.0.0.1", PORT), H).serve_forever()
