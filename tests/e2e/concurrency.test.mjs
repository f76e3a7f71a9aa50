// Many clients at once against one project under workerd (real Durable
// Object SQLite): a code is never handed to two customers, never lost, and
// the store records each code as assigned to the customer who received it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, createProject } from './worker.mjs';
import { allEvents, checkPool } from './state.mjs';
import { AFTER_EMPTY, codeNames, poolWith, renderUntilEmpty } from './load.mjs';

let worker;
// No rate limit binding: every client here comes from the same address.
before(async () => { worker = await startWorker(); });
after(async () => { await worker?.stop(); });

const CLIENTS = 64;
const CODES = 2000;

test(`${CLIENTS} clients render a layer against a pool of ${CODES} codes until it is empty`, async (t) => {
  const api = await createProject(worker.base, 'race');
  const imported = codeNames('RACE', CODES);
  await poolWith(api, 'p', imported);
  const put = await api.putLayer('offer', { template: '{{ vouchers["p"].assign_available_code() }}' });
  assert.equal(put.status, 200, put.text);

  const answers = await renderUntilEmpty(worker.base, 'race', 'offer', CLIENTS, 'c');

  const statuses = new Set(answers.map((a) => a.status));
  assert.deepEqual([...statuses].sort(), [200, 204], 'only codes and empty answers');
  const withCode = answers.filter((a) => a.status === 200);
  assert.equal(withCode.length, CODES, 'exactly as many answers with a code as codes');
  const received = new Map(withCode.map((a) => [a.text, a.customer]));
  assert.equal(received.size, CODES, 'all codes distinct');
  assert.deepEqual([...received.keys()].sort(), imported, 'every code came from the pool');
  for (const a of answers.filter((x) => x.sentAfterEmpty)) {
    assert.equal(a.status, 204, `${a.customer} was sent after the pool ran empty`);
  }
  for (const a of answers.filter((x) => x.status === 204)) assert.equal(a.text, '');
  // Each client saw its 204s; the loops were bounded, never cut short.
  assert.equal(answers.filter((a) => a.status === 204).length, CLIENTS * (AFTER_EMPTY + 1));

  // The store: each code assigned to the customer who received it.
  const codes = await checkPool(api, 'p');
  assert.equal(codes.size, CODES);
  for (const [code, customer] of received) {
    const c = codes.get(code);
    assert.deepEqual([c.state, c.customer_id, c.source], ['assigned', customer, 'layer:offer'], code);
  }
  const pool = (await api.getPool('p')).json;
  assert.deepEqual([pool.total, pool.available, pool.assigned, pool.redeemed], [CODES, 0, CODES, 0]);
  // A layer render logs no event.
  assert.deepEqual(await allEvents(api), []);
  t.diagnostic(`${answers.length} answers: ${withCode.length} with a code, ${answers.length - withCode.length} empty`);
});

test('campaign sends race layer renders on one pool: no code twice, every record right', async (t) => {
  const api = await createProject(worker.base, 'mixed');
  const total = 1500;
  const imported = codeNames('MIX', total);
  await poolWith(api, 'shared', imported);
  await api.putLayer('banner', { template: '{{ vouchers["shared"].assign_available_code() }}' });
  const template = 'Hello {{ customer.id }}, your code: {{ vouchers["shared"].assign_available_code() }}';
  const campaigns = ['spring', 'summer', 'autumn'];
  const perCampaign = 400;

  // The sends start once renders have taken some codes, so they land in
  // the middle of the render traffic.
  let rendered = 0;
  let startSends;
  const sendsMayStart = new Promise((resolve) => { startSends = resolve; });
  const sends = sendsMayStart.then(() => Promise.all(campaigns.map(async (campaign) => {
    const customers = Array.from({ length: perCampaign }, (_, i) => ({ id: `${campaign}-${String(i).padStart(3, '0')}` }));
    const res = await api.call('POST', `/campaigns/${campaign}/send`, { template, customers });
    assert.equal(res.status, 200, res.text.slice(0, 300));
    return { campaign, customers, report: res.json };
  })));
  const answers = await renderUntilEmpty(worker.base, 'mixed', 'banner', 32, 'r', () => {
    if (++rendered === 300) startSends();
  });
  startSends(); // In case renders ended first: the sends still run, on an empty pool.
  const reports = await sends;

  // Who received which code, from layers and from messages.
  const received = new Map();
  const receive = (code, customer, source) => {
    assert.ok(!received.has(code), `${code} handed out twice: ${received.get(code)?.customer} and ${customer}`);
    received.set(code, { customer, source });
  };
  for (const a of answers) {
    assert.ok([200, 204].includes(a.status), `${a.customer}: ${a.status} ${a.text.slice(0, 200)}`);
    if (a.status === 200) receive(a.text, a.customer, 'layer:banner');
  }
  let sent = 0;
  let failed = 0;
  for (const { campaign, customers, report } of reports) {
    assert.equal(report.sent + report.failed, perCampaign);
    assert.equal(report.messages.length, report.sent);
    assert.equal(report.failures.length, report.failed);
    // Served in order while codes lasted: the messages are a prefix.
    assert.deepEqual(report.messages.map((m) => m.customer_id), customers.slice(0, report.sent).map((c) => c.id));
    assert.deepEqual(report.failures.map((f) => f.customer_id), customers.slice(report.sent).map((c) => c.id));
    for (const m of report.messages) {
      const [greeting, code] = m.output.split(', your code: ');
      assert.equal(greeting, `Hello ${m.customer_id}`);
      receive(code, m.customer_id, `campaign:${campaign}`);
    }
    sent += report.sent;
    failed += report.failed;
  }
  assert.equal(received.size, total, 'every code handed out exactly once');
  assert.deepEqual([...received.keys()].sort(), imported);
  for (const a of answers.filter((x) => x.sentAfterEmpty)) assert.equal(a.status, 204, a.customer);

  const codes = await checkPool(api, 'shared');
  for (const [code, { customer, source }] of received) {
    const c = codes.get(code);
    assert.deepEqual([c.state, c.customer_id, c.source], ['assigned', customer, source], code);
  }
  const pool = (await api.getPool('shared')).json;
  assert.deepEqual([pool.total, pool.available, pool.assigned], [total, 0, total]);

  // One campaign event per customer, with the send's outcome.
  const events = await allEvents(api, { type: 'campaign' });
  assert.equal(events.filter((e) => e.status === 'enqueued').length, sent);
  assert.equal(events.filter((e) => e.status === 'enqueue_failed').length, failed);
  assert.equal(events.length, campaigns.length * perCampaign);
  t.diagnostic(`${total} codes: ${total - sent} to layer renders, ${sent} to campaign messages; ${failed} customers not served`);
});

test('one customer on many clients at once gets one code from a per_customer layer', async () => {
  const api = await createProject(worker.base, 'same');
  await poolWith(api, 'p', codeNames('SAME', 50));
  await api.putLayer('mine', { template: '{{ vouchers["p"].assign_available_code() }}', assignment: 'per_customer' });
  const customers = Array.from({ length: 8 }, (_, i) => `shopper-${i}`);
  const answers = await Promise.all(customers.flatMap((customer) => Array.from({ length: 8 }, async () => {
    const res = await fetch(`${worker.base}/v1/projects/same/layers/mine/render?customer_id=${customer}`);
    return { customer, status: res.status, text: await res.text() };
  })));
  const byCustomer = new Map();
  for (const a of answers) {
    assert.equal(a.status, 200, a.text);
    byCustomer.set(a.customer, new Set([...(byCustomer.get(a.customer) ?? []), a.text]));
  }
  for (const [customer, seen] of byCustomer) assert.equal(seen.size, 1, `${customer} saw ${[...seen]}`);
  const codes = await checkPool(api, 'p');
  const assigned = [...codes.values()].filter((c) => c.state === 'assigned');
  assert.deepEqual(assigned.map((c) => c.customer_id).sort(), customers);
  for (const c of assigned) assert.ok(byCustomer.get(c.customer_id).has(c.code));
});

test('displays sharing store calls: layers, pools, per_customer repeats, an empty pool and a layer changed mid-flight', async (t) => {
  // 48 clients at once: the displays that arrive while a store call is in
  // flight go together in the next (worker/src/batch.rs), so calls here mix
  // all of these. Each display must come out as if it had been alone.
  const api = await createProject(worker.base, 'shared');
  await poolWith(api, 'a', codeNames('A', 400));
  await poolWith(api, 'b', codeNames('B', 400));
  assert.equal((await api.putPool('e')).status, 200);
  const take = (pool) => `{{ vouchers["${pool}"].assign_available_code() }}`;
  const layers = {
    plain: { template: take('a') },
    loyal: { template: take('b'), assignment: 'per_customer' },
    empty: { template: `x${take('e')}` },
    both: { template: `${take('a')} ${take('b')}` },
  };
  for (const [name, body] of Object.entries(layers)) assert.equal((await api.putLayer(name, body)).status, 200);

  const loyalCustomers = Array.from({ length: 6 }, (_, i) => `loyal-${i}`);
  const answers = [];
  let sent = 0;
  const client = async (n) => {
    for (let i = 0; i < 12; i++) {
      const layer = Object.keys(layers)[(n + i) % 4];
      const customer = layer === 'loyal' ? loyalCustomers[(n * 7 + i) % loyalCustomers.length] : `v${n}-${i}`;
      // Halfway, the plain layer changes: displays planned on the old
      // version are refused by the store and render again on the new one.
      if (++sent === 200) assert.equal((await api.putLayer('plain', { template: `new ${take('a')}` })).status, 200);
      const res = await fetch(`${worker.base}/v1/projects/shared/layers/${layer}/render?customer_id=${customer}`);
      answers.push({ layer, customer, status: res.status, text: await res.text() });
    }
  };
  await Promise.all(Array.from({ length: 48 }, (_, n) => client(n)));

  const received = new Map();
  const loyalCodes = new Map();
  for (const a of answers) {
    if (a.layer === 'empty') {
      assert.deepEqual([a.status, a.text], [204, ''], a.customer);
      continue;
    }
    assert.equal(a.status, 200, `${a.layer} ${a.customer}: ${a.text.slice(0, 200)}`);
    const codes = a.text.replace(/^new /, '').split(' ');
    if (a.layer === 'loyal') {
      loyalCodes.set(a.customer, new Set([...(loyalCodes.get(a.customer) ?? []), codes[0]]));
      continue;
    }
    for (const code of codes) {
      assert.ok(!received.has(code), `${code} handed out twice`);
      received.set(code, { customer: a.customer, layer: a.layer });
    }
  }
  // A loyal customer met on many clients at once has one code.
  for (const [customer, codes] of loyalCodes) {
    assert.equal(codes.size, 1, `${customer} saw ${[...codes]}`);
    const code = [...codes][0];
    assert.ok(!received.has(code), `${code} given to a loyal customer and another`);
    received.set(code, { customer, layer: 'loyal' });
  }
  assert.ok(answers.some((a) => a.layer === 'plain' && a.text.startsWith('new ')), 'the changed layer rendered');

  // The store recorded every code as it was handed out, and nothing more.
  const codes = new Map([...(await checkPool(api, 'a')), ...(await checkPool(api, 'b'))]);
  const assigned = [...codes.values()].filter((c) => c.state === 'assigned');
  assert.equal(assigned.length, received.size, 'the store assigned exactly the codes received');
  for (const [code, { customer, layer }] of received) {
    const c = codes.get(code);
    assert.deepEqual([c.state, c.customer_id, c.source], ['assigned', customer, `layer:${layer}`], code);
  }
  t.diagnostic(`${answers.length} displays, ${received.size} codes handed out`);
});

test('a burst of more displays than one shared call takes, on two projects at once, one of them paused', async () => {
  // 150 displays sent at once: more than the 64 a call carries, so the
  // rest wait for the next calls; a second project's paused layer answers
  // 204 throughout without disturbing the first project's displays.
  const busy = await createProject(worker.base, 'burst');
  await poolWith(busy, 'p', codeNames('BURST', 100));
  assert.equal((await busy.putLayer('all', { template: '{{ vouchers["p"].assign_available_code() }}' })).status, 200);
  const quiet = await createProject(worker.base, 'quiet');
  await poolWith(quiet, 'q', codeNames('QUIET', 10));
  assert.equal((await quiet.putLayer('off', { template: '{{ vouchers["q"].assign_available_code() }}', active: false })).status, 200);

  const display = async (project, layer, customer) => {
    const res = await fetch(`${worker.base}/v1/projects/${project}/layers/${layer}/render?customer_id=${customer}`);
    return { project, customer, status: res.status, text: await res.text() };
  };
  const answers = await Promise.all([
    ...Array.from({ length: 150 }, (_, i) => display('burst', 'all', `b${i}`)),
    ...Array.from({ length: 40 }, (_, i) => display('quiet', 'off', `q${i}`)),
  ]);
  const burst = answers.filter((a) => a.project === 'burst');
  assert.deepEqual(burst.map((a) => a.status).sort(), [...Array(100).fill(200), ...Array(50).fill(204)]);
  const received = new Map(burst.filter((a) => a.status === 200).map((a) => [a.text, a.customer]));
  assert.equal(received.size, 100, 'every code once');
  for (const a of answers.filter((x) => x.project === 'quiet')) assert.deepEqual([a.status, a.text], [204, ''], a.customer);

  const codes = await checkPool(busy, 'p');
  for (const [code, customer] of received) assert.equal(codes.get(code).customer_id, customer, code);
  const pool = (await busy.getPool('p')).json;
  assert.deepEqual([pool.available, pool.assigned], [0, 100]);
  assert.equal((await quiet.getPool('q')).json.available, 10, 'the paused layer took nothing');
});
