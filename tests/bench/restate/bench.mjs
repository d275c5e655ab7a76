// bench.mjs -- Restate's equivalent of agent-async's callback round trip:
// a durable handler creates an awakeable, publishes its id (in a ctx.run
// side effect), the "client" resolves it over Restate's HTTP API at once, and
// the handler resumes. The time from the publish to the resumed handler is
// one round trip. Usage: node bench.mjs N WARMUP (restate-server must be up,
// ingress on 127.0.0.1:RESTATE_INGRESS_PORT, admin on RESTATE_ADMIN_PORT).
if (!Promise.withResolvers) {
  // Node 20 lacks it; the SDK needs it.
  Promise.withResolvers = function () {
    let resolve, reject;
    const promise = new Promise((a, b) => { resolve = a; reject = b; });
    return { promise, resolve, reject };
  };
}
const restate = await import("@restatedev/restate-sdk");
const { EventEmitter } = await import("node:events");

const bus = new EventEmitter();
const ingress = `http://127.0.0.1:${process.env.RESTATE_INGRESS_PORT || 8080}`;
const admin = `http://127.0.0.1:${process.env.RESTATE_ADMIN_PORT || 9070}`;
const svcPort = Number(process.env.BENCH_SERVICE_PORT || 9080);

const bench = restate.service({
  name: "Bench",
  handlers: {
    roundtrip: async (ctx) => {
      const { id, promise } = ctx.awakeable();
      await ctx.run("publish", () => { bus.emit("id", id, performance.now()); });
      await promise;
      await ctx.run("done", () => { bus.emit("done", id, performance.now()); });
      return "ok";
    },
  },
});

await restate.endpoint().bind(bench).listen(svcPort);
const reg = await fetch(`${admin}/deployments`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ uri: `http://127.0.0.1:${svcPort}`, force: true }),
});
if (!reg.ok) {
  console.error("registration failed", reg.status, await reg.text());
  process.exit(1);
}

const n = Number(process.argv[2] || 2000), warm = Number(process.argv[3] || 100);
const lat = [];
for (let i = 0; i < warm + n; i++) {
  const gotId = new Promise((res) => bus.once("id", (id, t) => res([id, t])));
  const send = await fetch(`${ingress}/Bench/roundtrip/send`, { method: "POST" });
  if (!send.ok) { console.error("send failed", send.status, await send.text()); process.exit(1); }
  const [id, t0] = await gotId;
  const done = new Promise((res) => bus.once("done", (_id, t) => res(t)));
  const r = await fetch(`${ingress}/restate/awakeables/${id}/resolve`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify("pong"),
  });
  if (!r.ok) { console.error("resolve failed", r.status, await r.text()); process.exit(1); }
  const t1 = await done;
  if (i >= warm) lat.push(t1 - t0);
}
lat.sort((a, b) => a - b);
const q = (p) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))].toFixed(3);
console.log(`restate awakeable round trip (publish id, resolve over HTTP, resume) n=${n} ` +
  `p50=${q(0.5)} ms p90=${q(0.9)} ms p99=${q(0.99)} ms max=${lat[lat.length - 1].toFixed(3)} ms`);
process.exit(0);
