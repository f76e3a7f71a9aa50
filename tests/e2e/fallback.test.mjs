// Fallback content (issue 16, part 5): a stored layer that shows a newsletter
// sign-up when its pool is empty answers 200 with the fallback instead of
// 204, through the public route, and the fallback consumes nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, createProject } from './worker.mjs';
import { checkPool, snapshot } from './state.mjs';

let worker;
before(async () => { worker = await startWorker(); });
after(async () => { await worker?.stop(); });

const FALLBACK = '<p>Sold out: <a href="/newsletter">sign up for our newsletter</a></p>';

/** The README's example in short: a code while the pool has one, else the sign-up. */
const TEMPLATE = `{% if vouchers['spring10'].count_available_codes() > 0 %}<p>Your code: {{ vouchers['spring10'].assign_available_code() }}</p>{% else %}${FALLBACK}{% endif %}`;

/** The pool's counts that a render may change. */
async function counts(api) {
  const { total, available, leased, assigned, redeemed } = (await api.getPool('spring10')).json;
  return { total, available, leased, assigned, redeemed };
}

/**
 * Waits until the store has the dispensers' reports of `assigned` codes
 * (they report within about a second) and nothing is leased.
 */
async function settled(api, assigned, seconds = 20) {
  const until = Date.now() + seconds * 1000;
  for (;;) {
    const now = await counts(api);
    if (now.assigned === assigned && now.leased === 0) return now;
    assert.ok(Date.now() < until, `after ${seconds} s: ${JSON.stringify(now)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Renders the layer for `customer`; answers the code shown, or null for the fallback. */
async function show(api, layer, customer) {
  const res = await api.render(layer, customer);
  assert.equal(res.status, 200, `${customer}: the fallback is a 200, never a 204 (${res.text})`);
  assert.match(res.headers.get('content-type'), /text\/html/);
  if (res.text === FALLBACK) return null;
  const code = res.text.match(/^<p>Your code: (\S+)<\/p>$/)?.[1];
  assert.ok(code, `${customer}: ${res.text}`);
  return code;
}

for (const dispensers of [0, 2]) {
  const by = dispensers ? `${dispensers} dispensers` : 'the store';
  test(`a layer served by ${by} shows its codes, then the fallback, which takes nothing`, async (t) => {
    const project = `fallback${dispensers}`;
    const api = await createProject(worker.base, project);
    assert.equal((await api.putPool('spring10')).status, 200);
    assert.equal((await api.importJson('spring10', ['S-1', 'S-2', 'S-3'])).json.imported, 3);
    const put = await api.putLayer('signup', { template: TEMPLATE, dispensers });
    assert.equal(put.status, 200, put.text);

    // One code per display while there are codes, then the fallback.
    const received = new Map();
    let customer = 0;
    for (;;) {
      const id = `c${++customer}`;
      const code = await show(api, 'signup', id);
      if (code === null) break;
      assert.ok(!received.has(code), `${code} handed out twice`);
      received.set(code, id);
      assert.ok(customer < 10, 'the pool of 3 empties');
    }
    assert.deepEqual([...received.keys()].sort(), ['S-1', 'S-2', 'S-3']);
    const empty = await settled(api, 3);
    assert.deepEqual(empty, { total: 3, available: 0, leased: 0, assigned: 3, redeemed: 0 });

    // More displays: each the fallback, and nothing in the project changes
    // (pools, every code, layers, settings, the event log), but for how
    // many dispensers hold a lease of the pool: an emptied lease is let go.
    const state = async () => {
      const all = await snapshot(api);
      return { ...all, pools: all.pools.map(({ dispensers: _, ...pool }) => pool) };
    };
    const before = await state();
    for (let i = 0; i < 3; i++) assert.equal(await show(api, 'signup', `late${i}`), null);
    assert.deepEqual(await state(), before);
    const codes = await checkPool(api, 'spring10');
    for (const [code, id] of received) {
      const c = codes.get(code);
      assert.deepEqual([c.state, c.customer_id, c.source], ['assigned', id, 'layer:signup'], code);
    }

    // Refilled, the layer hands out a code again: from the next display
    // when the store serves it; a dispenser may count from its last
    // exchange with the store for a few seconds (README, Dispensers).
    assert.equal((await api.importJson('spring10', ['S-4'])).json.imported, 1);
    let refilled = null;
    const until = Date.now() + 15_000;
    let displays = 0;
    while (refilled === null && Date.now() < until) {
      refilled = await show(api, 'signup', `again${++displays}`);
      if (refilled === null) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(refilled, 'S-4');
    if (!dispensers) assert.equal(displays, 1);
    t.diagnostic(`refilled: a code on display ${displays} after the import`);
    assert.deepEqual(await settled(api, 4), { total: 4, available: 0, leased: 0, assigned: 4, redeemed: 0 });
  });
}
