// ws_node.mjs -- the gateway with npm's ws as the peer: ping/pong, a JSON
// round trip, a fragmented message, a clean close.
// Usage: node ws_node.mjs URL TOKEN; prints "ok" or what failed.
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const WebSocket = require("../node_modules/ws");

const [url, token] = process.argv.slice(2);
const fail = (m) => { console.log("failed: " + m); process.exit(0); };
setTimeout(() => fail("timeout"), 10000);
const ws = new WebSocket(url + "?session_id=node-client", { headers: { Authorization: "Bearer " + token } });
const next = () => new Promise((res) => ws.once("message", (d) => res(JSON.parse(d.toString()))));
ws.on("error", (e) => fail(e.message));
ws.on("open", async () => {
  const pong = new Promise((res) => ws.once("pong", (d) => res(d.toString())));
  ws.ping("abc");
  if ((await pong) !== "abc") fail("pong payload");
  ws.send(JSON.stringify({ action: "ping" }));
  let ev = await next();
  if (ev.event !== "pong") fail(JSON.stringify(ev));
  ws.send('{"action":', { fin: false });
  ws.send('"ping"}', { fin: true });
  ev = await next();
  if (ev.event !== "pong") fail("fragmented: " + JSON.stringify(ev));
  ws.on("close", (code) => { if (code !== 1000) fail("close " + code); console.log("ok"); process.exit(0); });
  ws.close(1000, "bye");
});
