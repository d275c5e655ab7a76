// bench.mjs -- make bench: N no-op jobs through BullMQ on the same Redis,
// the side agent-async's dispatch is measured against (aa-bench dispatch):
// added with addBulk in chunks of 1,000, then processed by one Worker at
// concurrency 50. Prints the rates, and Redis commands and CPU per job of
// each phase, from INFO.
// Usage: node bench.mjs REDIS_UNIX_SOCKET [N]
import { Queue, Worker } from "bullmq";
import IORedis from "ioredis";

const [sock, nArg] = process.argv.slice(2);
const N = Number(nArg || 20000), CHUNK = 1000, CONCURRENCY = 50;
const connection = { path: sock, maxRetriesPerRequest: null };
const admin = new IORedis(connection);

async function totals() {
  const stats = await admin.info("commandstats"), cpu = await admin.info("cpu");
  let calls = 0;
  for (const m of stats.matchAll(/calls=(\d+)/g)) calls += Number(m[1]);
  const f = (k) => Number((cpu.match(new RegExp(k + ":([0-9.]+)")) || [0, 0])[1]);
  return { calls, cpu: f("used_cpu_user") + f("used_cpu_sys") };
}

const queue = new Queue("bench", { connection });
await queue.waitUntilReady();
const t0 = await totals(), a0 = process.hrtime.bigint();
for (let i = 0; i < N; i += CHUNK) {
  const jobs = [];
  for (let j = i; j < Math.min(N, i + CHUNK); j++) jobs.push({ name: "noop", data: {} });
  await queue.addBulk(jobs);
}
const a1 = process.hrtime.bigint(), t1 = await totals();
let done = 0, finished;
const all = new Promise((r) => (finished = r));
const p0 = process.hrtime.bigint();
const worker = new Worker("bench", async () => "", { connection, concurrency: CONCURRENCY });
worker.on("completed", () => {
  if (++done === N) finished();
});
await all;
const p1 = process.hrtime.bigint(), t2 = await totals();
const s = (a, b) => Number(b - a) / 1e9;
console.log(
  `dispatch bullmq n=${N} add=${(N / s(a0, a1)).toFixed(0)} jobs/s process=${(N / s(p0, p1)).toFixed(0)} jobs/s ` +
    `commands/job add=${((t1.calls - t0.calls - 2) / N).toFixed(1)} process=${((t2.calls - t1.calls - 2) / N).toFixed(1)} ` +
    `redis_cpu_us/job add=${(((t1.cpu - t0.cpu) * 1e6) / N).toFixed(1)} process=${(((t2.cpu - t1.cpu) * 1e6) / N).toFixed(1)}`,
);
await worker.close();
await queue.close();
admin.disconnect();
