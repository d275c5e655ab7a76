// common.mjs -- what the SDK checks share: TAP-like checks with a summary,
// and the scripted stand-in (tests/fakes/llm.py) started on a free port.
import { spawn } from "node:child_process";
import net from "node:net";

let passed = 0, failed = 0;
export const check = (name, cond, detail) => {
  if (cond) { passed++; console.log("ok - " + name); }
  else { failed++; console.log("not ok - " + name + (detail ? "\n#   " + String(detail).slice(0, 400) : "")); }
};
// Prints "sdk: N passed, N failed" and exits with its verdict.
export const finish = () => { console.log(`sdk: ${passed} passed, ${failed} failed`); process.exit(failed ? 1 : 0); };

const freePort = () => new Promise((res) => { const s = net.createServer(); s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => res(p)); }); });
// Starts llm.py (PYTHON FAKE) with env; returns {port, stop} once it answers.
export async function startFake(python, fake, logdir, env = {}) {
  const port = await freePort();
  const child = spawn(python, [fake, String(port), `${logdir}/sdk-${port}.jsonl`], { env: { ...process.env, ...env }, stdio: "ignore" });
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((res) => { const c = net.connect(port, "127.0.0.1", () => { c.end(); res(true); }); c.on("error", () => res(false)); });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  return { port, stop: () => child.kill() };
}
// JSON with its object keys sorted, for comparing bodies as data.
export const sorted = (v) => Array.isArray(v) ? v.map(sorted) : v && typeof v === "object"
  ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted(v[k])])) : v;
