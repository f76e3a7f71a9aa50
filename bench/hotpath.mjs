// The hot path of a web layer, measured against its floor. One command:
//   npm run bench:hotpath        (builds the Worker with the bench feature first)
//
// Starts the production build (release, wasm-opt, feature `bench`) under
// workerd through Miniflare with real Durable Object SQLite storage, and
// drives it with autocannon, 1 and 32 connections, for:
//   (a) baseline: one call to the project's Durable Object that updates one row;
//   (b) layer render per display: plan, reservation, render of the reference
//       layer (bench/fixtures/layer.html.j2 with layer.context.json) → 200;
//   (c) the same layer per_customer, for a returning customer;
//   (d) the 204 path of an exhausted pool;
// and, to see where (b)'s cost lies, (r): the store call (b) makes (one code
// and the pool's counts, through the layer's check) without the render.
// Prints req/s, p50 and p99 per case and each case's ratio to (a).
//
// The cases take turns, ROUNDS times (default 3) for BENCH_SECONDS each
// (default 5), so each ratio compares runs made close together; the table
// shows each case's median round and the median of its per-round ratios.
// BENCH_ALERTS='{"low_stock": 10}' gives the pool those alerts (src/alert),
// never crossed during the run, to measure what an alerted pool costs.
import autocannon from 'autocannon';
import { startWorker, TOKEN } from '../tests/e2e/worker.mjs';
import fs from 'node:fs';
import zlib from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const fixtures = path.join(root, 'bench/fixtures');
const DURATION = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const CONNECTIONS = [1, 32];

// The e2e harness, on the bench build.
const worker = await startWorker({ scriptPath: path.join(root, 'build-bench/index.js') });
const base = worker.base;
const api = `${base}/v1/projects/bench`;
const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
async function call(method, route, body) {
  const res = await fetch(api + route, { method, headers, body: body && JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

// Enough codes for every request of (r) and (b), warm-ups included, at up
// to 2,000 req/s.
const codesNeeded = 2 * 2 * (ROUNDS * DURATION + 1) * 2_000 + 10_000;
const template = fs.readFileSync(path.join(fixtures, 'layer.html.j2'), 'utf8');
const variables = JSON.parse(fs.readFileSync(path.join(fixtures, 'layer.context.json'), 'utf8'));
await call('PUT', '');
await call('PUT', '/pools/spring10', process.env.BENCH_ALERTS ? { alerts: JSON.parse(process.env.BENCH_ALERTS) } : undefined);
for (let start = 0; start < codesNeeded; start += 50_000) {
  const codes = Array.from({ length: Math.min(50_000, codesNeeded - start) }, (_, i) => `SPRING-${start + i}`);
  await call('POST', '/pools/spring10/import', { codes });
}
await call('PUT', '/pools/empty');
const emptyTemplate = template.replaceAll("vouchers['spring10']", "vouchers['empty']");
await call('PUT', '/layers/display', { template, variables });
await call('PUT', '/layers/returning', { template, variables, assignment: 'per_customer' });
await call('PUT', '/layers/exhausted', { template: emptyTemplate, variables });

const cases = [
  { key: 'a', name: 'baseline: one DO call updating one row', url: `${base}/v1/bench/baseline/bench`, status: 200 },
  { key: 'r', name: "(b)'s reservation alone, no render", url: `${base}/v1/bench/reservation/bench/display/spring10`, status: 200 },
  { key: 'b', name: 'layer render, per display', url: `${api}/layers/display/render?customer_id=visitor`, status: 200 },
  { key: 'c', name: 'layer render, per_customer, returning', url: `${api}/layers/returning/render?customer_id=ada`, status: 200 },
  { key: 'd', name: 'exhausted pool → 204', url: `${api}/layers/exhausted/render?customer_id=visitor`, status: 204 },
];

function run(url, connections, duration) {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections, duration, pipelining: 1 }, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

// Check each case answers as expected before measuring it.
for (const c of cases) {
  const res = await fetch(c.url);
  const body = await res.text();
  if (res.status !== c.status) throw new Error(`${c.key}: expected ${c.status}, got ${res.status} ${body}`);
  const code = c.key === 'r' ? /^SPRING-\d+$/.test(body) : body.includes('Your code: <strong>SPRING-');
  if (c.status === 200 && c.key !== 'a' && !code) throw new Error(`${c.key}: no code in ${body}`);
}

const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const results = {};
for (const connections of CONNECTIONS) {
  for (const c of cases) await run(c.url, connections, 1); // warm up
  const rounds = Object.fromEntries(cases.map((c) => [c.key, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of cases) {
      const r = await run(c.url, connections, DURATION);
      // Anything but the expected answer is counted and explained, not averaged in.
      const statuses = Object.entries(r.statusCodeStats).filter(([s]) => Number(s) !== c.status);
      const bad = statuses.reduce((n, [, s]) => n + s.count, 0) + r.errors + r.timeouts;
      const why = [...statuses.map(([s, { count }]) => `${count}× ${s}`), r.errors && `${r.errors} errors`, r.timeouts && `${r.timeouts} timeouts`].filter(Boolean);
      rounds[c.key].push({ rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, bad, why });
      process.stderr.write(`round ${round + 1}, ${c.key} @${connections}: ${r.requests.average.toFixed(0)} req/s\n`);
    }
  }
  for (const c of cases) {
    const runs = rounds[c.key];
    const mid = runs.find((x) => x.rps === median(runs.map((x) => x.rps)));
    const ratio = median(runs.map((x, i) => x.rps / rounds.a[i].rps));
    const bad = runs.reduce((n, x) => n + x.bad, 0);
    const why = runs.flatMap((x) => x.why).join(', ');
    results[`${c.key}${connections}`] = { ...mid, ratio, bad, why, all: runs.map((x) => x.rps.toFixed(0)).join(' / ') };
  }
}
const pool = await call('GET', '/pools/spring10');
await worker.stop();

const cpu = (os.cpus()[0]?.model ?? 'unknown').trim();
console.log(`# Hot path benchmark, ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} × ${cpu}, ${ROUNDS} rounds × ${DURATION} s per case\n`);
console.log('| case | conns | req/s (median round) | rounds | p50 ms | p99 ms | ratio to (a) |');
console.log('|---|---:|---:|---|---:|---:|---:|');
for (const connections of CONNECTIONS) {
  for (const c of cases) {
    const r = results[`${c.key}${connections}`];
    const errors = r.bad ? ` (${r.why})` : '';
    console.log(`| (${c.key}) ${c.name} | ${connections} | ${r.rps.toFixed(0)}${errors} | ${r.all} | ${r.p50} | ${r.p99} | ${r.ratio.toFixed(2)} |`);
  }
}
console.log(`\nCodes handed out during the run: ${pool.assigned} (pool spring10, ${pool.available} left).`);
const wasm = fs.readFileSync(path.join(root, 'build-bench/index_bg.wasm'));
console.log(`Worker wasm of this build (with the bench routes): ${wasm.length} bytes, ${zlib.gzipSync(wasm, { level: 9 }).length} gzipped.`);
