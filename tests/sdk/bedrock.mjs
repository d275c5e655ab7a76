// bedrock.mjs -- our Bedrock provider's requests and the stand-in's answers
// through the AWS SDK (@aws-sdk/client-bedrock-runtime): each request body we
// sent (from the stand-in's log) is given to the SDK as ConverseStream input
// and must serialize to the same JSON, to the same path; the stand-in's
// Converse and ConverseStream answers must parse in the SDK (its event-stream
// codec checks the frames and their CRCs).
// Usage: node bedrock.mjs REQUESTS.jsonl PYTHON FAKE_SCRIPT LOGDIR
import fs from "node:fs";
import http from "node:http";
import { BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand } from "@aws-sdk/client-bedrock-runtime";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { check, finish, sorted, startFake } from "./common.mjs";

const [reqlog, python, fake, logdir] = process.argv.slice(2);
const creds = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" };
// HTTP/1.1, as our provider and the stand-in speak (the SDK's default for
// streams is HTTP/2)
const h1 = () => new NodeHttpHandler();

// 1. Our requests, re-serialized by the SDK.
const ours = fs.readFileSync(reqlog, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l))
  .filter((r) => r.path.startsWith("/model/"));
const seen = [];
const capture = http.createServer((req, res) => {
  let b = ""; req.on("data", (c) => (b += c)); req.on("end", () => { seen.push({ path: req.url, body: b }); res.writeHead(500, { "content-type": "application/json" }); res.end("{\"message\":\"captured\"}"); });
});
await new Promise((r) => capture.listen(0, "127.0.0.1", r));
const cap = new BedrockRuntimeClient({ region: "us-west-2", endpoint: `http://127.0.0.1:${capture.address().port}`, credentials: creds, maxAttempts: 1, requestHandler: h1() });
let same = 0, firstDiff = "";
for (const r of ours) {
  const modelId = decodeURIComponent(r.path.split("/")[2]);
  const input = { modelId, ...r.body };
  seen.length = 0;
  const Cmd = r.path.endsWith("/converse-stream") ? ConverseStreamCommand : ConverseCommand;
  try { await cap.send(new Cmd(input)); } catch (e) { /* the capture answers 500 */ }
  const sdk = seen[0];
  const a = JSON.stringify(sorted(r.body)), b = sdk ? JSON.stringify(sorted(JSON.parse(sdk.body))) : "";
  if (sdk && a === b && sdk.path === r.path) same++;
  else if (!firstDiff) firstDiff = `path ours ${r.path} sdk ${sdk?.path}\nours ${a.slice(0, 300)}\nsdk  ${b.slice(0, 300)}`;
}
capture.close();
check(`bedrock SDK: ${same} of ${ours.length} of our requests are what the SDK serializes for the same input (body and path)`, ours.length > 0 && same === ours.length, firstDiff);

// 2. The stand-in's answers, parsed by the SDK.
const f = await startFake(python, fake, logdir);
const port = f.port;
try {
  const c = new BedrockRuntimeClient({ region: "us-west-2", endpoint: `http://127.0.0.1:${port}`, credentials: creds, maxAttempts: 1, requestHandler: h1() });
  const modelId = "us.anthropic.claude-sonnet-4-20250514-v1:0";
  const toolConfig = { tools: [{ toolSpec: { name: "get_vpn_status", description: "status", inputSchema: { json: { type: "object", properties: { query: { type: "string" } } } } } }] };
  const ask = [{ role: "user", content: [{ text: "What's my VPN status?" }] }];
  const after = [...ask, { role: "assistant", content: [{ toolUse: { toolUseId: "t1", name: "get_vpn_status", input: { query: "vpn_status" } } }] },
    { role: "user", content: [{ toolResult: { toolUseId: "t1", content: [{ text: JSON.stringify({ content: [{ type: "text", text: JSON.stringify({ status: "connected" }) }] }) }] } }] }];
  try {
    const out = await c.send(new ConverseCommand({ modelId, messages: ask, toolConfig }));
    const tu = out.output?.message?.content?.find((b) => b.toolUse);
    check("bedrock SDK: a Converse tool-use answer parses", out.stopReason === "tool_use" && tu?.toolUse?.input?.query === "vpn_status", JSON.stringify(out));
  } catch (e) { check("bedrock SDK: a Converse tool-use answer parses", false, e); }
  for (const [what, messages] of [["tool use", ask], ["text after a tool result", after]]) {
    try {
      const out = await c.send(new ConverseStreamCommand({ modelId, messages, toolConfig }));
      const kinds = [];
      let text = "", json = "";
      for await (const ev of out.stream) {
        kinds.push(Object.keys(ev)[0]);
        text += ev.contentBlockDelta?.delta?.text ?? "";
        json += ev.contentBlockDelta?.delta?.toolUse?.input ?? "";
      }
      const ok = what === "tool use" ? JSON.parse(json || "{}").query === "vpn_status" : /status=connected/.test(text);
      check(`bedrock SDK: a ConverseStream ${what} answer decodes (event-stream frames, CRCs)`, ok && kinds.includes("messageStop"), kinds.join(","));
    } catch (e) { check(`bedrock SDK: a ConverseStream ${what} answer decodes`, false, e); }
  }
} finally { f.stop(); }

// 3. A 429 in Bedrock's error shape: the SDK's ThrottlingException.
const g = await startFake(python, fake, logdir, { FAIL_FIRST: "100" });
const port2 = g.port;
try {
  const c = new BedrockRuntimeClient({ region: "us-west-2", endpoint: `http://127.0.0.1:${port2}`, credentials: creds, maxAttempts: 1, requestHandler: h1() });
  try {
    await c.send(new ConverseCommand({ modelId: "m", messages: [{ role: "user", content: [{ text: "hi" }] }] }));
    check("bedrock SDK: a 429 is a ThrottlingException", false, "no error");
  } catch (e) {
    check("bedrock SDK: a 429 is a ThrottlingException (x-amzn-ErrorType, message)", e.name === "ThrottlingException" && e.$metadata?.httpStatusCode === 429 && /Too many requests/.test(e.message), `${e.name} ${e.message}`);
  }
} finally { g.stop(); }
finish();
