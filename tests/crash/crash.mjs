#!/usr/bin/env node
// Crash test: render, campaign and import load against `wrangler dev` with
// persisted state; at a random moment of each round workerd is killed with
// SIGKILL, then started again on the same state. The live pool is taken
// from by a layer the store serves, by campaigns, and by a layer served by
// four dispensers (src/dispenser), so the kill falls while dispensers
// lease, hand out and report, and while the store serves from the same
// pool. After each kill:
//
// - the project's SQLite file (read by examples/audit_store.rs with the
//   store's own statements) has pool counters equal to its code rows
//   (leased ones included), every code's fields agree with its one state
//   (a leased code under an open lease of its pool), and no code is stored
//   twice;
// - every code a client received is recorded as assigned to the customer
//   who received it (by that layer or campaign), and no code was received
//   twice; a code may be assigned without its answer having arrived (the
//   request was cut), but only to a customer that asked. A code a dispenser
//   handed out and had not reported yet is still leased at the store: the
//   dispenser's own SQLite file must hold it, handed to that customer under
//   that lease;
// - the dispensers' files agree with the store: no code handed out by two,
//   every handed code leased to its dispenser or assigned to its customer,
//   every lease a dispenser still uses open at the store;
// - after the restart the dispensers settle: recalled by saving their
//   layer again (PUT /layers/spread), or, in one round, by their alarms
//   alone. Then (workerd stopped again, the file audited again) each code
//   leased at the kill is assigned to the customer the dispenser's file
//   named, or available again if no one was handed it; every other code is
//   as it was; nothing is leased and the dispensers hold nothing;
// - every tenth live code expires during the run, and an admin voids live
//   codes while the clients take them: no client receives a code asked for
//   after its expiry, or after it was voided unused; a code stored as
//   expired has expired, one stored as void was voided (keeping the holder
//   it was handed to, if any);
// - the API's counters and its CSV export agree with the settled file;
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
/** The layer served by dispensers, from the live pool as the others. */
const SPREAD = 'spread';
const SPREAD_LAYER = { template: '{{ vouchers["live"].assign_available_code() }}', dispensers: 4 };
const SPREAD_CLIENTS = 8;
/** The round whose dispensers settle by their alarms alone, not a recall. */
const ALARM_ROUND = Math.min(2, ROUNDS);
/** src/dispenser/mod.rs: a lease's life, and the clock skew the store allows. */
const LEASE_MS = 30_000;
const SKEW_MARGIN_MS = 10_000;

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

function receive(code, customer, source, sent) {
  check(!received.has(code), `${code} was received twice: by ${received.get(code)?.customer} and by ${customer}`);
  // Handed out after the request was sent: it must not have expired by then,
  // nor been voided unused before.
  check(!(EXPIRING.get(code) <= sent), `${code} expired at ${EXPIRING.get(code)} and went out to ${customer}, asked at ${sent}`);
  const v = voided.get(code);
  check(!(v && v.at < sent && v.customer === null), `${code} was voided unused at ${v?.at} and went out to ${customer}, asked at ${sent}`);
  received.set(code, { customer, source });
}

/**
 * The live codes that expire, by code: every tenth one, from half a minute
 * after the seed on, one more second's worth each second, so codes expire
 * all through the rounds while clients take them.
 */
const EXPIRING = new Map();

/** Codes an admin asked to void (a kill may cut the answer, not the void). */
const voidAsked = new Set();
/** code -> { at, customer }: voids answered, with the holder the code kept. */
const voided = new Map();

/** Whether a code stored as expired had expired by the time its file was read. */
function expiredByNow(code) {
  return EXPIRING.get(code) <= Date.now();
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

/**
 * Displays a layer for new customers one after another: `show` (served by
 * the store) as `r…` customers, `spread` (by its dispensers) as `d…`.
 */
async function renderLoop(layer, round, n, stop, stats) {
  const prefix = layer === SPREAD ? 'd' : 'r';
  for (let i = 0; i < 100_000 && !stop.now; i++) {
    const customer = `${prefix}${round}-${n}-${i}`;
    asked.add(customer);
    const sent = Date.now();
    let res;
    let text;
    try {
      res = await fetch(`${server.base}/v1/projects/${PROJECT}/layers/${layer}/render?customer_id=${customer}`, { signal: AbortSignal.timeout(30_000) });
      text = await res.text();
    } catch {
      return; // The server is gone: this answer never came.
    }
    if (res.status === 200 && LIVE_CODE.test(text)) {
      receive(text, customer, `layer:${layer}`, sent);
      stats.rendered[layer]++;
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
    const sent = Date.now();
    let res;
    try {
      res = await api('POST', `/campaigns/${campaign}/send`, { template: '{{ vouchers["live"].assign_available_code() }}', customers });
    } catch {
      return;
    }
    if (res.status === 200 && Array.isArray(res.json?.messages)) {
      for (const m of res.json.messages) receive(m.output, m.customer_id, `campaign:${campaign}`, sent);
      stats.messages += res.json.messages.length;
    } else if (!stop.now) {
      stats.other.push(`campaign ${res.status} ${res.text.slice(0, 200)}`);
    } else {
      cutAnswer(stats, res, res.text);
    }
  }
}

/** An admin voids live codes (leaked ones, say) while the clients take them. */
async function voidLoop(round, stop, stats) {
  for (let k = 0; k < 1000 && !stop.now; k++) {
    const i = Math.floor(random() * LIVE_CODES);
    const code = `L-${String(i).padStart(6, '0')}`;
    if (voidAsked.has(code) || EXPIRING.has(code)) continue;
    voidAsked.add(code);
    let res;
    try {
      res = await api('POST', `/pools/live/codes/${code}/void`);
    } catch {
      return;
    }
    if (res.status === 200 && res.json?.state === 'void') {
      voided.set(code, { at: Date.now(), customer: res.json.customer_id });
      stats.voided++;
    } else if (res.status !== 409 && !stop.now) {
      stats.other.push(`void ${res.status} ${res.text.slice(0, 200)}`);
    }
    await sleep(50);
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
const STATES = ['available', 'leased', 'assigned', 'redeemed', 'expired', 'void'];

/**
 * The SQLite files of a Durable Object class's objects (workerd is not
 * running). wrangler dev keeps a folder per class, `<worker>-<class>`
 * (ProjectStore, ProjectRegistry, Dispenser), one file per object in it
 * beside the class's metadata.sqlite; a class none of whose objects has
 * stored anything yet has no folder.
 */
function objectFiles(round, className) {
  const dirs = fs.readdirSync(doDir).filter((d) => d.endsWith(`-${className}`));
  if (!check(dirs.length <= 1, `round ${round}: more than one folder for ${className}: ${dirs.join(', ')}`) || !dirs.length) return [];
  const dir = path.join(doDir, dirs[0]);
  return fs.readdirSync(dir).filter((f) => f.endsWith('.sqlite') && f !== 'metadata.sqlite').map((f) => path.join(dir, f));
}

/** Runs audit_store on a copy of a SQLite file; answers its lines, parsed. */
function runAudit(round, file, args) {
  // A copy with its WAL: reading must not touch the state workerd reopens.
  const copy = path.join(work, 'audit');
  fs.rmSync(copy, { recursive: true, force: true });
  fs.mkdirSync(copy);
  for (const suffix of ['', '-wal', '-shm']) {
    const from = file + suffix;
    if (fs.existsSync(from)) fs.copyFileSync(from, path.join(copy, `db.sqlite${suffix}`));
  }
  const out = spawnSync(auditBin, args(path.join(copy, 'db.sqlite')), { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (!check(out.status === 0, `round ${round}: audit_store failed on ${file}: ${out.stderr}`)) return null;
  return out.stdout.trimEnd().split('\n').map((line) => JSON.parse(line));
}

/** Audits a copy of the project's SQLite file: its findings, codes and open leases. */
function auditFile(round) {
  const files = objectFiles(round, 'ProjectStore');
  if (!check(files.length === 1, `round ${round}: expected one project database, found ${files.join(', ')}`)) return null;
  const lines = runAudit(round, files[0], (copy) => [copy, 'live']);
  if (!lines) return null;
  const [findings, ...rows] = lines;
  const codes = new Map();
  for (const c of rows) {
    check(!codes.has(c.code), `round ${round}: ${c.code} is stored twice`);
    codes.set(c.code, c);
  }
  return { ...findings, codes, leases: new Map(findings.leases.map((l) => [l.id, l])) };
}

/** What each dispenser's own file holds: its name, leases and codes. */
function auditDispensers(round) {
  const held = [];
  for (const file of objectFiles(round, 'Dispenser')) {
    const lines = runAudit(round, file, (copy) => ['--dispenser', copy]);
    if (lines) held.push({ name: lines[0].post?.dispenser, ...lines[0] });
  }
  return held;
}

/** The dispenser a customer meets (dispenser::slot: FNV-1a of the id). */
function dispenserOf(customer) {
  let hash = 0xcbf29ce484222325n;
  for (const b of Buffer.from(customer)) hash = ((hash ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return `${PROJECT}/${SPREAD}/${hash % BigInt(SPREAD_LAYER.dispensers)}`;
}

/**
 * The live pool in the project's file: counters, receipts, who holds what.
 * `held` is what the dispensers' files hold; `settled` says the dispensers
 * have reported everything and given back every lease since the file was
 * written, so nothing may be leased or held.
 */
function checkLive(round, db, held, settled) {
  const when = `round ${round}${settled ? ', settled' : ''}`;
  check(db.audit.length === 0, `${when}: pool counters disagree with their codes: ${db.audit}`);
  check(db.inconsistent.length === 0, `${when}: codes whose fields disagree with their state: ${db.inconsistent.slice(0, 5)}`);
  const live = db.pools.find((p) => p.name === 'live');
  const byState = Object.fromEntries(STATES.map((s) => [s, 0]));
  for (const c of db.codes.values()) byState[c.state]++;
  check(live.total === db.codes.size && STATES.every((s) => live[s] === byState[s]),
    `${when}: live counters ${JSON.stringify(live)} against rows ${JSON.stringify(byState)}`);
  check(STATES.reduce((sum, s) => sum + live[s], 0) === live.total && live.total === LIVE_CODES,
    `${when}: live holds ${JSON.stringify(live)}, not ${LIVE_CODES} codes in all`);
  // Codes dispensers handed out, by code, from their files.
  const handed = new Map();
  for (const d of held) {
    for (const c of d.codes) if (c.state === 1) handed.set(c.code, { dispenser: d.name, lease: c.lease_id, customer: c.customer_id });
  }
  // What clients received is recorded so. A dispenser's code it had not
  // reported when the kill came is still leased to it at the store: then its
  // own file holds it, handed to that customer under that lease.
  for (const [code, { customer, source }] of received) {
    const c = db.codes.get(code);
    if (c?.state === 'leased' && source === `layer:${SPREAD}` && !settled) {
      const h = handed.get(code);
      check(h?.customer === customer && h.lease === c.lease && h.dispenser === db.leases.get(c.lease)?.dispenser,
        `${when}: ${code} was received by ${customer} from a dispenser, is leased at the store under ${c.lease}, `
        + `and its dispenser's file has ${JSON.stringify(h)}`);
      continue;
    }
    // Voided after it went out, a code keeps its holder.
    const held = c?.state === 'assigned' || (c?.state === 'void' && voidAsked.has(code));
    check(held && c.customer_id === customer && c.source === source,
      `${when}: ${code} was received by ${customer} (${source}) but is stored as ${JSON.stringify(c)}`);
  }
  // Assigned without an answer: only to a customer who asked, by a known source.
  for (const c of db.codes.values()) {
    if (c.state === 'expired') {
      check(expiredByNow(c.code), `${when}: ${c.code} is expired, but expires at ${EXPIRING.get(c.code)}`);
      continue;
    }
    if (c.state === 'void') {
      check(voidAsked.has(c.code), `${when}: ${c.code} is void, but no one voided it`);
      if (c.customer_id === null) continue;
    }
    if (c.state === 'available' || c.state === 'leased' || received.has(c.code)) continue;
    const known = c.source === 'layer:show' || c.source === `layer:${SPREAD}` || campaignsSent.has(c.source.replace(/^campaign:/, ''));
    check(asked.has(c.customer_id) && known, `${when}: ${c.code} is assigned to ${c.customer_id} by ${c.source}, who never asked`);
  }
  if (settled) {
    check(live.leased === 0 && live.dispensers === 0 && db.leases.size === 0,
      `${when}: still leased: ${JSON.stringify(live)}, open leases ${JSON.stringify([...db.leases.values()].slice(0, 3))}`);
    for (const d of held) {
      check(d.leases.length === 0 && d.codes.length === 0,
        `${when}: dispenser ${d.name} still holds ${d.leases.length} leases, codes ${JSON.stringify(d.codes.slice(0, 3))}`);
    }
  }
  return live;
}

function checkFile(round, db, importsDone, currentFile, held) {
  const live = checkLive(round, db, held, false);
  const bulk = db.pools.find((p) => p.name === 'bulk');
  // The bulk pool: every earlier file whole, the current one possibly cut.
  const current = new Set(currentFile);
  const fresh = [...current].filter((c) => !fileCodes.has(c)).length;
  check(bulk.total >= importsDone && bulk.total <= importsDone + fresh,
    `round ${round}: bulk holds ${bulk.total} codes, expected ${importsDone} to ${importsDone + fresh}`);
  return { live, bulk, cut: bulk.total - importsDone };
}

/**
 * The dispensers' files against the project's, as the kill left them. A
 * dispenser marks a lease given back, and codes reported, in its file
 * before it tells the store, and takes in a grant only after the store has
 * stored it; so: no code is handed out by two dispensers; a handed-out code
 * is leased to its dispenser under the lease it was handed from, or (its
 * report reached the store) assigned to the customer it was handed to, who
 * meets that dispenser; a lease the dispenser still uses is open at the
 * store, as its, with every code it holds of it leased under it.
 *
 * Answers what settling must make of every code leased at the store: the
 * customer its dispenser handed it to, or null (available again); and the
 * store's leases whose dispenser never heard of them (the kill cut the
 * answer granting them).
 */
function checkDispensers(round, db, held) {
  const byName = new Map();
  for (const d of held) {
    if (!d.name) {
      check(d.leases.length === 0 && d.codes.length === 0, `round ${round}: a dispenser's file without its name holds codes`);
      continue;
    }
    check(!byName.has(d.name), `round ${round}: two files for dispenser ${d.name}`);
    byName.set(d.name, d);
  }
  const handedBy = new Map();
  for (const [name, d] of byName) {
    const leases = new Map(d.leases.map((l) => [l.id, l]));
    const leasedHere = (c) => {
      const stored = db.codes.get(c.code);
      return stored?.state === 'leased' && stored.lease === c.lease_id && db.leases.get(c.lease_id)?.dispenser === name;
    };
    for (const c of d.codes) {
      const stored = db.codes.get(c.code);
      if (c.state === 1) {
        check(!handedBy.has(c.code), `round ${round}: ${c.code} handed out by ${handedBy.get(c.code)?.name} and by ${name}`);
        handedBy.set(c.code, { name, lease: c.lease_id, customer: c.customer_id });
        check(dispenserOf(c.customer_id) === name, `round ${round}: ${name} handed ${c.code} to ${c.customer_id}, who meets ${dispenserOf(c.customer_id)}`);
        const reported = (stored?.state === 'assigned' || (stored?.state === 'void' && voidAsked.has(c.code)))
          && stored.customer_id === c.customer_id && stored.source === `layer:${SPREAD}`;
        check(reported || leasedHere(c),
          `round ${round}: ${name} handed ${c.code} to ${c.customer_id} under lease ${c.lease_id}; the store has ${JSON.stringify(stored)}`);
      } else if (c.state === 0 && leases.get(c.lease_id)?.given_back === 0) {
        check(leasedHere(c), `round ${round}: ${name} holds ${c.code} under lease ${c.lease_id} in use; the store has ${JSON.stringify(stored)}`);
      }
    }
    for (const l of d.leases) {
      if (!l.given_back) check(db.leases.get(l.id)?.dispenser === name, `round ${round}: ${name} uses lease ${l.id}, which the store does not have as its`);
    }
  }
  const expect = new Map();
  for (const c of db.codes.values()) {
    if (c.state !== 'leased') continue;
    const h = handedBy.get(c.code);
    expect.set(c.code, h?.lease === c.lease ? h.customer : null);
  }
  const lost = [...db.leases.values()].filter((l) => !byName.get(l.dispenser)?.leases.some((x) => x.id === l.id));
  return { expect, lost, handed: [...expect.values()].filter((v) => v !== null).length };
}

/**
 * Has the dispensers report and give back everything, after the restart:
 * by saving their layer again, which recalls them and answers once they
 * have; or, in ALARM_ROUND, by waiting for their alarms alone (reports
 * within REPORT_MS, leases back at their deadline). A lease whose grant the
 * kill cut off is unknown to its dispenser, and the store takes it back only
 * at that dispenser's first exchange past the lease's deadline and the
 * clock skew margin: then the layer is saved again once that has passed.
 * Answers how it went, for the round's line.
 */
async function settle(round, before, { expect, lost, handed }) {
  const start = Date.now();
  const lostCodes = lost.reduce((sum, l) => sum + l.leased, 0);
  const target = { assigned: before.assigned + handed, leased: lostCodes };
  let how;
  if (round === ALARM_ROUND) {
    let reported;
    let pool;
    for (;;) {
      pool = await must('GET', '/pools/live');
      if (reported === undefined && pool.assigned === target.assigned) reported = Date.now() - start;
      if (pool.assigned === target.assigned && pool.leased === target.leased) break;
      if (Date.now() - start > LEASE_MS + 30_000) break;
      await sleep(250);
    }
    const ok = check(pool.assigned === target.assigned && pool.leased === target.leased,
      `round ${round}: the dispensers' alarms did not settle in ${Date.now() - start} ms: ${JSON.stringify(pool)}, expected ${JSON.stringify(target)}`);
    how = `settled by alarms alone (${handed} codes reported in ${reported} ms, ${expect.size - handed - lostCodes} leased codes back in ${Date.now() - start} ms)`;
    if (!ok) {
      how = `not settled by their alarms in ${Date.now() - start} ms, then recalled`;
      await must('PUT', `/layers/${SPREAD}`, SPREAD_LAYER);
    }
  } else {
    await must('PUT', `/layers/${SPREAD}`, SPREAD_LAYER);
    how = `recalled in ${Date.now() - start} ms (${handed} codes reported, ${expect.size - handed - lostCodes} back)`;
  }
  if (lost.length) {
    await sleep(Math.max(...lost.map((l) => l.deadline)) + SKEW_MARGIN_MS + 1000 - Date.now());
    await must('PUT', `/layers/${SPREAD}`, SPREAD_LAYER);
    how += `, ${lost.length} leases (${lostCodes} codes) whose grant the kill cut off taken back after their deadline`;
  }
  const pool = await must('GET', '/pools/live');
  check(pool.leased === 0 && pool.dispensers === 0, `round ${round}: settled, the API has ${JSON.stringify(pool)}`);
  return how;
}

/**
 * The project's file once the dispensers settled, against the kill's:
 * each code then leased is assigned to whom its dispenser handed it, or
 * available again; every other code is as it was.
 */
function checkSettled(round, before, after, held, { expect }) {
  checkLive(round, after, held, true);
  check(after.codes.size === before.codes.size, `round ${round}: ${before.codes.size} live codes before settling, ${after.codes.size} after`);
  for (const [code, was] of before.codes) {
    const c = after.codes.get(code);
    if (was.state === 'leased') {
      const customer = expect.get(code);
      // Given back, a code may have expired meanwhile.
      // A void asked for while it was leased applies as it comes back.
      const voidedBack = c?.state === 'void' && voidAsked.has(code);
      const ok = customer === null
        ? c?.state === 'available' || (c?.state === 'expired' && expiredByNow(code)) || (voidedBack && c.customer_id === null)
        : (c?.state === 'assigned' || voidedBack) && c.customer_id === customer && c.source === `layer:${SPREAD}`;
      check(ok, `round ${round}: ${code} was leased, handed to ${customer} by its dispenser, and settled as ${JSON.stringify(c)}`);
    } else if (was.state === 'available' && c?.state === 'expired') {
      check(expiredByNow(code), `round ${round}: ${code} was available and settled as expired before its time`);
    } else {
      check(['state', 'customer_id', 'source', 'assigned_at'].every((k) => c?.[k] === was[k]),
        `round ${round}: ${code} was ${JSON.stringify(was)} and settled as ${JSON.stringify(c)}`);
    }
  }
  const [bulkBefore, bulkAfter] = [before, after].map((db) => db.pools.find((p) => p.name === 'bulk'));
  check(STATES.every((s) => bulkBefore[s] === bulkAfter[s]), `round ${round}: bulk changed while the dispensers settled`);
}

/** The API after a restart: counters and the CSV export equal the file. */
async function checkApi(round, db) {
  for (const name of ['live', 'bulk']) {
    const pool = await must('GET', `/pools/${name}`);
    const stored = db.pools.find((p) => p.name === name);
    // Codes expire between the file's reading and the API's: available ones
    // may have become expired since, nothing else.
    const since = stored.available - pool.available;
    check(since >= 0 && pool.expired - stored.expired === since
      && ['total', ...STATES].every((k) => ['available', 'expired'].includes(k) || pool[k] === stored[k]),
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
    const expiredSince = c?.state === 'available' && state === 'expired' && expiredByNow(code);
    check(c && (c.state === state || expiredSince) && (c.customer_id ?? '') === customer && (c.source ?? '') === source,
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
  const seeded = Date.now();
  live.forEach((code, i) => { if (i % 10 === 0) EXPIRING.set(code, seeded + 30_000 + Math.floor(i / 10) * 60); });
  const rows = live.map((code) => `${code},${EXPIRING.has(code) ? new Date(EXPIRING.get(code)).toISOString() : ''}`);
  const report = await must('POST', '/pools/live/import', `code,expires_at\n${rows.join('\n')}\n`, { 'content-type': 'text/csv' });
  if (report.imported !== LIVE_CODES) throw new Error(`seed import: ${JSON.stringify(report)}`);
  await must('PUT', '/layers/show', { template: '{{ vouchers["live"].assign_available_code() }}' });
  await must('PUT', `/layers/${SPREAD}`, SPREAD_LAYER);
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
    const stats = { rendered: { show: 0, [SPREAD]: 0 }, messages: 0, piecesSent: 0, voided: 0, other: [], cut: 0, cutSamples: [] };
    const killAfter = Math.round(KILL_AFTER_MS[0] + random() * (KILL_AFTER_MS[1] - KILL_AFTER_MS[0]));
    const load = Promise.all([
      ...Array.from({ length: RENDER_CLIENTS }, (_, n) => renderLoop('show', round, n, stop, stats)),
      ...Array.from({ length: SPREAD_CLIENTS }, (_, n) => renderLoop(SPREAD, round, n, stop, stats)),
      campaignLoop(round, stop, stats),
      voidLoop(round, stop, stats),
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
    const held = auditDispensers(round);
    const { live, bulk, cut } = checkFile(round, db, importsDone, rows, held);
    const settling = checkDispensers(round, db, held);
    if (report) {
      rows.forEach((c) => fileCodes.add(c));
      check(bulk.total === fileCodes.size, `round ${round}: a completed import left bulk at ${bulk.total}, the files hold ${fileCodes.size}`);
      importsDone = bulk.total;
    } else {
      pending = { round, rows };
    }
    for (const other of stats.other) check(false, `round ${round}: unexpected answer: ${other}`);

    // The dispensers settle on the restarted server; then it is stopped
    // again (nothing is in flight) so that the file can be read once more.
    await startServer();
    const settled = await settle(round, live, settling);
    await stopServer();
    const after = auditFile(round);
    if (!after) break;
    checkSettled(round, db, after, auditDispensers(round), settling);
    const liveAfter = after.pools.find((p) => p.name === 'live');
    const seenUnreported = [...received].filter(([code, r]) => r.source === `layer:${SPREAD}` && db.codes.get(code)?.state === 'leased').length;

    await startServer();
    await checkApi(round, after);
    console.log(`round ${round}: workerd ${victim} killed after ${killAfter} ms; ${stats.rendered.show} answers from the store's layer, `
      + `${stats.rendered[SPREAD]} from the dispensers' (${live.leased} codes leased at the kill, ${settling.handed} of them handed out unreported, ${seenUnreported} of these received), `
      + `${stats.messages} campaign messages, ${stats.voided} codes voided${stats.cut ? `, ${stats.cut} answers cut short by the kill (${stats.cutSamples.join(', ')})` : ''}; `
      + `import ${report ? 'complete' : `cut off (${cut} codes stored)`}; dispensers ${settled}; `
      + `live ${liveAfter.assigned}/${liveAfter.total} assigned, bulk ${bulk.total}: ${failures.length ? 'FAILED' : 'all checks pass'}`);
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
  const spread = [...received.values()].filter((r) => r.source === `layer:${SPREAD}`).length;
  console.log(`${survived} of ${ROUNDS} rounds survived; ${received.size} codes received (${spread} from dispensers), each checked against the store; `
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
