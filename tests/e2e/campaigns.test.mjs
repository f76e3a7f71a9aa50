// Campaign sends, redemption from tracked events, per-customer codes, the
// event log and previews, end to end under workerd.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, client, createProject, TRACKING_TOKEN } from './worker.mjs';

let worker;
before(async () => { worker = await startWorker(); });
after(async () => { await worker?.stop(); });

const customers = Array.from({ length: 10 }, (_, i) => ({
  id: `c${String(i + 1).padStart(2, '0')}`,
  attributes: { first_name: `Name${i + 1}` },
}));
const template = 'Hi {{ customer.first_name }}, your code: {{ vouchers["spring10"].assign_available_code() }}';

test('10 customers, 6 codes: 6 messages with distinct codes, 4 enqueue_failed events in order', async () => {
  const api = await createProject(worker.base, 'campaign');
  await api.putPool('spring10');
  await api.importJson('spring10', ['S1', 'S2', 'S3', 'S4', 'S5', 'S6']);
  const res = await api.call('POST', '/campaigns/black-friday/send', { template, customers });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.sent, 6);
  assert.equal(res.json.failed, 4);
  assert.deepEqual(res.json.messages.map((m) => m.customer_id), ['c01', 'c02', 'c03', 'c04', 'c05', 'c06']);
  const codes = res.json.messages.map((m) => m.output.split(': ')[1]);
  assert.equal(new Set(codes).size, 6);
  assert.deepEqual(res.json.failures.map((f) => f.customer_id), ['c07', 'c08', 'c09', 'c10']);

  const log = await api.call('GET', '/events?type=campaign&status=enqueue_failed');
  assert.equal(log.status, 200);
  assert.deepEqual(log.json.events.map((e) => e.customer_id).reverse(), ['c07', 'c08', 'c09', 'c10']);
  assert.ok(log.json.events.every((e) => e.campaign === 'black-friday' && e.properties.reason.includes('spring10')));
  const enqueued = await api.call('GET', '/events?campaign=black-friday&status=enqueued');
  assert.equal(enqueued.json.events.length, 6);

  // Repeating the send gives the same codes and takes none.
  const again = await api.call('POST', '/campaigns/black-friday/send', { template, customers: customers.slice(0, 6) });
  assert.deepEqual(again.json.messages, res.json.messages);
  assert.equal((await api.getPool('spring10')).json.assigned, 6);
});

test('a purchase event redeems its code and the counts follow', async () => {
  const api = await createProject(worker.base, 'redeem');
  await api.putPool('p');
  await api.importJson('p', ['R1', 'R2']);
  await api.putLayer('l', { template: '{{ vouchers["p"].assign_available_code() }}' });
  const shown = await api.render('l', 'ada');
  assert.equal(shown.text, 'R1');
  const settings = await api.call('PUT', '/settings', { redemption: { event_type: 'purchase', property: 'voucher_code' } });
  assert.equal(settings.status, 200, settings.text);
  assert.deepEqual((await api.call('GET', '/settings')).json, settings.json);

  const tracker = client(worker.base, 'redeem', TRACKING_TOKEN);
  const event = { customer_id: 'ada', type: 'purchase', timestamp: 1764100000, properties: { voucher_code: 'R1' } };
  const res = await tracker.call('POST', '/events', event);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json.results, [{ index: 0, redemption: 'redeemed', code: 'R1' }]);
  const pool = (await api.getPool('p')).json;
  assert.deepEqual([pool.available, pool.assigned, pool.redeemed], [1, 0, 1]);

  const batch = await tracker.call('POST', '/events', { events: [event, { ...event, properties: { voucher_code: 'R2' } }, { ...event, properties: { voucher_code: 'NOPE' } }] });
  assert.deepEqual(batch.json.results.map((r) => r.redemption), ['already_redeemed', 'not_assigned', 'unknown_code']);
  assert.equal((await api.getPool('p')).json.redeemed, 1);
  const log = await api.call('GET', '/events?type=purchase&status=redeemed');
  assert.equal(log.json.events.length, 1);
  assert.equal(log.json.events[0].code, 'R1');
});

test('the tracking token reaches POST /events and nothing else', async () => {
  await createProject(worker.base, 'tracking');
  const tracker = client(worker.base, 'tracking', TRACKING_TOKEN);
  for (const [method, route, body] of [
    ['GET', '/pools'], ['PUT', '/pools/p', {}], ['GET', '/events'], ['PUT', '/settings', {}],
    ['POST', '/render', { template: 'x' }], ['POST', '/campaigns/c/send', { template: 'x', customers: [] }],
    ['GET', '/layers'],
  ]) {
    // A valid token that does not reach the route: 403, not 401.
    const res = await tracker.call(method, route, body);
    assert.equal(res.status, 403, `${method} ${route}`);
    assert.equal(res.json.error.code, 'forbidden');
  }
  const ok = await tracker.call('POST', '/events', { customer_id: 'x', type: 'page_view' });
  assert.equal(ok.status, 200);
});

test('per_customer layers give a returning customer the same code', async () => {
  const api = await createProject(worker.base, 'percustomer');
  await api.putPool('p');
  await api.importJson('p', ['K1', 'K2', 'K3']);
  await api.putLayer('l', { template: '{{ vouchers["p"].assign_available_code() }}', assignment: 'per_customer' });
  const ada1 = (await api.render('l', 'ada')).text;
  const bob = (await api.render('l', 'bob')).text;
  const ada2 = (await api.render('l', 'ada')).text;
  assert.equal(ada1, ada2);
  assert.notEqual(ada1, bob);
  assert.equal((await api.getPool('p')).json.assigned, 2);
  const layers = await api.call('GET', '/layers');
  assert.deepEqual(layers.json.layers.map((l) => [l.name, l.assignment]), [['l', 'per_customer']]);
});

test('preview renders with sample codes and consumes nothing; a plain render assigns', async () => {
  const api = await createProject(worker.base, 'preview');
  await api.putPool('p');
  await api.importJson('p', ['V1']);
  const t = '{{ vouchers["p"].assign_available_code() }} ({{ vouchers["p"].count_available_codes() }} left)';
  const preview = await api.call('POST', '/render', { template: t, preview: true });
  assert.equal(preview.status, 200, preview.text);
  assert.equal(preview.json.output, 'SAMPLE-P-1 (1 left)');
  assert.equal((await api.getPool('p')).json.available, 1);
  const test = await api.call('POST', '/campaigns/t/send', { template: t, customers: [{ id: 'a' }], test: true });
  assert.equal(test.json.messages[0].output, 'SAMPLE-P-1 (1 left)');
  assert.equal((await api.getPool('p')).json.available, 1);
  const real = await api.call('POST', '/render', { template: t, customer_id: 'ada' });
  assert.equal(real.json.output, 'V1 (1 left)');
  const empty = await api.call('POST', '/render', { template: t, customer_id: 'bob' });
  assert.equal(empty.json.suppressed, true);
  const unknown = await api.call('POST', '/render', { template: '{{ vouchers["zz"].assign_available_code() }}', preview: true });
  assert.equal(unknown.status, 404);
  assert.equal(unknown.json.error.code, 'unknown_pool');
});
