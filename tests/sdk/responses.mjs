// responses.mjs -- the scripted provider stand-in (tests/fakes/llm.py) read
// by the vendors' own SDKs: the Anthropic and OpenAI clients must parse every
// kind of answer it gives (streamed and not, text and tool use, the answer
// after a tool result, a 429 with Retry-After and the vendor's error body).
// If the stand-in and our providers shared a misreading of a wire format,
// the SDKs would refuse it here.
// Usage: node responses.mjs PYTHON FAKE_SCRIPT LOGDIR   (ok lines, a summary)
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { check, finish, startFake as startFakeIn } from "./common.mjs";

const [python, fake, logdir] = process.argv.slice(2);
const startFake = (env) => startFakeIn(python, fake, logdir, env);
const tools = [{ name: "get_vpn_status", description: "status", input_schema: { type: "object", properties: { query: { type: "string" } }, required: ["query"] } }];
const toolResult = JSON.stringify({ content: [{ type: "text", text: JSON.stringify({ status: "connected", message: "VPN status retrieved from client." }) }], isError: false });

const f = await startFake({});
try {
  // ---- Anthropic ----
  const a = new Anthropic({ apiKey: "sk-test", baseURL: `http://127.0.0.1:${f.port}`, maxRetries: 0 });
  const base = { model: "claude-sonnet-4-20250514", max_tokens: 256, tools };
  try {
    const m = await a.messages.create({ ...base, messages: [{ role: "user", content: "What's my VPN status?" }] });
    const tu = m.content.find((b) => b.type === "tool_use");
    check("anthropic SDK: a tool-use answer parses (stop_reason, tool_use block, input)", m.stop_reason === "tool_use" && tu && tu.input.query === "vpn_status", JSON.stringify(m));
  } catch (e) { check("anthropic SDK: a tool-use answer parses", false, e); }
  try {
    const m = await a.messages.create({ ...base, messages: [{ role: "user", content: "hello there" }] });
    check("anthropic SDK: a text answer parses", m.content[0].type === "text" && m.role === "assistant", JSON.stringify(m));
  } catch (e) { check("anthropic SDK: a text answer parses", false, e); }
  const after = [{ role: "user", content: "What's my VPN status?" },
    { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "get_vpn_status", input: { query: "vpn_status" } }] },
    { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: toolResult }] }];
  try {
    const m = await a.messages.create({ ...base, messages: after });
    check("anthropic SDK: the answer after a tool result parses", /status=connected/.test(m.content[0].text), JSON.stringify(m));
  } catch (e) { check("anthropic SDK: the answer after a tool result parses", false, e); }
  for (const [what, messages] of [["tool use", [{ role: "user", content: "What's my VPN status?" }]], ["text after a tool result", after]]) {
    try {
      const s = a.messages.stream({ ...base, messages });
      const m = await s.finalMessage();
      const ok = what === "tool use" ? m.content.some((b) => b.type === "tool_use" && b.input.query === "vpn_status")
        : m.content.some((b) => b.type === "text" && /status=connected/.test(b.text));
      check(`anthropic SDK: a streamed ${what} answer accumulates (MessageStream)`, ok, JSON.stringify(m));
    } catch (e) { check(`anthropic SDK: a streamed ${what} answer accumulates`, false, e); }
  }
  // ---- OpenAI ----
  const o = new OpenAI({ apiKey: "sk-test", baseURL: `http://127.0.0.1:${f.port}/v1`, maxRetries: 0 });
  const otools = [{ type: "function", function: { name: "get_vpn_status", parameters: tools[0].input_schema } }];
  try {
    const c = await o.chat.completions.create({ model: "gpt-4o", tools: otools, messages: [{ role: "user", content: "What's my VPN status?" }] });
    const call = c.choices[0].message.tool_calls?.[0];
    check("openai SDK: a tool-call answer parses", call && call.function.name === "get_vpn_status" && JSON.parse(call.function.arguments).query === "vpn_status", JSON.stringify(c));
  } catch (e) { check("openai SDK: a tool-call answer parses", false, e); }
  const oafter = [{ role: "user", content: "What's my VPN status?" },
    { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_vpn_status", arguments: "{\"query\":\"vpn_status\"}" } }] },
    { role: "tool", tool_call_id: "call_1", content: toolResult }];
  try {
    const c = await o.chat.completions.create({ model: "gpt-4o", tools: otools, messages: oafter });
    check("openai SDK: the answer after a tool result parses", /status=connected/.test(c.choices[0].message.content), JSON.stringify(c));
  } catch (e) { check("openai SDK: the answer after a tool result parses", false, e); }
  for (const [what, messages] of [["tool call", [{ role: "user", content: "What's my VPN status?" }]], ["text after a tool result", oafter]]) {
    try {
      const s = o.beta.chat.completions.stream({ model: "gpt-4o", tools: otools, messages, stream_options: { include_usage: true } });
      const c = await s.finalChatCompletion();
      const msg = c.choices[0].message;
      const ok = what === "tool call" ? msg.tool_calls?.[0]?.function.name === "get_vpn_status" && JSON.parse(msg.tool_calls[0].function.arguments).query === "vpn_status"
        : /status=connected/.test(msg.content || "");
      check(`openai SDK: a streamed ${what} answer accumulates (ChatCompletionStream)`, ok, JSON.stringify(c));
    } catch (e) { check(`openai SDK: a streamed ${what} answer accumulates`, false, e); }
  }
} finally { f.stop(); }

// ---- Ollama's OpenAI-compatible stream (tool calls whole in one delta) ----
const ol = await startFake({ OLLAMA: "1" });
try {
  const o = new OpenAI({ apiKey: "ollama", baseURL: `http://127.0.0.1:${ol.port}/v1`, maxRetries: 0 });
  const otools = [{ type: "function", function: { name: "get_vpn_status", parameters: tools[0].input_schema } }];
  try {
    const c = await o.beta.chat.completions.stream({ model: "llama3.1", tools: otools, messages: [{ role: "user", content: "What's my VPN status?" }] }).finalChatCompletion();
    const call = c.choices[0].message.tool_calls?.[0];
    check("openai SDK: an Ollama-style streamed tool call accumulates", call?.function.name === "get_vpn_status" && c.choices[0].finish_reason === "tool_calls", JSON.stringify(c));
  } catch (e) { check("openai SDK: an Ollama-style streamed tool call accumulates", false, e); }
} finally { ol.stop(); }

// ---- 429 with Retry-After, in each vendor's error body ----
const g = await startFake({ FAIL_FIRST: "100" });
try {
  const a = new Anthropic({ apiKey: "sk-test", baseURL: `http://127.0.0.1:${g.port}`, maxRetries: 0 });
  try { await a.messages.create({ model: "m", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }); check("anthropic SDK: a 429 is a RateLimitError", false, "no error"); }
  catch (e) {
    check("anthropic SDK: a 429 is a RateLimitError with Retry-After", e instanceof Anthropic.RateLimitError && e.headers?.get?.("retry-after") === "1", e);
    check("anthropic SDK: with Anthropic's error body (type rate_limit_error)", e.error?.type === "error" && e.error?.error?.type === "rate_limit_error", JSON.stringify(e.error));
  }
  const o = new OpenAI({ apiKey: "sk-test", baseURL: `http://127.0.0.1:${g.port}/v1`, maxRetries: 0 });
  try { await o.chat.completions.create({ model: "m", messages: [{ role: "user", content: "hi" }] }); check("openai SDK: a 429 is a RateLimitError", false, "no error"); }
  catch (e) {
    const ra = e.headers?.["retry-after"] ?? e.headers?.get?.("retry-after");
    check("openai SDK: a 429 is a RateLimitError with Retry-After", e instanceof OpenAI.RateLimitError && ra === "1", e);
    check("openai SDK: with OpenAI's error body (message, type, code)", e.error?.message && e.code === "rate_limit_exceeded" && e.type === "requests", JSON.stringify(e.error));
  }
} finally { g.stop(); }
finish();
