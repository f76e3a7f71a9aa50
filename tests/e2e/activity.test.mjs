// A pool's activity per day (the console's chart) end to end under workerd.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, createProject } from './worker.mjs';

let worker;
before(async () => { worker = await startWorker(); });
after(async () => { await worker?.stop(); });

test('assignments and redemptions of today show on the last day of the window', async () => {
  const api = await createProject(worker.base, 'activity');
  await api.putPool('p');
  await api.importJson('p', ['A1', 'A2', 'A3']);
  await api.putLayer('l', { template: '{{ vouchers["p"].assign_available_code() }}' });
  const shown = [(await api.render('l', 'c1')).text, (await api.render('l', 'c2')).text];
  await api.call('PUT', '/settings', { redemption: { event_type: 'purchase', property: 'voucher_code' } });
  const tracked = await api.call('POST', '/events', { customer_id: 'c1', type: 'purchase', properties: { voucher_code: shown[0] } });
  assert.equal(tracked.json.results[0].redemption, 'redeemed');

  const res = await api.call('GET', '/pools/p/activity?days=7');
  const today = new Date().toISOString().slice(0, 10);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.pool, 'p');
  assert.equal(res.json.days.length, 7);
  // The last day is today (UTC); all happened today, unless the test straddled
  // midnight, so the totals are what is checked, and the dates are consecutive.
  assert.equal(res.json.days.at(-1).date, today);
  assert.equal(res.json.days.reduce((n, d) => n + d.assigned, 0), 2);
  assert.equal(res.json.days.reduce((n, d) => n + d.redeemed, 0), 1);
  const dates = res.json.days.map((d) => Date.parse(d.date));
  assert.ok(dates.every((t, i) => i === 0 || t - dates[i - 1] === 86_400_000));
  // The default window is 30 days.
  assert.equal((await api.call('GET', '/pools/p/activity')).json.days.length, 30);
});

test('bad windows, unknown parameters and unknown pools are refused clearly', async () => {
  const api = await createProject(worker.base, 'activity-errors');
  await api.putPool('p');
  for (const [query, code] of [['days=0', 'invalid_days'], ['days=367', 'invalid_days'], ['days=x', 'invalid_days'], ['from=1', 'unknown_parameter']]) {
    const res = await api.call('GET', `/pools/p/activity?${query}`);
    assert.equal(res.status, 400, query);
    assert.equal(res.json.error.code, code, query);
  }
  const missing = await api.call('GET', '/pools/nope/activity');
  assert.equal(missing.status, 404);
  assert.equal(missing.json.error.code, 'unknown_pool');
});
