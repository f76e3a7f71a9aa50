// codepool against the Worker a JavaScript developer would write instead
// (bench/peer-js-worker/, copied from ../shared/bench/), both under workerd
// through Miniflare, loaded in turns in one run. One command:
//   npm run bench:hotpath       (builds build-bench/, then runs hotpath.mjs and this)
// or, after a bench build, `node bench/side-by-side.mjs`.
//
// Cases, each at 1 and 32 connections, ROUNDS rounds (default 3) of DUR
// seconds (default 5), taking turns:
//   codepool display        GET /layers/ref/render: plan, reservation, render
//   peer display (liquidjs) the peer's reserve-one-code + liquidjs render
//   peer bare DO write      the peer's /bump: one Durable Object call updating one row
//   codepool bare DO write  codepool's own floor (bench route `baseline`)
// Prints req/s, p50 and p99 per case (median round) and the median of the
// per-round ratios codepool display / peer display, codepool bare / peer
// bare and codepool display / peer bare. This is ../shared/bench/side-by-side.mjs
// with codepool's project created first (projects exist only once created)
// and the peer bundled from this checkout (liquidjs is a devDependency).
import { Miniflare } from 'miniflare';
import autocannon from 'autocannon';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startWorker, createProject } from '../tests/e2e/worker.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SECONDS = Number(process.env.DUR ?? 5);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const CODES = Number(process.env.CODES ?? 150_000);

// Inside the checkout (target/ is ignored): workerd refuses module paths above its working directory.
const peerDir = path.join(root, 'target/peer-js-worker');
fs.mkdirSync(peerDir, { recursive: true });
const peerBundle = path.join(peerDir, 'bundle.mjs');
execFileSync(path.join(root, 'node_modules/.bin/esbuild'), [path.join(root, 'bench/peer-js-worker/worker.mjs'), '--bundle', '--format=esm',
  '--platform=browser', '--conditions=workerd,worker,browser', '--external:cloudflare:workers', `--outfile=${peerBundle}`, '--log-level=error']);

const ours = await startWorker({ scriptPath: path.join(root, process.env.BUILD ?? 'build-bench', 'index.js') });
const peer = new Miniflare({
  rootPath: peerDir, scriptPath: peerBundle, modules: true, compatibilityDate: '2025-09-01',
  durableObjects: { POOL: { className: 'Pool', useSQLite: true } }, cf: false,
});
const peerBase = (await peer.ready).href.replace(/\/$/, '');

const project = await createProject(ours.base, 'bench');
const bench = {
  async call(...args) {
    const r = await project.call(...args);
    if (r.status >= 300) throw new Error(`${args[0]} ${args[1]}: ${r.status} ${r.text}`);
    return r.json;
  },
};
await bench.call('PUT', '/pools/spring10', {});
for (let i = 0; i < CODES; i += 50_000) {
  await bench.call('POST', '/pools/spring10/import', { codes: Array.from({ length: Math.min(50_000, CODES - i) }, (_, k) => `C-${i + k}`) });
}
const template = fs.readFileSync(path.join(root, 'bench/fixtures/layer.html.j2'), 'utf8');
const variables = JSON.parse(fs.readFileSync(path.join(root, 'bench/fixtures/layer.context.json'), 'utf8'));
await bench.call('PUT', '/layers/ref', { template, variables, active: true });
await fetch(`${peerBase}/seed?n=${CODES}`).then((r) => r.text());

const cases = {
  'codepool display': `${ours.base}/v1/projects/bench/layers/ref/render?customer_id=bench`,
  'peer display (liquidjs)': `${peerBase}/render?customer_id=bench`,
  'peer bare DO write': `${peerBase}/bump`,
  'codepool bare DO write': `${ours.base}/v1/bench/baseline/bench`,
};
for (const [name, url] of Object.entries(cases)) {
  const res = await fetch(url);
  const body = await res.text();
  if (res.status !== 200) throw new Error(`${name}: ${res.status} ${body}`);
  if (name.endsWith('display') && !/Your code: <strong>C-\d+</.test(body)) throw new Error(`${name}: no code in ${body}`);
}

function run(url, connections) {
  return new Promise((resolve, reject) => autocannon({ url, connections, duration: SECONDS }, (err, r) => (err ? reject(err) : resolve(r))));
}
const results = {};
for (const c of [1, 32]) {
  for (const url of Object.values(cases)) await run(url, c, 1); // warm up
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, url] of Object.entries(cases)) {
      const r = await run(url, c);
      (results[`${name} @${c}`] ??= []).push({ rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, bad: r.non2xx + r.errors + r.timeouts });
      process.stderr.write(`round ${round + 1}, ${name} @${c}: ${r.requests.average.toFixed(0)} req/s\n`);
    }
  }
}
const pool = await bench.call('GET', '/pools/spring10');
await ours.stop();
await peer.dispose();

const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ratio = (a, b, c) => {
  const xs = results[`${a} @${c}`], ys = results[`${b} @${c}`];
  const rs = xs.map((x, i) => x.rps / ys[i].rps);
  return `${median(rs).toFixed(2)} (${rs.map((r) => r.toFixed(2)).join(', ')})`;
};
const cpu = (os.cpus()[0]?.model ?? 'unknown').trim();
console.log(`# Side by side, ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} × ${cpu}, ${ROUNDS} rounds × ${SECONDS} s per case\n`);
console.log('| case | conns | req/s (median round) | p50 ms | p99 ms | bad answers |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const c of [1, 32]) {
  for (const name of Object.keys(cases)) {
    const rs = results[`${name} @${c}`];
    console.log(`| ${name} | ${c} | ${Math.round(median(rs.map((r) => r.rps)))} | ${median(rs.map((r) => r.p50))} | ${median(rs.map((r) => r.p99))} | ${rs.reduce((a, r) => a + r.bad, 0)} |`);
  }
}
console.log('\n| ratio (median of rounds; each round) | 1 conn | 32 conns |');
console.log('|---|---:|---:|');
for (const [label, a, b] of [
  ['codepool display / peer display', 'codepool display', 'peer display (liquidjs)'],
  ['codepool bare / peer bare', 'codepool bare DO write', 'peer bare DO write'],
  ['codepool display / peer bare', 'codepool display', 'peer bare DO write'],
]) console.log(`| ${label} | ${ratio(a, b, 1)} | ${ratio(a, b, 32)} |`);
console.log(`\nCodes handed out by codepool during the run: ${pool.assigned} (${pool.available} left).`);
