// server.mjs -- the comparison for the gateway benchmark: a Node server on
// npm ws doing the same work as the gateway's delivery path (subscribe to a
// Redis channel in the gateway's push format "session\nid\nevent-json" and
// send each event, with its id, to the session's WebSocket connections).
// Usage: node server.mjs PORT REDIS_UNIX_SOCKET CHANNEL
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const { WebSocketServer } = require("../../node_modules/ws");
const { createClient } = require("../../node_modules/redis");

const [port, sock, channel] = process.argv.slice(2);
const sessions = new Map();
const wss = new WebSocketServer({ port: Number(port), host: "127.0.0.1", perMessageDeflate: false });
wss.on("connection", (ws, req) => {
  const sid = new URL(req.url, "http://x").searchParams.get("session_id") || "";
  let set = sessions.get(sid);
  if (!set) sessions.set(sid, (set = new Set()));
  set.add(ws);
  ws.on("close", () => { set.delete(ws); if (!set.size) sessions.delete(sid); });
});
const sub = createClient({ socket: { path: sock } });
await sub.connect();
await sub.subscribe(channel, (msg) => {
  const i = msg.indexOf("\n"), j = msg.indexOf("\n", i + 1);
  const set = sessions.get(msg.slice(0, i));
  if (!set) return;
  const out = '{"id":"' + msg.slice(i + 1, j) + '",' + msg.slice(j + 2);
  for (const ws of set) ws.send(out);
});
console.log("listening");
