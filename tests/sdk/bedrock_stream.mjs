// bedrock_stream.mjs -- a Bedrock ConverseStream stand-in whose frames are
// encoded by the AWS SDK's own event-stream codec (@smithy/core's
// EventStreamCodec: prelude, headers, payload, both CRC-32s), so that our
// parser (worker/evstream.c) reads frames made by other hands. It answers
// a prompt with a tool use (get_vpn_status, or analyze_logs for "logs")
// and a tool result with "SDK-encoded: ..." text.
// Usage: node bedrock_stream.mjs PORT
import http from "node:http";
import { EventStreamCodec } from "@smithy/core/event-streams";

const codec = new EventStreamCodec((b) => Buffer.from(b).toString("utf8"), (s) => new Uint8Array(Buffer.from(s, "utf8")));
const frame = (type, payload) => Buffer.from(codec.encode({
  headers: {
    ":event-type": { type: "string", value: type },
    ":content-type": { type: "string", value: "application/json" },
    ":message-type": { type: "string", value: "event" },
  },
  body: new Uint8Array(Buffer.from(JSON.stringify(payload))),
}));
let n = 0;
http.createServer((req, res) => {
  let b = "";
  req.on("data", (c) => (b += c));
  req.on("end", () => {
    n++;
    if (!req.url.startsWith("/model/") || !req.url.endsWith("/converse-stream")) { res.writeHead(404); res.end("{}"); return; }
    const body = JSON.parse(b);
    const last = body.messages.at(-1).content[0];
    const out = [frame("messageStart", { role: "assistant" })];
    if (last.toolResult) {
      const mcp = JSON.parse(last.toolResult.content[0].text);
      const text = "SDK-encoded: " + mcp.content[0].text.slice(0, 200);
      for (let i = 0; i < text.length; i += 40)
        out.push(frame("contentBlockDelta", { contentBlockIndex: 0, delta: { text: text.slice(i, i + 40) } }));
    } else {
      const logs = /log/i.test(last.text || "");
      out.push(frame("contentBlockStart", { contentBlockIndex: 0, start: { toolUse: { toolUseId: "tooluse_" + n, name: logs ? "analyze_logs" : "get_vpn_status" } } }));
      const input = JSON.stringify(logs ? { log_type: "vpn" } : { query: "vpn_status" });
      for (let i = 0; i < input.length; i += 7)
        out.push(frame("contentBlockDelta", { contentBlockIndex: 0, delta: { toolUse: { input: input.slice(i, i + 7) } } }));
    }
    out.push(frame("contentBlockStop", { contentBlockIndex: 0 }),
      frame("messageStop", { stopReason: last.toolResult ? "end_turn" : "tool_use" }),
      frame("metadata", { usage: { inputTokens: 20, outputTokens: 5, totalTokens: 25 }, metrics: { latencyMs: 12 } }));
    res.writeHead(200, { "content-type": "application/vnd.amazon.eventstream" });
    // in pieces that cut frames anywhere, as a network would
    const all = Buffer.concat(out);
    for (let i = 0; i < all.length; i += 23) res.write(all.subarray(i, i + 23));
    res.end();
  });
}).listen(Number(process.argv[2]), "127.0.0.1", () => console.log("listening"));
