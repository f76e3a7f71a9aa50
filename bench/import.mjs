// Import benchmark. Generates 1,000,000 distinct random-looking codes as a
// CSV file, uploads it in one `POST /pools/{pool}/import` to the local Worker
// (the production build in build/, run by workerd through Miniflare, with the
// Durable Object's SQLite persisted to a temporary directory on disk), then
// imports the same file again (nothing to store: parsing, the hop to the
// Durable Object and the lookups alone), and exports the pool as CSV. In the
// same run it stores the same codes in native SQLite with the project's own
// statements, parser and batches (examples/import_native.rs). Prints codes
// per second for both, their ratio, and the workerd process's memory and CPU
// time.
//
//   npm run bench:import                          # build, then 1,000,000 codes
//   node bench/import.mjs --codes 100000          # another size, current build
//   node bench/import.mjs --sequential            # codes in counter order
//   node bench/import.mjs --no-native             # the Worker only
//
// Not a test: it fails only if an import does not store every code.
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startWorker, createProject, TOKEN } from '../tests/e2e/worker.mjs';
import { findWorkerd, status, cpuSeconds } from './workerd.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const codes = Number(option('codes', 1_000_000));
const sequential = args.includes('--sequential');
const native = !args.includes('--no-native');
if (!existsSync(path.join(root, 'build/index.js'))) {
  console.error('build/ is missing: run `bash scripts/build-worker.sh` (or `npm run bench:import`)');
  process.exit(1);
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'codepool-bench-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

// The file: a header and distinct codes of 21 characters. Real voucher codes
// are random, which is what makes an index on them expensive to fill, so by
// default they are in no particular order.
const csvPath = path.join(tmp, 'codes.csv');
{
  const lines = ['code'];
  for (let i = 0; i < codes; i++) {
    const serial = i.toString(36).toUpperCase().padStart(7, '0');
    const mixed = (Math.imul(i + 1, 2654435761) >>> 0).toString(36).toUpperCase().padStart(7, '0');
    lines.push(sequential ? `BENCH-${serial}-${mixed}` : `BENCH-${mixed}-${serial}`);
  }
  writeFileSync(csvPath, lines.join('\n') + '\n');
}
const body = readFileSync(csvPath);

// The Worker.
const worker = await startWorker({ persistTo: path.join(tmp, 'do') });
const workerd = findWorkerd(process.pid);
const before = { rss: status(workerd).VmRSS, cpu: cpuSeconds(workerd) };
// Peaks of resident memory, per phase: all of it, and its parts (heap,
// mapped files such as SQLite's, shared memory such as its WAL index).
const peaks = {};
let peak;
const phase = (name) => {
  peak = peaks[name] = { VmRSS: 0, RssAnon: 0, RssFile: 0, RssShmem: 0 };
};
phase('import');
const sampler = setInterval(() => {
  const now = status(workerd);
  for (const key of Object.keys(peak)) peak[key] = Math.max(peak[key], now[key]);
}, 20);
const api = await createProject(worker.base, 'bench');
await api.putPool('bench');

// One upload on a connection of its own (workerd, locally, resets a
// kept-alive connection after a request body of about 50 MB).
const post = () => new Promise((resolve, reject) => {
  const req = http.request(`${worker.base}/v1/projects/bench/pools/bench/import`, {
    method: 'POST',
    agent: false,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/csv', 'content-length': body.length },
  }, (res) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (d) => { text += d; });
    res.on('end', () => resolve({ status: res.statusCode, text }));
  });
  req.on('error', reject);
  req.end(body);
});
const timed = async () => {
  const started = process.hrtime.bigint();
  const res = await post();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (res.status !== 200) throw new Error(`import failed: ${res.status} ${res.text.slice(0, 500)}`);
  return { seconds, report: JSON.parse(res.text) };
};
const first = await timed();
const cpu = cpuSeconds(workerd);
phase('same file again');
const again = await timed();
phase('CSV export');
// The CSV export of the pool, read as it streams.
const exportStarted = process.hrtime.bigint();
const exportRes = await fetch(`${worker.base}/v1/projects/bench/pools/bench/codes`, {
  headers: { authorization: `Bearer ${TOKEN}`, accept: 'text/csv' },
});
let exportLines = 0;
for await (const chunk of exportRes.body) {
  for (const byte of chunk) exportLines += byte === 10;
}
const exportSeconds = Number(process.hrtime.bigint() - exportStarted) / 1e9;
clearInterval(sampler);
const hwm = status(workerd).VmHWM;
const pool = (await api.getPool('bench')).json;
await worker.stop();
if (first.report.imported !== codes || again.report.already_in_project !== codes || pool.total !== codes
  || exportLines !== codes + 1) {
  console.error('not every code was stored once:', first.report, again.report, pool, exportLines);
  process.exit(1);
}

// Native SQLite: the same file, parser, windows, batches and statements.
let nat;
if (native) {
  const run = spawnSync(
    'cargo',
    ['run', '--quiet', '--release', '--example', 'import_native', '--', csvPath, path.join(tmp, 'native.sqlite')],
    { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  if (run.status !== 0) process.exit(run.status ?? 1);
  nat = JSON.parse(run.stdout.trim().split('\n').pop());
}

const rate = (seconds) => codes / seconds;
const fmt = (n) => Math.round(n).toLocaleString('en-US');
const mib = (kib) => `${(kib / 1024).toFixed(0)} MiB`;
const row = (what, seconds) => console.log(`| ${what} | ${seconds.toFixed(2)} s | ${fmt(rate(seconds))} |`);
console.log(`\n${fmt(codes)} ${sequential ? 'sequential' : 'random'} codes, ${(body.length / 1048576).toFixed(1)} MiB of CSV\n`);
console.log('| run | time | codes/s |');
console.log('|---|---:|---:|');
row('Worker, end to end (import)', first.seconds);
row('Worker, same file again (nothing stored)', again.seconds);
row('Worker, CSV export of the pool (`Accept: text/csv`)', exportSeconds);
if (nat) {
  row(`native SQLite (import, batches of ${fmt(nat.batch)}, windows of ${fmt(nat.window)})`, nat.seconds);
  row('native SQLite, same file again', nat.reimport_seconds);
  console.log(`\nratio Worker / native SQLite (import): ${(rate(first.seconds) / rate(nat.seconds)).toFixed(2)}`);
}
console.log(`workerd: RSS ${mib(before.rss)} before the imports, peak ${mib(hwm)} (VmHWM)`);
for (const [name, p] of Object.entries(peaks)) {
  console.log(`  peak during ${name} (sampled every 20 ms): RSS ${mib(p.VmRSS)}: heap (RssAnon) ${mib(p.RssAnon)}, `
    + `files ${mib(p.RssFile)}, shared memory ${mib(p.RssShmem)}`);
}
console.log(`workerd CPU during the import: user ${(cpu.user - before.cpu.user).toFixed(1)} s, system ${(cpu.system - before.cpu.system).toFixed(1)} s`);
