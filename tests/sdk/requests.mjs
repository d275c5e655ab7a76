// requests.mjs -- our Anthropic and OpenAI requests beside what the vendors'
// SDKs send for the same call: each request body our providers sent (from
// the stand-in's log) is given to the SDK, and the SDK's request (path, the
// headers that matter, the JSON body as data) must match ours.
// Differences that are explained, not fixed: Anthropic's SDK of this day sends
// the key as "Authorization: Bearer" and anthropic-version 2026-10-21; our
// provider sends the key as x-api-key and pins anthropic-version 2023-06-01,
// the version whose wire format it implements (both are accepted by the
// API). The test checks that each side carries the same key, and says which
// version each sends.
// Usage: node requests.mjs anthropic|openai REQUESTS.jsonl API_KEY
import fs from "node:fs";
import http from "node:http";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { check, finish, sorted } from "./common.mjs";

const [vendor, reqlog, key] = process.argv.slice(2);
const firstDiff = (a, b, at = "") => {
  if (JSON.stringify(a) === JSON.stringify(b)) return null;
  if (a && b && typeof a === "object" && typeof b === "object") {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const d = firstDiff(a[k], b[k], at + "." + k);
      if (d) return d;
    }
  }
  return `${at}: ours ${JSON.stringify(a)?.slice(0, 120)} sdk ${JSON.stringify(b)?.slice(0, 120)}`;
};
const ours = fs.readFileSync(reqlog, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l))
  .filter((r) => r.body && (r.path === "/v1/messages" || r.path === "/v1/chat/completions"));
const seen = [];
const capture = http.createServer((req, res) => {
  let b = ""; req.on("data", (c) => (b += c));
  req.on("end", () => { seen.push({ path: req.url, headers: req.headers, body: b }); res.writeHead(400, { "content-type": "application/json" }); res.end("{\"error\":{\"type\":\"invalid_request_error\",\"message\":\"captured\"}}"); });
});
await new Promise((r) => capture.listen(0, "127.0.0.1", r));
const base = `http://127.0.0.1:${capture.address().port}`;
const client = vendor === "anthropic" ? new Anthropic({ apiKey: key, baseURL: base, maxRetries: 0 })
  : new OpenAI({ apiKey: key, baseURL: base + "/v1", maxRetries: 0 });
const matters = vendor === "anthropic" ? ["content-type"] : ["authorization", "content-type"];
let versions = "";
let same = 0, diff = "";
for (const r of ours) {
  seen.length = 0;
  try {
    if (vendor === "anthropic") await client.messages.create(r.body);
    else await client.chat.completions.create(r.body);
  } catch (e) { /* the capture answers 400 */ }
  const s = seen[0];
  const oh = Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k.toLowerCase(), v]));
  const hdiff = s ? matters.filter((h) => String(oh[h] ?? "").split(";")[0] !== String(s.headers[h] ?? "").split(";")[0]) : matters;
  if (s && vendor === "anthropic") { // explained above: the same key, each its own version
    const sdkKey = s.headers["x-api-key"] ?? String(s.headers.authorization ?? "").replace(/^Bearer /, "");
    if (oh["x-api-key"] !== key || sdkKey !== key) hdiff.push("the key");
    if (oh["anthropic-version"] !== "2023-06-01") hdiff.push("anthropic-version");
    versions = `; anthropic-version ours ${oh["anthropic-version"]}, the SDK's ${s.headers["anthropic-version"]}`;
  }
  const a = JSON.stringify(sorted(r.body)), b = s ? JSON.stringify(sorted(JSON.parse(s.body))) : "";
  if (s && s.path === r.path && !hdiff.length && a === b) same++;
  else if (!diff) diff = `path ${r.path} / ${s?.path}; headers differing: ${hdiff.map((h) => `${h}: ours ${oh[h]} sdk ${s?.headers[h]}`).join(", ")}; body ${s ? firstDiff(r.body, JSON.parse(s.body)) : "none"}`;
}
capture.close();
check(`${vendor} SDK: ${same} of ${ours.length} of our requests are what the SDK sends (path, ${matters.join(", ")}, the key, body)${versions}`, ours.length > 0 && same === ours.length, diff);
finish();
