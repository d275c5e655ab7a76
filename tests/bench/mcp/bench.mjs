// bench.mjs -- tools/call round trip through our MCP endpoint, side by side
// with an MCP TypeScript SDK server doing an in-process echo, in one run and
// measured by the same SDK client.
//
// Ours: get_vpn_status on a session whose desktop is `aa-bench desk` (answers
// at once): gateway -> exec_start.lua -> tool worker -> callback pushed to the
// desktop over the WebSocket -> answer -> resume -> result -> gateway.
// Theirs: the SDK's Server + StreamableHTTPServerTransport (sessions, as in
// its examples) with an `echo` tool that returns its input.
// The two alternate in rounds so that machine noise falls on both.
// Usage: node bench.mjs BASE_URL CLIENT_ID CLIENT_SECRET SESSION [N] [ROUNDS]
import { createRequire } from "node:module";
import http from "node:http";
import { randomUUID } from "node:crypto";
const require = createRequire(import.meta.url);
const sdk = "../../node_modules/@modelcontextprotocol/sdk/dist/cjs/";
const { Client } = require(sdk + "client/index.js");
const { StreamableHTTPClientTransport } = require(sdk + "client/streamableHttp.js");
const { Server } = require(sdk + "server/index.js");
const { StreamableHTTPServerTransport } = require(sdk + "server/streamableHttp.js");
const { McpServer } = require(sdk + "server/mcp.js");
const { CallToolRequestSchema, ListToolsRequestSchema } = require(sdk + "types.js");
// zod as the SDK itself resolves it (its dependency, not ours)
const z = createRequire(require.resolve(sdk + "server/mcp.js"))("zod");

const [base, id, secret, session, nArg, roundsArg] = process.argv.slice(2);
const N = Number(nArg || 1000), ROUNDS = Number(roundsArg || 5), WARM = 50;

// the SDK echo server: in its own process (as a real server would be), or in
// this one with BENCH_SAME_PROCESS=1
import { fork } from "node:child_process";
const transports = new Map();
const server = http.createServer(async (req, res) => {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
  const sid = req.headers["mcp-session-id"];
  let t = sid && transports.get(sid);
  if (!t) {
    t = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (s) => transports.set(s, t) });
    if (process.env.BENCH_LOWLEVEL) {
      const mcp = new Server({ name: "echo", version: "1.0.0" }, { capabilities: { tools: {} } });
      mcp.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: [{ name: "echo",
        description: "echo", inputSchema: { type: "object", properties: { text: { type: "string" } } } }] }));
      mcp.setRequestHandler(CallToolRequestSchema, async (req) => ({
        content: [{ type: "text", text: String(req.params.arguments?.text ?? "") }] }));
      await mcp.connect(t);
    } else {
      const mcp = new McpServer({ name: "echo", version: "1.0.0" });
      mcp.registerTool("echo", { description: "echo", inputSchema: { text: z.string() } },
        async ({ text }) => ({ content: [{ type: "text", text }] }));
      await mcp.connect(t);
    }
  }
  await t.handleRequest(req, res, body);
});
let echoUrl, child;
if (process.env.BENCH_ECHO_SERVER || process.env.BENCH_SAME_PROCESS) {
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  echoUrl = `http://127.0.0.1:${server.address().port}/mcp`;
  if (process.env.BENCH_ECHO_SERVER) {
    process.send(echoUrl);
    await new Promise(() => {}); // serve until killed
  }
} else {
  child = fork(new URL(import.meta.url).pathname, process.argv.slice(2),
    { env: { ...process.env, BENCH_ECHO_SERVER: "1" } });
  echoUrl = await new Promise((r) => child.once("message", r));
}

const tok = await fetch(base + "/oauth2/token", {
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded",
             authorization: "Basic " + Buffer.from(id + ":" + secret).toString("base64") },
  body: "grant_type=client_credentials",
}).then((r) => r.json());

const connect = async (url, headers) => {
  const client = new Client({ name: "bench", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  return client;
};
const ours = await connect(base + "/mcp", { Authorization: "Bearer " + tok.access_token });
const theirs = await connect(echoUrl, {});
const callOurs = () => ours.callTool({ name: "get_vpn_status",
  arguments: { query: "vpn_status", session_id: session } });
const callTheirs = () => theirs.callTool({ name: "echo", arguments: { text: "connected" } });
// the floor both share: the SDK client and HTTP, with no tool at all
for (const [name, c] of [["agent-async", ours], ["the TypeScript SDK server", theirs]]) {
  const a = [];
  for (let i = 0; i < 1000; i++) {
    const t0 = process.hrtime.bigint();
    await c.ping();
    a.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  a.sort((x, y) => x - y);
  console.log(`mcp ping via ${name} n=1000 p50=${a[500].toFixed(3)} ms p99=${a[990].toFixed(3)} ms`);
}

const check = await callOurs();
if (check.isError || check.structuredContent?.status !== "connected") {
  console.error("bench: get_vpn_status did not answer connected: " + JSON.stringify(check));
  process.exit(1);
}
for (let i = 0; i < WARM; i++) { await callOurs(); await callTheirs(); }
const lat = { ours: [], theirs: [] };
const per = Math.ceil(N / ROUNDS);
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, fn] of [["ours", callOurs], ["theirs", callTheirs]]) {
    for (let i = 0; i < per; i++) {
      const t0 = process.hrtime.bigint();
      const res = await fn();
      lat[name].push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (res.isError) { console.error("bench: an error result: " + JSON.stringify(res)); process.exit(1); }
    }
  }
}
const q = (a, p) => a[Math.min(a.length - 1, Math.floor(a.length * p))];
const stats = {};
for (const k of Object.keys(lat)) {
  const a = lat[k].sort((x, y) => x - y);
  stats[k] = { p50: q(a, 0.5), p99: q(a, 0.99) };
}
console.log(`mcp tools/call get_vpn_status via agent-async (durable, desktop round trip) n=${lat.ours.length} ` +
  `p50=${stats.ours.p50.toFixed(3)} ms p99=${stats.ours.p99.toFixed(3)} ms`);
console.log(`mcp tools/call echo via the TypeScript SDK server (${child ? "own process" : "same process"}) n=${lat.theirs.length} ` +
  `p50=${stats.theirs.p50.toFixed(3)} ms p99=${stats.theirs.p99.toFixed(3)} ms`);
console.log(`mcp ratio: their echo p50 / our durable p50 = ${(stats.theirs.p50 / stats.ours.p50).toFixed(2)}x, ` +
  `p99 ${(stats.theirs.p99 / stats.ours.p99).toFixed(2)}x`);
await ours.close();
await theirs.close();
server.close();
child?.kill();
process.exit(0);
