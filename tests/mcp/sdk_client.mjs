// sdk_client.mjs -- the MCP endpoint with the official TypeScript SDK:
// a client-credentials token from /oauth2/token, initialize, tools/list and
// tools/call for all three tools against a live headless desktop client,
// tasks (run to completion, collected by another connection after a
// disconnect, cancelled, isolated between OAuth clients), cancellation of a
// plain call, a tools/call stream resumed with Last-Event-ID, and the auth
// failures. Prints "ok - ..." / "not ok - ..." lines.
// Usage: node sdk_client.mjs BASE_URL CLIENT_ID CLIENT_SECRET SESSION SLOW_SESSION
//        OTHER_CLIENT_ID OTHER_SECRET
// (SLOW_SESSION's desktop client takes seconds to answer.)
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
import { basicToken, connectClient } from "./common.mjs";
const { CallToolResultSchema, CreateTaskResultSchema, TaskStatusNotificationSchema } = require(
  "../node_modules/@modelcontextprotocol/sdk/dist/cjs/types.js");

const [base, id, secret, session, slow, id2, secret2] = process.argv.slice(2);
let failed = 0;
const check = (name, cond, detail) => {
  if (cond) console.log("ok - " + name);
  else { failed++; console.log("not ok - " + name + (detail ? "\n#   " + detail : "")); }
};

const tok = await basicToken(base, id, secret);
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

const connect = (token) => connectClient(base + "/mcp", { Authorization: "Bearer " + token });
const { client, transport } = await connect(tok.access_token);
const notes = [];
client.setNotificationHandler(TaskStatusNotificationSchema, (n) => notes.push(n.params));
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

// ---- tasks ----
const waitFor = async (cond, ms) => {
  for (const until = Date.now() + ms; Date.now() < until; await new Promise((r) => setTimeout(r, 50)))
    if (cond()) return true;
  return cond();
};
check("tasks: get_vpn_status and analyze_logs may run as tasks, run_client_command not",
  tools.tools.every((t) => (t.execution?.taskSupport === "forbidden") === (t.name === "run_client_command")));
const msgs = [];
for await (const m of client.experimental.tasks.callToolStream(
  { name: "analyze_logs", arguments: { log_type: "vpn", session_id: session } },
  CallToolResultSchema, { task: { ttl: 600000 } }))
  msgs.push(m);
const last = msgs.at(-1);
check("tasks: analyze_logs runs as a task to completion (created, polled, result)",
  msgs[0].type === "taskCreated" && msgs.some((m) => m.type === "taskStatus") && last.type === "result" &&
  /DPD timeout/.test(last.result.structuredContent?.log_data || ""), JSON.stringify(msgs).slice(0, 400));
const doneId = msgs[0].task?.taskId;
check("tasks: the GET stream carries notifications/tasks/status",
  await waitFor(() => notes.some((n) => n.taskId === doneId && n.status === "completed"), 3000),
  JSON.stringify(notes).slice(0, 300));
let forbidden = null;
try {
  await client.request({ method: "tools/call", params: { name: "run_client_command",
    arguments: { command: "connect_vpn", session_id: session }, task: {} } }, CreateTaskResultSchema);
} catch (e) { forbidden = e; }
check("tasks: run_client_command as a task is -32601", forbidden && forbidden.code === -32601, String(forbidden));

// a task on the slow desktop, left by one connection and collected by another
const created = await client.request({ method: "tools/call", params: { name: "get_vpn_status",
  arguments: { query: "vpn_status", session_id: slow }, task: { ttl: 600000 } } }, CreateTaskResultSchema);
const tid = created.task.taskId;
check("tasks: tools/call with a task answers at once with a working task",
  created.task.status === "working" && created.task.ttl === 600000 && created.task.pollInterval > 0,
  JSON.stringify(created));
await client.close();
const second = await connect(tok.access_token);
const c2 = second.client;
const got = await c2.experimental.tasks.getTask(tid);
check("tasks: another connection sees the task working", got.status === "working", JSON.stringify(got));
const listed = await c2.experimental.tasks.listTasks();
check("tasks: tasks/list has it", listed.tasks.some((t) => t.taskId === tid && t.createdAt), JSON.stringify(listed).slice(0, 300));
const t0 = Date.now();
const res = await c2.experimental.tasks.getTaskResult(tid, CallToolResultSchema);
check("tasks: tasks/result waits for the end and gives the result",
  res.structuredContent?.status === "connected" &&
  res._meta?.["io.modelcontextprotocol/related-task"]?.taskId === tid, JSON.stringify(res));
const after = await c2.experimental.tasks.getTask(tid);
check("tasks: then the task is completed", after.status === "completed", JSON.stringify(after));

// cancel one
const victim = (await c2.request({ method: "tools/call", params: { name: "get_vpn_status",
  arguments: { query: "vpn_status", session_id: slow }, task: {} } }, CreateTaskResultSchema)).task.taskId;
const tok2 = await fetch(base + "/oauth2/token", {
  method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" },
  body: `grant_type=client_credentials&client_id=${id2}&client_secret=${secret2}`,
}).then((r) => r.json());
const other = await connect(tok2.access_token);
let foreign = null;
try { await other.client.experimental.tasks.getTask(victim); } catch (e) { foreign = e; }
check("tasks: another OAuth client cannot see the task", foreign && foreign.code === -32602, String(foreign));
const olist = await other.client.experimental.tasks.listTasks();
check("tasks: nor list it", !olist.tasks.some((t) => t.taskId === victim), JSON.stringify(olist).slice(0, 200));
foreign = null;
try { await other.client.experimental.tasks.cancelTask(victim); } catch (e) { foreign = e; }
check("tasks: nor cancel it", foreign && foreign.code === -32602, String(foreign));
await other.client.close();
const cancelled = await c2.experimental.tasks.cancelTask(victim);
check("tasks: tasks/cancel ends a working task as cancelled", cancelled.status === "cancelled", JSON.stringify(cancelled));
let again = null;
try { await c2.experimental.tasks.cancelTask(victim); } catch (e) { again = e; }
check("tasks: cancelling an ended task is -32602", again && again.code === -32602, String(again));
const vres = await c2.experimental.tasks.getTaskResult(victim, CallToolResultSchema);
check("tasks: the result of a cancelled task is an isError result", vres.isError === true, JSON.stringify(vres));
let unknownTask = null;
try { await c2.experimental.tasks.getTask("mcpt-nosuchtask"); } catch (e) { unknownTask = e; }
check("tasks: an unknown task id is -32602", unknownTask && unknownTask.code === -32602, String(unknownTask));

// notifications/cancelled for a plain call
const ac = new AbortController();
setTimeout(() => ac.abort("changed my mind"), 300);
let aborted = null;
try {
  await c2.callTool({ name: "get_vpn_status", arguments: { query: "vpn_status", session_id: slow } },
    undefined, { signal: ac.signal });
} catch (e) { aborted = e; }
check("cancel: an aborted call is given up by the client", aborted !== null, String(aborted));
await c2.ping();
check("cancel: the session goes on after notifications/cancelled", true);

// a streamed call whose connection drops, resumed with Last-Event-ID
const hdrs = { Authorization: "Bearer " + tok.access_token, "content-type": "application/json",
  accept: "application/json, text/event-stream", "mcp-session-id": second.transport.sessionId,
  "mcp-protocol-version": "2025-11-25" };
const ac2 = new AbortController();
const first = await fetch(base + "/mcp", { method: "POST", headers: hdrs, signal: ac2.signal,
  body: JSON.stringify({ jsonrpc: "2.0", id: 77, method: "tools/call", params: { name: "get_vpn_status",
    arguments: { query: "vpn_status", session_id: slow }, _meta: { progressToken: "p77" } } }) });
const reader = first.body.getReader();
let text = "";
while (!/\nid: [^\n]*\/1\n/.test("\n" + text)) {
  const { value, done } = await reader.read();
  if (done) break;
  text += Buffer.from(value).toString();
}
const lastId = [...text.matchAll(/^id: (.*)$/gm)].map((m) => m[1]).at(-1);
ac2.abort();
check("resume: a streamed call starts with a priming event id", /^id: \S+\/0$/m.test(text) && lastId, text);
const resumed = await fetch(base + "/mcp", { method: "GET",
  headers: { ...hdrs, accept: "text/event-stream", "last-event-id": lastId } });
const rtext = await resumed.text();
const answer = rtext.split("\n").filter((l) => l.startsWith("data: {")).map((l) => JSON.parse(l.slice(6)))
  .find((m) => m.id === 77);
check("resume: GET with Last-Event-ID delivers the call's result after the drop",
  resumed.status === 200 && answer?.result?.structuredContent?.status === "connected", rtext.slice(0, 300));
await c2.close();
console.log(`mcp: ${failed ? "failed" : "done"}`);
process.exit(failed ? 1 : 0);
