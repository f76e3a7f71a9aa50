// Layers served by dispensers (src/dispenser, worker/src/dispenser.rs),
// under workerd with real Durable Object SQLite: every code handed out once,
// none left unhanded while a display is refused, and the store's records
// catch up with what clients received once the dispensers have reported.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startWorker, createProject } from './worker.mjs';
import { checkPool } from './state.mjs';
import { AFTER_EMPTY, codeNames, poolWith, renderUntilEmpty } from './load.mjs';

let worker;
before(async () => { worker = await startWorker(); });
after(async () => { await worker?.stop(); });

const TAKE = '{{ vouchers["p"].assign_available_code() }}';

/**
 * Waits until the store has the dispensers' reports of `received` codes
 * handed out: the lag the README states (a second, and the alarm's turn).
 */
async function settled(api, pool, received, seconds = 20) {
  const until = Date.now() + seconds * 1000;
  for (;;) {
    const info = (await api.getPool(pool)).json;
    if (info.assigned + info.redeemed === received) return info;
    assert.ok(Date.now() < until, `${pool}: ${received} received, the store has ${JSON.stringify(info)} after ${seconds} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The store assigns every received code to its receiver, and nothing else. */
async function recordsMatch(api, pool, received, layer) {
  const codes = await checkPool(api, pool);
  const assigned = [...codes.values()].filter((c) => c.state === 'assigned');
  assert.equal(assigned.length, received.size, 'the store assigned as many codes as clients received');
  for (const [code, customer] of received) {
    const c = codes.get(code);
    assert.deepEqual([c.state, c.customer_id, c.source], ['assigned', customer, `layer:${layer}`], code);
  }
}

function checkRace(answers, imported, clients) {
  assert.deepEqual([...new Set(answers.map((a) => a.status))].sort(), [200, 204], 'only codes and empty answers');
  const withCode = answers.filter((a) => a.status === 200);
  const received = new Map(withCode.map((a) => [a.text, a.customer]));
  assert.equal(withCode.length, imported.length, 'exactly as many answers with a code as codes');
  assert.equal(received.size, imported.length, 'all codes distinct');
  assert.deepEqual([...received.keys()].sort(), imported, 'every code came from the pool');
  for (const a of answers.filter((x) => x.sentAfterEmpty)) {
    assert.equal(a.status, 204, `${a.customer} was sent after the pool ran empty`);
  }
  assert.equal(answers.filter((a) => a.status === 204).length, clients * (AFTER_EMPTY + 1));
  return received;
}

test('64 clients on 2,000 codes through 4 dispensers: every code once, then only 204s', async (t) => {
  const api = await createProject(worker.base, 'flash');
  const imported = codeNames('FLASH', 2000);
  await poolWith(api, 'p', imported);
  const put = await api.putLayer('sale', { template: TAKE, dispensers: 4 });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.json.dispensers, 4);

  const answers = await renderUntilEmpty(worker.base, 'flash', 'sale', 64, 'c');
  const received = checkRace(answers, imported, 64);
  const pool = await settled(api, 'p', 2000);
  assert.deepEqual([pool.total, pool.available, pool.leased, pool.assigned], [2000, 0, 0, 2000]);
  await recordsMatch(api, 'p', received, 'sale');
  t.diagnostic(`${answers.length} answers`);
});

test('16 clients on 43 codes through 4 dispensers get all 43', async () => {
  const api = await createProject(worker.base, 'few');
  const imported = codeNames('FEW', 43);
  await poolWith(api, 'p', imported);
  await api.putLayer('sale', { template: TAKE, dispensers: 4 });
  const answers = await renderUntilEmpty(worker.base, 'few', 'sale', 16, 'c');
  const received = checkRace(answers, imported, 16);
  await settled(api, 'p', 43);
  await recordsMatch(api, 'p', received, 'sale');
});

test('a per_customer customer keeps one code through dispensers, also when their number changes', async () => {
  const api = await createProject(worker.base, 'mine');
  await poolWith(api, 'p', codeNames('MINE', 100));
  await api.putLayer('l', { template: TAKE, assignment: 'per_customer', dispensers: 4 });
  const render = async (customer) => {
    const res = await fetch(`${worker.base}/v1/projects/mine/layers/l/render?customer_id=${customer}`);
    return { customer, status: res.status, text: await res.text() };
  };
  const customers = Array.from({ length: 12 }, (_, i) => `shopper-${i}`);
  const first = await Promise.all(customers.flatMap((c) => Array.from({ length: 6 }, () => render(c))));
  const code = new Map();
  for (const a of first) {
    assert.equal(a.status, 200, a.text);
    if (code.has(a.customer)) assert.equal(a.text, code.get(a.customer), a.customer);
    code.set(a.customer, a.text);
  }
  assert.equal(new Set(code.values()).size, customers.length);
  // Sixteen dispensers now: the customers meet others, who learn their codes.
  const put = await api.putLayer('l', { template: TAKE, assignment: 'per_customer', dispensers: 16 });
  assert.equal(put.status, 200, put.text);
  assert.equal((await api.getPool('p')).json.leased, 0, 'the old dispensers gave everything back');
  const again = await Promise.all(customers.map(render));
  for (const a of again) assert.deepEqual([a.status, a.text], [200, code.get(a.customer)], a.customer);
  // Without a customer id, a per_customer layer refuses as without dispensers.
  const anonymous = await fetch(`${worker.base}/v1/projects/mine/layers/l/render`);
  assert.equal(anonymous.status, 400);
  assert.equal((await anonymous.json()).error.code, 'missing_customer_id');
  await settled(api, 'p', customers.length);
  await recordsMatch(api, 'p', new Map([...code].map(([c, k]) => [k, c])), 'l');
});

test('signed customer ids are checked by the dispenser as by the store', async () => {
  const api = await createProject(worker.base, 'signed');
  const key = 'k'.repeat(32);
  await poolWith(api, 'p', ['S1', 'S2', 'S3']);
  await api.call('PUT', '/settings', { customer_signing_key: key });
  await api.putLayer('l', { template: TAKE, assignment: 'per_customer', signed_customer: true, dispensers: 2 });
  const sign = (customer) => crypto.createHmac('sha256', key).update(customer).digest('hex');
  const url = (customer, sig) => `${worker.base}/v1/projects/signed/layers/l/render?customer_id=${customer}` + (sig ? `&sig=${sig}` : '');
  const ada = await fetch(url('ada', sign('ada')));
  assert.equal(ada.status, 200);
  const code = await ada.text();
  for (const [who, sig] of [['ada', undefined], ['ada', sign('bob')], ['ada', 'deadbeef'], ['bob', sign('ada')]]) {
    const res = await fetch(url(who, sig));
    assert.equal(res.status, 403, `${who} ${sig}`);
    assert.equal((await res.json()).error.code, 'invalid_customer_signature');
  }
  assert.equal(await (await fetch(url('ada', sign('ada')))).text(), code);
  await settled(api, 'p', 1);
});

test('pausing a layer stops its dispensers at once and gives their codes back', async () => {
  const api = await createProject(worker.base, 'pause');
  await poolWith(api, 'p', codeNames('P', 200));
  await api.putLayer('l', { template: TAKE, dispensers: 4 });
  for (let i = 0; i < 20; i++) {
    const res = await fetch(`${worker.base}/v1/projects/pause/layers/l/render?customer_id=c${i}`);
    assert.equal(res.status, 200);
    await res.text();
  }
  assert.ok((await api.getPool('p')).json.leased > 0, 'the dispensers hold leases');
  await api.putLayer('l', { template: TAKE, dispensers: 4, active: false });
  const pool = (await api.getPool('p')).json;
  assert.deepEqual([pool.leased, pool.dispensers, pool.assigned, pool.available], [0, 0, 20, 180]);
  const res = await fetch(`${worker.base}/v1/projects/pause/layers/l/render?customer_id=late`);
  assert.equal(res.status, 204);
  // Deleted: 404, as without dispensers.
  await api.call('DELETE', '/layers/l');
  assert.equal((await fetch(`${worker.base}/v1/projects/pause/layers/l/render?customer_id=late`)).status, 404);
});

test('count_available_codes() through a dispenser, and a fallback that takes nothing', async () => {
  const api = await createProject(worker.base, 'count');
  await poolWith(api, 'p', codeNames('N', 3));
  const template = '{% if vouchers["p"].count_available_codes() > 0 %}{{ vouchers["p"].assign_available_code() }} ({{ vouchers["p"].count_available_codes() }} left){% else %}sold out{% endif %}';
  await api.putLayer('l', { template, dispensers: 2 });
  const seen = [];
  for (let i = 0; i < 5; i++) {
    const res = await fetch(`${worker.base}/v1/projects/count/layers/l/render?customer_id=c${i}`);
    assert.equal(res.status, 200);
    seen.push(await res.text());
  }
  assert.equal(seen.filter((s) => s === 'sold out').length, 2, seen.join(' | '));
  assert.equal(new Set(seen.filter((s) => s !== 'sold out').map((s) => s.split(' ')[0])).size, 3);
  await settled(api, 'p', 3);
});

test('a layer served by the store and a campaign get the codes dispensers hold on a shared pool', async () => {
  const api = await createProject(worker.base, 'shared');
  const render = async (layer, customer) => {
    const res = await fetch(`${worker.base}/v1/projects/shared/layers/${layer}/render?customer_id=${customer}`);
    return { status: res.status, text: await res.text() };
  };
  const busyFirst = async (pool) => {
    await poolWith(api, pool, codeNames(pool.toUpperCase(), 40));
    await api.putLayer(`busy-${pool}`, { template: TAKE.replace('"p"', `"${pool}"`), dispensers: 4 });
    const received = new Map();
    for (let i = 0; i < 4; i++) {
      const a = await render(`busy-${pool}`, `b${i}`);
      assert.equal(a.status, 200);
      received.set(a.text, `b${i}`);
    }
    const info = (await api.getPool(pool)).json;
    assert.ok(info.leased > 0 && info.available < 36, `the dispensers hold codes: ${JSON.stringify(info)}`);
    return received;
  };

  // A layer served by the store takes every code left, the leased ones last.
  const received = await busyFirst('p');
  await api.putLayer('plain', { template: TAKE });
  for (let i = 0; i < 36; i++) {
    const a = await render('plain', `s${i}`);
    assert.equal(a.status, 200, `display ${i}: ${a.status} ${a.text}`);
    received.set(a.text, `s${i}`);
  }
  assert.equal(received.size, 40, 'every code once');
  assert.equal((await render('plain', 'late')).status, 204);
  assert.equal((await render('busy-p', 'late')).status, 204);
  await settled(api, 'p', 40);
  const codes = await checkPool(api, 'p');
  for (const [code, customer] of received) assert.equal(codes.get(code).customer_id, customer, code);

  // So does a campaign that needs more than the store has.
  const mailed = await busyFirst('q');
  const customers = Array.from({ length: 40 }, (_, i) => ({ id: `m${i}` }));
  const send = await api.call('POST', '/campaigns/mail/send', { template: '{{ vouchers["q"].assign_available_code() }}', customers });
  assert.equal(send.status, 200, send.text.slice(0, 300));
  assert.equal(send.json.sent, 36);
  for (const m of send.json.messages) mailed.set(m.output, m.customer_id);
  assert.equal(mailed.size, 40, 'every code once');
  await settled(api, 'q', 40);
});
