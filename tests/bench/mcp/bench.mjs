// bench.mjs -- tools/call round trip through our MCP endpoint, side by side
// with MCP TypeScript SDK servers doing an in-process echo, in one run and
// measured by the same SDK client.
//
// Ours: get_vpn_status on a session whose desktop is `aa-bench desk` (answers
// at once): gateway -> exec_start.lua -> tool worker -> callback pushed to the
// desktop over the WebSocket -> answer -> resume -> result -> gateway.
// Theirs: McpServer + StreamableHTTPServerTransport with an `echo` tool that
// returns its input, each in its own Node process, in the two shapes of the
// SDK's examples: stateful (a session and its transport kept between
// requests) and stateless (a server and a transport per request); and the
// stateful one again inside the client's own process.
// All alternate in rounds so that machine noise falls on all.
// Usage: node bench.mjs BASE_URL CLIENT_ID CLIENT_SECRET SESSION [N] [ROUNDS]
import { createRequire } from "node:module";
import { fork } from "node:child_process";
import http from "node:http";
import { randomUUID } from "node:crypto";
const require = createRequire(import.meta.url);
const sdk = "../../node_modules/@modelcontextprotocol/sdk/dist/cjs/";
import { basicToken, connectClient } from "../../mcp/common.mjs";
const { McpServer } = require(sdk + "server/mcp.js");
const { StreamableHTTPServerTransport } = require(sdk + "server/streamableHttp.js");
// zod as the SDK itself resolves it (its dependency, not ours)
const z = createRequire(require.resolve(sdk + "server/mcp.js"))("zod");

const echoServer = () => {
  const mcp = new McpServer({ name: "echo", version: "1.0.0" });
  mcp.registerTool("echo", { description: "echo", inputSchema: { text: z.string() } },
    async ({ text }) => ({ content: [{ type: "text", text }] }));
  return mcp;
};

// The echo server in one of the two shapes; onListening gets its URL.
const serveEcho = (stateless, onListening) => {
  const transports = new Map();
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
    if (stateless) {
      if (req.method !== "POST") { res.writeHead(405).end(); return; }
      const mcp = echoServer();
      const t = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      res.on("close", () => { t.close(); mcp.close(); });
      await mcp.connect(t);
      await t.handleRequest(req, res, body);
      return;
    }
    const sid = req.headers["mcp-session-id"];
    let t = sid && transports.get(sid);
    if (!t) {
      t = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (s) => transports.set(s, t) });
      await echoServer().connect(t);
    }
    await t.handleRequest(req, res, body);
  });
  server.listen(0, "127.0.0.1", () => onListening(`http://127.0.0.1:${server.address().port}/mcp`));
};

if (process.env.BENCH_ECHO) {
  // a child process: the echo server alone
  serveEcho(process.env.BENCH_ECHO === "stateless", (url) => process.send(url));
} else {
  const [base, id, secret, session, nArg, roundsArg] = process.argv.slice(2);
  const N = Number(nArg || 1000), ROUNDS = Number(roundsArg || 5), WARM = 50;
  const children = [];
  // a failure ends the echo servers too (they would outlive the run)
  const die = (msg) => {
    console.error(msg);
    for (const c of children) c.kill();
    process.exit(1);
  };
  const spawnEcho = async (shape) => {
    const child = fork(new URL(import.meta.url).pathname, [], { env: { ...process.env, BENCH_ECHO: shape } });
    children.push(child);
    return new Promise((r) => child.once("message", r));
  };
  const connect = async (url, headers) => (await connectClient(url, headers, "bench")).client;
  const tok = await basicToken(base, id, secret);
  const ours = await connect(base + "/mcp", { Authorization: "Bearer " + tok.access_token });
  const statefulUrl = await spawnEcho("stateful"), statelessUrl = await spawnEcho("stateless");
  // and the literal reading of "in-process echo": the stateful
  // server in this very process, sharing the client's event loop
  const inprocUrl = await new Promise((r) => serveEcho(false, r));
  const stateful = await connect(statefulUrl, {});
  const stateless = await connect(statelessUrl, {});
  const inproc = await connect(inprocUrl, {});
  const targets = [
    ["get_vpn_status via agent-async (durable, desktop round trip)", ours,
     () => ours.callTool({ name: "get_vpn_status", arguments: { query: "vpn_status", session_id: session } })],
    ["echo via the TypeScript SDK server, stateful (own process)", stateful,
     () => stateful.callTool({ name: "echo", arguments: { text: "connected" } })],
    ["echo via the TypeScript SDK server, stateless (own process)", stateless,
     () => stateless.callTool({ name: "echo", arguments: { text: "connected" } })],
    ["echo via the TypeScript SDK server, stateful (in the client's process)", inproc,
     () => inproc.callTool({ name: "echo", arguments: { text: "connected" } })],
  ];
  const check = await targets[0][2]();
  if (check.isError || check.structuredContent?.status !== "connected") {
    die("bench: get_vpn_status did not answer connected: " + JSON.stringify(check));
  }
  const q = (a, p) => a[Math.min(a.length - 1, Math.floor(a.length * p))];
  const timed = async (fn, n, into) => {
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      const res = await fn();
      into?.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (res?.isError) die("bench: an error result: " + JSON.stringify(res));
    }
  };
  for (const [, , fn] of targets) await timed(fn, WARM);
  // the floor they share: the SDK client and HTTP, with no tool at all
  for (const [name, client] of targets) {
    const a = [];
    await timed(() => client.ping(), 1000, a);
    a.sort((x, y) => x - y);
    const label = name.replace(/ \((own process|durable.*)\)$/, "").replace(/^\S+ via /, "");
    console.log(`mcp ping (${label}) n=1000 ` +
      `p50=${q(a, 0.5).toFixed(3)} ms p99=${q(a, 0.99).toFixed(3)} ms p99.9=${q(a, 0.999).toFixed(3)} ms`);
  }
  const lat = targets.map(() => []);
  for (let r = 0; r < ROUNDS; r++)
    for (let t = 0; t < targets.length; t++) await timed(targets[t][2], Math.ceil(N / ROUNDS), lat[t]);
  const p50 = [];
  targets.forEach(([name], t) => {
    const a = lat[t].sort((x, y) => x - y);
    p50.push(q(a, 0.5));
    console.log(`mcp tools/call ${name} n=${a.length} p50=${q(a, 0.5).toFixed(3)} ms p99=${q(a, 0.99).toFixed(3)} ms p99.9=${q(a, 0.999).toFixed(3)} ms`);
  });
  console.log(`mcp p50 ratios (their echo / our durable call): stateful ${(p50[1] / p50[0]).toFixed(2)}x, ` +
    `stateless ${(p50[2] / p50[0]).toFixed(2)}x, in-process ${(p50[3] / p50[0]).toFixed(2)}x`);
  // The same calls from a thin client (node:http, one kept-alive socket, no
  // SDK): what the servers themselves take, without the SDK client's work.
  const thin = async (url, headers, name, args) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const u = new URL(url);
    const post = (body, extra = {}) => new Promise((resolve, reject) => {
      const data = JSON.stringify(body);
      const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: "POST", agent,
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream",
                   "content-length": Buffer.byteLength(data), ...headers, ...extra } }, (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ res, body: Buffer.concat(chunks).toString() }));
      });
      req.on("error", reject);
      req.end(data);
    });
    const init = await post({ jsonrpc: "2.0", id: 0, method: "initialize", params: {
      protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "thin", version: "1.0.0" } } });
    const sid = init.res.headers["mcp-session-id"];
    const extra = { "mcp-protocol-version": "2025-06-18", ...(sid ? { "mcp-session-id": sid } : {}) };
    await post({ jsonrpc: "2.0", method: "notifications/initialized" }, extra);
    return async () => {
      const r = await post({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name, arguments: args } }, extra);
      if (r.res.statusCode !== 200 || !r.body.includes("connected") || r.body.includes('"isError":true')) {
        die("bench: thin client got " + r.res.statusCode + " " + r.body);
      }
    };
  };
  const thins = [
    await thin(base + "/mcp", { authorization: "Bearer " + tok.access_token }, "get_vpn_status",
               { query: "vpn_status", session_id: session }),
    await thin(statefulUrl, {}, "echo", { text: "connected" }),
    await thin(statelessUrl, {}, "echo", { text: "connected" }),
  ];
  for (const fn of thins) await timed(fn, WARM);
  const tl = thins.map(() => []);
  for (let r = 0; r < ROUNDS; r++)
    for (let t = 0; t < thins.length; t++) await timed(thins[t], Math.ceil(N / ROUNDS), tl[t]);
  const tp = tl.map((a) => a.sort((x, y) => x - y)).map((a) => [q(a, 0.5), q(a, 0.99)]);
  console.log(`mcp tools/call from a thin HTTP client (no SDK) n=${tl[0].length}: ` +
    `agent-async p50=${tp[0][0].toFixed(3)} ms p99=${tp[0][1].toFixed(3)} ms; ` +
    `SDK echo stateful p50=${tp[1][0].toFixed(3)} ms p99=${tp[1][1].toFixed(3)} ms; ` +
    `stateless p50=${tp[2][0].toFixed(3)} ms p99=${tp[2][1].toFixed(3)} ms`);
  for (const c of [ours, stateful, stateless, inproc]) await c.close();
  for (const c of children) c.kill();
  process.exit(0);
}
