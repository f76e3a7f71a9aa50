// Displays through dispensers (issue 15) against the bare store call, in one
// workerd. One command:
//   npm run bench:dispensers     (builds the Worker with the bench feature first)
//
// A layer saved with `"dispensers": N` has its displays served by N
// Dispenser Durable Objects from codes they lease from the project's store
// (src/dispenser, worker/src/dispenser.rs): a display costs a call to a
// dispenser and one transaction in its own SQLite, and the store sees a
// call only every few seconds of demand. This measures what that costs on
// this machine, and how many store calls the dispensers made, for the model
// of how far one layer scales (BENCHMARKS.md, issue 15).
//
// Starts the bench build (release, wasm-opt, feature `bench`) under workerd
// through Miniflare with Durable Object SQLite storage, as hotpath.mjs does,
// and drives it with autocannon, 1 and 32 connections, for:
//   (a) baseline: one call to a project's store that updates one row;
//   (r) a store-served display's reservation alone, no render (the store
//       call of (b));
//   (e) a dispenser-served display's reservation alone, no render: the
//       call of (c) to the layer's one dispenser;
//   (b) a display of the reference layer (bench/fixtures/layer.html.j2)
//       served by the store (`dispensers` 0);
//   (c) the same template, served by 1 dispenser;
//   (d) the same template, served by 4 dispensers.
// Every request has a customer id of its own (a dispenser is chosen by a
// hash of it). Each case has its own project (and pool), so the store
// calls of each case's dispensers are counted apart: a bench-only counter
// in the store (`Store::exchange` under feature `bench`, read through
// `/v1/bench/exchanges/{project}`) counts exchanges, grants, codes granted,
// codes reported as sent and the codes those reports assigned (exchanges
// that overlap send a code again: the store ignores the repeat), and
// leases given back as sent and closed.
//
// The cases take turns, ROUNDS times (default 3), each run for
// BENCH_SECONDS (default 5) after a 1 s warm-up and a pause (SETTLE_MS,
// default 2000, so every report of the warm-up has reached the store);
// after each run, the same pause again before the store's counters are
// read, so the window holds the run's own last report. The table shows each
// case's median round and the median of its per-round ratios to (a); the
// exchange table, per dispenser case, the median round of store calls per
// display and per second per dispenser. Then PACED (default "100,400")
// req/s through (c) and (d) for PACED_SECONDS (default 10) each, once,
// after 5 s at that rate: the store calls at a display rate below
// saturation. Last, after COLD_IDLE_MS (default 35 s) without displays,
// 1 s at 32 connections through (c) and (d): the store calls of dispensers
// whose leases ran out.
import autocannon from 'autocannon';
import { startWorker, createProject } from '../tests/e2e/worker.mjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const fixtures = path.join(root, 'bench/fixtures');
const DURATION = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SETTLE_MS = Number(process.env.SETTLE_MS ?? 2000);
const PACED = (process.env.PACED ?? '100,400').split(',').filter(Boolean).map(Number);
const PACED_SECONDS = Number(process.env.PACED_SECONDS ?? 10);
const CONNECTIONS = [1, 32];
// The fastest a case is assumed to go, for the size of its pool: each case
// must never run dry (a 204 would be counted as a bad answer).
const MAX_RATE = Number(process.env.MAX_RATE ?? 4000);

const worker = await startWorker({ scriptPath: path.join(root, 'build-bench/index.js') });
const base = worker.base;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const template = fs.readFileSync(path.join(fixtures, 'layer.html.j2'), 'utf8');
const variables = JSON.parse(fs.readFileSync(path.join(fixtures, 'layer.context.json'), 'utf8'));
const seconds = CONNECTIONS.length * ROUNDS * (DURATION + 1) + 2;
const paced = PACED.reduce((n, rate) => n + rate * PACED_SECONDS, 0);

/** A project with pool spring10 of `codes` codes and, if `dispensers` is a number, layer `ref` on it. */
async function project(name, codes, dispensers) {
  const api = await createProject(base, name);
  const ok = async (r) => {
    const res = await r;
    if (res.status >= 300) throw new Error(`${name}: ${res.status} ${res.text}`);
    return res.json;
  };
  await ok(api.putPool('spring10'));
  for (let start = 0; start < codes; start += 50_000) {
    const batch = Array.from({ length: Math.min(50_000, codes - start) }, (_, i) => `${name.toUpperCase()}-${start + i}`);
    await ok(api.importJson('spring10', batch));
  }
  const layer = dispensers === undefined ? undefined : await ok(api.putLayer('ref', { template, variables, dispensers }));
  return { api, layer };
}

const started = Date.now();
await createProject(base, 'bare');
const store = await project('store', 2 * seconds * MAX_RATE + 20_000, 0);
const one = await project('one', seconds * MAX_RATE + paced + 20_000, 1);
const direct = await project('direct', seconds * MAX_RATE + 20_000, 1);
const four = await project('four', seconds * MAX_RATE + paced + 20_000, 4);
process.stderr.write(`pools imported in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);

const display = (p) => `/v1/projects/${p}/layers/ref/render`;
const cases = [
  { key: 'a', name: 'baseline: one store call updating one row', path: '/v1/bench/baseline/bare' },
  { key: 'r', name: "(b)'s store reservation alone, no render", path: '/v1/bench/reservation/store/ref/spring10' },
  { key: 'e', name: "(c)'s dispenser reservation alone, no render", path: `/v1/bench/dispenser/direct/ref/${direct.layer.version}/spring10`, project: 'direct', dispensers: 1 },
  { key: 'b', name: 'display, served by the store (dispensers 0)', path: display('store') },
  { key: 'c', name: 'display, served by 1 dispenser', path: display('one'), project: 'one', dispensers: 1 },
  { key: 'd', name: 'display, served by 4 dispensers', path: display('four'), project: 'four', dispensers: 4 },
];

// Every request with a customer id of its own: `${prefix}${n}`.
let customers = 0;
function run(c, connections, duration, overallRate) {
  const prefix = `${c.key}${connections}-${++customers}-`;
  let n = 0;
  const requests = [{ method: 'GET', setupRequest: (req) => ({ ...req, path: `${c.path}?customer_id=${prefix}${n++}` }) }];
  return new Promise((resolve, reject) => {
    autocannon({ url: base, connections, duration, pipelining: 1, requests, ...(overallRate ? { overallRate } : {}) },
      (err, result) => (err ? reject(err) : resolve(result)));
  });
}

/** The store's exchange counters of a case's project (zeros for cases without dispensers). */
async function counters(c) {
  if (!c.project) return {};
  const res = await fetch(`${base}/v1/bench/exchanges/${c.project}`);
  if (!res.ok) throw new Error(`counters of ${c.project}: ${res.status} ${await res.text()}`);
  return res.json();
}
const delta = (after, before) => Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - (before[k] ?? 0)]));

// Check each case answers a code before measuring it.
for (const c of cases) {
  const res = await fetch(`${base}${c.path}?customer_id=check`);
  const body = await res.text();
  const code = c.path.startsWith('/v1/bench/') ? /^[A-Z]+-\d+$/.test(body) : /Your code: <strong>[A-Z]+-\d+</.test(body);
  if (res.status !== 200 || (c.key !== 'a' && !code)) throw new Error(`${c.key}: ${res.status} ${body.slice(0, 300)}`);
}

/**
 * One measured run of a case: warm-up (1 s flat out, or 5 s at a paced
 * run's rate, so a dispenser's demand is that of the run), pause, run,
 * pause, counters.
 */
async function measure(c, connections, duration = DURATION, overallRate) {
  await run(c, connections, overallRate ? 5 : 1, overallRate);
  await sleep(SETTLE_MS);
  const before = await counters(c);
  const r = await run(c, connections, duration, overallRate);
  await sleep(SETTLE_MS);
  const exchanged = delta(await counters(c), before);
  // Anything but 200 is counted and explained, not averaged in.
  const statuses = Object.entries(r.statusCodeStats).filter(([s]) => Number(s) !== 200);
  const bad = statuses.reduce((n, [, s]) => n + s.count, 0) + r.errors + r.timeouts;
  const why = [...statuses.map(([s, { count }]) => `${count}× ${s}`), r.errors && `${r.errors} errors`, r.timeouts && `${r.timeouts} timeouts`].filter(Boolean);
  const ok = r['2xx'];
  return {
    rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, bad, why, ok,
    exchanged,
    // Store calls per display answered, and per dispenser per second of
    // the run.
    perDisplay: c.project ? exchanged.exchanges / ok : undefined,
    perSecond: c.project ? exchanged.exchanges / duration / c.dispensers : undefined,
    grantsPerSecond: c.project ? exchanged.grants / duration / c.dispensers : undefined,
    perReport: c.project ? exchanged.assigned / exchanged.exchanges : undefined,
    perGrant: c.project ? exchanged.granted / exchanged.grants : undefined,
    // Codes sent again, per code assigned.
    repeats: c.project ? (exchanged.reported - exchanged.assigned) / exchanged.assigned : undefined,
  };
}

const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const results = {};
for (const connections of CONNECTIONS) {
  const rounds = Object.fromEntries(cases.map((c) => [c.key, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of cases) {
      const m = await measure(c, connections);
      rounds[c.key].push(m);
      const calls = c.project ? `, ${m.exchanged.exchanges} store calls for ${m.exchanged.assigned} codes (${m.ok} answered)` : '';
      process.stderr.write(`round ${round + 1}, ${c.key} @${connections}: ${m.rps.toFixed(0)} req/s${calls}\n`);
    }
  }
  for (const c of cases) {
    const runs = rounds[c.key];
    const mid = runs.find((x) => x.rps === median(runs.map((x) => x.rps)));
    const ratio = median(runs.map((x, i) => x.rps / rounds.a[i].rps));
    const bad = runs.reduce((n, x) => n + x.bad, 0);
    const why = runs.flatMap((x) => x.why).join(', ');
    results[`${c.key}${connections}`] = { ...mid, ratio, bad, why, runs, all: runs.map((x) => x.rps.toFixed(0)).join(' / ') };
  }
}

const pacedResults = [];
for (const rate of PACED) {
  for (const c of cases.filter((x) => x.key === 'c' || x.key === 'd')) {
    const m = await measure(c, 32, PACED_SECONDS, rate);
    pacedResults.push({ c, rate, m });
    process.stderr.write(`paced ${rate} req/s, ${c.key}: ${m.exchanged.exchanges} store calls for ${m.exchanged.assigned} codes (${m.ok} answered)\n`);
  }
}

// Cold: after COLD_IDLE_MS (default 35,000; 0 skips) without displays, the
// leases of (c)'s and (d)'s dispensers are past their deadline; a burst of
// 1 s at 32 connections then finds nothing to hand out.
const COLD_IDLE_MS = Number(process.env.COLD_IDLE_MS ?? 35_000);
const coldResults = [];
if (COLD_IDLE_MS > 0) {
  await sleep(COLD_IDLE_MS);
  for (const c of cases.filter((x) => x.key === 'c' || x.key === 'd')) {
    const before = await counters(c);
    const r = await run(c, 32, 1);
    await sleep(SETTLE_MS);
    coldResults.push({ c, ok: r['2xx'], p99: r.latency.p99, exchanged: delta(await counters(c), before) });
  }
}

const totals = {};
for (const c of cases.filter((x) => x.project)) totals[c.project] = await counters(c);
const pools = {};
for (const [name, p] of Object.entries({ store, one, direct, four })) pools[name] = (await p.api.getPool('spring10')).json;
await worker.stop();

const cpu = (os.cpus()[0]?.model ?? 'unknown').trim();
const f = (x, digits = 2) => (x === undefined || Number.isNaN(x) ? '' : x.toFixed(digits));
console.log(`# Dispensers benchmark, ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} × ${cpu}, ${ROUNDS} rounds × ${DURATION} s per case\n`);
console.log('| case | conns | req/s (median round) | rounds | p50 ms | p99 ms | ratio to (a) | ms per request at this rate |');
console.log('|---|---:|---:|---|---:|---:|---:|---:|');
for (const connections of CONNECTIONS) {
  for (const c of cases) {
    const r = results[`${c.key}${connections}`];
    const errors = r.bad ? ` (${r.why})` : '';
    console.log(`| (${c.key}) ${c.name} | ${connections} | ${r.rps.toFixed(0)}${errors} | ${r.all} | ${r.p50} | ${r.p99} | ${r.ratio.toFixed(2)} | ${f(1000 / r.rps, 3)} |`);
  }
}

console.log('\nStore calls (exchanges) the dispensers made, counted by the store; median round (all rounds):\n');
console.log('| case | conns | displays/s per dispenser | store calls per display | store calls/s per dispenser | grants/s per dispenser | codes per store call | codes per grant | codes sent again |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const connections of CONNECTIONS) {
  for (const c of cases.filter((x) => x.project)) {
    const r = results[`${c.key}${connections}`];
    const all = (k, d) => r.runs.map((x) => f(x[k], d)).join(', ');
    const med = (k, d) => `${f(median(r.runs.map((x) => x[k])), d)} (${all(k, d)})`;
    console.log(`| (${c.key}) | ${connections} | ${f(r.rps / c.dispensers, 0)} | ${med('perDisplay', 4)} | ${med('perSecond', 2)} | ${med('grantsPerSecond', 2)} | ${med('perReport', 0)} | ${med('perGrant', 0)} | ${med('repeats', 3)} |`);
  }
}
if (pacedResults.length) {
  console.log(`\nPaced (autocannon overallRate, 32 connections, ${PACED_SECONDS} s, once):\n`);
  console.log('| case | req/s asked | req/s served | displays/s per dispenser | store calls per display | store calls/s per dispenser | grants/s per dispenser | codes per store call | codes per grant | codes sent again | p50 ms | p99 ms |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const { c, rate, m } of pacedResults) {
    console.log(`| (${c.key}) ${c.dispensers} dispenser${c.dispensers > 1 ? 's' : ''} | ${rate} | ${m.rps.toFixed(0)}${m.bad ? ` (${m.why.join(', ')})` : ''} | ${f(m.rps / c.dispensers, 0)} | ${f(m.perDisplay, 4)} | ${f(m.perSecond)} | ${f(m.grantsPerSecond)} | ${f(m.perReport, 0)} | ${f(m.perGrant, 0)} | ${f(m.repeats, 3)} | ${m.p50} | ${m.p99} |`);
  }
}
if (coldResults.length) {
  console.log(`\nCold: 1 s at 32 connections after ${COLD_IDLE_MS / 1000} s without displays (leases past their deadline):\n`);
  console.log('| case | displays answered | store calls | store calls per display | grants | codes granted | codes reported (sent / assigned) | leases given back (sent / closed) | p99 ms |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const { c, ok, p99, exchanged: x } of coldResults) {
    console.log(`| (${c.key}) ${c.dispensers} dispenser${c.dispensers > 1 ? 's' : ''} | ${ok} | ${x.exchanges} | ${f(x.exchanges / ok, 3)} | ${x.grants} | ${x.granted} | ${x.reported} / ${x.assigned} | ${x.returned} / ${x.closed} | ${p99} |`);
  }
}
console.log('\nThe whole run, by project (warm-ups, pauses and idle dispensers giving leases back included):\n');
console.log('| project | exchanges | grants | codes granted | codes reported (sent) | codes assigned by reports | leases given back (sent) | leases closed | store calls per code | pool: assigned / leased / available |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---|');
for (const [name, t] of Object.entries(totals)) {
  const p = pools[name];
  console.log(`| ${name} | ${t.exchanges} | ${t.grants} | ${t.granted} | ${t.reported} | ${t.assigned} | ${t.returned} | ${t.closed} | ${f(t.exchanges / t.assigned, 4)} | ${p.assigned} / ${p.leased} / ${p.available} |`);
}
console.log(`| store (no dispensers) | | | | | | | | | ${pools.store.assigned} / ${pools.store.leased} / ${pools.store.available} |`);
