#!/usr/bin/env node
// Crash test: render, campaign and import load against `wrangler dev` with
// persisted state; at a random moment of each round workerd is killed with
// SIGKILL, then started again on the same state. After each round:
//
// - the Durable Object's SQLite file (read by examples/audit_store.rs with
//   the store's own statements) has pool counters equal to its code rows,
//   every code's fields agree with its one state, and no code is stored twice;
// - every code a client received is recorded as assigned to the customer
//   who received it (by that layer or campaign), and no code was received
//   twice; a code may be assigned without its answer having arrived (the
//   request was cut), but only to a customer that asked;
// - after the restart, the API's counters and its CSV export agree with the
//   file;
// - an import that the kill cut off, sent again, completes: the pool then
//   holds every code of every file.
//
// Usage: npm run test:crash (after scripts/setup.sh and
// scripts/build-worker.sh). Environment: CRASH_ROUNDS (default 12),
// CRASH_SEED (random by default; printed, to repeat a run), CRASH_KEEP=1
// keeps the state folder. All traffic goes to 127.0.0.1; every loop is
// bounded in count and time.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ROUNDS = Number(process.env.CRASH_ROUNDS ?? 12);
const SEED = Number(process.env.CRASH_SEED ?? crypto.randomInt(1, 2 ** 31));
/** The whole run ends by this time, whatever happens. */
const DEADLINE = Date.now() + Number(process.env.CRASH_MAX_SECONDS ?? 1200) * 1000;
const PROJECT = 'crash';
const RENDER_CLIENTS = 8;
const LIVE_CODES = 30_000;
/** Rows of each round's import file: more than one import window. */
const FILE_ROWS = 120_000;
/** The upload of a file is spread over this long, so the kill can cut it. */
const UPLOAD_MS = 2_500;
/** The kill comes this long after the load starts, at random. */
const KILL_AFTER_MS = [200, 4_000];
const TOKEN = crypto.randomBytes(18).toString('base64url');

// A small seeded generator (mulberry32), so a failing run can be repeated.
let rngState = SEED;
function random() {
  rngState = (rngState + 0x6d2b79f5) | 0;
  let t = Math.imul(rngState ^ (rngState >>> 15), 1 | rngState);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const failures = [];
function check(ok, message) {
  if (!ok) failures.push(message);
  return ok;
}

// ---------------------------------------------------------------- processes

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'codepool-crash-'));
const stateDir = path.join(work, 'state');
const doDir = path.join(stateDir, 'v3', 'do');

function writeConfig() {
  // The project's wrangler.toml minus its build step (the Worker is built
  // already) and rate limit (all load comes from one address). The static
  // files stay: the Worker answers GET /v1/openapi.json, which tells when
  // it is up, from them.
  fs.writeFileSync(path.join(work, 'wrangler.toml'), [
    'name = "codepool-crash"',
    `main = ${JSON.stringify(path.join(root, 'build/index.js'))}`,
    'compatibility_date = "2026-04-20"',
    '',
    '[assets]',
    `directory = ${JSON.stringify(path.join(root, 'www'))}`,
    'binding = "ASSETS"',
    'run_worker_first = ["/v1/*"]',
    '',
    '[[durable_objects.bindings]]',
    'name = "PROJECTS"',
    'class_name = "ProjectStore"',
    '',
    '[[durable_objects.bindings]]',
    'name = "REGISTRY"',
    'class_name = "ProjectRegistry"',
    '',
    '[[durable_objects.bindings]]',
    'name = "DISPENSERS"',
    'class_name = "Dispenser"',
    '',
    '[[migrations]]',
    'tag = "v1"',
    'new_sqlite_classes = ["ProjectStore"]',
    '',
    '[[migrations]]',
    'tag = "v2"',
    'new_sqlite_classes = ["ProjectRegistry"]',
    '',
    '[[migrations]]',
    'tag = "v3"',
    'new_sqlite_classes = ["Dispenser"]',
    '',
  ].join('\n'));
  fs.writeFileSync(path.join(work, '.dev.vars'), `ADMIN_TOKEN=${TOKEN}\n`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** The pids of every process below `pid`, from /proc. */
function descendants(pid) {
  const children = new Map();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch { /* gone meanwhile */ }
  }
  const out = [];
  const queue = [pid];
  while (queue.length) {
    for (const child of children.get(queue.shift()) ?? []) {
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}

const comm = (pid) => { try { return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); } catch { return ''; } };
/** Whether a process has the Durable Object state folder open. */
function holdsState(pid) {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try { return fs.readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(doDir); } catch { return false; }
    });
  } catch { return false; }
}

let server; // { child, base, exited }

async function startServer() {
  const [port, inspector] = [await freePort(), await freePort()];
  const log = fs.openSync(path.join(work, 'wrangler.log'), 'a');
  const child = spawn(path.join(root, 'node_modules/.bin/wrangler'), [
    'dev', '-c', path.join(work, 'wrangler.toml'),
    '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspector),
    '--persist-to', stateDir, '--show-interactive-dev-session=false', '--log-level', 'warn',
  ], {
    cwd: work,
    detached: true, // its own process group, ended as a whole
    stdio: ['ignore', log, log],
    env: {
      ...process.env,
      WRANGLER_SEND_METRICS: 'false',
      CLOUDFLARE_CF_FETCH_ENABLED: 'false',
      WRANGLER_LOG_PATH: path.join(work, 'logs'),
    },
  });
  fs.closeSync(log);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let gone = false;
  exited.then(() => { gone = true; });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 240 && !gone; i++) {
    try {
      const res = await fetch(`${base}/v1/openapi.json`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) {
        server = { child, base, exited };
        return;
      }
    } catch { /* not up yet */ }
    await sleep(500);
  }
  throw new Error(`wrangler dev did not start; see ${path.join(work, 'wrangler.log')}`);
}

/** SIGKILLs the workerd that holds the project's storage; answers its pid. */
function killWorkerd() {
  const workerds = descendants(server.child.pid).filter((pid) => comm(pid) === 'workerd');
  const victim = workerds.find(holdsState) ?? workerds[0];
  if (victim === undefined) throw new Error('no workerd process found under wrangler dev');
  process.kill(victim, 'SIGKILL');
  return victim;
}

/** SIGKILLs wrangler dev and everything it started, by pid. */
function killServer() {
  if (!server) return;
  for (const pid of [server.child.pid, ...descendants(server.child.pid)]) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  }
}

/** Ends wrangler dev and everything it started. */
async function stopServer() {
  if (!server) return;
  killServer();
  await Promise.race([server.exited, sleep(10_000)]);
  server = undefined;
}

// However this script ends, it leaves no server behind.
process.on('exit', killServer);

// ---------------------------------------------------------------- the API

async function api(method, route, body, headers = {}) {
  const init = { method, headers: { authorization: `Bearer ${TOKEN}`, ...headers }, signal: AbortSignal.timeout(120_000) };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    init.headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${server.base}/v1/projects/${PROJECT}${route}`, init);
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

async function must(method, route, body, headers) {
  const res = await api(method, route, body, headers);
  if (res.status !== 200) throw new Error(`${method} ${route}: ${res.status} ${res.text.slice(0, 300)}`);
  return res.json;
}

// ---------------------------------------------------------------- what clients saw

/** code -> { customer, source }: every code a client received in an answer. */
const received = new Map();
/** Every customer id a request was sent for (a cut request may still assign). */
const asked = new Set();
/** Every campaign id sent. */
const campaignsSent = new Set();

function receive(code, customer, source) {
  check(!received.has(code), `${code} was received twice: by ${received.get(code)?.customer} and by ${customer}`);
  received.set(code, { customer, source });
}

/** The import file of a round: rows of codes, some repeated, some from the round before. */
function importFile(round) {
  const rows = [];
  for (let i = 0; rows.length < FILE_ROWS; i++) {
    rows.push(`B${round}-${String(i).padStart(6, '0')}`);
    if (i % 100 === 99) rows.push(rows[Math.floor(random() * rows.length)]);
    if (round > 1 && i % 10_000 === 0) rows.push(`B${round - 1}-${String(i).padStart(6, '0')}`);
  }
  return rows;
}

/** Every code of every import file so far. */
const fileCodes = new Set();

// ---------------------------------------------------------------- load

/** What a layer answer with a code looks like (the live pool's codes). */
const LIVE_CODE = /^L-\d{6}$/;

/**
 * An answer that came as the server died, from wrangler dev's proxy in
 * front of workerd: a 503 "Your worker restarted mid-request", or a 200
 * whose body it was forwarding ended early (empty, or JSON that does not
 * parse). Such an answer carries no code for the client; before the kill it
 * would be a failure.
 */
function cutAnswer(stats, res, text) {
  stats.cut++;
  if (stats.cutSamples.length < 3) {
    const length = res.headers.get('content-length') ?? 'none';
    stats.cutSamples.push(`${res.status} ${JSON.stringify(text.slice(0, 40))}: ${text.length} bytes, content-length ${length}`);
  }
}

async function renderLoop(round, n, stop, stats) {
  for (let i = 0; i < 100_000 && !stop.now; i++) {
    const customer = `r${round}-${n}-${i}`;
    asked.add(customer);
    let res;
    let text;
    try {
      res = await fetch(`${server.base}/v1/projects/${PROJECT}/layers/show/render?customer_id=${customer}`, { signal: AbortSignal.timeout(30_000) });
      text = await res.text();
    } catch {
      return; // The server is gone: this answer never came.
    }
    if (res.status === 200 && LIVE_CODE.test(text)) {
      receive(text, customer, 'layer:show');
      stats.rendered++;
    } else if (!stop.now) {
      stats.other.push(`render ${res.status} ${text.slice(0, 200)}`);
    } else {
      cutAnswer(stats, res, text);
    }
  }
}

async function campaignLoop(round, stop, stats) {
  for (let k = 0; k < 10_000 && !stop.now; k++) {
    const campaign = `c${round}-${k}`;
    const customers = Array.from({ length: 10 }, (_, j) => ({ id: `${campaign}-${j}` }));
    customers.forEach((c) => asked.add(c.id));
    campaignsSent.add(campaign);
    let res;
    try {
      res = await api('POST', `/campaigns/${campaign}/send`, { template: '{{ vouchers["live"].assign_available_code() }}', customers });
    } catch {
      return;
    }
    if (res.status === 200 && Array.isArray(res.json?.messages)) {
      for (const m of res.json.messages) receive(m.output, m.customer_id, `campaign:${campaign}`);
      stats.messages += res.json.messages.length;
    } else if (!stop.now) {
      stats.other.push(`campaign ${res.status} ${res.text.slice(0, 200)}`);
    } else {
      cutAnswer(stats, res, res.text);
    }
  }
}

/** Uploads a file slowly, in pieces; answers the import report, or null if cut off. */
async function importSlowly(rows, stats) {
  const body = Buffer.from(`code\n${rows.join('\n')}\n`);
  const pieces = 25;
  const stream = new ReadableStream({
    async pull(controller) {
      const i = stats.piecesSent++;
      if (i >= pieces) return controller.close();
      await sleep(UPLOAD_MS / pieces);
      const size = Math.ceil(body.length / pieces);
      controller.enqueue(body.subarray(i * size, (i + 1) * size));
    },
  });
  try {
    const res = await fetch(`${server.base}/v1/projects/${PROJECT}/pools/bulk/import`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/csv', 'content-length': String(body.length) },
      body: stream,
      duplex: 'half',
      signal: AbortSignal.timeout(120_000),
    });
    const text = await res.text();
    if (res.status === 200) return JSON.parse(text);
    if (!stats.killed) stats.other.push(`import ${res.status} ${text.slice(0, 200)}`);
  } catch { /* cut off by the kill */ }
  return null;
}

/** Sends a file again, at once; it must complete. */
async function importAgain(round, rows) {
  const report = await must('POST', '/pools/bulk/import', `code\n${rows.join('\n')}\n`, { 'content-type': 'text/csv' });
  check(report.total_rows === rows.length, `round ${round}: the import again read ${report.total_rows} of ${rows.length} rows`);
  check(report.invalid === 0, `round ${round}: the import again found invalid rows`);
  check(report.imported + report.duplicates_in_file + report.already_in_project === rows.length,
    `round ${round}: the import again does not add up: ${JSON.stringify(report)}`);
  return report;
}

// ---------------------------------------------------------------- checks

const auditBin = path.join(root, 'target/debug/examples/audit_store');

/** Audits a copy of the project's SQLite file (workerd is not running). */
function auditFile(round) {
  const dir = fs.readdirSync(doDir).map((d) => path.join(doDir, d)).find((d) => d.endsWith('-ProjectStore'));
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.sqlite') && f !== 'metadata.sqlite');
  if (!check(files.length === 1, `round ${round}: expected one project database, found ${files.join(', ')}`)) return null;
  // A copy with its WAL: reading must not touch the state workerd reopens.
  const copy = path.join(work, 'audit');
  fs.rmSync(copy, { recursive: true, force: true });
  fs.mkdirSync(copy);
  for (const suffix of ['', '-wal', '-shm']) {
    const from = path.join(dir, files[0] + suffix);
    if (fs.existsSync(from)) fs.copyFileSync(from, path.join(copy, `db.sqlite${suffix}`));
  }
  const out = spawnSync(auditBin, [path.join(copy, 'db.sqlite'), 'live'], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (!check(out.status === 0, `round ${round}: audit_store failed: ${out.stderr}`)) return null;
  const [head, ...lines] = out.stdout.trimEnd().split('\n');
  const findings = JSON.parse(head);
  const codes = new Map();
  for (const line of lines) {
    const c = JSON.parse(line);
    check(!codes.has(c.code), `round ${round}: ${c.code} is stored twice`);
    codes.set(c.code, c);
  }
  return { ...findings, codes };
}

function checkFile(round, db, importsDone, currentFile) {
  check(db.audit.length === 0, `round ${round}: pool counters disagree with their codes: ${db.audit}`);
  check(db.inconsistent.length === 0, `round ${round}: codes whose fields disagree with their state: ${db.inconsistent.slice(0, 5)}`);
  const live = db.pools.find((p) => p.name === 'live');
  const bulk = db.pools.find((p) => p.name === 'bulk');
  const byState = { available: 0, assigned: 0, redeemed: 0 };
  for (const c of db.codes.values()) byState[c.state]++;
  check(live.total === db.codes.size && live.available === byState.available && live.assigned === byState.assigned,
    `round ${round}: live counters ${JSON.stringify(live)} against rows ${JSON.stringify(byState)}`);
  check(live.total === LIVE_CODES, `round ${round}: live holds ${live.total} codes, not ${LIVE_CODES}`);
  // What clients received is recorded so.
  for (const [code, { customer, source }] of received) {
    const c = db.codes.get(code);
    check(c?.state === 'assigned' && c.customer_id === customer && c.source === source,
      `round ${round}: ${code} was received by ${customer} (${source}) but is stored as ${JSON.stringify(c)}`);
  }
  // Assigned without an answer: only to a customer who asked, by a known source.
  for (const c of db.codes.values()) {
    if (c.state === 'available' || received.has(c.code)) continue;
    check(asked.has(c.customer_id) && (c.source === 'layer:show' || campaignsSent.has(c.source.replace(/^campaign:/, ''))),
      `round ${round}: ${c.code} is assigned to ${c.customer_id} by ${c.source}, who never asked`);
  }
  // The bulk pool: every earlier file whole, the current one possibly cut.
  const current = new Set(currentFile);
  const fresh = [...current].filter((c) => !fileCodes.has(c)).length;
  check(bulk.total >= importsDone && bulk.total <= importsDone + fresh,
    `round ${round}: bulk holds ${bulk.total} codes, expected ${importsDone} to ${importsDone + fresh}`);
  return { live, bulk, cut: bulk.total - importsDone };
}

/** The API after a restart: counters and the CSV export equal the file. */
async function checkApi(round, db) {
  for (const name of ['live', 'bulk']) {
    const pool = await must('GET', `/pools/${name}`);
    const stored = db.pools.find((p) => p.name === name);
    check(['total', 'available', 'assigned', 'redeemed'].every((k) => pool[k] === stored[k]),
      `round ${round}: API counters of ${name} ${JSON.stringify(pool)} differ from the file's ${JSON.stringify(stored)}`);
  }
  const res = await api('GET', '/pools/live/codes', undefined, { accept: 'text/csv' });
  check(res.status === 200, `round ${round}: export ${res.status}`);
  // Every field of the export is quoted ("" inside is a quote).
  const rows = res.text.trimEnd().split('\n').slice(1)
    .map((line) => line.slice(1, -1).split('","').map((f) => f.replaceAll('""', '"')));
  check(rows.length === db.codes.size, `round ${round}: the export lists ${rows.length} codes, the file holds ${db.codes.size}`);
  const seen = new Set();
  for (const [code, state, , customer, source] of rows) {
    check(!seen.has(code), `round ${round}: ${code} exported twice`);
    seen.add(code);
    const c = db.codes.get(code);
    check(c && c.state === state && (c.customer_id ?? '') === customer && (c.source ?? '') === source,
      `round ${round}: export row ${code},${state},${customer},${source} differs from the file's ${JSON.stringify(c)}`);
  }
}

// ---------------------------------------------------------------- the run

async function setUp() {
  const created = await api('PUT', '');
  if (created.status !== 201 && created.status !== 200) throw new Error(`creating the project: ${created.status} ${created.text}`);
  await must('PUT', '/pools/live');
  await must('PUT', '/pools/bulk');
  const live = Array.from({ length: LIVE_CODES }, (_, i) => `L-${String(i).padStart(6, '0')}`);
  const report = await must('POST', '/pools/live/import', `code\n${live.join('\n')}\n`, { 'content-type': 'text/csv' });
  if (report.imported !== LIVE_CODES) throw new Error(`seed import: ${JSON.stringify(report)}`);
  await must('PUT', '/layers/show', { template: '{{ vouchers["live"].assign_available_code() }}' });
}

async function main() {
  if (!fs.existsSync(path.join(root, 'build/index.js'))) {
    throw new Error('build/index.js is missing: run bash scripts/build-worker.sh first');
  }
  const build = spawnSync('cargo', ['build', '--quiet', '--example', 'audit_store'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('cargo build --example audit_store failed');
  console.log(`crash test: ${ROUNDS} rounds, seed ${SEED}, state in ${work}`);
  writeConfig();
  await startServer();
  await setUp();

  let importsDone = 0; // codes of the bulk files imported whole
  let pending = null; // { round, rows } of an import the kill cut off
  let survived = 0;
  for (let round = 1; round <= ROUNDS && Date.now() < DEADLINE; round++) {
    if (pending) {
      const report = await importAgain(pending.round, pending.rows);
      pending.rows.forEach((c) => fileCodes.add(c));
      const bulk = await must('GET', '/pools/bulk');
      check(bulk.total === fileCodes.size, `round ${pending.round}: after the import again bulk holds ${bulk.total}, the files ${fileCodes.size}`);
      importsDone = bulk.total;
      console.log(`  round ${pending.round}'s import sent again: ${report.imported} imported, ${report.already_in_project} already there`);
      pending = null;
    }

    const rows = importFile(round);
    const stop = { now: false };
    const stats = { rendered: 0, messages: 0, piecesSent: 0, other: [], cut: 0, cutSamples: [] };
    const killAfter = Math.round(KILL_AFTER_MS[0] + random() * (KILL_AFTER_MS[1] - KILL_AFTER_MS[0]));
    const load = Promise.all([
      ...Array.from({ length: RENDER_CLIENTS }, (_, n) => renderLoop(round, n, stop, stats)),
      campaignLoop(round, stop, stats),
      importSlowly(rows, stats),
    ]);
    load.catch(() => {}); // A failing loop is reported where the load is awaited.
    await sleep(killAfter);
    // Answers that come after the kill (an error from wrangler's proxy, say)
    // are not the Worker's: only codes in them are taken into account.
    stop.now = true;
    stats.killed = true;
    const victim = killWorkerd();
    await sleep(200);
    await stopServer();
    const done = await Promise.race([load, sleep(60_000).then(() => { throw new Error('the load did not end after the kill'); })]);
    const report = done.at(-1);

    const db = auditFile(round);
    if (!db) break;
    const { live, bulk, cut } = checkFile(round, db, importsDone, rows);
    if (report) {
      rows.forEach((c) => fileCodes.add(c));
      check(bulk.total === fileCodes.size, `round ${round}: a completed import left bulk at ${bulk.total}, the files hold ${fileCodes.size}`);
      importsDone = bulk.total;
    } else {
      pending = { round, rows };
    }
    for (const other of stats.other) check(false, `round ${round}: unexpected answer: ${other}`);

    await startServer();
    await checkApi(round, db);
    console.log(`round ${round}: workerd ${victim} killed after ${killAfter} ms; ${stats.rendered} layer answers, `
      + `${stats.messages} campaign messages${stats.cut ? `, ${stats.cut} answers cut short by the kill (${stats.cutSamples.join(', ')})` : ''}; `
      + `import ${report ? 'complete' : `cut off (${cut} codes stored)`}; `
      + `live ${live.assigned}/${live.total} assigned, bulk ${bulk.total}: ${failures.length ? 'FAILED' : 'all checks pass'}`);
    if (failures.length) break;
    survived++;
  }
  if (pending && !failures.length) {
    await importAgain(pending.round, pending.rows);
    pending.rows.forEach((c) => fileCodes.add(c));
    const bulk = await must('GET', '/pools/bulk');
    check(bulk.total === fileCodes.size, `the last import sent again: bulk holds ${bulk.total}, the files ${fileCodes.size}`);
  }
  await stopServer();
  for (const f of failures.slice(0, 50)) console.error(`FAIL ${f}`);
  console.log(`${survived} of ${ROUNDS} rounds survived; ${received.size} codes received, each checked against the store; `
    + `${fileCodes.size} codes imported from ${ROUNDS} files, every cut import completed by sending it again`);
  console.log(`${failures.length ? 0 : survived} passed, ${failures.length ? 1 : 0} failed`);
  return failures.length === 0 && survived === ROUNDS;
}

let ok = false;
try {
  ok = await main();
} catch (err) {
  console.error(err);
} finally {
  await stopServer().catch(() => {});
  if (ok && process.env.CRASH_KEEP !== '1') fs.rmSync(work, { recursive: true, force: true });
  else console.log(`state kept in ${work}`);
}
process.exit(ok ? 0 : 1);
