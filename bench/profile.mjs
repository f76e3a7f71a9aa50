// A V8 CPU profile of one route under load, through workerd's inspector.
//   KEEP_NAMES=1 OUT_DIR=build-prof bash scripts/build-worker.sh --features bench
//   node bench/profile.mjs [case] [seconds]
// Cases: display (the reference layer), bare (the bench baseline: one store
// call updating one row), none (a 404 route: the Worker alone). Starts the build in BUILD (default build-prof)
// under Miniflare with the inspector open, loads the route with autocannon
// (32 connections) while the profiler samples, and prints the functions
// with the most self time, and the profile to target/profile-<case>.cpuprofile
// (open it in Chrome DevTools' Performance panel).
import autocannon from 'autocannon';
import WebSocket from 'ws';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startWorker, createProject } from '../tests/e2e/worker.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const which = process.argv[2] ?? 'display';
const seconds = Number(process.argv[3] ?? 5);
const inspectorPort = 9230;

const worker = await startWorker({ scriptPath: path.join(root, process.env.BUILD ?? 'build-prof', 'index.js'), inspectorPort });
const project = await createProject(worker.base, 'bench');
await project.call('PUT', '/pools/spring10', {});
for (let i = 0; i < (which === 'none' ? 0 : 100_000); i += 50_000) {
  await project.call('POST', '/pools/spring10/import', { codes: Array.from({ length: 50_000 }, (_, k) => `C-${i + k}`) });
}
const template = fs.readFileSync(path.join(root, 'bench/fixtures/layer.html.j2'), 'utf8');
const variables = JSON.parse(fs.readFileSync(path.join(root, 'bench/fixtures/layer.context.json'), 'utf8'));
await project.call('PUT', '/layers/ref', { template, variables });
const url = {
  display: `${worker.base}/v1/projects/bench/layers/ref/render?customer_id=bench`,
  bare: `${worker.base}/v1/bench/baseline/bench`,
  none: `${worker.base}/v1/no/such/route`,
}[which];
if (!url) throw new Error(`no case ${which}`);

// workerd lists one inspector target per service; the user Worker's is `core:user:`.
const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json();
const target = targets.find((t) => t.id === 'core:user:') ?? targets.find((t) => !t.id.startsWith('core:') || t.id.includes('user'));
const ws = new WebSocket(target.webSocketDebuggerUrl);
await new Promise((resolve) => ws.once('open', resolve));
let next = 0;
const pending = new Map();
ws.on('message', (data) => {
  const msg = JSON.parse(data);
  if (msg.id && pending.has(msg.id)) { pending.get(msg.id)(msg); pending.delete(msg.id); }
});
const send = (method, params = {}) => new Promise((resolve) => { const id = ++next; pending.set(id, resolve); ws.send(JSON.stringify({ id, method, params })); });

const load = (duration) => new Promise((resolve, reject) => autocannon({ url, connections: 32, duration }, (e, r) => (e ? reject(e) : resolve(r))));
await load(2); // warm up
await send('Profiler.enable');
await send('Profiler.setSamplingInterval', { interval: 100 });
await send('Profiler.start');
const result = await load(seconds);
const { result: { profile } } = await send('Profiler.stop');
ws.close();
await worker.stop();

fs.mkdirSync(path.join(root, 'target'), { recursive: true });
const out = path.join(root, `target/profile-${which}.cpuprofile`);
fs.writeFileSync(out, JSON.stringify(profile));

// Self time per function, from the samples.
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const hits = new Map();
for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
const self = new Map();
for (const [id, n] of hits) {
  const f = byId.get(id).callFrame;
  const name = `${f.functionName || '(anonymous)'} ${f.url ? path.basename(f.url) : ''}`.trim();
  self.set(name, (self.get(name) ?? 0) + n);
}
const total = profile.samples.length;
console.log(`${which}: ${result.requests.average.toFixed(0)} req/s under the profiler, ${total} samples; written to ${out}`);
for (const [name, n] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 40))) {
  console.log(`${((100 * n) / total).toFixed(1).padStart(5)}%  ${name}`);
}
