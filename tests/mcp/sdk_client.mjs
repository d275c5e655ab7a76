// sdk_client.mjs -- the MCP endpoint with the official TypeScript SDK:
// a client-credentials token from /oauth2/token, initialize, tools/list and
// tools/call for all three tools against a live headless desktop client, and
// the auth failures. Prints "ok - ..." / "not ok - ..." lines.
// Usage: node sdk_client.mjs BASE_URL CLIENT_ID CLIENT_SECRET SESSION
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const { Client } = require("../node_modules/@modelcontextprotocol/sdk/dist/cjs/client/index.js");
const { StreamableHTTPClientTransport } = require(
  "../node_modules/@modelcontextprotocol/sdk/dist/cjs/client/streamableHttp.js");

const [base, id, secret, session] = process.argv.slice(2);
let failed = 0;
const check = (name, cond, detail) => {
  if (cond) console.log("ok - " + name);
  else { failed++; console.log("not ok - " + name + (detail ? "\n#   " + detail : "")); }
};

const tok = await fetch(base + "/oauth2/token", {
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded",
             authorization: "Basic " + Buffer.from(id + ":" + secret).toString("base64") },
  body: "grant_type=client_credentials",
}).then((r) => r.json());
check("oauth: client_secret_basic gives a bearer token", tok.token_type === "Bearer" && tok.access_token);
const post = await fetch(base + "/oauth2/token", {
  method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" },
  body: `grant_type=client_credentials&client_id=${id}&client_secret=${secret}`,
});
check("oauth: client_secret_post works too", post.status === 200);
const bad = await fetch(base + "/oauth2/token", {
  method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" },
  body: `grant_type=client_credentials&client_id=${id}&client_secret=wrong`,
});
check("oauth: a wrong secret gets 401 invalid_client", bad.status === 401 && (await bad.json()).error === "invalid_client");

const noauth = await fetch(base + "/mcp", { method: "POST",
  headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
  body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: {} }) });
check("mcp: no token gets 401 with resource metadata",
  noauth.status === 401 && /resource_metadata=/.test(noauth.headers.get("www-authenticate") || ""));
const meta = await fetch(base + "/.well-known/oauth-protected-resource").then((r) => r.json());
check("mcp: protected resource metadata", meta.resource === base + "/mcp" && meta.authorization_servers[0] === base);

const transport = new StreamableHTTPClientTransport(new URL(base + "/mcp"), {
  requestInit: { headers: { Authorization: "Bearer " + tok.access_token } } });
const client = new Client({ name: "agent-async-test", version: "1.0.0" });
await client.connect(transport);
check("mcp: initialize with a session id", !!transport.sessionId);
const tools = await client.listTools();
const names = tools.tools.map((t) => t.name).sort();
check("mcp: tools/list has the three tools",
  JSON.stringify(names) === JSON.stringify(["analyze_logs", "get_vpn_status", "run_client_command"]));
check("mcp: tools carry titles, input and output schemas",
  tools.tools.every((t) => t.title && t.inputSchema.type === "object" && t.outputSchema));

const st = await client.callTool({ name: "get_vpn_status", arguments: { query: "vpn_status", session_id: session } });
check("mcp: get_vpn_status through the desktop client",
  !st.isError && st.structuredContent && st.structuredContent.status === "connected", JSON.stringify(st));
const cmd = await client.callTool({ name: "run_client_command", arguments: { command: "connect_vpn", session_id: session } });
check("mcp: run_client_command sent", !cmd.isError && cmd.structuredContent.status === "sent_to_client", JSON.stringify(cmd));
const logs = await client.callTool({ name: "analyze_logs", arguments: { log_type: "vpn", session_id: session } });
check("mcp: analyze_logs returns the logs", !logs.isError && /DPD timeout/.test(logs.structuredContent.log_data), JSON.stringify(logs).slice(0, 300));
const progress = [];
const streamed = await client.callTool(
  { name: "get_vpn_status", arguments: { query: "vpn_status", session_id: session } },
  undefined, { onprogress: (p) => progress.push(p) });
check("mcp: a call with a progress token streams progress then the result (SSE)",
  progress.length >= 1 && streamed.structuredContent && streamed.structuredContent.status === "connected",
  JSON.stringify({ progress, streamed }).slice(0, 300));
const gone = await client.callTool({ name: "get_vpn_status", arguments: { query: "vpn_status", session_id: "nobody-here" } });
check("mcp: a session without a client gets an isError result", gone.isError === true);
const badargs = await client.callTool({ name: "analyze_logs", arguments: { session_id: session } });
check("mcp: bad arguments get an isError result", badargs.isError === true);
let unknown = null;
try { await client.callTool({ name: "format_disk", arguments: {} }); } catch (e) { unknown = e; }
check("mcp: an unknown tool is a JSON-RPC error", unknown && /unknown tool/.test(String(unknown.message)));
await client.ping();
check("mcp: ping", true);
await client.close();
console.log(`mcp: ${failed ? "failed" : "done"}`);
process.exit(failed ? 1 : 0);
