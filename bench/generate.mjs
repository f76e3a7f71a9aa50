// Generation benchmark (issue 16): the goal is 1,000,000 codes generated at
// least as fast as 1,000,000 codes imported. In one run, against the same
// built Worker (build/, run by workerd through Miniflare, Durable Object
// SQLite persisted to a temporary directory on disk), it takes turns between
// - importing 1,000,000 codes of 21 characters as one CSV upload (the file
//   bench/import.mjs uploads), and
// - generating 1,000,000 codes of 21 characters (`BENCH-#######-#######`
//   over the readable charset) with `POST /pools/{pool}/generate`,
// each into a pool of a fresh project (its own Durable Object and SQLite
// file, so neither finds the other's codes in its indexes), and prints each
// time, codes per second, workerd's CPU time, and the ratio of the speeds.
//
//   npm run bench:generate                   # build, then 1,000,000 codes, 2 rounds
//   node bench/generate.mjs --codes 100000   # another size, current build
//   node bench/generate.mjs --rounds 3       # more turns (odd rounds import first)
//   KEEP_NAMES=1 OUT_DIR=build-prof bash scripts/build-worker.sh
//   BUILD=build-prof node bench/generate.mjs --profile   # + a V8 CPU profile of one generation
//
// Not a test: it fails only if a run does not store every code.
import http from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { startWorker, createProject, TOKEN } from '../tests/e2e/worker.mjs';
import { findWorkerd, cpuSeconds } from './workerd.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const codes = Number(option('codes', 1_000_000));
const rounds = Number(option('rounds', 2));
const profile = args.includes('--profile');
const build = path.join(root, process.env.BUILD ?? 'build');
const PATTERN = 'BENCH-#######-#######';
if (!existsSync(path.join(build, 'index.js'))) {
  console.error(`${build} is missing: run \`bash scripts/build-worker.sh\` (or \`npm run bench:generate\`)`);
  process.exit(1);
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'codepool-bench-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

// The file of bench/import.mjs: distinct codes of 21 characters, in no
// particular order, as voucher codes are.
const lines = ['code'];
for (let i = 0; i < codes; i++) {
  const serial = i.toString(36).toUpperCase().padStart(7, '0');
  const mixed = (Math.imul(i + 1, 2654435761) >>> 0).toString(36).toUpperCase().padStart(7, '0');
  lines.push(`BENCH-${mixed}-${serial}`);
}
const csv = Buffer.from(lines.join('\n') + '\n');
lines.length = 0;

const inspectorPort = 9231;
const worker = await startWorker({
  scriptPath: path.join(build, 'index.js'),
  persistTo: path.join(tmp, 'do'),
  ...(profile ? { inspectorPort } : {}),
});
const workerd = findWorkerd(process.pid);

/** One POST on a connection of its own; answers status and text. */
const post = (url, body, type) => new Promise((resolve, reject) => {
  const req = http.request(url, {
    method: 'POST',
    agent: false,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': type, 'content-length': body.length },
  }, (res) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (d) => { text += d; });
    res.on('end', () => resolve({ status: res.statusCode, text }));
  });
  req.on('error', reject);
  req.end(body);
});

/** Runs `kind` into a fresh project: seconds, workerd CPU seconds, report. */
async function run(kind, project) {
  const api = await createProject(worker.base, project);
  await api.putPool('bench');
  const url = `${worker.base}/v1/projects/${project}/pools/bench/${kind}`;
  const body = kind === 'import' ? csv : Buffer.from(JSON.stringify({ count: codes, pattern: PATTERN }));
  const cpu = cpuSeconds(workerd);
  const started = process.hrtime.bigint();
  const res = await post(url, body, kind === 'import' ? 'text/csv' : 'application/json');
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const after = cpuSeconds(workerd);
  if (res.status !== 200) throw new Error(`${kind} failed: ${res.status} ${res.text.slice(0, 500)}`);
  const report = JSON.parse(res.text);
  const pool = (await api.getPool('bench')).json;
  if (report.imported !== codes || pool.total !== codes) {
    console.error(`${kind}: not every code was stored once:`, report, pool);
    process.exit(1);
  }
  return { seconds, cpu: after.user + after.system - cpu.user - cpu.system, report };
}

const results = { import: [], generate: [] };
for (let r = 1; r <= rounds; r++) {
  const order = r % 2 ? ['import', 'generate'] : ['generate', 'import'];
  for (const kind of order) results[kind].push(await run(kind, `${kind}-${r}`));
}

let profiled;
if (profile) profiled = await profileGeneration();
await worker.stop();

const fmt = (n) => Math.round(n).toLocaleString('en-US');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
console.log(`\n${fmt(codes)} codes of 21 characters: a CSV import (${(csv.length / 1048576).toFixed(1)} MiB) `
  + `against a generation of ${PATTERN}, ${rounds} rounds, load average ${os.loadavg()[0].toFixed(1)} at the end\n`);
console.log('| round | import, end to end | generate, end to end | import ÷ generate time |');
console.log('|---|---:|---:|---:|');
const cell = (x) => `${x.seconds.toFixed(2)} s, ${fmt(codes / x.seconds)} codes/s (workerd CPU ${x.cpu.toFixed(1)} s)`;
for (let i = 0; i < rounds; i++) {
  const [imp, gen] = [results.import[i], results.generate[i]];
  console.log(`| ${i + 1} (${i % 2 ? 'generate first' : 'import first'}) | ${cell(imp)} | ${cell(gen)} | ${(imp.seconds / gen.seconds).toFixed(2)} |`);
}
const [imp, gen] = [median(results.import.map((x) => x.seconds)), median(results.generate.map((x) => x.seconds))];
console.log(`\nmedian: import ${imp.toFixed(2)} s, generate ${gen.toFixed(2)} s; generation is ${(imp / gen).toFixed(2)}× `
  + `the import's speed (goal: at least 1)`);
const drawn = results.generate.map((x) => x.report.total_rows - codes);
console.log(`candidates drawn again (collisions) per generation: ${drawn.join(', ')}`);
if (profiled) console.log(profiled);

/**
 * One more generation, into a fresh project, under workerd's V8 profiler
 * (the Worker and the Durable Object share one isolate locally): the
 * functions by self time, and the profile in target/ for Chrome DevTools.
 */
async function profileGeneration() {
  const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json();
  const target = targets.find((t) => t.id === 'core:user:') ?? targets[0];
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve) => ws.once('open', resolve));
  let next = 0;
  const pending = new Map();
  ws.on('message', (data) => {
    const msg = JSON.parse(data);
    if (msg.id && pending.has(msg.id)) { pending.get(msg.id)(msg); pending.delete(msg.id); }
  });
  const send = (method, params = {}) => new Promise((resolve) => {
    const id = ++next;
    pending.set(id, resolve);
    ws.send(JSON.stringify({ id, method, params }));
  });
  await send('Profiler.enable');
  await send('Profiler.setSamplingInterval', { interval: 200 });
  await send('Profiler.start');
  const run1 = await run('generate', 'profiled');
  const { result: { profile: cpuProfile } } = await send('Profiler.stop');
  ws.close();
  mkdirSync(path.join(root, 'target'), { recursive: true });
  const out = path.join(root, 'target/profile-generate.cpuprofile');
  writeFileSync(out, JSON.stringify(cpuProfile));
  const byId = new Map(cpuProfile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  for (const id of cpuProfile.samples) {
    const f = byId.get(id).callFrame;
    const name = `${f.functionName || '(anonymous)'} ${f.url ? path.basename(f.url) : ''}`.trim();
    self.set(name, (self.get(name) ?? 0) + 1);
  }
  const total = cpuProfile.samples.length;
  const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 30))
    .map(([name, n]) => `${((100 * n) / total).toFixed(1).padStart(5)}%  ${name}`);
  return `\nprofiled generation: ${run1.seconds.toFixed(2)} s under the profiler, ${total} samples, written to ${out}\n${top.join('\n')}`;
}
