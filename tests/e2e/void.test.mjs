// Voiding codes, deleting and archiving pools, rolling redemptions back,
// under workerd with real Durable Object SQLite: through the API, with the
// counters checked against the listing after each step (checkPool), and
// with dispensers holding leases of the pool while a code is voided.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, createProject, client } from './worker.mjs';
import { allEvents, checkPool } from './state.mjs';
import { codeNames, poolWith, renderUntilEmpty } from './load.mjs';

let worker;
before(async () => { worker = await startWorker(); });
after(async () => { await worker?.stop(); });

const TAKE = '{{ vouchers["p"].assign_available_code() }}';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const voidCode = (api, pool, code) => api.call('POST', `/pools/${pool}/codes/${encodeURIComponent(code)}/void`);
const rollback = (api, pool, code) => api.call('POST', `/pools/${pool}/codes/${encodeURIComponent(code)}/rollback`);
const track = (api, events) => api.call('POST', '/events', events);
const purchase = (customer, code) => ({ customer_id: customer, type: 'purchase', properties: { voucher_code: code } });
const refund = (customer, code) => ({ customer_id: customer, type: 'refund', properties: { voucher_code: code } });

/** The pool's counters, in the order of the states. */
async function counts(api, pool) {
  const { json } = await api.getPool(pool);
  return ['available', 'leased', 'assigned', 'redeemed', 'expired', 'void'].map((s) => json[s]);
}

/** An error answer: its status and code. */
const failed = (res) => [res.status, res.json?.error?.code];

async function withRefunds(api) {
  const set = await api.call('PUT', '/settings', {
    redemption: { event_type: 'purchase', property: 'voucher_code', rollback_event_type: 'refund' },
  });
  assert.equal(set.status, 200, set.text);
  assert.equal(set.json.redemption.rollback_event_type, 'refund');
}

test('void each state through the API: counters, listing and log agree', async () => {
  const api = await createProject(worker.base, 'voids');
  await withRefunds(api);
  await poolWith(api, 'p', ['A1-GIVEN', 'A2-PAID', 'A3-AVAIL', 'A4-SLASH/ä 1', 'A5-SPARE', 'A6-MORE']);
  assert.equal((await api.putLayer('l', { template: TAKE, assignment: 'per_customer' })).status, 200);
  // Imported codes go out in order.
  assert.equal((await api.render('l', 'ann')).text, 'A1-GIVEN');
  assert.equal((await api.render('l', 'bob')).text, 'A2-PAID');
  assert.equal((await track(api, purchase('bob', 'A2-PAID'))).json.results[0].redemption, 'redeemed');
  // A pool past its own expiry shows what it had left as expired.
  await poolWith(api, 'old', ['OLD-1', 'OLD-2']);
  assert.equal((await api.putPool('old', { expires_at: '2020-01-01T00:00:00Z' })).json.status, 'expired');
  await checkPool(api, 'p');

  const avail = await voidCode(api, 'p', 'a3-avail');
  assert.equal(avail.status, 200, avail.text);
  assert.deepEqual([avail.json.code, avail.json.state, avail.json.assigned_at], ['A3-AVAIL', 'void', null]);
  assert.deepEqual(await counts(api, 'p'), [3, 0, 1, 1, 0, 1]);
  await checkPool(api, 'p');

  // Percent-encoded, with a slash, a space and a non-ASCII letter.
  const odd = await voidCode(api, 'p', 'a4-slash/Ä 1');
  assert.deepEqual([odd.status, odd.json.code, odd.json.state], [200, 'A4-SLASH/ä 1', 'void']);

  const given = await voidCode(api, 'p', 'A1-GIVEN');
  assert.equal(given.status, 200, given.text);
  assert.deepEqual([given.json.state, given.json.customer_id, given.json.source], ['void', 'ann', 'layer:l']);
  assert.ok(given.json.assigned_at);
  await checkPool(api, 'p');
  // Twice: the same answer, nothing changes.
  const again = await voidCode(api, 'p', 'A1-GIVEN');
  assert.deepEqual([again.status, again.json], [200, given.json]);

  const old = await voidCode(api, 'old', 'OLD-1');
  assert.deepEqual([old.status, old.json.state], [200, 'void']);
  assert.deepEqual(await counts(api, 'old'), [0, 0, 0, 0, 1, 1]);
  await checkPool(api, 'old');

  // Redeemed: refused until rolled back.
  const paid = await voidCode(api, 'p', 'A2-PAID');
  assert.deepEqual(failed(paid), [409, 'code_redeemed']);
  assert.match(paid.json.error.message, /roll the redemption back first/);
  assert.deepEqual(await counts(api, 'p'), [2, 0, 0, 1, 0, 3]);
  await checkPool(api, 'p');

  // Ann's code is void: her redemption is refused, and her layer gives her another.
  const late = await track(api, purchase('ann', 'A1-GIVEN'));
  assert.equal(late.json.results[0].redemption, 'void');
  const next = await api.render('l', 'ann');
  assert.equal(next.status, 200);
  assert.ok(!['A1-GIVEN', 'A3-AVAIL', 'A4-SLASH/ä 1'].includes(next.text), next.text);
  assert.equal((await api.render('l', 'ann')).text, next.text);
  await checkPool(api, 'p');

  const voids = await allEvents(api, { type: 'void' });
  assert.deepEqual(voids.map((e) => [e.code, e.properties.pool, e.properties.was]), [
    ['OLD-1', 'old', 'expired'],
    ['A1-GIVEN', 'p', 'assigned'],
    ['A4-SLASH/ä 1', 'p', 'available'],
    ['A3-AVAIL', 'p', 'available'],
  ]);
  assert.equal(voids[1].customer_id, 'ann');
});

test('a code dispensers hold is voided once they gave it back, and never handed out after', async () => {
  const api = await createProject(worker.base, 'leasevoid');
  const imported = codeNames('LEASE', 300);
  await poolWith(api, 'p', imported);
  assert.equal((await api.putLayer('sale', { template: TAKE, dispensers: 2 })).status, 200);

  // Displays go on while the code is voided.
  const received = new Map();
  const afterVoid = [];
  let voidAnswered = Infinity;
  let stop = false;
  const load = async (n) => {
    for (let i = 0; !stop; i++) {
      const sent = Date.now();
      const res = await api.render('sale', `v${n}-${i}`);
      assert.ok([200, 204].includes(res.status), `${res.status} ${res.text}`);
      if (res.status !== 200) continue;
      assert.ok(!received.has(res.text), `${res.text} handed out twice`);
      received.set(res.text, `v${n}-${i}`);
      if (sent > voidAnswered) afterVoid.push(res.text);
    }
  };
  const clients = [0, 1, 2, 3].map(load);
  // A code the dispensers hold and have not handed out (the last leased:
  // they hand out in order).
  let leased;
  for (let tries = 0; !leased; tries++) {
    assert.ok(tries < 500, 'the dispensers leased nothing');
    const page = await api.listCodes('p', { state: 'leased', limit: 1000 });
    leased = page.json.codes.at(-1)?.code;
    if (!leased) await sleep(10);
  }
  const voided = await voidCode(api, 'p', leased);
  voidAnswered = Date.now();
  assert.equal(voided.status, 200, voided.text);
  assert.equal(voided.json.state, 'void');
  await sleep(500);
  stop = true;
  await Promise.all(clients);

  assert.deepEqual(afterVoid.filter((c) => c === leased), [], 'handed out after the void answered');
  if (voided.json.assigned_at === null) {
    assert.ok(!received.has(leased), `${leased} was handed out but voided as never handed out`);
  } else {
    assert.equal(received.get(leased), voided.json.customer_id);
  }
  // The rest of the pool goes out, every code once, the void one never.
  const answers = await renderUntilEmpty(worker.base, 'leasevoid', 'sale', 8, 'd');
  for (const a of answers.filter((x) => x.status === 200)) {
    assert.ok(!received.has(a.text), `${a.text} handed out twice`);
    received.set(a.text, a.customer);
  }
  assert.ok(!answers.some((a) => a.text === leased));
  assert.equal(received.size, voided.json.assigned_at === null ? 299 : 300);
  // Once the dispensers have reported, the store has every code right.
  for (let tries = 0; ; tries++) {
    const [available, held] = await counts(api, 'p');
    if (available + held === 0) break;
    assert.ok(tries < 200, 'the dispensers did not report');
    await sleep(100);
  }
  const codes = await checkPool(api, 'p');
  assert.equal(codes.get(leased).state, 'void');
  assert.equal([...codes.values()].filter((c) => c.state === 'void').length, 1);
});

test('a per_customer customer served by dispensers gets a new code once theirs is voided', async () => {
  const api = await createProject(worker.base, 'forget');
  await poolWith(api, 'p', codeNames('F', 20));
  assert.equal((await api.putLayer('l', { template: TAKE, assignment: 'per_customer', dispensers: 2 })).status, 200);
  const first = await api.render('l', 'ann');
  assert.equal(first.status, 200);
  assert.equal((await api.render('l', 'ann')).text, first.text);
  // Whether or not her dispenser has reported it yet.
  const voided = await voidCode(api, 'p', first.text);
  assert.equal(voided.status, 200, voided.text);
  assert.deepEqual([voided.json.state, voided.json.customer_id], ['void', 'ann']);
  // Her dispenser forgot it: she gets another, and keeps that one.
  const next = await api.render('l', 'ann');
  assert.equal(next.status, 200);
  assert.notEqual(next.text, first.text);
  assert.equal((await api.render('l', 'ann')).text, next.text);
});

test('delete a pool that handed out nothing; archive one that did', async () => {
  const api = await createProject(worker.base, 'deletes');
  await poolWith(api, 'spare', ['S-1', 'S-2', 'S-3']);
  await poolWith(api, 'p', ['P-1', 'P-2']);
  assert.equal((await voidCode(api, 'spare', 'S-1')).status, 200);
  const gone = await api.call('DELETE', '/pools/spare');
  assert.equal(gone.status, 200, gone.text);
  assert.deepEqual([gone.json.name, gone.json.total, gone.json.void, gone.json.available], ['spare', 3, 1, 2]);
  assert.deepEqual(failed(await api.getPool('spare')), [404, 'unknown_pool']);
  assert.deepEqual(failed(await api.call('DELETE', '/pools/spare')), [404, 'unknown_pool']);
  assert.deepEqual((await api.listPools()).json.pools.map((p) => p.name), ['p']);
  // Its codes may be imported again.
  const again = await api.importJson('p', ['S-1', 'S-2', 's-3']);
  assert.deepEqual([again.json.imported, again.json.already_in_project], [3, 0]);
  await checkPool(api, 'p');
  const [deleted] = await allEvents(api, { type: 'pool_deleted' });
  assert.deepEqual(deleted.properties, { pool: 'spare', total: 3, available: 2, expired: 0, void: 1 });

  // Handed out: refused, and archived instead.
  assert.equal((await api.putLayer('l', { template: TAKE })).status, 200);
  assert.equal((await api.render('l', 'ann')).status, 200);
  const used = await api.call('DELETE', '/pools/p');
  assert.deepEqual(failed(used), [409, 'pool_in_use']);
  assert.match(used.json.error.message, /archive it instead/);
  const archived = await api.putPool('p', { archived: true });
  assert.deepEqual([archived.json.archived, archived.json.status], [true, 'archived']);
  assert.equal((await api.render('l', 'bob')).status, 204);
  const back = await api.putPool('p', { archived: false });
  assert.equal(back.json.status, 'active');
  assert.equal((await api.render('l', 'bob')).status, 200);
  await checkPool(api, 'p');
});

test('a pool dispensers hold codes of is deleted once they gave them back; its layer then fails clearly', async () => {
  const api = await createProject(worker.base, 'heldpool');
  await poolWith(api, 'held', codeNames('H', 20));
  await poolWith(api, 'p', codeNames('P', 5));
  assert.equal((await api.putPool('none')).status, 200);
  // Each display leases codes of `held` and is suppressed: `none` is empty.
  const both = '{{ vouchers["held"].assign_available_code() }}{{ vouchers["none"].assign_available_code() }}';
  assert.equal((await api.putLayer('both', { template: both, dispensers: 2 })).status, 200);
  assert.equal((await api.putLayer('other', { template: TAKE, dispensers: 2 })).status, 200);
  for (let i = 0; i < 4; i++) assert.equal((await api.render('both', `c${i}`)).status, 204);
  const [, leased, assigned] = await counts(api, 'held');
  assert.ok(leased > 0 && assigned === 0, `leased ${leased}, assigned ${assigned}`);

  const gone = await api.call('DELETE', '/pools/held');
  assert.equal(gone.status, 200, gone.text);
  assert.equal(gone.json.total, 20);
  const display = await api.render('both', 'c9');
  assert.equal(display.status, 404);
  const error = JSON.parse(display.text).error;
  assert.equal(error.code, 'unknown_pool');
  assert.match(error.message, /"held"/);
  assert.match(error.message, /layer "both" uses it/);
  // Other layers go on.
  assert.equal((await api.render('other', 'c1')).status, 200);
  await checkPool(api, 'p');
});

test('roll a redemption back by the API and by a refund event', async () => {
  const api = await createProject(worker.base, 'rollbacks');
  await withRefunds(api);
  await poolWith(api, 'p', ['R-1', 'R-2', 'R-3']);
  assert.equal((await api.putLayer('l', { template: TAKE })).status, 200);
  for (const c of ['ann', 'bob']) assert.equal((await api.render('l', c)).status, 200);
  const paid = await track(api, [purchase('ann', 'R-1'), purchase('bob', 'r-2')]);
  assert.deepEqual(paid.json.results.map((r) => r.redemption), ['redeemed', 'redeemed']);
  assert.deepEqual(await counts(api, 'p'), [1, 0, 0, 2, 0, 0]);

  const undone = await rollback(api, 'p', 'r-1');
  assert.equal(undone.status, 200, undone.text);
  assert.deepEqual([undone.json.code, undone.json.state, undone.json.customer_id, undone.json.redeemed_at],
    ['R-1', 'assigned', 'ann', null]);
  assert.deepEqual(await counts(api, 'p'), [1, 0, 1, 1, 0, 0]);
  await checkPool(api, 'p');
  assert.deepEqual(failed(await rollback(api, 'p', 'R-1')), [409, 'code_not_redeemed']);
  assert.deepEqual(failed(await rollback(api, 'p', 'R-3')), [409, 'code_not_redeemed']);

  const refunds = await track(api, [refund('bob', 'R-2'), refund('bob', 'R-2'), refund('bob', 'NOPE'),
    { customer_id: 'bob', type: 'refund' }]);
  assert.deepEqual(refunds.json.results.map((r) => r.redemption), ['rolled_back', 'not_redeemed', 'unknown_code', 'no_code']);
  assert.deepEqual(await counts(api, 'p'), [1, 0, 2, 0, 0, 0]);
  await checkPool(api, 'p');
  // Redeemed again by its holder.
  assert.equal((await track(api, purchase('bob', 'R-2'))).json.results[0].redemption, 'redeemed');

  const [logged] = await allEvents(api, { type: 'rollback' });
  assert.deepEqual([logged.status, logged.code, logged.customer_id, logged.properties.pool], ['rolled_back', 'R-1', 'ann', 'p']);
  const statuses = (await allEvents(api, { type: 'refund' })).map((e) => e.status);
  assert.deepEqual(statuses, ['no_code', 'unknown_code', 'not_redeemed', 'rolled_back']);
  assert.deepEqual((await allEvents(api, { status: 'rolled_back' })).length, 2);
  // A rollback type that is the redemption type makes no sense.
  const bad = await api.call('PUT', '/settings', { redemption: { event_type: 'purchase', property: 'voucher_code', rollback_event_type: 'purchase' } });
  assert.deepEqual(failed(bad), [400, 'invalid_settings']);
});

test('JSON errors: unknown pool or code, conflicts, and who may call', async () => {
  const api = await createProject(worker.base, 'voiderrors');
  await poolWith(api, 'p', ['E-1']);
  const cases = [
    [voidCode(api, 'nope', 'E-1'), 404, 'unknown_pool'],
    [voidCode(api, 'p', 'NOPE'), 404, 'unknown_code'],
    [rollback(api, 'p', 'NOPE'), 404, 'unknown_code'],
    [rollback(api, 'nope', 'E-1'), 404, 'unknown_pool'],
    [api.call('DELETE', '/pools/nope'), 404, 'unknown_pool'],
    [api.call('DELETE', '/pools/in%20valid'), 400, 'invalid_pool_name'],
    [rollback(api, 'p', 'E-1'), 409, 'code_not_redeemed'],
    [api.call('GET', '/pools/p/codes/E-1/void'), 405, 'method_not_allowed'],
    [api.call('POST', '/pools/p/codes/E-1/void?x=1'), 400, 'unknown_parameter'],
  ];
  for (const [call, status, code] of cases) {
    const res = await call;
    assert.deepEqual(failed(res), [status, code], res.text);
    assert.equal(res.headers.get('content-type'), 'application/json');
  }
  const read = (await api.call('POST', '/keys', { name: 'reader', scope: 'read' })).json.key;
  const reader = client(worker.base, 'voiderrors', read);
  const anon = client(worker.base, 'voiderrors', null);
  for (const [who, status, code] of [[reader, 403, 'forbidden'], [anon, 401, 'unauthorized']]) {
    assert.deepEqual(failed(await voidCode(who, 'p', 'E-1')), [status, code]);
    assert.deepEqual(failed(await rollback(who, 'p', 'E-1')), [status, code]);
    assert.deepEqual(failed(await who.call('DELETE', '/pools/p')), [status, code]);
  }
  assert.deepEqual(await counts(api, 'p'), [1, 0, 0, 0, 0, 0]);
  await checkPool(api, 'p');
});
