// common.mjs -- what the MCP test and the MCP benchmark share: a
// client-credentials token from /oauth2/token (client_secret_basic) and an
// SDK Client connected over Streamable HTTP.
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const sdk = "../node_modules/@modelcontextprotocol/sdk/dist/cjs/";
const { Client } = require(sdk + "client/index.js");
const { StreamableHTTPClientTransport } = require(sdk + "client/streamableHttp.js");

// Returns the token endpoint's JSON answer.
export const basicToken = (base, id, secret) => fetch(base + "/oauth2/token", {
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded",
             authorization: "Basic " + Buffer.from(id + ":" + secret).toString("base64") },
  body: "grant_type=client_credentials",
}).then((r) => r.json());

// Returns { client, transport }, connected (initialize done).
export const connectClient = async (url, headers, name = "agent-async-test") => {
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  const client = new Client({ name, version: "1.0.0" });
  await client.connect(transport);
  return { client, transport };
};
